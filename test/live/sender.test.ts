// Live proof that nobody sends as someone else and that nothing but Dovecot reaches the Sieve
// reinject path (issue 19): a login sends only with an envelope sender and a From header it owns
// (Postfix on 587/465 for the envelope, rspamd for the header), whoever is not authenticated gets
// no DKIM signature of ours, Sieve's vacation replies and redirects still leave signed through
// the reinject socket, and neither a local client nor a container on the stack's network can
// reach the old reinject port. Signatures are judged by dkimpy, an implementation independent of
// rspamd, against the TXT records the stack outputs (dnsRecords).
//
// Stack "sendertest" (host mode, 37xxx): example.test and example.org; mail to outside.test goes
// (transports) to a recording SMTP server of this test on 127.0.0.1. Stack "senderbr" (bridge
// mode, 43xxx): the reinject path between two containers, probed from a third on the stack's
// network.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { SMTPServer, SMTPServerSession } from "smtp-server";
import type { DnsRecord } from "../../components/model/dns";
import {
    caFile,
    Credentials,
    docker,
    dockerLogs,
    fetchBySubject,
    HOST,
    keepLogs,
    OUTSIDER,
    readServerMessage,
    ServerMessage,
    smtp,
    SmtpSession,
    SwaksResult,
    uniqueSubject,
} from "./clients";
import { describeDkim, dkimVerify } from "./dkim";
import { ARTIFACTS, BRIDGE_MODE, deploy, destroy, liveConfig, portsFrom, USERS } from "./stack";

const PREFIX = "sendertest";
const PORTS = portsFrom(37000);
const BRIDGE = "senderbr";
const BRIDGE_PORTS = portsFrom(43000);
/** Where the recording server for outside.test listens (within this suite's port range). */
const SINK_PORT = 37250;
/** The only client in mynetworks (liveConfig): the operator's trusted host. */
const TRUSTED = "127.0.0.1";
const { alice, bob, carol } = USERS;
const away = { address: "away@example.test", password: "away-Secret-2026!x" };
const redir = { address: "redir@example.test", password: "redir-Secret-2026!" };
const OUTSIDE = "dest@outside.test";
const SERVICES = ["postfix", "dovecot", "rspamd"];

const report = (line: string) => process.stdout.write(`# ${line}\n`);

/** The SMTP server outside.test's mail goes to: records every message it is given. */
class Sink {
    readonly messages: ServerMessage[] = [];
    private readonly server = new SMTPServer({
        name: "mx.outside.test",
        authOptional: true,
        disabledCommands: ["STARTTLS", "AUTH"],
        logger: false,
        onData: (stream, session: SMTPServerSession, callback) => {
            readServerMessage(stream, session).then(message => {
                this.messages.push(message);
                callback();
            }, callback);
        },
    });

    listen(): Promise<void> {
        return new Promise((resolve, reject) => {
            const server = (this.server as any).server as net.Server;
            server.once("error", reject);
            this.server.listen(SINK_PORT, HOST, () => resolve());
        });
    }

    close(): Promise<void> {
        return new Promise(resolve => this.server.close(() => resolve()));
    }

    /** Waits (bounded) for a message whose subject contains `subject`. */
    async waitFor(subject: string, timeoutMs = 40_000): Promise<ServerMessage> {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
            const m = this.messages.find(x => x.subject.includes(subject));
            if (m) return m;
            await new Promise(r => setTimeout(r, 250));
        }
        throw new Error(`no message "${subject}" reached outside.test within ${timeoutMs / 1000}s`);
    }
}

const sink = new Sink();
let ca: string;
let bridgeCa: string;
let records: DnsRecord[];

/** What a session says beyond its envelope. */
type Message = Pick<SmtpSession, "subject" | "headers" | "args">;

/** A login's submission on 587 (STARTTLS), from an outside address. */
function submit(user: Credentials, envelope: string, to: string, message: Message = {}) {
    return smtp({
        port: PORTS.submission,
        source: OUTSIDER,
        tls: "starttls",
        ca,
        auth: user,
        from: envelope,
        to,
        ...message,
    });
}

/** A message on port 25 without AUTH, from `source`. */
function port25(source: string, envelope: string, to: string, message: Message = {}) {
    return smtp({ port: PORTS.smtp, source, from: envelope, to, ...message });
}

const firstRefusal = (r: SwaksResult) => r.replies.find(l => /^5\d\d /.test(l)) ?? "";

/** dkimpy's verdict on each signature of a message, printed. */
function signatures(label: string, message: string) {
    const results = dkimVerify(message, records);
    report(`${label}: ${describeDkim(results)}`);
    return results;
}

/** Both of example.test's signatures (RSA and Ed25519, RFC 8463) verify, and nothing else is there. */
function assertSignedByExampleTest(label: string, message: string) {
    const results = signatures(label, message);
    assert.deepEqual(
        results.map(r => [r.domain, r.algorithm, r.valid]).sort(),
        [
            ["example.test", "ed25519-sha256", true],
            ["example.test", "rsa-sha256", true],
        ],
        `${label}: ${describeDkim(results)}`,
    );
}

/** The old TCP port of the reinject listener: whether anything accepts a connection there. */
function tcpOpen(port: number, host = HOST): Promise<boolean> {
    return new Promise(resolve => {
        const socket = net.connect({ host, port });
        socket.setTimeout(5000, () => {
            socket.destroy();
            resolve(false);
        });
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}

describe("sender ownership and signing, live (host mode)", () => {
    before(async () => {
        destroy(PREFIX);
        await sink.listen();
        const outputs = deploy(
            liveConfig(
                {
                    // An older stack config sets the obsolete reinject port: it is ignored, with a warning.
                    "mailserver:ports": {
                        smtp: PORTS.smtp,
                        submission: PORTS.submission,
                        smtps: PORTS.smtps,
                        reinject: PORTS.reinject,
                    },
                    "mailserver:transports": [{ domain: "outside.test", nexthop: `[${HOST}]:${SINK_PORT}` }],
                    "mailserver:domains": [
                        {
                            domain: "example.test",
                            mailboxes: [
                                { address: "alice", aliases: ["info"] },
                                { address: "bob" },
                                { address: "away", vacation: { subject: "Away", body: "Back on Monday." } },
                                { address: "redir", sieveScript: `redirect "${OUTSIDE}";\n` },
                            ],
                            aliases: [
                                { address: "team", targets: [alice.address, bob.address] },
                                { address: "fwd", targets: [OUTSIDE] },
                            ],
                        },
                        { domain: "example.org", mailboxes: [{ address: "carol" }] },
                    ],
                    "mailserver:passwords": Object.fromEntries(
                        [alice, bob, carol, away, redir].map(u => [u.address, u.password]),
                    ),
                },
                PREFIX,
                37000,
            ),
        ).outputs;
        ca = caFile(outputs.certificatePem, PREFIX);
        records = outputs.dnsRecords;
    });
    after(async () => {
        keepLogs(PREFIX, SERVICES);
        destroy(PREFIX);
        await sink.close();
    });

    test("alice on 587 and 465 with the null envelope sender is refused at MAIL FROM, whatever the From header says", () => {
        for (const [port, tls] of [
            [PORTS.submission, "starttls"],
            [PORTS.smtps, "implicit"],
        ] as const) {
            for (const from of ["Bob <bob@example.test>", "Alice <alice@example.test>"]) {
                const r = smtp({
                    port,
                    source: OUTSIDER,
                    tls,
                    ca,
                    auth: alice,
                    from: "<>",
                    to: bob.address,
                    subject: uniqueSubject("null sender"),
                    headers: [`From: ${from}`],
                });
                const refusal = firstRefusal(r);
                report(`${port} MAIL FROM:<> From: ${from}: ${refusal || "accepted"}`);
                assert.notEqual(r.status, 0, r.transcript);
                assert.match(
                    refusal,
                    /^554 5\.7\.1 <>: Sender address rejected: The null sender <> is not owned/,
                    r.transcript,
                );
            }
        }
    });

    test("alice's envelope with a colleague's From, or the other hosted domain's, is refused with 5xx before anything is signed", () => {
        const cases: Array<[string, string]> = [
            ["Bob <bob@example.test>", "bob@example.test"],
            ["Carol <carol@example.org>", "carol@example.org"],
            // A subaddress of someone else's, and lists with a foreign address after alice's own
            // (rspamd's EMAIL_PLUS_ALIASES keeps only the first address once it has a +tag).
            ["bob+tag@example.test", "bob+tag@example.test"],
            ["Alice <alice@example.test>, Bob <bob@example.test>", "bob@example.test"],
            ["alice+x@example.test, bob@example.test", "bob@example.test"],
        ];
        for (const [from, address] of cases) {
            const r = submit(alice, alice.address, bob.address, {
                subject: uniqueSubject("spoof"),
                headers: [`From: ${from}`],
            });
            const refusal = firstRefusal(r);
            report(`alice@ envelope, From: ${from}: ${refusal || "accepted"}`);
            assert.match(
                refusal,
                new RegExp(
                    `^554 5\\.7\\.1 From header <${address.replace(/[.+]/g, "\\$&")}> is not owned by alice@example\\.test`,
                ),
                r.transcript,
            );
        }
        // Two From headers (receivers judge by one of them, which one is theirs to pick).
        const two = submit(alice, alice.address, bob.address, { args: ["--add-header", "From: bob@example.test"] });
        report(`two From headers: ${firstRefusal(two) || "accepted"}`);
        assert.match(
            firstRefusal(two),
            /^554 5\.7\.1 A message from alice@example\.test needs exactly one From header/,
        );
        // The envelope sender of a colleague: refused by Postfix at MAIL FROM, as before.
        const envelope = submit(alice, bob.address, bob.address);
        assert.match(
            firstRefusal(envelope),
            /^553 5\.7\.1 <bob@example\.test>: Sender address rejected: not owned by user/,
        );
    });

    test("alice's own From, her alias, a shared alias and her subaddress: delivered and signed, dkimpy verifies both signatures", async () => {
        for (const from of [alice.address, "info@example.test", "team@example.test", "alice+news@example.test"]) {
            const subject = uniqueSubject(`as ${from}`);
            const r = submit(alice, from, bob.address, { subject, headers: [`From: Alice <${from}>`] });
            assert.equal(r.status, 0, r.transcript);
            const message = await fetchBySubject(bob, subject, "imaps", ca, "INBOX", 30_000, PORTS);
            assertSignedByExampleTest(`submitted as ${from}, read at bob`, message);
        }
        // carol signs for her own domain only.
        const subject = uniqueSubject("carol");
        assert.equal(submit(carol, carol.address, bob.address, { subject }).status, 0);
        const results = signatures(
            "carol@example.org, read at bob",
            await fetchBySubject(bob, subject, "imaps", ca, "INBOX", 30_000, PORTS),
        );
        assert.deepEqual(
            results.map(r => [r.domain, r.valid]),
            [
                ["example.org", true],
                ["example.org", true],
            ],
        );
    });

    test("nothing an unauthenticated client sends from 127.0.0.2 on port 25 carries a signature of ours", async () => {
        const forged = (subject: string): Message => ({ subject, headers: ["From: Alice <alice@example.test>"] });
        // To a mailbox: read the delivered message.
        const toMailbox = uniqueSubject("forged to a mailbox");
        assert.equal(port25(OUTSIDER, "someone@outside.test", bob.address, forged(toMailbox)).status, 0);
        const delivered = await fetchBySubject(bob, toMailbox, "imaps", ca, "INBOX", 30_000, PORTS);
        assert.deepEqual(signatures("forged From, delivered to bob", delivered), []);
        // To an alias that forwards outward, and to a mailbox whose Sieve script redirects outward.
        for (const to of ["fwd@example.test", redir.address]) {
            const subject = uniqueSubject(`forged via ${to}`);
            assert.equal(port25(OUTSIDER, "someone@outside.test", to, forged(subject)).status, 0);
            const out = await sink.waitFor(subject);
            assert.deepEqual(signatures(`forged From, via ${to} to ${out.to.join(",")}`, out.raw), []);
            assert.doesNotMatch(out.raw, /^DKIM-Signature:/im);
        }
        // Control: the same From from mynetworks (the operator's trusted host) is signed, so the
        // verifier does see signatures on this path.
        const trusted = uniqueSubject("from mynetworks");
        assert.equal(port25(TRUSTED, alice.address, OUTSIDE, forged(trusted)).status, 0);
        assertSignedByExampleTest("from mynetworks (127.0.0.1), to outside", (await sink.waitFor(trusted)).raw);
    });

    test("a vacation reply and a Sieve redirect leave through the reinject socket, signed; a forged From of ours is not", async () => {
        // An outsider writes to away: the vacation reply (null sender, From: away@) goes out signed.
        const asked = uniqueSubject("are you there");
        assert.equal(port25(OUTSIDER, "someone@outside.test", away.address, { subject: asked }).status, 0);
        const reply = await sink.waitFor("Away");
        assert.equal(reply.from, "", "vacation replies have the null sender");
        assert.match(reply.raw, /^From: <?away@example\.test>?/im);
        assertSignedByExampleTest("vacation reply", reply.raw);
        // An outsider's message redirected: signed as its forwarder (the mailbox's domain).
        const foreign = uniqueSubject("redirect a foreign message");
        assert.equal(port25(OUTSIDER, "someone@outside.test", redir.address, { subject: foreign }).status, 0);
        const redirected = await sink.waitFor(foreign);
        assert.equal(redirected.from, redir.address);
        assertSignedByExampleTest("redirect of someone@outside.test's message", redirected.raw);
        // alice's own message redirected keeps the signature it left with, and gets no second one.
        const own = uniqueSubject("redirect alice's message");
        assert.equal(submit(alice, alice.address, redir.address, { subject: own }).status, 0);
        assertSignedByExampleTest("redirect of alice's own message", (await sink.waitFor(own)).raw);
        // They came through Postfix's reinject socket (a unix socket: its client is localhost).
        const reinjected = dockerLogs(`${PREFIX}-postfix`)
            .split("\n")
            .filter(l => /postfix\/reinject\/smtpd\[\d+\]: [0-9A-Z]+: client=localhost\[127\.0\.0\.1\]/.test(l));
        report(`postfix/reinject accepted ${reinjected.length} messages from Dovecot`);
        assert.ok(reinjected.length >= 3, reinjected.join("\n"));
    });

    test("the old reinject port is closed, and a stack config that still sets it is told so", async () => {
        assert.equal(await tcpOpen(PORTS.reinject), false, `something listens on ${HOST}:${PORTS.reinject}`);
        const engineLog = fs.readFileSync(path.join(ARTIFACTS, `engine-${PREFIX}.log`), "utf8");
        assert.match(engineLog, new RegExp(`ports\\.reinject \\(${PORTS.reinject}\\) is obsolete and ignored`));
        report(
            `${HOST}:${PORTS.reinject} refuses connections; the engine's output warns that ports.reinject is obsolete`,
        );
        // The socket itself: in the LMTP volume, Postfix's, reachable only by whoever mounts that volume.
        const socket = docker(["exec", `${PREFIX}-postfix`, "stat", "-c", "%F %U %a", "/run/lmtp/reinject/smtp"]);
        assert.equal(socket, "socket postfix 666");
    });
});

/**
 * TCP ports a container listens on (its own network namespace), from /proc/net/tcp and tcp6;
 * without Docker's embedded DNS resolver, which listens on 127.0.0.11 (0B00007F) in every
 * container of a user-defined network.
 */
function listeningPorts(container: string): number[] {
    const text = docker(["exec", container, "cat", "/proc/net/tcp", "/proc/net/tcp6"]);
    const ports = text
        .split("\n")
        .map(l => l.trim().split(/\s+/))
        .filter(f => f[3] === "0A" && !f[1].startsWith("0B00007F:"))
        .map(f => parseInt(f[1].split(":").pop()!, 16));
    return [...new Set(ports)].sort((a, b) => a - b);
}

/**
 * A client in a container on the stack's network (the Postfix image's bash): what it is told on
 * each port of the Postfix container, and the reply to a relay attempt on port 25.
 */
function fromTheNetwork(ports: number[], smtpPort: number): { refused: number[]; relay: string[] } {
    const probe = `
for p in ${ports.join(" ")}; do
  if (exec 3<>/dev/tcp/${BRIDGE}-postfix/$p) 2>/dev/null; then echo "open $p"; else echo "refused $p"; fi
done
exec 3<>/dev/tcp/${BRIDGE}-postfix/${smtpPort}
say() { printf '%s\\r\\n' "$1" >&3; while IFS= read -r -t 20 line <&3; do echo "relay $line"; [[ "$line" =~ ^[0-9]{3}\\  ]] && break; done; }
IFS= read -r -t 20 line <&3; echo "relay $line"
say "EHLO probe.example"
say "MAIL FROM:<spammer@elsewhere.example>"
say "RCPT TO:<victim@elsewhere.example>"
say "QUIT"
`;
    const r = spawnSync(
        "docker",
        [
            ...["run", "--rm", "-i", "--network", `${BRIDGE}-net`, "--label", `mailserver.stack=${BRIDGE}`],
            ...["--entrypoint", "bash", `mailserver-postfix:${BRIDGE}`, "-s"],
        ],
        { input: probe, encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const lines = r.stdout.split("\n");
    return {
        refused: lines.filter(l => l.startsWith("refused ")).map(l => Number(l.split(" ")[1])),
        relay: lines.filter(l => l.startsWith("relay ")).map(l => l.slice(6).trim()),
    };
}

describe("the reinject path in bridge mode, live", () => {
    before(() => {
        destroy(BRIDGE);
        bridgeCa = caFile(
            deploy(
                liveConfig(
                    {
                        ...BRIDGE_MODE,
                        "mailserver:ports": {
                            smtp: BRIDGE_PORTS.smtp,
                            submission: BRIDGE_PORTS.submission,
                            smtps: BRIDGE_PORTS.smtps,
                            reinject: BRIDGE_PORTS.reinject,
                        },
                        // Without rspamd: the private engine's bridge networks reach no DNS server, so
                        // each scan would wait out its lookups (see engine.test.ts). Signing is proven
                        // in host mode above; this stack proves the path between the containers.
                        "mailserver:spamFilter": { enabled: false },
                        "mailserver:domains": [
                            {
                                domain: "example.test",
                                mailboxes: [
                                    { address: "alice" },
                                    { address: "away", vacation: { subject: "Away", body: "Back on Monday." } },
                                ],
                            },
                        ],
                        "mailserver:passwords": { [alice.address]: alice.password, [away.address]: away.password },
                    },
                    BRIDGE,
                    43000,
                ),
            ).outputs.certificatePem,
            BRIDGE,
        );
    });
    after(() => {
        keepLogs(BRIDGE, ["postfix", "dovecot"]);
        destroy(BRIDGE);
    });

    test("Postfix listens on its three SMTP ports only: no reinject port, old or default", () => {
        const listening = listeningPorts(`${BRIDGE}-postfix`);
        report(`${BRIDGE}-postfix listens on ${listening.join(", ")}`);
        assert.deepEqual(
            listening,
            [BRIDGE_PORTS.smtp, BRIDGE_PORTS.smtps, BRIDGE_PORTS.submission].sort((a, b) => a - b),
        );
    });

    test("a container on the stack's network can neither reach the old reinject port nor relay", () => {
        const { refused, relay } = fromTheNetwork([BRIDGE_PORTS.reinject, 10026], BRIDGE_PORTS.smtp);
        report(`from a container on ${BRIDGE}-net: refused ${refused.join(", ")}; relay attempt: ${relay.at(-2)}`);
        assert.deepEqual(refused, [BRIDGE_PORTS.reinject, 10026]);
        assert.match(relay[0], /^220 /, relay.join("\n"));
        assert.ok(
            relay.some(l => /^554 5\.7\.1 <victim@elsewhere\.example>: Relay access denied/.test(l)),
            relay.join("\n"),
        );
    });

    test("Dovecot still hands Sieve's mail to Postfix across the two containers: a vacation reply arrives", async () => {
        const asked = uniqueSubject("bridge vacation");
        const r = smtp({
            port: BRIDGE_PORTS.submission,
            tls: "starttls",
            ca: bridgeCa,
            auth: alice,
            from: alice.address,
            to: away.address,
            subject: asked,
        });
        assert.equal(r.status, 0, r.transcript);
        const reply = await fetchBySubject(alice, "Away", "imaps", bridgeCa, "INBOX", 30_000, BRIDGE_PORTS);
        assert.match(reply, /^Return-Path: <>/m);
        assert.match(reply, /Back on Monday\./);
        assert.match(
            dockerLogs(`${BRIDGE}-postfix`),
            /postfix\/reinject\/smtpd\[\d+\]: [0-9A-Z]+: client=localhost\[127\.0\.0\.1\]/,
        );
    });
});
