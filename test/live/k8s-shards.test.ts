// DovecotImap kubernetes.shards on the test cluster (engine/k8s/cluster.sh), through the real engine:
// MailServer (1 Postfix replica with rspamd, Valkey) and DovecotImap with 2 shard backends behind 2
// Dovecot proxy pods, for two VirtualDomains with 4 mailboxes, 2 on each shard by the hash of their
// address. The test reaches the cluster only on loopback: a haproxy pod of its program
// (test/live/k8s-balancer) on the host's network at 127.0.0.56 (SMTP) and 127.0.0.57 (IMAP, the one
// client-facing address: the proxy's Service). Mail received on port 25 is read back over IMAPS
// through the proxy, and lies on its user's backend only (doveadm on each backend); an unchanged
// preview shows 0 changes; a mailbox moved by the documented procedure (scripts/k8s-move-mailbox.sh,
// then its `shard`) keeps its old mail readable and receives new mail on the new backend.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation";
import { DovecotImap, MailServer, VirtualDomain } from "../../components";
import { shardOf } from "../../components/model/shards";
import { caFile, Credentials, fetchBySubject, imapsLogin, smtp, textMatching, uniqueSubject } from "./clients";
import {
    BALANCER_SOURCE,
    balancer,
    clusterArgs,
    CLIENT_SOURCE,
    hashOf,
    HAPROXY_DEFAULTS,
    haproxyForward,
    openSuite,
    OpenSuite,
    serviceImage,
    staticVolumes,
} from "./k8s-fixture";
import { previewChanges, run, seconds } from "./k8s-run";
import { ROOT } from "./stack";

const PREFIX = "k8sshard";
const NAMESPACE = "k8sshard";
const SMTP_ADDRESS = "127.0.0.56";
const IMAP_ADDRESS = "127.0.0.57";
const PORT = { smtp: 46625, imaps: 46693 };
const HOSTNAME = "mail.k8sshard.test";
const NAMES = {
    prefix: PREFIX,
    namespace: NAMESPACE,
    services: ["postfix", "dovecot", "rspamd", "valkey", "authpolicy"],
};
/** Static volumes (the cluster has no provisioner): a queue, 2 mail backends, Valkey, and one spare. */
const VOLUMES = 5;
const SHARDS = 2;

const USERS: Record<string, Credentials> = {
    alice: { address: "alice@k8sshard.test", password: "alice-shard-password-1" },
    bob: { address: "bob@k8sshard.test", password: "bob-shard-password-22" },
    carol: { address: "carol@k8sshard.org", password: "carol-shard-password-3" },
    frank: { address: "frank@k8sshard.org", password: "frank-shard-password-44" },
};
/** The mailbox the test moves: from its hashed shard to the other. */
const MOVED = USERS.alice;

function haproxyConfig(postfix: pulumi.Output<string>, dovecot: pulumi.Output<string>): pulumi.Output<string> {
    return pulumi
        .all([postfix, dovecot])
        .apply(([p, d]) =>
            [
                HAPROXY_DEFAULTS,
                haproxyForward("smtp", `${SMTP_ADDRESS}:${PORT.smtp}`, p, 25, false),
                haproxyForward("imaps", `${IMAP_ADDRESS}:${PORT.imaps}`, d, 993, true),
            ].join(""),
        );
}

function program(kubeconfig: string, moved: () => number | undefined) {
    return async () => {
        const provider = new k8s.Provider("cluster", { kubeconfig });
        const ns = new k8s.core.v1.Namespace("ns", { metadata: { name: NAMESPACE } }, { provider });
        const volumes = staticVolumes(PREFIX, VOLUMES, provider);
        const mailbox = (u: Credentials) => ({
            address: u.address,
            passwordHash: hashOf(u),
            ...(u === MOVED && moved() !== undefined ? { shard: moved() } : {}),
        });
        const domains = [
            new VirtualDomain("k8sshard.test", {
                domain: "k8sshard.test",
                mailboxes: [mailbox(USERS.alice), mailbox(USERS.bob)],
            }),
            new VirtualDomain("k8sshard.org", {
                domain: "k8sshard.org",
                mailboxes: [mailbox(USERS.carol), mailbox(USERS.frank)],
            }),
        ];
        const images = Object.fromEntries(NAMES.services.map(s => [s, serviceImage(PREFIX, s)]));
        const opts = { providers: { kubernetes: provider }, dependsOn: [ns, ...volumes] };
        const server = new MailServer(
            "mail",
            {
                hostname: HOSTNAME,
                namePrefix: PREFIX,
                domains,
                dns: "none",
                // k8s-mail tests the MTA-STS resolver; this suite's pods stay lighter without it.
                outboundTls: { mtaSts: false },
                images,
                kubernetes: clusterArgs(NAMES, 1),
            },
            opts,
        );
        const imap = new DovecotImap(
            "imap",
            {
                mailServer: server,
                images,
                kubernetes: { shards: SHARDS, proxyReplicas: 2 },
                proxyProtocol: { listeners: ["imaps"], trustedNetworks: [BALANCER_SOURCE] },
            },
            opts,
        );
        const postfixIp = server.kubernetesServices![`${PREFIX}-postfix`];
        const dovecotIp = imap.kubernetesServices![`${PREFIX}-dovecot`];
        balancer(NAMES, haproxyConfig(postfixIp, dovecotIp), { host: SMTP_ADDRESS, port: PORT.smtp }, provider, [ns]);
        return { certificatePem: server.certificatePem };
    };
}

describe("DovecotImap shards on Kubernetes: a Dovecot proxy in front of 2 backends", { timeout: 60 * 60_000 }, () => {
    let env: Record<string, string>;
    let kubeconfig: string;
    let stack: Stack;
    let suite: OpenSuite | undefined;
    let ca: string;
    let moved: number | undefined;
    const times: Record<string, number> = {};
    const kubeEnv = () => ({ ...env, KUBECONFIG: kubeconfig, KUBECTL: path.join(env.MAILSERVER_K8S_BIN, "kubectl") });
    const kubectl = (...args: string[]) =>
        run(path.join(env.MAILSERVER_K8S_BIN, "kubectl"), ["--namespace", NAMESPACE, ...args], kubeEnv());
    const backend = (i: number) => `${PREFIX}-dovecot-backend-${i}`;
    /** The subjects of the messages in a user's INBOX on one backend (doveadm there, not through the proxy). */
    /** A command in a backend's Dovecot container; its status and output, whatever the status. */
    const onBackend = (i: number, command: string[]) =>
        spawnSync(
            path.join(env.MAILSERVER_K8S_BIN, "kubectl"),
            ["--namespace", NAMESPACE, "exec", backend(i), "-c", "dovecot-backend", "--", ...command],
            { env: kubeEnv(), encoding: "utf8" },
        );
    const subjectsOn = (i: number, u: Credentials) => {
        // A mailbox that never lived on this backend has no INBOX there: doveadm's error is the answer.
        const fetch = ["doveadm", "-f", "flow", "fetch", "-u", u.address, "hdr.subject", "mailbox", "INBOX", "all"];
        const r = onBackend(i, fetch);
        return `${r.stdout}${r.stderr}`;
    };
    /** Whether a backend has the user's home at all (doveadm there would create an INBOX). */
    const homeOn = (i: number, u: Credentials) => {
        const [local, domain] = u.address.split("@");
        return onBackend(i, ["test", "-e", `/var/mail/vhosts/${domain}/${local}`]).status === 0;
    };
    const receive = (to: string, subject: string) =>
        smtp({
            server: SMTP_ADDRESS,
            port: PORT.smtp,
            from: "someone@outside.example",
            to,
            subject,
            body: "to a shard",
        });
    /** A message read over IMAPS through the balancer and a proxy pod (bounded by fetchBySubject). */
    const read = (u: Credentials, subject: string) =>
        fetchBySubject(u, subject, "imaps", ca, "INBOX", 25_000, { ...PORT } as any, {
            host: IMAP_ADDRESS,
            servername: HOSTNAME,
        });
    const sent = new Map<Credentials, string[]>();

    before(async () => {
        suite = await openSuite(NAMES, "k8s-shards", kubeconfig => program(kubeconfig, () => moved), times);
        ({ env, kubeconfig, stack } = suite);
    });

    after(async () => {
        await suite?.close();
    });

    test("pulumi up deploys 2 proxy pods and 2 backends, each backend with its own mail claim", async () => {
        // The users' hashed shards: two on each (a test of the assignment, not of the cluster).
        assert.deepEqual(
            Object.values(USERS).map(u => shardOf(u.address, SHARDS)),
            [0, 1, 0, 1],
        );
        const t = Date.now();
        const r = await stack.up({ onOutput: s => process.stderr.write(s) });
        times.up = seconds(t);
        assert.equal(r.summary.result, "succeeded");
        ca = caFile(r.outputs.certificatePem.value, PREFIX);
        const names = (JSON.parse(kubectl("get", "pods", "-o", "json")).items as any[])
            .map(p => p.metadata.name as string)
            .filter(n => n.startsWith(`${PREFIX}-dovecot`))
            .sort();
        assert.deepEqual(names, [`${PREFIX}-dovecot-0`, `${PREFIX}-dovecot-1`, backend(0), backend(1)]);
        const claims = (JSON.parse(kubectl("get", "pvc", "-o", "json")).items as any[])
            .map(c => `${c.metadata.name}:${c.status.phase}`)
            .filter(c => c.startsWith("mail-"))
            .sort();
        assert.deepEqual(claims, [`mail-${backend(0)}:Bound`, `mail-${backend(1)}:Bound`]);
    });

    test("mail received on port 25 for users of both shards is read over IMAPS through the proxy, and lies on its user's backend only", async () => {
        const t = Date.now();
        for (const u of Object.values(USERS)) {
            const s = uniqueSubject(`k8s shard inbound to ${u.address}`);
            const r = receive(u.address, s);
            assert.equal(r.status, 0, r.transcript);
            sent.set(u, [s]);
        }
        for (const [u, [s]] of sent) assert.match(await read(u, s), new RegExp(`Subject: ${s}`));
        times.readThroughProxy = seconds(t);
        for (const [u, [s]] of sent) {
            const home = shardOf(u.address, SHARDS);
            assert.ok(subjectsOn(home, u).includes(s), `${u.address}: not on backend ${home}`);
            assert.ok(!homeOn(1 - home, u), `${u.address}: a home on backend ${1 - home} too`);
        }
    });

    test("the client's address reaches the backend through the balancer (PROXY) and the Dovecot proxy", async () => {
        const dialog = await imapsLogin(
            { host: IMAP_ADDRESS, port: PORT.imaps, localAddress: CLIENT_SOURCE, servername: HOSTNAME, ca },
            USERS.frank,
        );
        assert.match(dialog, /^a OK/m, dialog);
        const home = backend(shardOf(USERS.frank.address, SHARDS));
        const pattern = /imap-login: Info: Logged in: user=<frank@k8sshard\.org>, method=[A-Z]+, rip=127\.0\.0\.2,/;
        const logs = await textMatching(() => kubectl("logs", home, "-c", "dovecot-backend"), pattern, 30_000);
        assert.match(logs, pattern, `${home} never logged frank's login from 127.0.0.2`);
    });

    test("an unchanged preview shows 0 changes", async () => {
        const preview = await previewChanges(stack);
        times.preview = preview.seconds;
        assert.deepEqual(preview.changed, [], preview.stdout);
    });

    test("a mailbox moved to the other shard by the documented procedure keeps its mail, and new mail lands on the new shard", async () => {
        const from = shardOf(MOVED.address, SHARDS);
        const to = 1 - from;
        const move = () =>
            run(
                "bash",
                [
                    path.join(ROOT, "scripts", "k8s-move-mailbox.sh"),
                    NAMESPACE,
                    PREFIX,
                    MOVED.address,
                    String(from),
                    String(to),
                ],
                kubeEnv(),
            );
        let t = Date.now();
        move();
        times.moveCopy = seconds(t);
        // Mail arriving between the copy and the switch: on the old shard, carried by the second copy.
        const between = uniqueSubject("k8s shard between copy and switch");
        assert.equal(receive(MOVED.address, between).status, 0);
        await read(MOVED, between);
        moved = to;
        t = Date.now();
        const r = await stack.up({ onOutput: s => process.stderr.write(s) });
        times.upMove = seconds(t);
        assert.equal(r.summary.result, "succeeded");
        // New mail: once the proxy pods have the new passdb (the kubelet's projection), it lands on `to`.
        const after = uniqueSubject("k8s shard after the move");
        t = Date.now();
        for (const deadline = Date.now() + 180_000; ;) {
            const probe = uniqueSubject("k8s shard routing probe");
            assert.equal(receive(MOVED.address, probe).status, 0);
            await new Promise(res => setTimeout(res, 3000));
            if (subjectsOn(to, MOVED).includes(probe)) break;
            assert.ok(Date.now() < deadline, "the proxies still deliver to the old shard after 180 s");
        }
        times.routedToNewShard = seconds(t);
        // The documented step 3: once the proxies route to the new shard, the mail of the gap is copied.
        t = Date.now();
        move();
        times.moveDelta = seconds(t);
        assert.equal(receive(MOVED.address, after).status, 0);
        for (const s of [...sent.get(MOVED)!, between, after]) assert.match(await read(MOVED, s), new RegExp(s));
        const onNew = subjectsOn(to, MOVED);
        for (const s of [...sent.get(MOVED)!, between, after]) assert.ok(onNew.includes(s), `${s}: not on shard ${to}`);
        assert.ok(!subjectsOn(from, MOVED).includes(after), "new mail also on the old shard");
        // The others stay where they were.
        for (const [u, [s]] of sent) if (u !== MOVED) await read(u, s);
    });
});
