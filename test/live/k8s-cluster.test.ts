// The Kubernetes test cluster (engine/k8s/cluster.sh, binaries from engine/k8s/build.sh) and the
// pulumi-kubernetes provider on the real engine: the cluster comes up with its node Ready; an
// inline Pulumi program (@pulumi/kubernetes, an explicit Provider on the cluster's kubeconfig)
// deploys a Namespace, a ConfigMap and a Deployment of our Postfix image (built from images/postfix
// by Docker, imported into the cluster's containerd) on the host network at 127.0.0.47; Postfix
// answers there with the banner the ConfigMap set; an unchanged preview shows 0 changes; destroy
// removes it; `down` leaves no process, mount, bridge or cgroup behind.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { engineEnv, passphrase } from "../../scripts/lib/engine";
import { swaks } from "./clients";
import { clusterLock } from "./k8s-lock";
import { exportsOf, previewChanges, run, seconds } from "./k8s-run";
import { ARTIFACTS, ROOT } from "./stack";

const PREFIX = "k8ssmoke";
const ADDRESS = "127.0.0.47";
const SMTP_PORT = 46025;
const IMAGE = `mailserver-postfix:${PREFIX}`;
const NAMESPACE = "k8s-smoke";
const BANNER = "smoke.k8s.test ESMTP k8s-smoke";
const CLUSTER = path.join(ROOT, "engine", "k8s", "cluster.sh");
const DIR = path.join(ARTIFACTS, "engine", PREFIX);

// Postfix's main.cf, from the ConfigMap: it greets with BANNER. (inet_interfaces must name an address
// an interface has, which 127.0.0.47 is not; master.cf's smtp service binds ADDRESS itself.)
const MAIN_CF = [
    "compatibility_level = 3.10",
    "myhostname = smoke.k8s.test",
    "mydestination =",
    "inet_interfaces = 127.0.0.1",
    "inet_protocols = ipv4",
    "mynetworks = 127.0.0.1/32",
    "maillog_file = /dev/stdout",
    "smtpd_banner = $myhostname ESMTP k8s-smoke",
    "alias_maps =",
    "alias_database =",
].join("\n");
// The container's start: the ConfigMap's main.cf with Debian's master.cf, whose smtp service moves
// to ADDRESS:SMTP_PORT (the pod shares the host's network) and nothing is chrooted.
const START = [
    "mkdir -p /config/current",
    "cp /smoke/main.cf /config/current/main.cf",
    "cp /etc/postfix/master.cf /config/current/master.cf",
    "postconf -M# smtp/inet",
    `postconf -M "${ADDRESS}:${SMTP_PORT}/inet=${ADDRESS}:${SMTP_PORT} inet n - n - - smtpd"`,
    "postconf -F '*/*/chroot = n'",
    "exec postfix start-fg",
].join(" && ");

function program(kubeconfig: string) {
    return async () => {
        const provider = new k8s.Provider("cluster", { kubeconfig });
        const ns = new k8s.core.v1.Namespace("smoke", { metadata: { name: NAMESPACE } }, { provider });
        const config = new k8s.core.v1.ConfigMap(
            "postfix-config",
            { metadata: { namespace: ns.metadata.name, name: "postfix-config" }, data: { "main.cf": MAIN_CF } },
            { provider },
        );
        const labels = { app: "postfix" };
        const deployment = new k8s.apps.v1.Deployment(
            "postfix",
            {
                metadata: { namespace: ns.metadata.name, name: "postfix" },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: labels },
                    // Host network: a second pod could not bind the same address and port.
                    strategy: { type: "Recreate" },
                    template: {
                        metadata: { labels },
                        spec: {
                            hostNetwork: true,
                            terminationGracePeriodSeconds: 5,
                            containers: [
                                {
                                    name: "postfix",
                                    image: IMAGE,
                                    imagePullPolicy: "Never",
                                    command: ["/bin/sh", "-ec", START],
                                    volumeMounts: [{ name: "config", mountPath: "/smoke", readOnly: true }],
                                    // Ready (and so `pulumi up` done) once smtpd listens.
                                    readinessProbe: { tcpSocket: { host: ADDRESS, port: SMTP_PORT }, periodSeconds: 1 },
                                },
                            ],
                            volumes: [{ name: "config", configMap: { name: config.metadata.name } }],
                        },
                    },
                },
            },
            { provider },
        );
        return { readyReplicas: deployment.status.readyReplicas };
    };
}

describe("Kubernetes test cluster and the pulumi-kubernetes provider", { timeout: 60 * 60_000 }, () => {
    let env: Record<string, string>;
    let kubeconfig: string;
    let stack: Stack;
    let lock: { release: () => void } | undefined;
    const times: Record<string, number> = {};
    const kubectl = (...args: string[]) =>
        run(path.join(env.MAILSERVER_K8S_BIN, "kubectl"), args, { ...env, KUBECONFIG: kubeconfig });

    before(async () => {
        // k8s-mail.test.ts uses the same cluster and also takes it down at its end.
        lock = await clusterLock();
        let t = Date.now();
        // The binaries and the plugin (built the first time, then found in the cache).
        env = { ...(process.env as Record<string, string>), ...engineEnv(), ...exportsOf("bash engine/k8s/build.sh") };
        times.build = seconds(t);
        t = Date.now();
        kubeconfig = run("bash", [CLUSTER, "up"], env).trim();
        times.clusterUp = seconds(t);
        t = Date.now();
        run("docker", [
            "build",
            "-q",
            "--network",
            "host",
            "-t",
            IMAGE,
            "-f",
            path.join(ROOT, "images", "postfix", "Dockerfile"),
            "--build-arg",
            "BASE_IMAGE=debian:trixie-slim",
            path.join(ROOT, "images"),
        ]);
        run("bash", [CLUSTER, "import", IMAGE], env);
        times.image = seconds(t);

        fs.mkdirSync(path.join(DIR, "state"), { recursive: true, mode: 0o700 });
        fs.mkdirSync(path.join(DIR, "workspace"), { recursive: true, mode: 0o700 });
        const envVars: Record<string, string> = {
            ...engineEnv(),
            PULUMI_BACKEND_URL: `file://${path.join(DIR, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: passphrase(path.join(DIR, "passphrase")),
        };
        Object.assign(process.env, envVars);
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: PREFIX, projectName: "k8s-smoke", program: program(kubeconfig) },
            {
                workDir: path.join(DIR, "workspace"),
                pulumiCommand: await PulumiCommand.get({ root: envVars.PULUMI_ROOT, skipVersionCheck: true }),
                envVars,
                projectSettings: { name: "k8s-smoke", runtime: "nodejs" },
            },
        );
    });

    after(async () => {
        // Whatever happened: the stack's resources, its state, then the cluster itself.
        try {
            if (stack) await stack.destroy({ onOutput: s => process.stderr.write(s) });
        } finally {
            fs.rmSync(DIR, { recursive: true, force: true });
            if (env) run("bash", [CLUSTER, "down"], env);
            lock?.release();
            process.stderr.write(`k8s-cluster timings (s): ${JSON.stringify(times)}\n`);
        }
    });

    test("the node is Ready and runs the pinned Kubernetes on our containerd", () => {
        const node = JSON.parse(kubectl("get", "node", "mailtest-k8s", "-o", "json"));
        const ready = node.status.conditions.find((c: { type: string }) => c.type === "Ready");
        assert.equal(ready?.status, "True", JSON.stringify(node.status.conditions));
        assert.equal(node.status.nodeInfo.kubeletVersion, env.MAILSERVER_K8S_VERSION);
        assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/v?2\.\d+\.\d+$/);
        const server = JSON.parse(kubectl("version", "-o", "json")).serverVersion;
        assert.equal(server.gitVersion, env.MAILSERVER_K8S_VERSION);
    });

    test("pulumi up deploys Postfix from our image; it answers on 127.0.0.47 with the ConfigMap's banner", async () => {
        const t = Date.now();
        const r = await stack.up({ onOutput: s => process.stderr.write(s) });
        times.up = seconds(t);
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual(r.summary.resourceChanges, { create: 5 }, "stack, provider, namespace, ConfigMap, Deployment");
        assert.equal(r.outputs.readyReplicas.value, 1);
        const smtp = swaks([
            "--server",
            ADDRESS,
            "--port",
            String(SMTP_PORT),
            "--quit-after",
            "EHLO",
            "--helo",
            "client.test",
        ]);
        assert.equal(smtp.status, 0, smtp.transcript);
        assert.equal(smtp.replies[0], `220 ${BANNER}`, smtp.transcript);
        assert.ok(
            smtp.replies.some(l => /^250[ -]smoke\.k8s\.test$/.test(l)),
            smtp.transcript,
        );
        // The pod's container runs the image Docker built (containerd knows it by the same id).
        const imageId = run("docker", ["image", "inspect", "--format", "{{.Id}}", IMAGE]).trim();
        const pods = JSON.parse(kubectl("--namespace", NAMESPACE, "get", "pods", "-o", "json")).items;
        assert.equal(pods.length, 1);
        assert.equal(pods[0].status.containerStatuses[0].imageID.replace(/^.*@/, ""), imageId);
    });

    test("an unchanged preview shows 0 changes", async () => {
        const preview = await previewChanges(stack);
        times.preview = preview.seconds;
        assert.deepEqual(preview.changed, [], preview.stdout);
    });

    test("destroy removes the workload: nothing answers on 127.0.0.47 any more", async () => {
        const t = Date.now();
        const r = await stack.destroy({ onOutput: s => process.stderr.write(s) });
        times.destroy = seconds(t);
        assert.equal(r.summary.result, "succeeded");
        assert.equal(kubectl("get", "namespaces", "-o", "name").split("\n").includes(`namespace/${NAMESPACE}`), false);
        const smtp = swaks(["--server", ADDRESS, "--port", String(SMTP_PORT), "--quit-after", "CONNECT"]);
        assert.notEqual(smtp.status, 0, smtp.transcript);
    });

    test("down stops every process and leaves no mount, bridge or cgroup", () => {
        const t = Date.now();
        run("bash", [CLUSTER, "down"], env);
        times.clusterDown = seconds(t);
        const status = spawnSync("bash", [CLUSTER, "status"], { env, encoding: "utf8" });
        assert.notEqual(status.status, 0);
        assert.doesNotMatch(status.stdout, /running/);
        const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8");
        assert.doesNotMatch(mounts, /mailtest-k8s/);
        assert.equal(spawnSync("ip", ["link", "show", "mk8s0"]).status, 1, "the bridge mk8s0 is gone");
        assert.equal(fs.existsSync("/sys/fs/cgroup/memory/mailtest-k8s"), false);
        const ours = fs
            .readdirSync("/proc")
            .filter(p => /^\d+$/.test(p))
            .map(p => {
                try {
                    return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ");
                } catch {
                    return "";
                }
            })
            .filter(c => c.includes("/var/lib/mailtest-k8s") || c.includes("/run/mailtest-k8s"));
        assert.deepEqual(ours, []);
    });
});
