// MailServer and DovecotImap on Kubernetes (components/platform/kubernetes), through the real
// engine on the test cluster (engine/k8s/cluster.sh): 2 Postfix replicas (each with rspamd beside
// it and its own queue claim), one Valkey, Dovecot, for two VirtualDomains. The test reaches the
// cluster only on loopback: its program adds a haproxy pod (test/live/k8s-balancer) on the host's
// network at 127.0.0.48 (SMTP) and 127.0.0.49 (IMAP) forwarding to the Postfix and Dovecot
// Services. Mail submitted (587, 465, SMTP AUTH) and received (25) for both domains is read back
// over IMAPS; an unchanged preview shows 0 changes; a mailbox added by a new `pulumi up` logs in
// and receives mail while no pod restarts (same pod UIDs, same restart counts).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation";
import { DovecotImap, MailServer, VirtualDomain } from "../../components";
import {
    caFile,
    Credentials,
    fetchBySubject,
    imapClient,
    imapsLogin,
    smtp,
    textMatching,
    uniqueSubject,
} from "./clients";
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
import { stormSend } from "./k8s-storm";

const PREFIX = "k8smail";
const NAMESPACE = "k8smail";
const SMTP_ADDRESS = "127.0.0.48";
const IMAP_ADDRESS = "127.0.0.49";
const PORT = { smtp: 46525, submission: 46587, smtps: 46565, imaps: 46593, imap: 46543 };
const HOSTNAME = "mail.k8smail.test";
const NAMES = {
    prefix: PREFIX,
    namespace: NAMESPACE,
    services: ["postfix", "dovecot", "rspamd", "mtasts", "valkey", "authpolicy"],
};
/** Static volumes (the cluster has no provisioner): 2 queues, mail, Valkey, and one spare. */
const VOLUMES = 5;

const USERS: Record<string, Credentials> = {
    alice: { address: "alice@k8smail.test", password: "alice-k8s-password-1" },
    bob: { address: "bob@k8smail.test", password: "bob-k8s-password-22" },
    carol: { address: "carol@k8smail.org", password: "carol-k8s-password-3" },
    dave: { address: "dave@k8smail.org", password: "dave-k8s-password-44" },
};

function haproxyConfig(postfix: pulumi.Output<string>, dovecot: pulumi.Output<string>): pulumi.Output<string> {
    // PROXY v2 to the listeners the stack declares as PROXY ones (all but IMAP on 143).
    return pulumi
        .all([postfix, dovecot])
        .apply(([p, d]) =>
            [
                HAPROXY_DEFAULTS,
                haproxyForward("smtp", `${SMTP_ADDRESS}:${PORT.smtp}`, p, 25, true),
                haproxyForward("submission", `${SMTP_ADDRESS}:${PORT.submission}`, p, 587, true),
                haproxyForward("smtps", `${SMTP_ADDRESS}:${PORT.smtps}`, p, 465, true),
                haproxyForward("imaps", `${IMAP_ADDRESS}:${PORT.imaps}`, d, 993, true),
                haproxyForward("imap", `${IMAP_ADDRESS}:${PORT.imap}`, d, 143, false),
            ].join(""),
        );
}

function program(kubeconfig: string, withDave: () => boolean) {
    return async () => {
        const provider = new k8s.Provider("cluster", { kubeconfig });
        const ns = new k8s.core.v1.Namespace("ns", { metadata: { name: NAMESPACE } }, { provider });
        const volumes = staticVolumes(PREFIX, VOLUMES, provider);
        const mailbox = (u: Credentials) => ({ address: u.address, passwordHash: hashOf(u) });
        const domains = [
            new VirtualDomain("k8smail.test", {
                domain: "k8smail.test",
                mailboxes: [mailbox(USERS.alice), mailbox(USERS.bob)],
            }),
            new VirtualDomain("k8smail.org", {
                domain: "k8smail.org",
                mailboxes: [mailbox(USERS.carol), ...(withDave() ? [mailbox(USERS.dave)] : [])],
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
                // The balancer's connections to the Service reach the pods from the node's address on
                // the pod bridge (kube-proxy masquerades traffic from outside the pod network).
                proxyProtocol: { listeners: ["smtp", "submission", "smtps"], trustedNetworks: [BALANCER_SOURCE] },
                images,
                kubernetes: clusterArgs(NAMES, 2),
            },
            opts,
        );
        const imap = new DovecotImap(
            "imap",
            { mailServer: server, images, proxyProtocol: { listeners: ["imaps"] } },
            opts,
        );
        const postfixIp = server.kubernetesServices![`${PREFIX}-postfix`];
        const dovecotIp = imap.kubernetesServices![`${PREFIX}-dovecot`];
        balancer(NAMES, haproxyConfig(postfixIp, dovecotIp), { host: SMTP_ADDRESS, port: PORT.smtp }, provider, [ns]);
        return { certificatePem: server.certificatePem, mainCf: server.mainCf };
    };
}

describe("MailServer and DovecotImap on Kubernetes", { timeout: 60 * 60_000 }, () => {
    let env: Record<string, string>;
    let kubeconfig: string;
    let stack: Stack;
    let suite: OpenSuite | undefined;
    let ca: string;
    let dave = false;
    const times: Record<string, number> = {};
    const kubectl = (...args: string[]) =>
        run(path.join(env.MAILSERVER_K8S_BIN, "kubectl"), ["--namespace", NAMESPACE, ...args], {
            ...env,
            KUBECONFIG: kubeconfig,
        });
    const pods = () =>
        (JSON.parse(kubectl("get", "pods", "-o", "json")).items as any[])
            .filter(p => p.metadata.labels?.["app.kubernetes.io/instance"] === PREFIX)
            .map(p => ({
                name: p.metadata.name as string,
                uid: p.metadata.uid as string,
                restarts: [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])]
                    .map((c: any) => `${c.name}=${c.restartCount}`)
                    .join(","),
            }))
            .sort((a, b) => a.name.localeCompare(b.name));

    before(async () => {
        suite = await openSuite(NAMES, "k8s-mail", kubeconfig => program(kubeconfig, () => dave), times);
        ({ env, kubeconfig, stack } = suite);
    });

    after(async () => {
        await suite?.close();
    });

    test("pulumi up deploys 2 Postfix replicas with rspamd, Valkey and Dovecot; each Postfix pod has its own queue claim", async () => {
        const t = Date.now();
        const r = await stack.up({ onOutput: s => process.stderr.write(s) });
        times.up = seconds(t);
        assert.equal(r.summary.result, "succeeded");
        ca = caFile(r.outputs.certificatePem.value, PREFIX);
        assert.match(r.outputs.mainCf.value, /^virtual_transport = lmtp:inet:\[k8smail-dovecot-internal\]:24$/m);
        const names = pods().map(p => p.name);
        assert.deepEqual(names, [
            `${PREFIX}-dovecot-0`,
            `${PREFIX}-postfix-0`,
            `${PREFIX}-postfix-1`,
            `${PREFIX}-valkey-0`,
        ]);
        const claims = JSON.parse(kubectl("get", "pvc", "-o", "json")).items.map(
            (c: any) => `${c.metadata.name}:${c.status.phase}`,
        );
        assert.deepEqual(claims.sort(), [
            `mail-${PREFIX}-dovecot-0:Bound`,
            `queue-${PREFIX}-postfix-0:Bound`,
            `queue-${PREFIX}-postfix-1:Bound`,
            `valkey-data-${PREFIX}-valkey-0:Bound`,
        ]);
        const postfixPod = JSON.parse(kubectl("get", "pod", `${PREFIX}-postfix-0`, "-o", "json"));
        assert.deepEqual(
            postfixPod.spec.containers.map((c: any) => c.name),
            ["postfix", "rspamd", "mtasts"],
        );
    });

    test("each Postfix pod asks the MTA-STS resolver beside it (outboundTls.mtaSts, the default) over their shared socket", () => {
        const map = "socketmap:unix:/run/mta-sts/policy.sock:postfix";
        /** postmap's exit status, output and complaints (kubectl's own line about the status left out). */
        const lookup = (pod: string, key: string) => {
            const r = spawnSync(
                path.join(env.MAILSERVER_K8S_BIN, "kubectl"),
                ["--namespace", NAMESPACE, "exec", pod, "-c", "postfix", "--", "postmap", "-q", key, map],
                { env: { ...env, KUBECONFIG: kubeconfig }, encoding: "utf8", timeout: 60_000 },
            );
            return { ...r, stderr: r.stderr.replace(/^command terminated with exit code \d+\n/m, "") };
        };
        for (const pod of [`${PREFIX}-postfix-0`, `${PREFIX}-postfix-1`]) {
            const status = JSON.parse(kubectl("get", "pod", pod, "-o", "json")).status.containerStatuses as any[];
            assert.equal(status.find(c => c.name === "mtasts")?.ready, true, `${pod}: mtasts not ready`);
            // A bracketed next hop has no policy: NOTFOUND (exit 1, nothing said) from the resolver itself;
            // without the socket postmap would complain.
            const hop = lookup(pod, "[192.0.2.1]");
            assert.deepEqual([hop.status, hop.stdout, hop.stderr], [1, "", ""], `${pod}: ${hop.stderr}`);
            // A domain: the resolver asks DNS (the test cluster's pods may have none): no policy
            // (NOTFOUND) or a DNS failure it logs and answers TEMP (mail to it would wait).
            const domain = lookup(pod, "k8smail.invalid");
            const logs = kubectl("logs", pod, "-c", "mtasts");
            const answered =
                (domain.status === 1 && domain.stderr === "") || /tls-policy: k8smail\.invalid: DNS failed/.test(logs);
            assert.ok(answered, `${pod}: ${domain.status} ${domain.stderr}\n${logs}`);
        }
    });

    const submit = (from: Credentials, to: string, subject: string, port: "submission" | "smtps") =>
        smtp({
            server: SMTP_ADDRESS,
            port: PORT[port],
            tls: port === "smtps" ? "implicit" : "starttls",
            ca,
            servername: HOSTNAME,
            auth: from,
            from: from.address,
            to,
            subject,
            body: "sent through the Kubernetes platform",
        });
    const receive = (from: string, to: string, subject: string) =>
        smtp({ server: SMTP_ADDRESS, port: PORT.smtp, from, to, subject, body: "from the Internet" });
    const read = (u: Credentials, subject: string) =>
        fetchBySubject(u, subject, "imaps", ca, "INBOX", 60_000, { ...PORT } as any, {
            host: IMAP_ADDRESS,
            servername: HOSTNAME,
        });

    test("mail submitted (587 and 465, SMTP AUTH) and received (25) for both domains is read back over IMAPS", async () => {
        const cases: Array<[string, () => ReturnType<typeof smtp>, Credentials]> = [];
        const s1 = uniqueSubject("k8s submission test->org");
        cases.push([s1, () => submit(USERS.alice, USERS.carol.address, s1, "submission"), USERS.carol]);
        const s2 = uniqueSubject("k8s smtps org->test");
        cases.push([s2, () => submit(USERS.carol, USERS.bob.address, s2, "smtps"), USERS.bob]);
        for (const u of [USERS.alice, USERS.carol]) {
            const s = uniqueSubject(`k8s inbound to ${u.address}`);
            cases.push([s, () => receive("someone@outside.example", u.address, s), u]);
        }
        for (const [subject, send, reader] of cases) {
            const r = send();
            assert.equal(r.status, 0, r.transcript);
            assert.ok(
                r.replies.some(l => /^250 .*queued as/.test(l)),
                r.transcript,
            );
            const message = await read(reader, subject);
            assert.match(message, new RegExp(`Subject: ${subject}`));
        }
        // rspamd's state (history, rate limits) is in the one Valkey, reached over TCP.
        const keys = kubectl(
            "exec",
            `${PREFIX}-valkey-0`,
            "--",
            "valkey-cli",
            "-s",
            "/run/valkey/valkey.sock",
            "dbsize",
        );
        assert.ok(Number(keys.trim()) > 0, `Valkey holds no key: ${keys}`);
        // Wrong password: refused by Dovecot's auth service, which Postfix asks over TCP.
        const bad = smtp({
            server: SMTP_ADDRESS,
            port: PORT.submission,
            tls: "starttls",
            ca,
            servername: HOSTNAME,
            auth: USERS.alice,
            password: "not-the-password-x",
            quitAfter: "AUTH",
        });
        assert.notEqual(bad.status, 0, bad.transcript);
        assert.ok(
            bad.replies.some(l => /^535 /.test(l)),
            bad.transcript,
        );
    });

    /** A login over IMAPS through the balancer from CLIENT_SOURCE, and a logout; the dialog. */
    const imapsLoginFromClient = (u: Credentials) =>
        imapsLogin({ host: IMAP_ADDRESS, port: PORT.imaps, localAddress: CLIENT_SOURCE, servername: HOSTNAME, ca }, u);
    /** Polls (30 s) until the text matches; the last text in the failure. */
    async function eventually(read: () => string, pattern: RegExp, what: string): Promise<string> {
        const text = await textMatching(read, pattern, 30_000);
        assert.match(text, pattern, what);
        return text;
    }

    test("behind the balancer's PROXY v2 header Postfix (25, 587, 465) and Dovecot (993) see the client's own address", async () => {
        const body = "from 127.0.0.2 through the balancer";
        const sessions: Array<[string, () => ReturnType<typeof smtp>]> = [
            [
                "smtp",
                () =>
                    smtp({
                        server: SMTP_ADDRESS,
                        port: PORT.smtp,
                        source: CLIENT_SOURCE,
                        from: "someone@outside.example",
                        to: USERS.alice.address,
                        subject: uniqueSubject("k8s proxy 25"),
                        body,
                    }),
            ],
            [
                "submission",
                () =>
                    smtp({
                        server: SMTP_ADDRESS,
                        port: PORT.submission,
                        source: CLIENT_SOURCE,
                        tls: "starttls",
                        ca,
                        servername: HOSTNAME,
                        auth: USERS.bob,
                        from: USERS.bob.address,
                        to: USERS.carol.address,
                        subject: uniqueSubject("k8s proxy 587"),
                        body,
                    }),
            ],
            [
                "smtps",
                () =>
                    smtp({
                        server: SMTP_ADDRESS,
                        port: PORT.smtps,
                        source: CLIENT_SOURCE,
                        tls: "implicit",
                        ca,
                        servername: HOSTNAME,
                        auth: USERS.carol,
                        from: USERS.carol.address,
                        to: USERS.alice.address,
                        subject: uniqueSubject("k8s proxy 465"),
                        body,
                    }),
            ],
        ];
        const postfixLogs = () =>
            [0, 1].map(i => kubectl("logs", `${PREFIX}-postfix-${i}`, "-c", "postfix")).join("\n");
        for (const [port, send] of sessions) {
            const r = send();
            assert.equal(r.status, 0, r.transcript);
            const id = r.replies.map(l => /^250 .*queued as ([0-9A-Za-z]+)/.exec(l)?.[1]).find(Boolean);
            assert.ok(id, `${port}: no queue id in\n${r.transcript}`);
            // The queue file's client: the address in the PROXY header, the connection's own source.
            await eventually(
                postfixLogs,
                new RegExp(`${id}: client=[^\\s\\[]*\\[127\\.0\\.0\\.2\\]`),
                `${port}: ${id}`,
            );
        }
        assert.doesNotMatch(
            postfixLogs(),
            /(connect from|client=)[^\s[]*\[10\.46\.0\.1\]/,
            "no client at the balancer's address",
        );
        // Dovecot believes the header from BALANCER_SOURCE only: a login at all proves the source.
        const dialog = await imapsLoginFromClient(USERS.carol);
        assert.match(dialog, /^a OK/m, dialog);
        await eventually(
            () => kubectl("logs", `${PREFIX}-dovecot-0`, "-c", "dovecot"),
            /imap-login: Info: Logged in: user=<carol@k8smail\.org>, method=PLAIN, rip=127\.0\.0\.2,/,
            "Dovecot logs the client's address (rip) from the header",
        );
    });

    test("an unchanged preview shows 0 changes", async () => {
        const preview = await previewChanges(stack);
        times.preview = preview.seconds;
        assert.deepEqual(preview.changed, [], preview.stdout);
    });

    test("a mailbox added: the preview shows its table lines; after pulumi up it logs in and receives mail, and no pod restarts", async () => {
        const before = pods();
        dave = true;
        // Reviewable as on Docker: the new lines of the lookup tables under MailServer's inputs.
        const preview = await stack.preview({ diff: true });
        assert.match(
            preview.stdout,
            /~ vmailbox\s*:[\s\S]*?\n\s+\+ dave@k8smail\.org\tOK\n/,
            `the virtual mailbox table's new line in the diff:\n${preview.stdout.slice(-8000)}`,
        );
        assert.doesNotMatch(preview.stdout, /\$6\$/, "no password hash in the diff");
        let t = Date.now();
        const r = await stack.up({ onOutput: s => process.stderr.write(s) });
        times.upMailbox = seconds(t);
        assert.equal(r.summary.result, "succeeded");
        t = Date.now();
        // The kubelet brings the new projection, the sidecars install it, the daemons reload.
        let lastError: unknown;
        for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
            try {
                const c = await imapClient(USERS.dave, "imaps", ca, { ...PORT } as any, {
                    host: IMAP_ADDRESS,
                    servername: HOSTNAME,
                });
                await c.logout();
                lastError = undefined;
                break;
            } catch (e) {
                lastError = e;
                await new Promise(res => setTimeout(res, 1000));
            }
        }
        assert.equal(lastError, undefined, `dave cannot log in: ${lastError}`);
        times.mailboxLogin = seconds(t);
        // Every Postfix replica knows the mailbox (its own compiled table), whichever the Service
        // picks, and runs that generation: its entrypoint has reloaded Postfix to it (/run/mail/applied,
        // as generationApplied checks on Docker); before that, running smtpd processes keep the old table.
        const check =
            `postmap -q ${USERS.dave.address} lmdb:/config/current/vmailbox >/dev/null && ` +
            'test "$(cat /run/mail/applied)" = "$(readlink /config/current)"';
        for (const pod of [`${PREFIX}-postfix-0`, `${PREFIX}-postfix-1`]) {
            const query = ["--namespace", NAMESPACE, "exec", pod, "-c", "postfix", "--", "sh", "-c", check];
            let known = false;
            for (const deadline = Date.now() + 120_000; !known && Date.now() < deadline;) {
                known =
                    spawnSync(path.join(env.MAILSERVER_K8S_BIN, "kubectl"), query, {
                        env: { ...env, KUBECONFIG: kubeconfig },
                    }).status === 0;
                if (!known) await new Promise(res => setTimeout(res, 1000));
            }
            assert.ok(known, `${pod} does not run a generation that knows ${USERS.dave.address} after 120 s`);
        }
        times.postfixTables = seconds(t);
        // Mail to it through the balancer: several messages, so the Service spreads them.
        const subjects: string[] = [];
        for (let i = 0; i < 6; i++) {
            const s = uniqueSubject(`k8s to the new mailbox ${i}`);
            const res = receive("someone@outside.example", USERS.dave.address, s);
            assert.equal(res.status, 0, res.transcript);
            subjects.push(s);
        }
        times.mailboxMail = seconds(t);
        for (const s of subjects) await read(USERS.dave, s);
        // rspamd (beside each Postfix) checks the From header against the logins' addresses: its
        // reload to the new generation (a HUP, its workers replaced) comes after Postfix's and
        // Dovecot's, so the first submissions may meet one that still refuses the new login's From.
        // Each replica must come to accept it: several submissions, until all of them go through.
        t = Date.now();
        const sent: string[] = [];
        for (let accepted = 0, deadline = Date.now() + 300_000; accepted < 4;) {
            const subject = uniqueSubject("k8s from the new mailbox");
            const out = submit(USERS.dave, USERS.alice.address, subject, "submission");
            if (out.status === 0) {
                accepted++;
                sent.push(subject);
                continue;
            }
            assert.ok(
                out.replies.some(l => /^554 5\.7\.1 From header <dave@k8smail\.org> is not owned/.test(l)),
                out.transcript,
            );
            assert.ok(Date.now() < deadline, `rspamd still refuses dave's From after 300 s:\n${out.transcript}`);
            accepted = 0;
            await new Promise(res => setTimeout(res, 2000));
        }
        times.rspamdReloaded = seconds(t);
        for (const subject of sent) await read(USERS.alice, subject);
        assert.deepEqual(pods(), before, "the same pods (UIDs), with the same restart counts");
        // Both replicas delivered to Dovecot over LMTP through its Service (the Service spreads clients).
        for (const pod of [`${PREFIX}-postfix-0`, `${PREFIX}-postfix-1`])
            assert.match(
                kubectl("logs", pod, "-c", "postfix"),
                /relay=k8smail-dovecot-internal\[[0-9.]+\]:24,.*status=sent/,
            );
    });

    test("a Postfix pod killed while 1,000 messages are sent through the balancer: every acknowledged message is delivered", async () => {
        const run = `storm-${Date.now().toString(36)}`;
        const victim = `${PREFIX}-postfix-1`;
        const uidBefore = pods().find(p => p.name === victim)!.uid;
        let killedAt = 0;
        // Dovecot away first: every accepted message stays in its Postfix pod's queue (LMTP deferred),
        // so the kill meets a full queue and only the pod's claim can keep it.
        kubectl("scale", "statefulset", `${PREFIX}-dovecot`, "--replicas=0");
        kubectl("wait", "--for=delete", `pod/${PREFIX}-dovecot-0`, "--timeout=120s");
        const t = Date.now();
        const result = await stormSend({
            host: SMTP_ADDRESS,
            port: PORT.smtp,
            from: "storm@outside.example",
            to: USERS.bob.address,
            run,
            messages: 1000,
            sessions: 8,
            // A kill, not a drain: no grace period, the kubelet's SIGKILL.
            onSent: n => {
                if (n === 200 && killedAt === 0) {
                    killedAt = Date.now();
                    kubectl("delete", "pod", victim, "--grace-period=0", "--force", "--wait=false");
                }
            },
        });
        times.stormSend = seconds(t);
        assert.ok(killedAt > 0, "the pod was killed while sending");
        assert.ok(
            result.acked.size >= 900,
            `only ${result.acked.size} of 1000 acknowledged: ${result.errors.slice(0, 5).join("; ")}`,
        );
        // The StatefulSet brings the pod back, with its queue claim, and its queue is delivered.
        const back = Date.now();
        for (const deadline = Date.now() + 400_000; ;) {
            const p = pods().find(x => x.name === victim);
            // Every container ready: Postfix, rspamd and the MTA-STS resolver.
            const states = () =>
                kubectl("get", "pod", victim, "-o", "jsonpath={.status.containerStatuses[*].ready}").trim().split(" ");
            const ready = p && p.uid !== uidBefore && states().join(" ") === "true true true";
            if (ready) break;
            assert.ok(Date.now() < deadline, `${victim} is not back after 400 s`);
            await new Promise(res => setTimeout(res, 2000));
        }
        times.stormPodBack = seconds(back);
        // The new pod found the old pod's queue on its claim.
        const queued = (pod: string) =>
            Number(kubectl("exec", pod, "-c", "postfix", "--", "sh", "-c", "postqueue -j | wc -l").trim());
        const survived = queued(victim);
        process.stderr.write(`storm: ${survived} messages in ${victim}'s queue after the kill\n`);
        assert.ok(survived > 0, `${victim}'s queue is empty after the kill: the claim did not keep it`);
        // Dovecot back, both queues flushed (instead of waiting for Postfix's 5-minute backoff).
        kubectl("scale", "statefulset", `${PREFIX}-dovecot`, "--replicas=1");
        for (let i = 0; !pods().some(p => p.name === `${PREFIX}-dovecot-0`); i++) {
            assert.ok(i < 60, "the StatefulSet made no Dovecot pod in 60 s");
            await new Promise(res => setTimeout(res, 1000));
        }
        kubectl("wait", "--for=condition=Ready", `pod/${PREFIX}-dovecot-0`, "--timeout=300s");
        for (const pod of [`${PREFIX}-postfix-0`, victim])
            kubectl("exec", pod, "-c", "postfix", "--", "postqueue", "-f");
        let missing: string[];
        for (const deadline = Date.now() + 400_000; ;) {
            const delivered = await messageIds(USERS.bob, run);
            missing = [...result.acked].filter(id => !delivered.has(id));
            if (missing.length === 0 || Date.now() > deadline) break;
            await new Promise(res => setTimeout(res, 5000));
        }
        times.stormDelivered = seconds(t);
        process.stderr.write(
            `storm: ${result.acked.size} acknowledged, ${result.errors.length} refused or cut, ${missing.length} missing\n`,
        );
        assert.deepEqual(missing, [], "every acknowledged Message-ID is in the mailbox");
    });

    /** The Message-IDs of the messages in a mailbox whose subject names this run. */
    async function messageIds(u: Credentials, run: string): Promise<Set<string>> {
        const c = await imapClient(u, "imaps", ca, { ...PORT } as any, { host: IMAP_ADDRESS, servername: HOSTNAME });
        try {
            const lock = await c.getMailboxLock("INBOX");
            try {
                const ids = new Set<string>();
                for await (const m of c.fetch({ subject: run }, { envelope: true }))
                    if (m.envelope?.messageId) ids.add(m.envelope.messageId);
                return ids;
            } finally {
                lock.release();
            }
        } finally {
            await c.logout().catch(() => undefined);
        }
    }
});
