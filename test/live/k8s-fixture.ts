// What the Kubernetes mail suites (k8s-mail, k8s-shards) share around their own tests: the cluster up
// under the suites' lock with our images and the test's haproxy built and imported, the suite's stack
// on a fresh local backend, and at the end the pods' logs kept, the stack destroyed and the cluster
// down; inside their programs, the static volumes (the cluster has no provisioner) and the balancer
// pod on the host's network.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, PulumiCommand, PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { engineEnv, passphrase } from "../../scripts/lib/engine";
import { clusterLock } from "./k8s-lock";
import { exportsOf, run, seconds } from "./k8s-run";
import { ARTIFACTS, ROOT } from "./stack";

const CLUSTER = path.join(ROOT, "engine", "k8s", "cluster.sh");
const STATE = process.env.MAILSERVER_K8S_STATE ?? "/var/lib/mailtest-k8s";
const BALANCER_DIR = path.join(__dirname, "k8s-balancer");

/** A suite's names: its prefix (also its stack, project folder and image tag) and the images it runs. */
export interface SuiteNames {
    prefix: string;
    namespace: string;
    /** Services of images/ the stack runs, built as mailserver-<service>:<prefix>. */
    services: string[];
}

/** Where the balancer's connections arrive from inside the pods: the node's address on the bridge. */
export const BALANCER_SOURCE = "10.46.0.1/32";
/** The address the tests' own clients connect from when the client address logged matters. */
export const CLIENT_SOURCE = "127.0.0.2";

/** SHA512-CRYPT with a fixed salt: the same hash at every run, so an unchanged preview stays unchanged. */
export const hashOf = (u: { address: string; password: string }) =>
    run("openssl", ["passwd", "-6", "-salt", u.address.replace(/[^a-z]/g, "").slice(0, 16), u.password]).trim();

export const serviceImage = (prefix: string, service: string) => `mailserver-${service}:${prefix}`;
export const balancerImage = (prefix: string) => `${prefix}-balancer:${prefix}`;

export interface OpenSuite {
    env: Record<string, string>;
    kubeconfig: string;
    stack: Stack;
    kubectlPath: string;
    /** Environment for kubectl and scripts that use it (KUBECONFIG, KUBECTL). */
    kubeEnv: () => Record<string, string>;
    close: () => Promise<void>;
}

/**
 * Takes the suites' lock, brings the cluster up, builds and imports the images, and opens the
 * suite's stack on `program(kubeconfig)`; times go to `times`. `close` keeps every pod's log in
 * ARTIFACTS/<project>-logs, destroys the stack, takes the cluster down and releases the lock.
 */
export async function openSuite(
    names: SuiteNames,
    project: string,
    program: (kubeconfig: string) => PulumiFn,
    times: Record<string, number>,
): Promise<OpenSuite> {
    const lock = await clusterLock();
    const dir = path.join(ARTIFACTS, "engine", names.prefix);
    let env: Record<string, string> | undefined;
    let kubeconfig = "";
    let stack: Stack | undefined;
    const kubectlPath = () => path.join(env!.MAILSERVER_K8S_BIN, "kubectl");
    const kubeEnv = () => ({ ...env!, KUBECONFIG: kubeconfig, KUBECTL: kubectlPath() });
    const close = async () => {
        try {
            if (env && kubeconfig) {
                const logs = path.join(ARTIFACTS, `${project}-logs`);
                fs.mkdirSync(logs, { recursive: true });
                const list = spawnSync(kubectlPath(), ["--namespace", names.namespace, "get", "pods", "-o", "name"], {
                    env: kubeEnv(),
                    encoding: "utf8",
                });
                for (const p of (list.stdout ?? "").split("\n").filter(Boolean)) {
                    const r = spawnSync(
                        kubectlPath(),
                        ["--namespace", names.namespace, "logs", p, "--all-containers", "--prefix"],
                        { env: kubeEnv(), encoding: "utf8", maxBuffer: 64 << 20 },
                    );
                    fs.writeFileSync(path.join(logs, `${p.replace("pod/", "")}.log`), `${r.stdout}${r.stderr}`);
                }
            }
            if (stack) await stack.destroy({ onOutput: s => process.stderr.write(s) });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
            if (env) run("bash", [CLUSTER, "down"], env);
            lock.release();
            process.stderr.write(`${project} timings (s): ${JSON.stringify(times)}\n`);
        }
    };
    try {
        let t = Date.now();
        env = { ...(process.env as Record<string, string>), ...engineEnv(), ...exportsOf("bash engine/k8s/build.sh") };
        kubeconfig = run("bash", [CLUSTER, "up"], env).trim();
        times.clusterUp = seconds(t);
        t = Date.now();
        const build = (tag: string, dockerfile: string, context: string) =>
            run("docker", ["build", "-q", "--network", "host", "-t", tag, "-f", dockerfile, context]);
        const images = names.services.map(s => serviceImage(names.prefix, s));
        names.services.forEach((s, i) =>
            build(images[i], path.join(ROOT, "images", s, "Dockerfile"), path.join(ROOT, "images")),
        );
        build(balancerImage(names.prefix), path.join(BALANCER_DIR, "Dockerfile"), BALANCER_DIR);
        times.imageBuild = seconds(t);
        t = Date.now();
        for (const tag of [...images, balancerImage(names.prefix)]) run("bash", [CLUSTER, "import", tag], env);
        times.imageImport = seconds(t);

        fs.rmSync(dir, { recursive: true, force: true });
        fs.rmSync(path.join(STATE, "volumes", names.prefix), { recursive: true, force: true });
        fs.mkdirSync(path.join(dir, "state"), { recursive: true, mode: 0o700 });
        fs.mkdirSync(path.join(dir, "workspace"), { recursive: true, mode: 0o700 });
        const envVars: Record<string, string> = {
            ...engineEnv(),
            PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: passphrase(path.join(dir, "passphrase")),
        };
        Object.assign(process.env, envVars);
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: names.prefix, projectName: project, program: program(kubeconfig) },
            {
                workDir: path.join(dir, "workspace"),
                pulumiCommand: await PulumiCommand.get({ root: envVars.PULUMI_ROOT, skipVersionCheck: true }),
                envVars,
                projectSettings: { name: project, runtime: "nodejs" },
            },
        );
    } catch (e) {
        await close();
        throw e;
    }
    return { env, kubeconfig, stack, kubectlPath: kubectlPath(), kubeEnv, close };
}

/** The StorageClass name of a suite's static volumes (the cluster has no provisioner). */
const storageClassOf = (prefix: string) => `${prefix}-static`;

/**
 * MailServer's `kubernetes` on the test cluster: the suite's namespace, claims of 1Gi bound to its
 * static volumes, and images imported into the cluster's containerd (never pulled).
 */
export function clusterArgs(names: SuiteNames, postfixReplicas: number) {
    return {
        namespace: names.namespace,
        postfixReplicas,
        storageClassName: storageClassOf(names.prefix),
        queueStorage: "1Gi",
        mailStorage: "1Gi",
        valkeyStorage: "1Gi",
        imagePullPolicy: "Never" as const,
    };
}

/** Static hostPath volumes of 1Gi under the cluster's state folder, for clusterArgs' claims. */
export function staticVolumes(prefix: string, count: number, provider: k8s.Provider): k8s.core.v1.PersistentVolume[] {
    const storageClassName = storageClassOf(prefix);
    return Array.from({ length: count }, (_, i) => {
        const name = `${prefix}-pv-${i}`;
        return new k8s.core.v1.PersistentVolume(
            name,
            {
                metadata: { name },
                spec: {
                    capacity: { storage: "1Gi" },
                    accessModes: ["ReadWriteOnce"],
                    persistentVolumeReclaimPolicy: "Retain",
                    storageClassName,
                    hostPath: { path: path.join(STATE, "volumes", prefix, name), type: "DirectoryOrCreate" },
                },
            },
            { provider },
        );
    });
}

/** One haproxy frontend on a loopback address and its backend, a Service's cluster IP. */
export const haproxyForward = (name: string, bind: string, ip: string, target: number, sendProxy: boolean) =>
    `frontend ${name}\n  bind ${bind}\n  default_backend ${name}\n` +
    `backend ${name}\n  server ${name} ${ip}:${target}${sendProxy ? " send-proxy-v2" : ""}\n`;
export const HAPROXY_DEFAULTS =
    "global\n  log stdout format raw local0 info\n" +
    "defaults\n  mode tcp\n  log global\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n";

/**
 * The test's haproxy (test/live/k8s-balancer) as a pod on the host's network, so the test reaches
 * the Services on loopback addresses; ready once `ready` (host:port) accepts connections.
 */
export function balancer(
    names: SuiteNames,
    haproxyCfg: pulumi.Output<string>,
    ready: { host: string; port: number },
    provider: k8s.Provider,
    dependsOn: pulumi.Resource[],
): k8s.apps.v1.Deployment {
    const config = new k8s.core.v1.ConfigMap(
        "balancer",
        { metadata: { namespace: names.namespace, name: "balancer" }, data: { "haproxy.cfg": haproxyCfg } },
        { provider, dependsOn },
    );
    const labels = { app: "balancer" };
    return new k8s.apps.v1.Deployment(
        "balancer",
        {
            metadata: { namespace: names.namespace, name: "balancer" },
            spec: {
                replicas: 1,
                selector: { matchLabels: labels },
                strategy: { type: "Recreate" },
                template: {
                    // A new configuration restarts haproxy (the test's own pod, not the mail server's).
                    metadata: {
                        labels,
                        annotations: { config: config.data.apply(d => String(d["haproxy.cfg"].length)) },
                    },
                    spec: {
                        hostNetwork: true,
                        terminationGracePeriodSeconds: 2,
                        containers: [
                            {
                                name: "haproxy",
                                image: balancerImage(names.prefix),
                                imagePullPolicy: "Never",
                                volumeMounts: [{ name: "config", mountPath: "/etc/balancer" }],
                                readinessProbe: { tcpSocket: ready, periodSeconds: 1 },
                            },
                        ],
                        volumes: [{ name: "config", configMap: { name: config.metadata.name } }],
                    },
                },
            },
        },
        { provider },
    );
}
