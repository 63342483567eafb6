// Live abuse limits: per-login outbound rate limits (rspamd's ratelimit on Valkey), outbound mail
// scored with its own reject threshold, and brute-force bans (Dovecot's auth policy and
// images/authpolicy) on SMTP AUTH, IMAP and ManageSieve, per client address and per login.
// Real clients only: swaks, curl (imaps), nodemailer, and a ManageSieve exchange over TLS.
// Own stack: prefix "abusetest", host networking, ports 38xxx. Prints the figures it measures.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as tls from "tls";
import nodemailer from "nodemailer";
import {
    assertCleanLogs,
    caFile,
    Credentials,
    docker,
    dockerLogs,
    fetchBySubject,
    HOST,
    keepLogs,
    smtp,
    SmtpSession,
    SwaksResult,
    generationApplied,
    uniqueSubject,
} from "./clients";
import { deploy, destroy, liveConfig, portsFrom } from "./stack";

const PREFIX = "abusetest";
const BASE = 38000;
const PORTS = portsFrom(BASE);
const MESSAGES_PER_HOUR = 3;
const RECIPIENTS_PER_HOUR = 5;
const MAX_FAILURES = 3;
const MAX_LOGIN_FAILURES = 6;
const BAN_SECONDS = 40;
// Outside addresses (mynetworks trusts 127.0.0.1/32 only): one attacker per protocol, so each ban
// is its own, and one legitimate client.
const SMTP_ATTACKER = "127.0.0.2";
const IMAP_ATTACKER = "127.0.0.3";
const LEGIT = "127.0.0.4";
const SIEVE_ATTACKER = "127.0.0.5";
const SPREAD_ATTACKERS = ["127.0.0.6", "127.0.0.7", "127.0.0.8"];
const NEWCOMER = "127.0.0.9";
const POP3_ATTACKER = "127.0.0.10";
const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

const user = (name: string): Credentials => ({
    address: `${name}@example.test`,
    password: `${name}-Secret-2026!abuse`,
});
// One login per scenario: the limits and bans of one never touch another.
const sender = user("sender");
const other = user("other");
const many = user("many");
const burst = user("burst");
const spammer = user("spammer");
const smtpVictim = user("smtpvictim");
const imapVictim = user("imapvictim");
const sieveVictim = user("sievevictim");
const pop3Victim = user("pop3victim");
const spreadVictim = user("spreadvictim");
const bench = user("bench");
const LOGINS = [
    sender,
    other,
    many,
    burst,
    spammer,
    smtpVictim,
    imapVictim,
    sieveVictim,
    pop3Victim,
    spreadVictim,
    bench,
];
let ca: string;
/** When the SMTP attacker's ban began (its last counted failure). */
let smtpBanAt = 0;

const report = (line: string) => process.stdout.write(`# ${line}\n`);

function config(spamFilter: Record<string, unknown>) {
    return liveConfig(
        {
            "mailserver:spamFilter": spamFilter,
            // POP3 on (over implicit TLS), to show the protection covers it too.
            "mailserver:imapPorts": {
                imap: PORTS.imap,
                imaps: PORTS.imaps,
                managesieve: PORTS.managesieve,
                pop3s: PORTS.pop3s,
            },
            "mailserver:imapBruteForce": {
                maxFailures: MAX_FAILURES,
                maxLoginFailures: MAX_LOGIN_FAILURES,
                findTime: "10m",
                banTime: `${BAN_SECONDS}s`,
            },
            "mailserver:domains": [
                {
                    domain: "example.test",
                    mailboxes: LOGINS.map(u => ({ address: u.address.split("@")[0] })),
                    aliases: [{ address: "team", targets: [sender.address, other.address] }],
                },
            ],
            "mailserver:passwords": Object.fromEntries(LOGINS.map(u => [u.address, u.password])),
        },
        PREFIX,
        BASE,
    );
}
// Outbound mail is refused at 5 here, inbound at the default 15: a message scoring between the two
// shows each kind of mail meets its own threshold.
const OUTBOUND_REJECT_SCORE = 5;
const LIMITS = {
    messagesPerHour: MESSAGES_PER_HOUR,
    recipientsPerHour: RECIPIENTS_PER_HOUR,
    outboundRejectScore: OUTBOUND_REJECT_SCORE,
};

/** Valkey's count and time of Lua script calls (EVALSHA: rspamd's ratelimit, and its other users). */
function valkeyScripts(): { calls: number; usec: number } {
    const stats = spawnSync(
        "docker",
        ["exec", `${PREFIX}-valkey`, "valkey-cli", "-s", "/run/valkey/valkey.sock", "info", "commandstats"],
        { encoding: "utf8" },
    ).stdout;
    const m = /^cmdstat_evalsha:calls=(\d+),usec=(\d+),/m.exec(stats);
    return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
}

/** An authenticated submission on 587 from `source`; the reply to the end of DATA (or the refusal before it). */
function submit(u: Credentials, to: string[], subject: string, body = "A message.", source = HOST) {
    const r = smtp({
        port: PORTS.submission,
        source,
        tls: "starttls",
        ca,
        auth: u,
        from: u.address,
        to,
        subject,
        body,
    });
    return { ...r, final: finalReply(r) };
}

/** The reply to the message's final dot, or the last reply when the session ended before DATA. */
function finalReply(r: SwaksResult): string {
    const data = r.replies.findIndex(l => l.startsWith("354"));
    return (data >= 0 ? r.replies[data + 1] : r.replies[r.replies.length - 1]) ?? "none";
}

/** SMTP AUTH on 587 from `source`: the reply code to AUTH (235, 535, 454...). */
function smtpAuth(u: Credentials, password: string, source: string): string {
    const r = smtp({ port: PORTS.submission, source, tls: "starttls", ca, auth: u, password, quitAfter: "AUTH" });
    return r.replies.find(l => /^(235|535|4\d\d) /.test(l)) ?? `none: ${r.transcript.slice(-400)}`;
}

/** An IMAPS (or POP3S) login with curl from `source`: "ok" or curl's exit code (67: login denied). */
function imapLogin(u: Credentials, password: string, source: string, scheme = "imaps", port = PORTS.imaps): string {
    const r = spawnSync(
        "curl",
        [
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--interface",
            source,
            "--cacert",
            ca,
            "--connect-to",
            `mail.example.test:${port}:${HOST}:${port}`,
            "--user",
            `${u.address}:${password}`,
            `${scheme}://mail.example.test:${port}/`,
            // IMAP: NOOP; POP3: curl's default LIST (it waits for a multi-line answer to any command).
            ...(scheme === "imaps" ? ["--request", "NOOP"] : []),
        ],
        { encoding: "utf8", timeout: 60_000 },
    );
    return r.status === 0 ? "ok" : `curl ${r.status}`;
}

/**
 * A ManageSieve login (RFC 5804) from `source`: STARTTLS, then AUTHENTICATE "PLAIN"; the server's
 * answer to it ("OK ...", "NO ..."). Bounded to 30 s.
 */
function sieveLogin(u: Credentials, password: string, source: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const plain = Buffer.from(`\0${u.address}\0${password}`).toString("base64");
        let socket: net.Socket | tls.TLSSocket = net.connect({
            host: HOST,
            port: PORTS.managesieve,
            localAddress: source,
        });
        const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error("ManageSieve exchange timed out"));
        }, 30_000);
        let buffer = "";
        let waiting: ((line: string) => void) | undefined;
        const lines: string[] = [];
        const onData = (d: Buffer) => {
            buffer += d.toString();
            const parts = buffer.split("\r\n");
            buffer = parts.pop()!;
            for (const line of parts) {
                if (/^(OK|NO|BYE)\b/.test(line) && waiting) {
                    const w = waiting;
                    waiting = undefined;
                    w(line);
                } else if (/^(OK|NO|BYE)\b/.test(line)) lines.push(line);
            }
        };
        const next = () =>
            new Promise<string>(r => {
                if (lines.length) r(lines.shift()!);
                else waiting = r;
            });
        socket.on("data", onData);
        socket.on("error", e => {
            clearTimeout(timer);
            reject(e);
        });
        (async () => {
            await next(); // greeting
            socket.write("STARTTLS\r\n");
            await next();
            socket.removeListener("data", onData);
            socket = tls.connect({
                socket: socket as net.Socket,
                ca: fs.readFileSync(ca),
                servername: "mail.example.test",
            });
            socket.on("data", onData);
            await next(); // capabilities again, over TLS
            socket.write(`AUTHENTICATE "PLAIN" "${plain}"\r\n`);
            const answer = await next();
            socket.write("LOGOUT\r\n");
            socket.end();
            clearTimeout(timer);
            resolve(answer);
        })().catch(e => {
            clearTimeout(timer);
            reject(e);
        });
    });
}

describe("abuse limits, live", () => {
    before(() => {
        destroy(PREFIX);
        ca = caFile(deploy(config(LIMITS)).outputs.certificatePem, PREFIX);
    });
    after(() => {
        keepLogs(PREFIX, ["postfix", "dovecot", "rspamd", "authpolicy"]);
        destroy(PREFIX);
    });

    test("rate limit: a login's next message after its hourly limit is deferred while another login still sends and delivers", async () => {
        const subject = uniqueSubject("within the limit");
        const replies: string[] = [];
        for (let i = 0; i < MESSAGES_PER_HOUR; i++) replies.push(submit(sender, [other.address], subject).final);
        const over = submit(sender, [other.address], uniqueSubject("over the limit"));
        const meanwhile = uniqueSubject("another login");
        const second = submit(other, [sender.address], meanwhile);
        report(
            `messages: limit ${MESSAGES_PER_HOUR}/h per login; ${sender.address}: ${replies.map(r => r.slice(0, 3)).join(" ")}, ` +
                `then "${over.final}"; ${other.address} meanwhile: "${second.final.slice(0, 40)}"`,
        );
        assert.ok(
            replies.every(r => r.startsWith("250")),
            replies.join("\n"),
        );
        assert.match(
            over.final,
            /^451 4\.7\.1 .*Too many messages from this login: at most 3 per hour/,
            over.transcript,
        );
        assert.match(second.final, /^250 /, second.transcript);
        // Delivered, and signed: scoring outbound mail leaves clean mail signed.
        const delivered = await fetchBySubject(sender, meanwhile, "imaps", ca, "INBOX", 20_000, PORTS);
        assert.match(delivered, /^DKIM-Signature: v=1; a=rsa-sha256;[\s\S]*d=example\.test/m);
        assert.match(delivered, /^DKIM-Signature: v=1; a=ed25519-sha256;/m);
        const first = await fetchBySubject(other, subject, "imaps", ca, "INBOX", 20_000, PORTS);
        assert.match(first, /^DKIM-Signature: /m);
    });

    test("rate limit: recipients are counted over a login's messages", () => {
        const four = submit(
            many,
            [sender.address, other.address, "team@example.test", spammer.address],
            uniqueSubject("4 rcpts"),
        );
        const two = submit(many, [sender.address, other.address], uniqueSubject("2 more rcpts"));
        const one = submit(many, [sender.address], uniqueSubject("1 more rcpt"));
        report(
            `recipients: limit ${RECIPIENTS_PER_HOUR}/h per login; ${many.address}: 4 recipients "${four.final.slice(0, 3)}", ` +
                `then 2 more "${two.final}", then 1 more "${one.final.slice(0, 3)}"`,
        );
        assert.match(four.final, /^250 /, four.transcript);
        assert.match(
            two.final,
            /^451 4\.7\.1 .*Too many recipients from this login: at most 5 per hour/,
            two.transcript,
        );
        assert.match(one.final, /^250 /, "the fifth recipient is still within the limit");
    });

    test("rate limit holds under parallel sessions: of 12 messages sent 6 at a time, exactly the limit is accepted", async () => {
        const transport = nodemailer.createTransport({
            host: HOST,
            port: PORTS.submission,
            secure: false,
            requireTLS: true,
            tls: { ca: [fs.readFileSync(ca)], servername: "mail.example.test" },
            auth: { user: burst.address, pass: burst.password },
            pool: true,
            maxConnections: 6,
        });
        const subject = uniqueSubject("parallel");
        const results = await Promise.all(
            Array.from({ length: 12 }, (_, i) =>
                transport
                    .sendMail({ from: burst.address, to: other.address, subject, text: `message ${i}` })
                    .then(() => "250")
                    .catch((e: { response?: string }) => `${e.response}`),
            ),
        );
        transport.close();
        const accepted = results.filter(r => r === "250").length;
        report(
            `parallel: 12 messages from one login over 6 sessions, limit ${MESSAGES_PER_HOUR}/h: ${accepted} accepted`,
        );
        assert.equal(accepted, MESSAGES_PER_HOUR, results.join("\n"));
        assert.ok(
            results.filter(r => r !== "250").every(r => /^451 4\.7\.1 /.test(r)),
            results.join("\n"),
        );
    });

    test("outbound scoring: a login's spammy message is refused at outboundRejectScore, the same message from outside is delivered", async () => {
        // Two Reply-To headers: rspamd's MULTIPLE_UNIQUE_HEADERS (7 points), under the inbound reject
        // score (15) and over the test's outbound one (5).
        const spammy = (session: SmtpSession) =>
            smtp({
                ...session,
                args: [
                    ...["--add-header", "Reply-To: <one@elsewhere.example>"],
                    ...["--add-header", "Reply-To: <two@elsewhere.example>"],
                ],
            });
        const outSubject = uniqueSubject("outbound spammy");
        const out = spammy({
            port: PORTS.submission,
            tls: "starttls",
            ca,
            auth: spammer,
            from: spammer.address,
            to: other.address,
            subject: outSubject,
        });
        const inSubject = uniqueSubject("inbound spammy");
        const inbound = spammy({
            port: PORTS.smtp,
            source: LEGIT,
            from: "someone@sender.example",
            to: other.address,
            subject: inSubject,
        });
        report(
            `a message scoring 7 (two Reply-To): from a login "${finalReply(out)}" (outboundRejectScore ${OUTBOUND_REJECT_SCORE}); ` +
                `from outside on 25 "${finalReply(inbound).slice(0, 40)}" (rejectScore 15)`,
        );
        // (rspamd's text repeats the enhanced code: "554 5.7.1 5.7.1 Message rejected as spam", inbound alike.)
        assert.match(finalReply(out), /^554 5\.7\.1 (5\.7\.1 )?Message rejected as spam/, out.transcript);
        assert.match(finalReply(inbound), /^250 /, inbound.transcript);
        // Scored over addHeaderScore (6): delivered with the spam header, into Junk.
        const junk = await fetchBySubject(other, inSubject, "imaps", ca, "Junk", 20_000, PORTS);
        assert.match(junk, /^X-Spam: Yes/m);
    });

    test("outbound scoring: GTUBE from an authenticated user is refused with 5xx, not signed and sent", () => {
        const r = submit(spammer, ["victim@elsewhere.example"], uniqueSubject("outbound spam"), `Buy now.\n${GTUBE}\n`);
        report(`outbound GTUBE from ${spammer.address}: "${r.final}"`);
        assert.match(r.final, /^5\d\d 5\.7\.1 /, r.transcript);
        // Nothing of it is queued for the outside.
        const queue = spawnSync("docker", ["exec", `${PREFIX}-postfix`, "postqueue", "-j"], {
            encoding: "utf8",
        }).stdout;
        assert.doesNotMatch(queue, /victim@elsewhere\.example/);
    });

    test("brute force on SMTP AUTH: an address is banned after repeated failures, even with the right password; another address logs in at once", () => {
        const failures = Array.from({ length: MAX_FAILURES }, (_, i) =>
            smtpAuth(smtpVictim, `wrong-${i}`, SMTP_ATTACKER),
        );
        smtpBanAt = Date.now();
        const banned = smtpAuth(smtpVictim, smtpVictim.password, SMTP_ATTACKER);
        const legit = smtpAuth(smtpVictim, smtpVictim.password, LEGIT);
        // One mechanism for every protocol: the same address is refused on IMAP too.
        const imap = imapLogin(smtpVictim, smtpVictim.password, SMTP_ATTACKER);
        report(
            `SMTP AUTH from ${SMTP_ATTACKER}: ${failures.map(f => f.slice(0, 3)).join(" ")}, right password then "${banned}", ` +
                `IMAP from it "${imap}"; from ${LEGIT}: "${legit.slice(0, 3)}"`,
        );
        assert.ok(
            failures.every(f => f.startsWith("535")),
            failures.join("\n"),
        );
        assert.match(banned, /^535 /);
        assert.equal(imap, "curl 67");
        assert.match(legit, /^235 /);
    });

    test("brute force on IMAP: an address is banned after repeated failures, even with the right password; another address logs in at once", () => {
        const failures = Array.from({ length: MAX_FAILURES }, (_, i) =>
            imapLogin(imapVictim, `wrong-${i}`, IMAP_ATTACKER),
        );
        const banned = imapLogin(imapVictim, imapVictim.password, IMAP_ATTACKER);
        const legit = imapLogin(imapVictim, imapVictim.password, LEGIT);
        const smtp = smtpAuth(imapVictim, imapVictim.password, IMAP_ATTACKER);
        report(
            `IMAPS from ${IMAP_ATTACKER}: ${failures.join(", ")}, right password then "${banned}", SMTP AUTH from it "${smtp.slice(0, 3)}"; ` +
                `from ${LEGIT}: "${legit}"`,
        );
        assert.deepEqual(failures, Array(MAX_FAILURES).fill("curl 67"));
        assert.equal(banned, "curl 67");
        assert.match(smtp, /^535 /);
        assert.equal(legit, "ok");
    });

    test("brute force on ManageSieve: an address is banned after repeated failures, even with the right password; another address logs in at once", async () => {
        const failures: string[] = [];
        for (let i = 0; i < MAX_FAILURES; i++)
            failures.push(await sieveLogin(sieveVictim, `wrong-${i}`, SIEVE_ATTACKER));
        const banned = await sieveLogin(sieveVictim, sieveVictim.password, SIEVE_ATTACKER);
        const legit = await sieveLogin(sieveVictim, sieveVictim.password, LEGIT);
        report(
            `ManageSieve from ${SIEVE_ATTACKER}: ${failures.map(f => f.slice(0, 2)).join(" ")}, right password then "${banned}"; from ${LEGIT}: "${legit}"`,
        );
        assert.ok(
            failures.every(f => f.startsWith("NO")),
            failures.join("\n"),
        );
        assert.match(banned, /^NO/);
        assert.match(legit, /^OK/);
    });

    test("brute force on POP3 (when on): an address is banned after repeated failures; another address logs in at once", () => {
        const pop3 = (password: string, source: string) =>
            imapLogin(pop3Victim, password, source, "pop3s", PORTS.pop3s);
        const failures = Array.from({ length: MAX_FAILURES }, (_, i) => pop3(`wrong-${i}`, POP3_ATTACKER));
        const banned = pop3(pop3Victim.password, POP3_ATTACKER);
        const legit = pop3(pop3Victim.password, LEGIT);
        report(
            `POP3S from ${POP3_ATTACKER}: ${failures.join(", ")}, right password then "${banned}"; from ${LEGIT}: "${legit}"`,
        );
        assert.deepEqual(failures, Array(MAX_FAILURES).fill("curl 67"));
        assert.equal(banned, "curl 67");
        assert.equal(legit, "ok");
    });

    test("brute force spread over addresses: a login is closed to new addresses, its owner's known address still logs in", () => {
        // The owner logs in first from LEGIT: that address is known for this login.
        assert.match(smtpAuth(spreadVictim, spreadVictim.password, LEGIT), /^235 /);
        const failures: string[] = [];
        for (const a of SPREAD_ATTACKERS)
            for (let i = 0; i < MAX_LOGIN_FAILURES / SPREAD_ATTACKERS.length; i++)
                failures.push(smtpAuth(spreadVictim, `wrong-${a}-${i}`, a));
        const newcomer = smtpAuth(spreadVictim, spreadVictim.password, NEWCOMER);
        const owner = smtpAuth(spreadVictim, spreadVictim.password, LEGIT);
        // Other logins from the new address are not touched.
        const bystander = smtpAuth(other, other.password, NEWCOMER);
        report(
            `spread: ${failures.length} failures to ${spreadVictim.address} from ${SPREAD_ATTACKERS.join(", ")} (${MAX_LOGIN_FAILURES / SPREAD_ATTACKERS.length} each, under the per-address ${MAX_FAILURES}); ` +
                `then from ${NEWCOMER} "${newcomer}", from the owner's ${LEGIT} "${owner.slice(0, 3)}", another login from ${NEWCOMER} "${bystander.slice(0, 3)}"`,
        );
        assert.ok(
            failures.every(f => f.startsWith("535")),
            failures.join("\n"),
        );
        assert.match(newcomer, /^535 /);
        assert.match(owner, /^235 /);
        assert.match(bystander, /^235 /);
    });

    test("cost of the rate limits under a bench-like load: 200 messages over 10 sessions from one login, limits on and off", async () => {
        const MESSAGES = 200;
        const load = async (limits: boolean) => {
            deploy(
                config(
                    limits
                        ? { messagesPerHour: 1_000_000, recipientsPerHour: 1_000_000 }
                        : { messagesPerHour: 0, recipientsPerHour: 0 },
                ),
            );
            const transport = nodemailer.createTransport({
                host: HOST,
                port: PORTS.submission,
                secure: false,
                requireTLS: true,
                tls: { ca: [fs.readFileSync(ca)], servername: "mail.example.test" },
                auth: { user: bench.address, pass: bench.password },
                pool: true,
                maxConnections: 10,
                maxMessages: Infinity,
            });
            // rspamd takes the new generation with a HUP and new workers, seconds after the up
            // returns (more on a busy machine), and a milter session open across that swap is
            // broken (451, the client retries). So: wait for the entrypoint to have applied the
            // generation and the workers to have been replaced, then measure only once one message
            // shows the limits as deployed (on: a check and an update per bucket; off: none).
            const settled = Date.now() + 60_000;
            while (!generationApplied(`${PREFIX}-rspamd`)) {
                assert.ok(Date.now() < settled, "rspamd did not apply the new generation within 60 s");
                await new Promise(r => setTimeout(r, 500));
            }
            await new Promise(r => setTimeout(r, 5000));
            for (;;) {
                const before = valkeyScripts().calls;
                await transport.sendMail({ from: bench.address, to: other.address, subject: "settle", text: "settle" });
                const calls = valkeyScripts().calls - before;
                if (limits ? calls >= 4 : calls <= 2) break;
                assert.ok(
                    Date.now() < settled,
                    `rspamd still runs the previous limits 60 s after the up (${calls} calls)`,
                );
                await new Promise(r => setTimeout(r, 1000));
            }
            const subject = uniqueSubject("load");
            const valkeyBefore = valkeyScripts();
            const since = Math.floor(Date.now() / 1000);
            const started = Date.now();
            const results = await Promise.all(
                Array.from({ length: MESSAGES }, (_, i) =>
                    transport
                        .sendMail({
                            from: bench.address,
                            to: other.address,
                            subject,
                            text: `message ${i}\n${"x".repeat(5000)}`,
                        })
                        .then(() => true)
                        .catch(() => false),
                ),
            );
            transport.close();
            const ms = Date.now() - started;
            const valkeyAfter = valkeyScripts();
            // rspamd's own time per message (its task log line), which leaves SMTP and TLS out.
            const logs = spawnSync("docker", ["logs", "--since", String(since), `${PREFIX}-rspamd`], {
                encoding: "utf8",
                maxBuffer: 64 << 20,
            });
            const scans = `${logs.stdout}${logs.stderr}`
                .split("\n")
                .filter(l => l.includes(`user: ${bench.address}`))
                .map(l => Number(/ time: ([\d.]+)ms/.exec(l)?.[1]))
                .sort((x, y) => x - y);
            return {
                limits,
                ms,
                accepted: results.filter(Boolean).length,
                scanMedian: scans[Math.floor(scans.length / 2)],
                valkeyCalls: (valkeyAfter.calls - valkeyBefore.calls) / MESSAGES,
                valkeyUsec: (valkeyAfter.usec - valkeyBefore.usec) / MESSAGES,
                scans: scans.length,
            };
        };
        // Alternating, so that the load of other work on the machine falls on both alike.
        const runs: Array<Awaited<ReturnType<typeof load>>> = [];
        for (const limits of [true, false, true, false]) runs.push(await load(limits));
        const mean = (limits: boolean, f: (r: (typeof runs)[number]) => number) =>
            runs
                .filter(r => r.limits === limits)
                .map(f)
                .reduce((a, b) => a + b, 0) / 2;
        report(
            `load: ${MESSAGES} messages of 5 KB over 10 sessions from one login, per run: ` +
                runs
                    .map(
                        r =>
                            `${r.limits ? "on" : "off"} ${(r.ms / MESSAGES).toFixed(1)} ms/message (rspamd median ${r.scanMedian} ms of ${r.scans} scans logged; Valkey scripts ${r.valkeyCalls.toFixed(1)} calls, ${r.valkeyUsec.toFixed(0)} µs)`,
                    )
                    .join(", ") +
                `; cost of the limits: ${((mean(true, r => r.ms) - mean(false, r => r.ms)) / MESSAGES).toFixed(1)} ms/message wall, ` +
                `${(mean(true, r => r.scanMedian) - mean(false, r => r.scanMedian)).toFixed(1)} ms rspamd median, ` +
                `${(mean(true, r => r.valkeyCalls) - mean(false, r => r.valkeyCalls)).toFixed(1)} Valkey script calls and ` +
                `${(mean(true, r => r.valkeyUsec) - mean(false, r => r.valkeyUsec)).toFixed(0)} µs of Valkey time per message`,
        );
        // The module's own work: at least a check and an update per bucket, nothing when it is off.
        for (const r of runs)
            if (r.limits) assert.ok(r.valkeyCalls >= 4, `${r.valkeyCalls} Valkey script calls per message`);
        for (const r of runs) {
            assert.equal(r.accepted, MESSAGES, "no message refused under limits far above the load");
        }
    });

    test("the logs hold no unexpected warnings or errors (no auth process restarted under the load)", () => {
        assertCleanLogs(
            PREFIX,
            {
                postfix: [
                    // the brute-force scenarios, on purpose (Dovecot gives no reason for a wrong password)
                    /warning: \S+\[127\.0\.0\.\d+\]: SASL PLAIN authentication failed: (\(reason unavailable\)|Too many failed logins)/,
                    /warning: hostname \S+ does not resolve to address 127\.0\.0\.\d+/,
                ],
                dovecot: [],
            },
            ["postfix", "dovecot"],
        );
        const policy = dockerLogs(`${PREFIX}-authpolicy`);
        assert.doesNotMatch(policy, /Traceback|error/i, policy);
    });

    test("a ban ends after its duration", async () => {
        const log = dockerLogs(`${PREFIX}-authpolicy`);
        const line = log.split("\n").find(l => l.includes(`banned address ${SMTP_ATTACKER} `));
        assert.ok(line, log);
        // The SMTP attacker's ban began in the SMTP test; wait out what is left of it.
        const wait = smtpBanAt + BAN_SECONDS * 1000 + 2000 - Date.now();
        if (wait > 0) await new Promise(r => setTimeout(r, wait));
        const smtp = smtpAuth(smtpVictim, smtpVictim.password, SMTP_ATTACKER);
        const imap = imapLogin(smtpVictim, smtpVictim.password, SMTP_ATTACKER);
        report(`after ${BAN_SECONDS} s: ${SMTP_ATTACKER} SMTP AUTH "${smtp.slice(0, 3)}", IMAPS "${imap}" (${line})`);
        assert.match(smtp, /^235 /);
        assert.equal(imap, "ok");
    });
});

// Bridge mode: behind docker-proxy (this engine runs without iptables NAT) every client arrives
// from the network's gateway. Banning it would lock everyone out, so it is never banned by address.
describe("brute force in bridge mode, live: the Docker gateway every client arrives from is never banned", () => {
    const BR_PREFIX = "abusebr";
    const BR_BASE = 44000;
    const BR_PORTS = portsFrom(BR_BASE);
    let brCa: string;
    before(() => {
        destroy(BR_PREFIX);
        const cfg = liveConfig(
            {
                "mailserver:networkMode": "bridge",
                "mailserver:publishAddress": HOST,
                "mailserver:inetInterfaces": ["all"],
                "mailserver:imapListen": undefined,
                "mailserver:imapBruteForce": { maxFailures: MAX_FAILURES, banTime: `${BAN_SECONDS}s` },
                "mailserver:domains": [{ domain: "example.test", mailboxes: [{ address: "imapvictim" }] }],
                "mailserver:passwords": { [imapVictim.address]: imapVictim.password },
            },
            BR_PREFIX,
            BR_BASE,
        );
        brCa = caFile(deploy(cfg).outputs.certificatePem, BR_PREFIX);
    });
    after(() => {
        keepLogs(BR_PREFIX, ["postfix", "dovecot", "authpolicy"]);
        destroy(BR_PREFIX);
    });

    test("failures from one client do not lock out the others (nor that client); Dovecot's ports are published on publishAddress only", () => {
        const login = (password: string, source: string) => {
            const r = spawnSync(
                "curl",
                [
                    "--silent",
                    "--max-time",
                    "30",
                    "--interface",
                    source,
                    "--cacert",
                    brCa,
                    "--connect-to",
                    `mail.example.test:${BR_PORTS.imaps}:${HOST}:${BR_PORTS.imaps}`,
                    "--user",
                    `${imapVictim.address}:${password}`,
                    `imaps://mail.example.test:${BR_PORTS.imaps}/`,
                    "--request",
                    "NOOP",
                ],
                { encoding: "utf8", timeout: 60_000 },
            );
            return r.status === 0 ? "ok" : `curl ${r.status}`;
        };
        const failures = Array.from({ length: MAX_FAILURES + 1 }, (_, i) => login(`wrong-${i}`, IMAP_ATTACKER));
        const attacker = login(imapVictim.password, IMAP_ATTACKER);
        const legit = login(imapVictim.password, LEGIT);
        const gateway = docker([
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
            `${BR_PREFIX}-net`,
        ]);
        const told = docker(["exec", `${BR_PREFIX}-authpolicy`, "cat", "/run/authpolicy/gateway"]);
        const policyLog = dockerLogs(`${BR_PREFIX}-authpolicy`);
        const published = docker(["port", `${BR_PREFIX}-dovecot`]).split("\n");
        report(
            `bridge: ${failures.length} failed IMAPS logins from ${IMAP_ATTACKER} (${failures.join(", ")}), then from it "${attacker}", ` +
                `from ${LEGIT} "${legit}"; gateway ${gateway}, the policy service was told ${told}; Dovecot published on ${published.join(", ")}`,
        );
        assert.deepEqual(failures, Array(MAX_FAILURES + 1).fill("curl 67"));
        assert.equal(legit, "ok");
        assert.equal(attacker, "ok");
        assert.equal(told, gateway);
        assert.doesNotMatch(policyLog, /banned address/);
        assert.ok(
            published.length === 3 && published.every(l => l.endsWith(`-> ${HOST}:${l.split("/")[0]}`)),
            published.join("\n"),
        );
    });
});
