// Live test of the relay features: Relayhost (smarthost with SASL over mandatory TLS, per sender
// domain, implicit TLS), relay mode (mynetworks and relay users only) and backup MX (queue while
// the primary is down, deliver when it is back). Real Postfix/saslauthd/Dovecot containers from
// the example program; the smarthosts are smtp-server instances in this process on 127.0.0.1.
//
// Stacks: "relaytest" (relay mode, port base 23000), "primarymx" (internet mode, 21000) and
// "backupmx" (relay mode with relayDomains, 24000). Smarthost ports: 25501-25520.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { SMTPServer, SMTPServerSession } from "smtp-server";
import {
    assertCleanLogs,
    caFile,
    docker,
    dockerLogs,
    fetchBySubject,
    HOST,
    keepLogs,
    OUTSIDER,
    relayProbe,
    replyAfter,
    readServerMessage,
    ServerMessage,
    smtp,
    SwaksResult,
    generationApplied,
    uniqueSubject,
} from "./clients";
import { ARTIFACTS, deploy, DeployResult, destroy, liveConfig, portsFrom, USERS } from "./stack";

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Polls fn until it returns something truthy; fails after timeoutMs (bounded in time and count). */
async function waitFor<T>(
    what: string,
    fn: () => T | undefined | null | false,
    timeoutMs = 30_000,
    stepMs = 500,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < Math.ceil(timeoutMs / stepMs) + 1; i++) {
        const value = fn();
        if (value) return value;
        if (Date.now() > deadline) break;
        await sleep(stepMs);
    }
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

// ---------------------------------------------------------------- smarthosts

interface Credentials {
    username: string;
    password: string;
}
interface AuthAttempt {
    username?: string;
    password?: string | null;
    secure: boolean;
    ok: boolean;
}
interface Received extends ServerMessage {
    secure: boolean;
    user: unknown;
}

let keyPem: Buffer;
let certPem: Buffer;

/** A smarthost that requires AUTH over TLS (STARTTLS, or implicit TLS) and records what it gets. */
class SmartHost {
    readonly auths: AuthAttempt[] = [];
    readonly messages: Received[] = [];
    readonly errors: string[] = [];
    private readonly server: SMTPServer;

    /** noStartTls: a careless relay that offers no TLS at all and would take AUTH in clear. */
    constructor(
        readonly name: string,
        readonly port: number,
        readonly cred: Credentials,
        opts: { implicit?: boolean; noStartTls?: boolean } = {},
    ) {
        this.server = new SMTPServer({
            name: `${name}.smarthost.test`,
            secure: !!opts.implicit,
            key: keyPem,
            cert: certPem,
            authOptional: false,
            allowInsecureAuth: !!opts.noStartTls,
            disabledCommands: opts.noStartTls ? ["STARTTLS"] : [],
            authMethods: ["PLAIN", "LOGIN"],
            logger: false,
            onAuth: (auth, session, callback) => {
                const ok = auth.username === cred.username && auth.password === cred.password;
                this.auths.push({ username: auth.username, password: auth.password, secure: session.secure, ok });
                if (!ok)
                    return callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
                callback(null, { user: auth.username });
            },
            onData: (stream, session: SMTPServerSession, callback) => {
                readServerMessage(stream, session).then(message => {
                    this.messages.push({ ...message, secure: session.secure, user: session.user });
                    callback(null, "OK: message queued");
                }, callback);
            },
        });
        this.server.on("error", (e: Error) => this.errors.push(e.message));
    }

    listen(): Promise<void> {
        return new Promise((resolve, reject) => {
            const server = (this.server as any).server as import("net").Server;
            server.once("error", reject);
            this.server.listen(this.port, HOST, () => {
                server.off("error", reject);
                resolve();
            });
        });
    }

    close(): Promise<void> {
        return new Promise(resolve => this.server.close(() => resolve()));
    }

    bySubject(subject: string): Received | undefined {
        return this.messages.find(m => m.subject === subject);
    }
}

function makeCertificate(): void {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const dir = fs.mkdtempSync(path.join(ARTIFACTS, "smarthost-"));
    try {
        execFileSync(
            "openssl",
            [
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=smarthost.test",
                "-addext",
                "subjectAltName=DNS:smarthost.test",
                "-keyout",
                path.join(dir, "key.pem"),
                "-out",
                path.join(dir, "cert.pem"),
            ],
            { stdio: "pipe" },
        );
        keyPem = fs.readFileSync(path.join(dir, "key.pem"));
        certPem = fs.readFileSync(path.join(dir, "cert.pem"));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

// ---------------------------------------------------------------- Postfix helpers

function exec(container: string, args: string[]): string {
    return docker(["exec", container, ...args]);
}

/** Waits until the service runs the configuration generation that is active in its volume. */
async function waitApplied(container: string): Promise<void> {
    await waitFor(`${container} to reload its new configuration`, () => generationApplied(container), 30_000);
}

interface QueueEntry {
    queue_name: string;
    queue_id: string;
    sender: string;
    recipients: Array<{ address: string; delay_reason?: string }>;
}

/** postqueue -j: one JSON object per queued message. */
function queue(container: string): QueueEntry[] {
    const out = exec(container, ["postqueue", "-j"]);
    return out
        .split("\n")
        .filter(l => l.trim().startsWith("{"))
        .map(l => JSON.parse(l));
}

/** Waits (bounded) until message `id` is in `container`'s deferred queue; its queue entry. */
function deferred(container: string, id: string): Promise<QueueEntry> {
    return waitFor(`${id} in ${container}'s deferred queue`, () =>
        queue(container).find(q => q.queue_id === id && q.queue_name === "deferred"),
    );
}

function queueId(r: SwaksResult): string {
    const m = /250 2\.0\.0 Ok: queued as (\w+)/.exec(r.transcript);
    assert.ok(m, `no queue id in:\n${r.transcript}`);
    return m[1];
}

/** Postfix log lines about one queue id. */
function logOf(container: string, id: string): string[] {
    return dockerLogs(container)
        .split("\n")
        .filter(l => l.includes(`${id}:`));
}

// ---------------------------------------------------------------- relay mode with smarthosts

const RELAY_PREFIX = "relaytest";
const RP = portsFrom(23000);
const RELAY_POSTFIX = `${RELAY_PREFIX}-postfix`;
const CRED_A: Credentials = { username: "relay-a@smarthost.test", password: "A-relay-Secret-2026!" };
const CRED_B: Credentials = { username: "relay-b@smarthost.test", password: "B-relay-Secret-2026!" };
const RELAY_USER = { address: "app@example.test", password: "app-Relay-User-2026!" };
const SH = { a: 25501, b: 25502, aImplicit: 25503, bImplicit: 25504, backup: 25510, org: 25520 };

interface RelayOptions {
    aPassword?: string;
    aImplicit?: boolean;
    bImplicit?: boolean;
}

/** Relay mode: default relay A for every sender, relay B for sender domain example.org. */
function relayConfig(o: RelayOptions = {}): Record<string, unknown> {
    return liveConfig(
        {
            "mailserver:mode": "relay",
            "mailserver:hostname": "relay.example.test",
            // No mailboxes in relay mode: the domain only signs what the relay user sends as it.
            "mailserver:domains": [{ domain: "app.example" }],
            "mailserver:users": [RELAY_USER.address],
            "mailserver:passwords": { [RELAY_USER.address]: RELAY_USER.password },
            "mailserver:relayhosts": [
                {
                    name: "smarthost-a",
                    host: HOST,
                    port: o.aImplicit ? SH.aImplicit : SH.a,
                    username: CRED_A.username,
                    ...(o.aImplicit ? { implicitTls: true } : {}),
                },
                {
                    name: "smarthost-b",
                    host: HOST,
                    port: o.bImplicit ? SH.bImplicit : SH.b,
                    username: CRED_B.username,
                    senderDomains: ["example.org"],
                    ...(o.bImplicit ? { implicitTls: true } : {}),
                },
            ],
            "mailserver:relayPasswords": {
                "smarthost-a": o.aPassword ?? CRED_A.password,
                "smarthost-b": CRED_B.password,
            },
        },
        RELAY_PREFIX,
        23000,
    );
}

let relayCa: string;
let relayDeploy: DeployResult;
const hosts: SmartHost[] = [];
let shA: SmartHost, shB: SmartHost, shAImplicit: SmartHost, shBImplicit: SmartHost;

/** Plain SMTP to the relay's port 25 from 127.0.0.1 (mynetworks). */
function sendFromMynetworks(from: string, subject: string, to = "someone@elsewhere.example"): SwaksResult {
    const r = smtp({ port: RP.smtp, from, to, subject, body: `body of ${subject}` });
    assert.equal(r.status, 0, r.transcript);
    return r;
}

async function redeployRelay(o: RelayOptions): Promise<void> {
    const r = deploy(relayConfig(o));
    assert.deepEqual(
        r.replaced.filter(n => !n.endsWith("-config")),
        [],
        `a relay change must not replace services: ${r.replaced}`,
    );
    await waitApplied(RELAY_POSTFIX);
}

before(async () => {
    makeCertificate();
    shA = new SmartHost("a", SH.a, CRED_A);
    shB = new SmartHost("b", SH.b, CRED_B);
    shAImplicit = new SmartHost("a-implicit", SH.aImplicit, CRED_A, { implicit: true });
    shBImplicit = new SmartHost("b-implicit", SH.bImplicit, CRED_B, { implicit: true });
    hosts.push(shA, shB, shAImplicit, shBImplicit);
    for (const h of hosts) await h.listen();
});

after(async () => {
    for (const h of hosts) await h.close().catch(() => undefined);
    for (const prefix of [RELAY_PREFIX, PRIMARY_PREFIX, BACKUP_PREFIX]) {
        keepLogs(prefix, ["postfix", "saslauthd", "dovecot"]);
        destroy(prefix);
    }
});

describe("relayhost and relay mode, live", () => {
    before(async () => {
        destroy(RELAY_PREFIX);
        relayDeploy = deploy(relayConfig());
        relayCa = caFile(relayDeploy.outputs.certificatePem, RELAY_PREFIX);
        await waitApplied(RELAY_POSTFIX);
    });

    test("mail from mynetworks to an external domain reaches the smarthost over TLS, authenticated as the relay's user", async () => {
        const subject = uniqueSubject("via smarthost A");
        const id = queueId(sendFromMynetworks("sender@example.test", subject));
        const got = await waitFor(`"${subject}" at smarthost A`, () => shA.bySubject(subject));
        assert.equal(got.secure, true, "the session was TLS (STARTTLS)");
        assert.equal(got.user, CRED_A.username, "authenticated as relay A's user");
        assert.equal(got.from, "sender@example.test");
        assert.deepEqual(got.to, ["someone@elsewhere.example"]);
        assert.match(got.raw, new RegExp(`body of ${subject}`));
        assert.ok(
            shA.auths.some(a => a.ok && a.secure && a.username === CRED_A.username && a.password === CRED_A.password),
            "right username and password, over TLS",
        );
        assert.ok(!shA.auths.some(a => !a.secure), "never an AUTH in clear");
        assert.equal(shB.bySubject(subject), undefined, "not through the per-sender relay");
        const log = dockerLogs(RELAY_POSTFIX);
        assert.match(log, new RegExp(`TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${SH.a}`));
        await waitFor(
            "the delivery log line",
            () => logOf(RELAY_POSTFIX, id).find(l => /relay=127\.0\.0\.1\[127\.0\.0\.1\]:25501, .*status=sent/.test(l)),
            10_000,
        );
    });

    test("per sender domain: mail from example.org leaves through relay B with B's credentials", async () => {
        const org = uniqueSubject("from example.org");
        const other = uniqueSubject("from example.test");
        sendFromMynetworks(USERS.carol.address, org);
        sendFromMynetworks("someone@example.test", other);
        const viaB = await waitFor(`"${org}" at smarthost B`, () => shB.bySubject(org));
        const viaA = await waitFor(`"${other}" at smarthost A`, () => shA.bySubject(other));
        assert.equal(viaB.user, CRED_B.username);
        assert.equal(viaB.secure, true);
        assert.equal(viaA.user, CRED_A.username);
        assert.ok(
            shB.auths.some(a => a.ok && a.secure && a.username === CRED_B.username && a.password === CRED_B.password),
        );
        assert.equal(shA.bySubject(org), undefined, "example.org never goes to A");
        assert.equal(shB.bySubject(other), undefined, "example.test never goes to B");
        assert.ok(
            !shA.auths.some(a => a.username === CRED_B.username) &&
                !shB.auths.some(a => a.username === CRED_A.username),
            "each relay sees only its own user",
        );
    });

    test("relay mode: an outsider (127.0.0.2) without AUTH is refused with 554 for an external recipient", () => {
        const r = smtp({
            port: RP.smtp,
            source: OUTSIDER,
            from: "someone@sender.example",
            to: "victim@elsewhere.example",
            quitAfter: "RCPT",
        });
        assert.match(replyAfter(r, /^RCPT TO:/) ?? "", /^554 5\.7\.1 .*Relay access denied/, r.transcript);
        // Every relay trick, on every port, as in the internet-mode security test.
        const probe = relayProbe(RP, OUTSIDER, relayCa, HOST, "relay.example.test");
        process.stdout.write(
            `# relay mode, open relay: ${probe.tried} attempts from ${OUTSIDER} on 25/587/465, ${probe.accepted.length} accepted\n`,
        );
        assert.deepEqual(probe.accepted, [], "relayed");
    });

    test("relay mode: a relay user authenticated on 587 or 465 may relay from anywhere, DKIM-signed; a wrong password gets 535", async () => {
        for (const [port, tls] of [
            [RP.submission, "starttls"],
            [RP.smtps, "implicit"],
        ] as const) {
            const subject = uniqueSubject(`relay user on ${port}`);
            const r = smtp({
                port,
                source: OUTSIDER,
                tls,
                ca: relayCa,
                servername: "relay.example.test",
                auth: RELAY_USER,
                from: "noreply@app.example",
                to: "customer@elsewhere.example",
                subject,
                body: "from the app",
            });
            assert.equal(r.status, 0, r.transcript);
            const got = await waitFor(`"${subject}" at smarthost A`, () => shA.bySubject(subject));
            assert.equal(got.user, CRED_A.username);
            assert.deepEqual(got.to, ["customer@elsewhere.example"]);
            // Signed for app.example, the relay-mode VirtualDomain, with both of its keys.
            const signatures = got.raw
                .replace(/\r?\n[ \t]+/g, " ")
                .split(/\r?\n/)
                .filter(l => /^DKIM-Signature:/i.test(l));
            for (const [algorithm, selector] of [
                ["rsa-sha256", "mail-rsa"],
                ["ed25519-sha256", "mail-ed25519"],
            ])
                assert.ok(
                    signatures.some(
                        l =>
                            l.includes(`a=${algorithm};`) &&
                            l.includes("d=app.example;") &&
                            l.includes(`s=${selector};`),
                    ),
                    `no ${selector} signature of app.example:\n${signatures.join("\n")}`,
                );
            const bad = smtp({
                port,
                source: OUTSIDER,
                tls,
                ca: relayCa,
                servername: "relay.example.test",
                auth: RELAY_USER,
                password: "not-the-password-at-all",
                quitAfter: "AUTH",
            });
            assert.ok(
                bad.replies.some(l => l.startsWith("535 ")),
                bad.transcript,
            );
        }
        // Without AUTH the submission port refuses to relay, even for a well-formed message.
        const anon = smtp({
            port: RP.submission,
            source: OUTSIDER,
            tls: "starttls",
            ca: relayCa,
            servername: "relay.example.test",
            from: "noreply@app.example",
            to: "customer@elsewhere.example",
            quitAfter: "RCPT",
        });
        assert.doesNotMatch(replyAfter(anon, /^(MAIL FROM|RCPT TO):/) ?? "", /^250 /, anon.transcript);
    });

    test("the relay passwords are only in the root-only sasl_passwd: not in env, labels, logs or outputs", () => {
        for (const file of ["sasl_passwd", "sasl_passwd.lmdb"]) {
            assert.equal(
                exec(RELAY_POSTFIX, ["stat", "-L", "-c", "%a %U %G", `/config/current/${file}`]),
                "600 root root",
                file,
            );
        }
        assert.match(
            exec(RELAY_POSTFIX, ["cat", "/config/current/sasl_passwd"]),
            new RegExp(`^\\[127\\.0\\.0\\.1\\]:${SH.a}\\t${CRED_A.username}:`, "m"),
        );
        const secrets = [CRED_A.password, CRED_B.password, RELAY_USER.password];
        for (const c of [
            RELAY_POSTFIX,
            `${RELAY_PREFIX}-saslauthd`,
            `${RELAY_PREFIX}-postfix-config`,
            `${RELAY_PREFIX}-saslauthd-config`,
        ]) {
            const inspect = docker([
                "inspect",
                "-f",
                "{{json .Config.Env}} {{json .Config.Labels}} {{json .Config.Cmd}}",
                c,
            ]);
            const logs = dockerLogs(c);
            for (const s of secrets) {
                assert.ok(!inspect.includes(s), `${c}: a password in env/labels/command`);
                assert.ok(!logs.includes(s), `${c}: a password in the logs`);
            }
        }
        const outputs = JSON.stringify(relayDeploy.outputs);
        for (const s of secrets) assert.ok(!outputs.includes(s), "a password in the stack outputs");
    });

    test("wrong relay credentials: the message stays queued (deferred, no bounce) and leaves once the password is fixed", async () => {
        await redeployRelay({ aPassword: "wrong-Relay-password-1" });
        const subject = uniqueSubject("held by wrong credentials");
        const id = queueId(sendFromMynetworks("sender@example.test", subject));
        await waitFor("smarthost A to refuse the wrong password", () =>
            shA.auths.some(a => !a.ok && a.password === "wrong-Relay-password-1"),
        );
        const held = await deferred(RELAY_POSTFIX, id);
        assert.match(held.recipients[0].delay_reason ?? "", /SASL authentication failed/);
        assert.match(exec(RELAY_POSTFIX, ["postqueue", "-p"]), new RegExp(`^${id}\\s`, "m"), "postqueue -p shows it");
        await sleep(3000);
        assert.ok(
            queue(RELAY_POSTFIX).some(q => q.queue_id === id),
            "still queued a while later",
        );
        assert.equal(shA.bySubject(subject), undefined);
        const lines = logOf(RELAY_POSTFIX, id);
        assert.ok(
            lines.some(l => /status=deferred .*SASL authentication failed/.test(l)),
            lines.join("\n"),
        );
        assert.ok(
            !lines.some(l => /status=bounced|sender non-delivery notification/.test(l)),
            `no bounce:\n${lines.join("\n")}`,
        );
        assert.ok(!dockerLogs(RELAY_POSTFIX).includes("wrong-Relay-password-1"), "the password is not logged");

        await redeployRelay({});
        exec(RELAY_POSTFIX, ["postqueue", "-f"]);
        const got = await waitFor(`"${subject}" at smarthost A after the fix`, () => shA.bySubject(subject), 60_000);
        assert.equal(got.user, CRED_A.username);
        await waitFor(`${id} to leave the queue`, () => !queue(RELAY_POSTFIX).some(q => q.queue_id === id), 30_000);
        assert.ok(!logOf(RELAY_POSTFIX, id).some(l => /status=bounced/.test(l)));
    });

    test("implicit TLS: a default relay with implicitTls (smtp_tls_wrappermode) works; STARTTLS per-sender relay still does", async () => {
        await redeployRelay({ aImplicit: true });
        const subject = uniqueSubject("implicit TLS default relay");
        const org = uniqueSubject("starttls per-sender next to implicit default");
        const id = queueId(sendFromMynetworks("sender@example.test", subject));
        sendFromMynetworks(USERS.carol.address, org);
        const got = await waitFor(`"${subject}" at implicit-TLS smarthost A`, () => shAImplicit.bySubject(subject));
        assert.equal(got.secure, true);
        assert.equal(got.user, CRED_A.username);
        assert.ok(shAImplicit.auths.some(a => a.ok && a.secure && a.password === CRED_A.password));
        const viaB = await waitFor(`"${org}" at STARTTLS smarthost B`, () => shB.bySubject(org));
        assert.equal(viaB.user, CRED_B.username);
        assert.equal(shAImplicit.bySubject(org), undefined);
        const sent = await waitFor(
            "the relay-smtps delivery line",
            () => logOf(RELAY_POSTFIX, id).find(l => /status=sent/.test(l)),
            10_000,
        );
        assert.match(
            sent,
            new RegExp(
                `postfix/relay-smtps/smtp\\[\\d+\\]: ${id}: .*relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${SH.aImplicit}`,
            ),
        );
        assert.match(
            dockerLogs(RELAY_POSTFIX),
            new RegExp(`TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${SH.aImplicit}`),
        );
    });

    test("implicit TLS for a per-sender relay (sender_dependent_default_transport_maps)", async () => {
        await redeployRelay({ bImplicit: true });
        const org = uniqueSubject("implicit TLS per-sender relay");
        const other = uniqueSubject("starttls default next to implicit per-sender");
        sendFromMynetworks(USERS.carol.address, org);
        sendFromMynetworks("sender@example.test", other);
        const viaB = await waitFor(`"${org}" at implicit-TLS smarthost B`, () => shBImplicit.bySubject(org));
        assert.equal(viaB.secure, true);
        assert.equal(viaB.user, CRED_B.username);
        const viaA = await waitFor(`"${other}" at STARTTLS smarthost A`, () => shA.bySubject(other));
        assert.equal(viaA.user, CRED_A.username);
        assert.equal(shB.bySubject(org), undefined);
        for (const h of hosts) assert.ok(!h.auths.some(a => !a.secure), `${h.name}: never an AUTH in clear`);
    });
    test("the logs hold no unexpected warnings or errors", () => {
        assertCleanLogs(
            RELAY_PREFIX,
            {
                postfix: [
                    // the relay user's wrong-password scenario, on purpose
                    /warning: .*SASL (PLAIN|LOGIN) authentication failed/,
                    /warning: SASL authentication failure: Password verification failed/,
                ],
            },
            ["postfix", "saslauthd"],
        );
    });
});

// ---------------------------------------------------------------- backup MX

const PRIMARY_PREFIX = "primarymx";
const BACKUP_PREFIX = "backupmx";
const PP = portsFrom(21000);
const BP = portsFrom(24000);
const PRIMARY_POSTFIX = `${PRIMARY_PREFIX}-postfix`;
const BACKUP_POSTFIX = `${BACKUP_PREFIX}-postfix`;
const CRED_C: Credentials = { username: "backup@smarthost.test", password: "C-relay-Secret-2026!" };
const CRED_ORG: Credentials = { username: "org@smarthost.test", password: "Org-relay-Secret-2026" };

describe("backup MX, live", () => {
    let primaryCa: string;
    let shC: SmartHost, shOrg: SmartHost;

    before(async () => {
        shC = new SmartHost("c", SH.backup, CRED_C);
        // A relay without TLS that would accept AUTH in clear: the policy must keep the password away.
        shOrg = new SmartHost("org", SH.org, CRED_ORG, { noStartTls: true });
        hosts.push(shC, shOrg);
        await shC.listen();
        await shOrg.listen();
        destroy(PRIMARY_PREFIX);
        destroy(BACKUP_PREFIX);
        const primary = deploy(
            liveConfig(
                {
                    "mailserver:relayhosts": [
                        {
                            name: "org-relay",
                            host: HOST,
                            port: SH.org,
                            username: CRED_ORG.username,
                            senderDomains: ["example.org"],
                        },
                    ],
                    "mailserver:relayPasswords": { "org-relay": CRED_ORG.password },
                },
                PRIMARY_PREFIX,
                21000,
            ),
        );
        primaryCa = caFile(primary.outputs.certificatePem, PRIMARY_PREFIX);
        deploy(
            liveConfig(
                {
                    "mailserver:mode": "relay",
                    "mailserver:hostname": "mx2.example.test",
                    "mailserver:domains": [],
                    "mailserver:passwords": {},
                    "mailserver:relayhosts": [
                        { name: "smarthost-c", host: HOST, port: SH.backup, username: CRED_C.username },
                    ],
                    "mailserver:relayPasswords": { "smarthost-c": CRED_C.password },
                    "mailserver:relayDomains": ["example.test"],
                    "mailserver:relayRecipients": [
                        USERS.alice.address,
                        USERS.bob.address,
                        "info@example.test",
                        "team@example.test",
                        "postmaster@example.test",
                        "abuse@example.test",
                    ],
                    "mailserver:transports": [{ domain: "example.test", nexthop: `[${HOST}]:${PP.smtp}` }],
                },
                BACKUP_PREFIX,
                24000,
            ),
        );
        await waitApplied(PRIMARY_POSTFIX);
        await waitApplied(BACKUP_POSTFIX);
    });

    test("while the primary is down the backup accepts and queues; when it is back and the backup flushes, the mail is in the mailbox", async () => {
        const subject = uniqueSubject("via the backup MX");
        docker(["stop", "-t", "30", PRIMARY_POSTFIX]);
        try {
            const r = smtp({
                port: BP.smtp,
                source: OUTSIDER,
                from: "someone@sender.example",
                to: USERS.bob.address,
                subject,
                body: "kept for bob",
            });
            assert.equal(r.status, 0, r.transcript);
            const id = queueId(r);
            const held = await deferred(BACKUP_POSTFIX, id);
            assert.match(
                held.recipients[0].delay_reason ?? "",
                new RegExp(`127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${PP.smtp}.*Connection refused`),
            );
            assert.match(
                exec(BACKUP_POSTFIX, ["postqueue", "-p"]),
                new RegExp(`^${id}\\s`, "m"),
                "postqueue -p shows it",
            );
            assert.equal(shC.bySubject(subject), undefined, "mail for the relayed domain does not go to the smarthost");
            assert.ok(!logOf(BACKUP_POSTFIX, id).some(l => /status=bounced/.test(l)));
        } finally {
            docker(["start", PRIMARY_POSTFIX]);
        }
        await waitFor(
            "the primary's postfix to be healthy again",
            () => docker(["inspect", "-f", "{{.State.Health.Status}}", PRIMARY_POSTFIX]) === "healthy",
            120_000,
            1000,
        );
        exec(BACKUP_POSTFIX, ["postqueue", "-f"]);
        await waitFor("the backup's queue to empty", () => queue(BACKUP_POSTFIX).length === 0, 60_000);
        const source = await fetchBySubject(USERS.bob, subject, "imaps", primaryCa, "INBOX", 30_000, PP);
        assert.match(source, /kept for bob/);
        assert.match(source, /^Received: from mx2\.example\.test /m, "handed over by the backup");
        assert.match(source, /^Received: from .*\[127\.0\.0\.2\]/m, "originally from the outsider");
    });

    test("an unlisted recipient of the relayed domain is refused at RCPT by the backup (550)", () => {
        const r = smtp({
            port: BP.smtp,
            source: OUTSIDER,
            from: "someone@sender.example",
            to: "nobody@example.test",
            quitAfter: "RCPT",
        });
        assert.match(replyAfter(r, /^RCPT TO:/) ?? "", /^550 5\.1\.1 .*relay recipient table/, r.transcript);
        const ok = smtp({
            port: BP.smtp,
            source: OUTSIDER,
            from: "someone@sender.example",
            to: USERS.alice.address,
            quitAfter: "RCPT",
        });
        assert.match(replyAfter(ok, /^RCPT TO:/) ?? "", /^250 /, ok.transcript);
    });

    test("the backup is no open relay: an outsider gets 554 for any other domain", () => {
        const r = smtp({
            port: BP.smtp,
            source: OUTSIDER,
            from: "someone@sender.example",
            to: "victim@elsewhere.example",
            quitAfter: "RCPT",
        });
        assert.match(replyAfter(r, /^RCPT TO:/) ?? "", /^554 5\.7\.1 .*Relay access denied/, r.transcript);
    });

    test("a per-sender relay keeps mandatory TLS where the global level is opportunistic: no STARTTLS, no password sent, mail waits", async () => {
        const subject = uniqueSubject("org relay without TLS");
        const r = smtp({
            port: PP.submission,
            tls: "starttls",
            ca: primaryCa,
            auth: USERS.carol,
            from: USERS.carol.address,
            to: "partner@elsewhere.example",
            subject,
            body: "needs TLS",
        });
        assert.equal(r.status, 0, r.transcript);
        const id = queueId(r);
        const held = await deferred(PRIMARY_POSTFIX, id);
        assert.match(held.recipients[0].delay_reason ?? "", /TLS is required, but was not offered/);
        // DANE for direct deliveries: opportunistic TLS where no DNSSEC-validated TLSA records exist,
        // as for elsewhere.example here.
        assert.equal(
            exec(PRIMARY_POSTFIX, ["postconf", "-h", "smtp_tls_security_level"]),
            "dane",
            "the global level is opportunistic without TLSA records",
        );
        assert.deepEqual(shOrg.auths, [], "no AUTH attempted, so no password in clear");
        assert.equal(shOrg.messages.length, 0);
    });

    test("the logs hold no unexpected warnings or errors", () => {
        for (const prefix of [PRIMARY_PREFIX, BACKUP_PREFIX]) {
            assertCleanLogs(
                prefix,
                {},
                // The primary is in internet mode (no saslauthd), the backup in relay mode (no Dovecot).
                prefix === PRIMARY_PREFIX ? ["postfix", "dovecot"] : ["postfix", "saslauthd"],
            );
        }
    });
});
