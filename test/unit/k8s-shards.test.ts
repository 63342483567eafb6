// DovecotImap kubernetes.shards: the option and its preview refusals (components/options/
// dovecotKubernetes.ts), the assignment of mailboxes to shards (model/shards.ts), the proxy's and
// the backends' files (render/dovecotProxy.ts), and the pure objects (platform/kubernetes/shardObjects.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Validator } from "../../components/model/validator";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import { validateDovecot } from "../../components/options/dovecotImap";
import { applyKubernetes } from "../../components/options/kubernetes";
import { shardOf } from "../../components/model/shards";
import {
    renderBackendFiles,
    renderDovecotProxyConf,
    renderProxyUsers,
    shardAssignment,
} from "../../components/render/dovecotProxy";
import {
    backendPorts,
    proxyDisruptionBudget,
    shardPolicies,
    shardService,
} from "../../components/platform/kubernetes/shardObjects";
import { fakeMailServer } from "./fixtures";

const IMAGES = { postfix: "p:1", rspamd: "r:1", valkey: "v:1", dovecot: "d:1" };
const K8S = { namespace: "mail" };
const HASH = "$6$salt$" + "x".repeat(86);

function server(mailboxes: Array<Record<string, unknown>>, kubernetes: unknown = K8S) {
    const d = validateDomain(new Validator("VirtualDomain example.com"), {
        domain: "example.com",
        mailboxes: mailboxes.map(m => ({ password: "a-long-enough-password", ...m })),
    });
    const v = new Validator("MailServer t");
    const all = {
        hostname: "mail.example.com",
        domains: [{ spec: d }],
        images: IMAGES,
        kubernetes,
        outboundTls: { mtaSts: !kubernetes },
    };
    const s = kubernetes
        ? applyKubernetes(v, validateMailServer(v, "t", all), kubernetes, IMAGES)
        : validateMailServer(v, "t", all);
    return fakeMailServer(s);
}
const dovecot = (mailServer: unknown, kubernetes?: unknown) =>
    validateDovecot(new Validator("DovecotImap imap"), { mailServer, ...(kubernetes ? { kubernetes } : {}) });

describe("DovecotImap kubernetes.shards: the option", () => {
    test("shards > 1 on Kubernetes: a proxy spec with the defaults", () => {
        const spec = dovecot(server([{ address: "alice" }]), { shards: 3 });
        assert.deepEqual(spec.shards, {
            shards: 3,
            proxyReplicas: 2,
            trustedNetworks: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
        });
    });
    test("shards 1 (or unset): one Dovecot, as in phase 1", () => {
        assert.equal(dovecot(server([{ address: "alice" }]), { shards: 1 }).shards, undefined);
        assert.equal(dovecot(server([{ address: "alice" }])).shards, undefined);
    });
    test("refused at preview, naming component, field, value and what is accepted", () => {
        assert.throws(
            () => dovecot(server([{ address: "alice" }]), { shards: 0 }),
            /DovecotImap imap: kubernetes\.shards = 0 is not accepted; expected a whole number from 1 to 64/,
        );
        assert.throws(
            () => dovecot(server([{ address: "alice" }]), { shards: 2, trustedNetworks: ["pods"] }),
            /kubernetes\.trustedNetworks\[0\] = "pods" is not accepted; expected a network such as "10\.0\.0\.0\/8"/,
        );
        assert.throws(
            () => dovecot(server([{ address: "alice", shard: 2 }]), { shards: 2 }),
            /VirtualDomain example\.com mailboxes\[alice@example\.com\]\.shard = 2 is not accepted; expected a shard from 0 to 1 \(DovecotImap kubernetes\.shards is 2\)/,
        );
    });
    test("on Docker: kubernetes and a mailbox's shard are refused", () => {
        assert.throws(
            () => dovecot(server([{ address: "alice" }], null), { shards: 2 }),
            /DovecotImap imap: kubernetes = .* is not accepted; expected no kubernetes: the MailServer runs on Docker/,
        );
        assert.throws(
            () => dovecot(server([{ address: "alice", shard: 0 }], null)),
            /shard = 0 is not accepted; expected no shard: DovecotImap has one Dovecot/,
        );
    });
    test("a mailbox's shard outside 0..63 is refused by VirtualDomain", () => {
        assert.throws(
            () => server([{ address: "alice", shard: -1 }]),
            /mailboxes\[0\]\.shard = -1 is not accepted; expected a shard number from 0 to 63/,
        );
    });
});

describe("DovecotImap kubernetes.shards: which backend holds a mailbox", () => {
    const addresses = Array.from({ length: 400 }, (_, i) => `user${i}@example.com`);
    test("stable, case-blind, and spread over the shards", () => {
        assert.equal(shardOf("Alice@Example.com", 4), shardOf("alice@example.com", 4));
        assert.equal(shardOf("alice@k8sshard.test", 2), 0);
        assert.equal(shardOf("bob@k8sshard.test", 2), 1);
        const counts = [0, 0, 0, 0];
        for (const a of addresses) counts[shardOf(a, 4)]++;
        for (const c of counts) assert.ok(c > 70 && c < 130, `uneven: ${counts}`);
    });
    test("a shard added takes users only to itself (rendezvous hashing)", () => {
        for (const a of addresses) {
            const before = shardOf(a, 3);
            const after = shardOf(a, 4);
            assert.ok(after === before || after === 3, `${a}: ${before} -> ${after}`);
        }
    });
    test("a mailbox's shard overrides the hash", () => {
        const spec = dovecot(server([{ address: "alice", shard: 1 - shardOf("alice@example.com", 2) }]), {
            shards: 2,
        });
        assert.equal(shardAssignment(spec.domains, 2).get("alice@example.com"), 1 - shardOf("alice@example.com", 2));
    });
});

describe("DovecotImap kubernetes.shards: the proxy's and the backends' files", () => {
    const spec = dovecot(server([{ address: "alice" }, { address: "bob" }]), { shards: 2 });
    test("the proxy's passwd-file: each hash, its backend, the client's password forwarded over STARTTLS, no multiplexing", () => {
        const users = renderProxyUsers(
            [
                { address: "alice@example.com", hash: HASH },
                { address: "bob@example.com", hash: HASH },
            ] as any,
            spec.domains,
            "t",
            2,
        );
        const host = (a: string) => `t-dovecot-shard-${shardOf(a, 2)}`;
        assert.equal(
            users,
            `alice@example.com:{SHA512-CRYPT}${HASH}::::::proxy=y host=${host("alice@example.com")} starttls=any-cert pass=%{password} proxy_no_multiplex\n` +
                `bob@example.com:{SHA512-CRYPT}${HASH}::::::proxy=y host=${host("bob@example.com")} starttls=any-cert pass=%{password} proxy_no_multiplex\n`,
        );
    });
    test("the proxy: TLS for clients, LMTP proxied, SMTP AUTH for Postfix, no mail storage", () => {
        const conf = renderDovecotProxyConf(spec);
        assert.match(conf, /^lmtp_proxy = yes$/m);
        assert.match(conf, /^ssl = required$/m);
        assert.match(conf, /inet_listener auth-postfix \{\n {4}port = 12345\n/);
        assert.match(conf, /service lmtp \{\n {2}inet_listener lmtp \{\n {4}port = 24\n/);
        assert.match(conf, /inet_listener imaps \{\n {4}port = 993\n/);
        assert.match(conf, /auth_policy_server_url/);
        assert.doesNotMatch(conf, /mail_driver|userdb/);
    });
    test("a backend: Dovecot's own files on the internal ports, the proxies' networks trusted, no brute-force policy", () => {
        const conf = renderBackendFiles(spec, ["10.0.0.0/8"]).find(f => f.path === "dovecot.conf")!.content as string;
        assert.match(conf, /inet_listener imap \{\n {4}port = 143\n/);
        assert.match(conf, /inet_listener imaps \{\n {4}port = 0\n/);
        assert.match(conf, /^login_trusted_networks = 10\.0\.0\.0\/8$/m);
        assert.match(conf, /^mail_driver = maildir$/m);
        assert.doesNotMatch(conf, /auth_policy_server_url/);
    });
    test("behind a balancer: the proxy reads the PROXY header (its trusted networks), the backends do not", () => {
        const proxied = validateDovecot(new Validator("DovecotImap imap"), {
            mailServer: server([{ address: "alice" }]),
            kubernetes: { shards: 2 },
            proxyProtocol: { listeners: ["imaps"], trustedNetworks: ["10.46.0.1/32"] },
        });
        const conf = renderDovecotProxyConf(proxied);
        assert.match(conf, /^haproxy_trusted_networks = 10\.46\.0\.1\/32$/m);
        assert.match(conf, /inet_listener imaps \{\n {4}port = 993\n {4}ssl = yes\n {4}haproxy = yes\n/);
        assert.match(conf, /inet_listener imap \{\n {4}port = 143\n {2}\}/);
        const backend = renderBackendFiles(proxied, ["10.0.0.0/8"]).find(f => f.path === "dovecot.conf")!;
        assert.doesNotMatch(backend.content as string, /haproxy/);
    });
});

describe("DovecotImap kubernetes.shards: the objects", () => {
    const ports = backendPorts(false, true);
    test("a Service per backend pod, named as the proxy's passdb names it", () => {
        const s = shardService("t", "mail", 1, ports);
        assert.equal(s.metadata.name, "t-dovecot-shard-1");
        assert.equal(s.spec.selector["statefulset.kubernetes.io/pod-name"], "t-dovecot-backend-1");
        assert.deepEqual(
            s.spec.ports.map(p => p.port),
            [143, 24, 4190],
        );
    });
    test("the proxy's PodDisruptionBudget", () => {
        assert.equal(proxyDisruptionBudget("t", "mail").spec.maxUnavailable, 1);
    });
    test("NetworkPolicies: proxy from clients and Postfix, to the backends; backends from the proxy alone", () => {
        const [proxy, backend] = shardPolicies("t", "mail", [143, 993], { lmtpPort: 24, authPort: 12345 }, [143, 24]);
        assert.equal(proxy.metadata.name, "t-dovecot");
        const component = (peer: any) => peer.podSelector.matchLabels["app.kubernetes.io/component"];
        const ingress = proxy.spec.ingress as any[];
        assert.deepEqual(ingress[0], { ports: [143, 993].map(port => ({ protocol: "TCP", port })) });
        assert.equal(component(ingress[1].from[0]), "postfix");
        assert.deepEqual(
            ingress[1].ports.map((p: any) => p.port),
            [24, 12345],
        );
        const egress = proxy.spec.egress as any[];
        assert.equal(component(egress[0].to[0]), "dovecot-backend");
        assert.deepEqual(
            egress[0].ports.map((p: any) => p.port),
            [143, 24],
        );
        assert.equal(backend.metadata.name, "t-dovecot-backend");
        assert.deepEqual(backend.spec.egress, []);
        const from = backend.spec.ingress as any[];
        assert.equal(from.length, 1);
        assert.equal(component(from[0].from[0]), "dovecot");
    });
    test("NetworkPolicies behind a balancer: the proxy's PROXY port from the trusted networks only", () => {
        const proxied = { ports: [993], trustedNetworks: ["10.46.0.1/32"] };
        const [proxy] = shardPolicies("t", "mail", [143, 993], { lmtpPort: 24, authPort: 12345 }, [143, 24], proxied);
        const ingress = proxy.spec.ingress as any[];
        assert.deepEqual(ingress[0], { ports: [{ protocol: "TCP", port: 143 }] });
        assert.deepEqual(ingress[1].from, [{ ipBlock: { cidr: "10.46.0.1/32" } }]);
        assert.deepEqual(ingress[1].ports, [{ protocol: "TCP", port: 993 }]);
    });
});

describe("DovecotImap kubernetes.shards: the pods", () => {
    test("the proxy pod has no mail claim (an emptyDir where the image prepares the mail directory); a backend has one", async () => {
        const { proxyPlanned } = await import("../../components/platform/kubernetes/shards");
        const { podParts } = await import("../../components/platform/kubernetes/pod");
        const { dovecot: definition } = await import("../../components/services/dovecot");
        const planned = proxyPlanned([{ definition, files: [], secretFiles: [] } as any]);
        const owners = new Map(
            (planned[0].definition.volumes ?? []).map(v => [v.name, { definition: v, owner: "dovecot" }]),
        );
        const service = { definition: planned[0].definition, image: "d:1", hasConfig: false, hasSecret: false };
        const proxy = podParts("t", [{ ...service, ports: [143], env: undefined }], owners, "Never");
        assert.deepEqual(proxy.claims, []);
        assert.ok(proxy.volumes.some(v => v.name === "proxy-mail" && v.emptyDir));
        assert.ok(
            (proxy.containers[0].volumeMounts as any[]).some(
                (m: any) => m.name === "proxy-mail" && m.mountPath === "/var/mail/vhosts",
            ),
        );
        const backendOwners = new Map([["mail", { definition: definition.volumes![0], owner: "dovecot" }]]);
        const backend = podParts(
            "t",
            [{ definition, image: "d:1", hasConfig: false, hasSecret: false, ports: [143], env: undefined }],
            backendOwners,
            "Never",
        );
        assert.deepEqual(backend.claims, ["mail"]);
    });
});
