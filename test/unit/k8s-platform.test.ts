// The Kubernetes platform's pure layers (components/platform/kubernetes/pod.ts, objects.ts,
// config.ts) and its option (components/options/kubernetes.ts): what is refused at preview, the
// TCP variants of the renderers, the pods' containers, volumes and hardening, the objects'
// specs and the NetworkPolicies (the test cluster stores them without enforcing them, so their
// content is asserted here).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Validator } from "../../components/model/validator";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import { validateDovecot } from "../../components/options/dovecotImap";
import { applyKubernetes } from "../../components/options/kubernetes";
import { validateRelayhost } from "../../components/options/relayhost";
import { renderPostfixFiles } from "../../components/render/postfix";
import { renderDovecotConf } from "../../components/render/dovecot";
import { renderRspamdFiles } from "../../components/render/rspamd";
import { rspamdSpec } from "../../components/services/rspamd";
import { postfix } from "../../components/services/postfix";
import { rspamd } from "../../components/services/rspamd";
import { valkey } from "../../components/services/valkey";
import { mtasts } from "../../components/services/mtaSts";
import { parseBundle } from "../../components/platform/docker/bundle";
import { filesData } from "../../components/platform/kubernetes/config";
import { podParts } from "../../components/platform/kubernetes/pod";
import {
    dovecotPolicy,
    mailServerPolicies,
    nextHopPorts,
    postfixDisruptionBudget,
    SMTP_PORTS,
    statefulSet,
} from "../../components/platform/kubernetes/objects";
import { fakeMailServer } from "./fixtures";

const IMAGES = { postfix: "p:1", rspamd: "r:1", valkey: "v:1", dovecot: "d:1" };
const K8S = { namespace: "mail", storageClassName: "fast" };
const domain = (name: string) => ({
    spec: validateDomain(new Validator("VirtualDomain t"), {
        domain: name,
        mailboxes: [{ address: "alice", password: "a-long-enough-password" }],
    }),
});
function settings(args: Record<string, unknown> = {}, kubernetes: unknown = K8S, images: unknown = IMAGES) {
    const v = new Validator("MailServer t");
    const all = { hostname: "mail.example.com", domains: [domain("example.com")], images, kubernetes, ...args };
    return applyKubernetes(v, validateMailServer(v, "t", all), kubernetes, images as Record<string, unknown>);
}

describe("MailServer kubernetes: what this phase refuses at preview", () => {
    const refused: Array<[string, Record<string, unknown>, RegExp]> = [
        [
            "relay mode",
            {
                mode: "relay",
                domains: [],
                relayhosts: [{ spec: validateRelayhost(new Validator("R"), { host: "smtp.provider.example" }) }],
            },
            /MailServer t: mode = "relay" is not accepted; expected "internet" on Kubernetes/,
        ],
        [
            "antivirus",
            { antivirus: { enabled: true } },
            /antivirus\.enabled = true is not accepted; expected false on Kubernetes.*clamav/,
        ],
        ["metrics", { monitoring: { metrics: true } }, /monitoring\.metrics = true is not accepted; expected false/],
        ["backup", { backup: { enabled: true, password: "a-backup-password-1" } }, /backup\.enabled = true/],
        ["host networking", { networkMode: "host" }, /networkMode = "host" is not accepted; expected "bridge"/],
    ];
    for (const [what, args, message] of refused)
        test(what, () => {
            assert.throws(() => settings({ outboundTls: { mtaSts: false }, ...args }), message);
        });
    test("an image for every service it runs (nothing is built on the cluster)", () => {
        assert.throws(
            () => settings({ outboundTls: { mtaSts: false } }, K8S, { postfix: "p:1" }),
            /images\.rspamd = \(missing\) is not accepted; expected an image reference on Kubernetes/,
        );
    });
    test("MTA-STS (on by default) runs there too: its image is required, Postfix asks it as on Docker", () => {
        assert.throws(
            () => settings({}),
            /images\.mtasts = \(missing\) is not accepted; expected an image reference on Kubernetes/,
        );
        const s = settings({}, K8S, { ...IMAGES, mtasts: "m:1" });
        assert.equal(s.outboundTls.mtaSts, true);
        const mainCf = renderPostfixFiles(s.postfix).find(f => f.path === "main.cf")!.content as string;
        assert.match(mainCf, /^smtp_tls_policy_maps = socketmap:unix:\/run\/mta-sts\/policy\.sock:postfix$/m);
        assert.doesNotMatch(mainCf, /smtp_tls_report/, "TLS-RPT reports are mailed in host mode only");
    });
    test("the option's own fields: namespace required, quantities checked, unknown fields refused", () => {
        const ok = { outboundTls: { mtaSts: false } };
        assert.throws(() => settings(ok, {}), /kubernetes\.namespace/);
        assert.throws(
            () => settings(ok, { ...K8S, queueStorage: "lots" }),
            /kubernetes\.queueStorage = "lots".*storage quantity/,
        );
        assert.throws(() => settings(ok, { ...K8S, replicas: 3 }), /kubernetes\.replicas.*known fields/);
        assert.throws(() => settings(ok, { ...K8S, postfixReplicas: 0 }), /postfixReplicas = 0.*from 1 to 50/);
    });
});

describe("the renderers' TCP variants (Docker's files stay as they are: the golden files)", () => {
    const s = settings({ outboundTls: { mtaSts: false } });
    test("Postfix delivers over LMTP and asks SMTP AUTH over TCP, by the Service names", () => {
        const mainCf = renderPostfixFiles(s.postfix).find(f => f.path === "main.cf")!.content;
        assert.match(mainCf, /^virtual_transport = lmtp:inet:\[t-dovecot-internal\]:24$/m);
        assert.match(mainCf, /^lmtp_host_lookup = native$/m);
        assert.match(mainCf, /^smtpd_sasl_path = inet:t-dovecot-internal:12345$/m);
        const docker = settings({ outboundTls: { mtaSts: false } }, null);
        const dockerCf = renderPostfixFiles(docker.postfix).find(f => f.path === "main.cf")!.content;
        assert.match(dockerCf, /^virtual_transport = lmtp:unix:\/run\/lmtp\/lmtp$/m);
        assert.doesNotMatch(dockerCf, /lmtp_host_lookup/);
    });
    test("Dovecot listens on TCP for LMTP and auth too, and has no Sieve sendmail", () => {
        const server = fakeMailServer(s);
        const conf = renderDovecotConf(validateDovecot(new Validator("DovecotImap t"), { mailServer: server }));
        assert.match(
            conf,
            /service lmtp \{\n {2}unix_listener \/run\/lmtp\/lmtp \{\n {4}mode = 0666\n {2}\}\n.*\n {2}inet_listener lmtp \{\n {4}port = 24\n {2}\}\n\}/,
        );
        assert.match(conf, /inet_listener auth-postfix \{\n {4}port = 12345\n {2}\}/);
        assert.doesNotMatch(conf, /sendmail_path/);
    });
    test("every rspamd replica uses the one Valkey, through its Service", () => {
        const redis = renderRspamdFiles(rspamdSpec(s)).find(f => f.path === "local.d/redis.conf")!.content;
        assert.match(redis, /^servers = "t-valkey:6379";$/m);
    });
});

describe("pods: containers, volumes and hardening from the definitions", () => {
    const owners = new Map(
        [postfix, rspamd, mtasts, valkey].flatMap(d =>
            (d.volumes ?? []).map(v => [v.name, { definition: v, owner: d.name }] as const),
        ),
    );
    const svc = (d: typeof postfix, image: string, ports: number[] = []) => ({
        definition: d as any,
        image,
        hasConfig: true,
        hasSecret: true,
        ports,
        env: undefined,
    });
    const parts = podParts("t", [svc(postfix, "p:1", [25, 587, 465]), svc(rspamd, "r:1")], owners, "Never");

    test("Postfix and rspamd side by side, each after its config sidecar; the queue a claim", () => {
        assert.deepEqual(
            parts.containers.map(c => c.name),
            ["postfix", "rspamd"],
        );
        assert.deepEqual(
            parts.initContainers.map(c => c.name),
            ["queue-permissions", "postfix-config", "rspamd-config"],
        );
        assert.deepEqual(parts.claims, ["queue"]);
        const sidecar = parts.initContainers[1];
        assert.equal(sidecar.restartPolicy, "Always");
        assert.deepEqual(sidecar.command, ["/usr/local/lib/mail/watch-config"]);
        assert.deepEqual((sidecar.securityContext as any).capabilities, { drop: ["ALL"], add: ["CHOWN"] });
    });
    test("the milter socket is one emptyDir both mount; tmpfs are in-memory emptyDirs; rspamd's caches an emptyDir", () => {
        const volumes = Object.fromEntries(parts.volumes.map(v => [v.name, v]));
        assert.deepEqual(volumes["rspamd-milter"], { name: "rspamd-milter", emptyDir: {} });
        assert.deepEqual(volumes["postfix-tmp-0"], { name: "postfix-tmp-0", emptyDir: { medium: "Memory" } });
        assert.deepEqual(volumes["rspamd-data"], { name: "rspamd-data", emptyDir: {} });
        assert.deepEqual((volumes["postfix-files"] as any).projected.sources, [
            { configMap: { name: "t-postfix-files" } },
            { secret: { name: "t-postfix-files" } },
        ]);
        const mounts = (name: string) => parts.containers.find(c => c.name === name)!.volumeMounts as any[];
        assert.ok(mounts("postfix").some(m => m.name === "rspamd-milter" && m.mountPath === "/run/rspamd-milter"));
        assert.ok(mounts("rspamd").some(m => m.name === "rspamd-milter"));
        assert.deepEqual(mounts("postfix")[0], { name: "postfix-config", mountPath: "/config", readOnly: true });
    });
    test("the MTA-STS resolver beside them: its policy socket one emptyDir Postfix mounts too, its cache an emptyDir", () => {
        const withSts = podParts(
            "t",
            [svc(postfix, "p:1", [25, 587, 465]), svc(rspamd, "r:1"), svc(mtasts as any, "m:1")],
            owners,
            "Never",
        );
        assert.deepEqual(
            withSts.containers.map(c => c.name),
            ["postfix", "rspamd", "mtasts"],
        );
        assert.deepEqual(withSts.claims, ["queue"]);
        const volumes = Object.fromEntries(withSts.volumes.map(v => [v.name, v]));
        assert.deepEqual(volumes["mtasts-run"], { name: "mtasts-run", emptyDir: {} });
        assert.deepEqual(volumes["mtasts-cache"], { name: "mtasts-cache", emptyDir: {} });
        const mounts = (name: string) => withSts.containers.find(c => c.name === name)!.volumeMounts as any[];
        for (const c of ["postfix", "mtasts"])
            assert.ok(
                mounts(c).some(m => m.name === "mtasts-run" && m.mountPath === "/run/mta-sts"),
                c,
            );
        const sts = withSts.containers[2];
        assert.deepEqual((sts.securityContext as any).capabilities, {
            drop: ["ALL"],
            add: ["CHOWN", "SETGID", "SETUID"],
        });
        assert.deepEqual((sts.readinessProbe as any).exec.command, ["/usr/local/lib/mail/healthcheck"]);
    });
    test("capabilities as the definition lists them, read-only root, no privilege escalation, the healthcheck as readiness", () => {
        const p = parts.containers[0];
        assert.deepEqual(p.securityContext, {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: {
                drop: ["ALL"],
                add: ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"],
            },
        });
        assert.deepEqual((p.readinessProbe as any).exec.command, ["/usr/local/lib/mail/healthcheck"]);
        assert.equal(p.livenessProbe, undefined, "Docker's healthcheck never restarts a container either");
    });
    test("the StatefulSet: replicas, per-pod claims retained, peers' names mapped to their Services", () => {
        const s = statefulSet({
            prefix: "t",
            namespace: "mail",
            group: "postfix",
            replicas: 2,
            parts,
            settings: { ...settings({ outboundTls: { mtaSts: false } }).kubernetes! },
            hostAliases: [{ hostname: "t-dovecot-internal", ip: "10.46.1.9" }],
        });
        assert.equal(s.spec.replicas, 2);
        assert.deepEqual((s.spec.volumeClaimTemplates as any)[0].spec, {
            accessModes: ["ReadWriteOnce"],
            storageClassName: "fast",
            resources: { requests: { storage: "1Gi" } },
        });
        assert.deepEqual(s.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
        assert.deepEqual((s.spec.template as any).spec.hostAliases, [
            { ip: "10.46.1.9", hostnames: ["t-dovecot-internal"] },
        ]);
        assert.equal((s.spec.template as any).spec.automountServiceAccountToken, false);
        assert.deepEqual(postfixDisruptionBudget("t", "mail").spec.maxUnavailable, 1);
    });
});

describe("NetworkPolicies: each group admits only the peers it needs", () => {
    const tcp = { lmtpPort: 24, authPort: 12345, valkeyPort: 6379 };
    const sel = (group: string) => [
        {
            podSelector: {
                matchLabels: {
                    "app.kubernetes.io/part-of": "mailserver",
                    "app.kubernetes.io/instance": "t",
                    "app.kubernetes.io/component": group,
                },
            },
        },
    ];
    const tcpPorts = (...ports: number[]) => ports.map(port => ({ protocol: "TCP", port }));
    test("Postfix: mail from anywhere; out to Dovecot, Valkey, DNS and other mail servers only", () => {
        const [p, v] = mailServerPolicies("t", "mail", { smtp: 25, submission: 587, smtps: 465 }, true, tcp);
        assert.deepEqual(p.spec.policyTypes, ["Ingress", "Egress"]);
        assert.deepEqual(p.spec.ingress, [{ ports: tcpPorts(25, 587, 465) }]);
        assert.deepEqual(p.spec.egress, [
            { to: sel("dovecot"), ports: tcpPorts(24, 12345) },
            { to: sel("valkey"), ports: tcpPorts(6379) },
            { ports: [...tcpPorts(53), { protocol: "UDP", port: 53 }] },
            { ports: tcpPorts(25, 465, 587) },
        ]);
        assert.deepEqual(v.spec.ingress, [{ from: sel("postfix"), ports: tcpPorts(6379) }]);
        assert.deepEqual(v.spec.egress, [], "Valkey reaches nobody");
        assert.equal(mailServerPolicies("t", "mail", { smtp: 25, submission: 587, smtps: 465 }, false, tcp).length, 1);
    });
    test("Postfix with the MTA-STS resolver beside it: HTTPS out as well (the policies)", () => {
        const ports = { smtp: 25, submission: 587, smtps: 465 };
        const [p] = mailServerPolicies("t", "mail", ports, true, tcp, undefined, {
            smtpPorts: SMTP_PORTS,
            https: true,
        });
        assert.deepEqual((p.spec.egress as any[]).at(-1), { ports: tcpPorts(443) });
    });
    test("Postfix reaches its relayhosts and transports' next hops on their own ports too", () => {
        const postfix = {
            relayhosts: [{ port: 2525 }, { port: 587 }],
            transports: [{ nexthop: "[192.0.2.7]:10025" }, { nexthop: "mx.example.net" }],
        };
        assert.deepEqual(nextHopPorts(postfix), [25, 465, 587, 2525, 10025]);
        assert.deepEqual(nextHopPorts({ relayhosts: [] }), [25, 465, 587]);
        const ports = { smtp: 25, submission: 587, smtps: 465 };
        const out = { smtpPorts: nextHopPorts(postfix), https: false };
        const [p] = mailServerPolicies("t", "mail", ports, true, tcp, undefined, out);
        assert.deepEqual((p.spec.egress as any[]).at(-1), { ports: tcpPorts(25, 465, 587, 2525, 10025) });
    });
    test("Dovecot: clients from anywhere, LMTP and auth from Postfix only, nothing out", () => {
        const d = dovecotPolicy("t", "mail", [143, 993], tcp);
        assert.deepEqual(d.spec.ingress, [
            { ports: tcpPorts(143, 993) },
            { from: sel("postfix"), ports: tcpPorts(24, 12345) },
        ]);
        assert.deepEqual(d.spec.egress, []);
    });
});

describe("config: the ConfigMap's and the Secret's bundles", () => {
    test("rendered files and MANIFEST in clear; files made of outputs only in the Secret", async () => {
        const pulumi = await import("@pulumi/pulumi");
        const data = filesData(
            [
                { path: "main.cf", content: "x = 1\n", mode: "0644", owner: "root", group: "root" },
                { path: "key.pem", content: pulumi.output("KEY"), mode: "0600", owner: "root", group: "root" },
            ],
            ["virtual"],
        );
        const files = parseBundle(data.public.public);
        assert.deepEqual(
            files.map(f => f.path),
            ["MANIFEST", "main.cf"],
        );
        assert.match(files[0].content, /^file 0600 root root key\.pem$/m);
        assert.match(files[0].content, /^postmap virtual$/m);
        assert.ok(data.outputs, "a Secret");
    });
});
