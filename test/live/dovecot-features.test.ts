// Live proof of the Dovecot features: special-use folders, per-mailbox quota, LMTP's size limit,
// Sieve per mailbox (typed options and raw scripts, compiled at deploy), ManageSieve, POP3 on
// demand. Real clients only: swaks, imapflow, sieve-connect, curl, and an LMTP exchange over
// Dovecot's own socket. Own stack: prefix "sievetest", ports 22xxx.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { LMTP_SIZE_ALLOWANCE } from "../../components/render/dovecot";
import { SIEVE_EXTENSIONS } from "../../components/model/sieve";
import {
    assertCleanLogs,
    caFile,
    Credentials,
    dockerLogs,
    fetchBySubject,
    HOST,
    imapClient,
    keepLogs,
    sieveConnect as sieveConnectTo,
    smtp,
    SmtpSession,
    generationApplied,
    uniqueSubject,
} from "./clients";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom } from "./stack";

const PREFIX = "sievetest";
const PORTS = portsFrom(22000);
const SIZE_LIMIT = 600_000;
const user = (name: string, domain = "example.test"): Credentials => ({
    address: `${name}@${domain}`,
    password: `${name}-Secret-2026!sieve`,
});
const alice = user("alice");
const bob = user("bob");
const dave = user("dave");
const erin = user("erin");
const frank = user("frank");
const carol = user("carol", "example.org");
/** A mailbox given as a pre-computed yescrypt hash (passwordHashes), made by libxcrypt's mkpasswd. */
const gina = user("gina");
const GINA_HASH = execFileSync("mkpasswd", ["-m", "yescrypt", gina.password], { encoding: "utf8" }).trim();
const VACATION_SUBJECT = "Out of office (sievetest)";

// bob's rules as a raw script: one branch per Sieve action under test.
const BOB_SCRIPT = `require ["fileinto", "reject"];
if header :contains "Subject" "[file]" { fileinto "Filed"; stop; }
if header :contains "Subject" "[redirect]" { redirect "carol@example.org"; stop; }
if header :contains "Subject" "[reject]" { reject "bob does not take [reject] mail"; stop; }
if header :contains "Subject" "[discard]" { discard; stop; }
if header :contains "Subject" "[stop]" { stop; }
if header :contains "Subject" "[stop]" { fileinto "NotReached"; }
`;

function stackConfig(overrides: Record<string, unknown> = {}, bobScript = BOB_SCRIPT): Record<string, unknown> {
    return liveConfig(
        {
            "mailserver:domains": [
                {
                    domain: "example.test",
                    mailboxes: [
                        {
                            address: "alice",
                            aliases: ["info"],
                            vacation: {
                                subject: VACATION_SUBJECT,
                                body: "Alice is away.\nUrgent matters: bob@example.test",
                                days: 1,
                            },
                            fileInto: [{ header: "Subject", contains: "[newsletter]", folder: "Newsletters" }],
                        },
                        { address: "bob", sieveScript: bobScript },
                        { address: "dave", quota: "1M" },
                        { address: "erin" },
                        { address: "frank" },
                        { address: "gina" },
                    ],
                },
                { domain: "example.org", mailboxes: [{ address: "carol" }] },
            ],
            "mailserver:passwords": Object.fromEntries(
                [alice, bob, dave, erin, frank, carol].map(u => [u.address, u.password]),
            ),
            "mailserver:passwordHashes": { [gina.address]: GINA_HASH },
            "mailserver:messageSizeLimit": SIZE_LIMIT,
            // Postmaster notices go to carol, not into the mailboxes whose contents the tests count.
            "mailserver:adminAddress": carol.address,
            "mailserver:vacation": { minPeriod: "1h", defaultPeriod: "2d", maxPeriod: "10d" },
            ...overrides,
        },
        PREFIX,
        22000,
    );
}

let ca: string;
const tmp = (name: string) => path.join(ARTIFACTS, `${PREFIX}-${name}`);
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const dovecotExec = (argv: string[], input?: string) =>
    spawnSync("docker", ["exec", "-i", `${PREFIX}-dovecot`, ...argv], {
        input,
        encoding: "utf8",
        timeout: 60_000,
        maxBuffer: 16 << 20,
    });
/** Mail from a trusted client (127.0.0.1 is in mynetworks) on port 25. */
const send = (from: string, to: string, subject: string, message: Pick<SmtpSession, "headers" | "body"> = {}) =>
    smtp({ port: PORTS.smtp, from, to, subject, ...message });
const read = (u: Credentials, subject: string, mailbox = "INBOX", timeoutMs = 20_000) =>
    fetchBySubject(u, subject, "imaps", ca, mailbox, timeoutMs, PORTS);

/** Sources of all messages in a mailbox whose subject contains the text; [] when the mailbox does not exist. */
async function messages(u: Credentials, subject: string, mailbox = "INBOX"): Promise<string[]> {
    const client = await imapClient(u, "imaps", ca, PORTS);
    try {
        const exists = (await client.list()).some(b => b.path === mailbox);
        if (!exists) return [];
        const lock = await client.getMailboxLock(mailbox);
        try {
            const uids = (await client.search({ subject }, { uid: true })) || [];
            const out: string[] = [];
            for (const uid of uids) {
                const m = await client.fetchOne(String(uid), { source: true }, { uid: true });
                if (m && m.source) out.push(m.source.toString("utf8"));
            }
            return out;
        } finally {
            lock.release();
        }
    } finally {
        await client.logout().catch(() => undefined);
    }
}

/** Waits (bounded) until a message with this subject is in the mailbox and its source matches. */
async function waitForMessage(
    u: Credentials,
    subject: string,
    match: RegExp,
    mailbox = "INBOX",
    timeoutMs = 30_000,
): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let seen: string[] = [];
    while (Date.now() < deadline) {
        seen = await messages(u, subject, mailbox);
        const hit = seen.find(s => match.test(s));
        if (hit) return hit;
        await sleep(1000);
    }
    throw new Error(
        `no message "${subject}" matching ${match} in ${u.address}'s ${mailbox} after ${timeoutMs / 1000}s (${seen.length} with that subject)`,
    );
}

async function waitForLog(container: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const line = dockerLogs(container)
            .split("\n")
            .find(l => pattern.test(l));
        if (line) return line;
        await sleep(500);
    }
    throw new Error(`no line matching ${pattern} in the log of ${container} after ${timeoutMs / 1000}s`);
}

/** A text body of about this many bytes on the wire (77-byte lines with CRLF), for swaks --body. */
function bodyFile(name: string, bytes: number): string {
    const file = tmp(name);
    fs.writeFileSync(file, `${"x".repeat(75)}\n`.repeat(Math.floor(bytes / 77)));
    return `@${file}`;
}

// A minimal LMTP client (RFC 2033) for Dovecot's unix socket, run inside the container with the
// image's perl: LHLO, MAIL, RCPT, DATA with dot-stuffing; prints the exchange.
const LMTP_CLIENT = String.raw`
use strict; use IO::Socket::UNIX; $| = 1;
my ($path, $from, @rcpt) = @ARGV;
my $msg = do { local $/; <STDIN> };
$msg =~ s/\r?\n/\r\n/g; $msg =~ s/^\./../mg; $msg .= "\r\n" unless $msg =~ /\r\n$/;
my $s = IO::Socket::UNIX->new(Peer => $path) or die "connect $path: $!";
sub rd { my @l; while (my $l = <$s>) { print "< $l"; push @l, $l; last if $l =~ /^\d{3} /; } return @l; }
sub cmd { print "> $_[0]\n"; print $s "$_[0]\r\n"; return rd(); }
rd(); cmd("LHLO lmtp-client.test"); cmd("MAIL FROM:<$from>");
my $ok = 0; for my $r (@rcpt) { my @l = cmd("RCPT TO:<$r>"); $ok++ if $l[-1] =~ /^2/; }
if ($ok) { my @l = cmd("DATA"); if ($l[-1] =~ /^354/) { print $s $msg . ".\r\n"; print "> (message of ", length($msg), " bytes)\n"; rd() for 1..$ok; } }
cmd("QUIT");
`;

function lmtp(from: string, to: string, message: string): string {
    const r = dovecotExec(["perl", "-e", LMTP_CLIENT, "/run/lmtp/lmtp", from, to], message);
    assert.equal(r.status, 0, `lmtp client: ${r.stderr}`);
    return r.stdout;
}

function sieveConnect(u: Credentials, args: string[]) {
    return sieveConnectTo(u, args, { port: PORTS.managesieve, ca, servername: "mail.example.test" });
}

/** What a TCP connect to 127.0.0.1:port gets: "open" or the error code (ECONNREFUSED). */
function probe(port: number): Promise<string> {
    return new Promise(resolve => {
        const s = net.connect({ host: HOST, port, timeout: 5000 });
        s.once("connect", () => {
            s.destroy();
            resolve("open");
        });
        s.once("timeout", () => {
            s.destroy();
            resolve("timeout");
        });
        s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
}

/** The ManageSieve greeting (capabilities before STARTTLS), up to its OK line. */
function manageSieveGreeting(): Promise<string> {
    return new Promise((resolve, reject) => {
        let data = "";
        const s = net.connect({ host: HOST, port: PORTS.managesieve, timeout: 10_000 });
        s.setEncoding("utf8");
        s.on("data", chunk => {
            data += chunk;
            if (/^OK/m.test(data)) {
                s.end("LOGOUT\r\n");
                resolve(data);
            }
        });
        s.once("timeout", () => {
            s.destroy();
            reject(new Error(`ManageSieve greeting timed out: ${data}`));
        });
        s.once("error", reject);
    });
}

const currentGeneration = () => dovecotExec(["readlink", "/config/current"]).stdout.trim();

/**
 * Waits until Dovecot runs the active generation: its watcher reloads within seconds after an up,
 * and a delivery caught by the reload is deferred by Postfix for minutes ("421 Server shutting
 * down"), which a test sending at once would mistake for lost mail.
 */
function waitForReload(): void {
    for (let i = 0; i < 40; i++) {
        if (generationApplied(`${PREFIX}-dovecot`)) {
            spawnSync("sleep", ["2"]);
            return;
        }
        spawnSync("sleep", ["0.5"]);
    }
    throw new Error("Dovecot did not take the new generation within 20 s");
}

describe("Dovecot features, live", () => {
    before(() => {
        destroy(PREFIX);
        const first = deploy(stackConfig());
        ca = caFile(first.outputs.certificatePem, PREFIX);
    });

    after(() => {
        keepLogs(PREFIX, ["postfix", "dovecot", "saslauthd", "dovecot-config"]);
        destroy(PREFIX);
    });

    test("special-use folders Sent, Drafts, Trash, Junk exist and are subscribed in a fresh mailbox (LIST and LSUB)", async () => {
        const client = await imapClient(erin, "imaps", ca, PORTS);
        try {
            const list = await client.list();
            for (const folder of ["Sent", "Drafts", "Trash", "Junk"]) {
                const box = list.find(b => b.path === folder);
                assert.ok(box, `${folder} listed: ${list.map(b => b.path)}`);
                assert.equal(box.specialUse, `\\${folder}`, `${folder} special-use flag`);
                assert.ok(box.flags.has(`\\${folder}`), `${folder} LIST flags: ${[...box.flags]}`);
                assert.equal(box.subscribed, true, `${folder} subscribed (LIST RETURN SUBSCRIBED)`);
            }
        } finally {
            await client.logout();
        }
        // The classic LSUB, from a second client.
        const lsub = spawnSync(
            "curl",
            [
                "-sS",
                "--max-time",
                "20",
                "--cacert",
                ca,
                "--resolve",
                `mail.example.test:${PORTS.imaps}:${HOST}`,
                "-u",
                `${erin.address}:${erin.password}`,
                `imaps://mail.example.test:${PORTS.imaps}/`,
                "-X",
                'LSUB "" "*"',
            ],
            { encoding: "utf8" },
        );
        assert.equal(lsub.status, 0, lsub.stderr);
        for (const folder of ["Sent", "Drafts", "Trash", "Junk"])
            assert.match(lsub.stdout, new RegExp(`^\\* LSUB \\(.*\\) "/" "?${folder}"?\\r?$`, "m"), lsub.stdout);
    });

    test("a mailbox given as a yescrypt passwordHash logs in over IMAPS and SMTP AUTH; a wrong password does not", async () => {
        const client = await imapClient(gina, "imaps", ca, PORTS);
        assert.ok(client.authenticated, "IMAPS login with the password behind the hash");
        await client.logout();
        await assert.rejects(imapClient({ ...gina, password: `${gina.password}x` }, "imaps", ca, PORTS));
        const auth = (password: string) =>
            smtp({ port: PORTS.smtps, tls: "implicit", auth: gina, password, quitAfter: "AUTH" });
        const good = auth(gina.password);
        assert.ok(
            good.replies.some(l => /^235 /.test(l)),
            good.transcript,
        );
        const bad = auth(`${gina.password}x`);
        assert.ok(
            bad.replies.some(l => /^535 /.test(l)),
            bad.transcript,
        );
    });

    test("POP3 and POP3S are off by default: nothing listens on their ports", async () => {
        assert.equal(await probe(PORTS.pop3), "ECONNREFUSED");
        assert.equal(await probe(PORTS.pop3s), "ECONNREFUSED");
        assert.equal(await probe(PORTS.imaps), "open", "while IMAPS answers");
        assert.doesNotMatch(dovecotExec(["doveconf", "-h", "protocols"]).stdout, /pop3/);
    });

    test("quota: the userdb limit is in force (doveadm, IMAP GETQUOTAROOT); over quota, LMTP says 552 5.2.2 and the sender gets the bounce", async () => {
        const quota = dovecotExec(["doveadm", "quota", "get", "-u", dave.address]);
        assert.equal(quota.status, 0, quota.stderr);
        assert.match(quota.stdout, /^User quota\s+STORAGE\s+\d+\s+1024\s/m, quota.stdout);
        const client = await imapClient(dave, "imaps", ca, PORTS);
        try {
            const q = await client.getQuota("INBOX");
            assert.ok(q && q.storage, `GETQUOTAROOT: ${JSON.stringify(q)}`);
            assert.equal(q.storage.limit, 1024 * 1024);
        } finally {
            await client.logout();
        }
        // Two messages of 400 kB fit into 1 MiB, the third does not.
        const body = bodyFile("400k.txt", 400_000);
        const subjects = [1, 2, 3].map(i => uniqueSubject(`quota filler ${i}`));
        for (const subject of subjects.slice(0, 2)) {
            const r = send(carol.address, dave.address, subject, { body });
            assert.equal(r.status, 0, r.transcript);
            await read(dave, subject);
        }
        const r = send(carol.address, dave.address, subjects[2], { body });
        assert.equal(r.status, 0, "Postfix accepts it; delivery fails");
        const line = await waitForLog(
            `${PREFIX}-postfix`,
            new RegExp(
                `to=<${dave.address}>.*status=bounced .*552 5\\.2\\.2 <${dave.address}> Quota exceeded: the mailbox of ${dave.address} is full`,
            ),
        );
        assert.match(line, /lmtp/);
        const bounce = await waitForMessage(carol, "Undelivered Mail Returned to Sender", new RegExp(subjects[2]));
        // Postfix folds the reason over lines.
        assert.match(
            bounce.replace(/\s+/g, " "),
            /552 5\.2\.2 <dave@example\.test> Quota exceeded: the mailbox of dave@example\.test is full/,
        );
        assert.equal((await messages(dave, subjects[2])).length, 0, "the third message is not in the mailbox");
    });

    test("LMTP refuses a message over Postfix's size limit (+ header allowance), takes one under it; near-limit mail via Postfix is delivered", async () => {
        const limit = SIZE_LIMIT + LMTP_SIZE_ALLOWANCE;
        assert.equal(dovecotExec(["doveconf", "-h", "quota_mail_size"]).stdout.trim(), String(limit));
        const big = `Subject: too big for LMTP\n\n${`${"z".repeat(75)}\n`.repeat(Math.ceil((limit + 10_000) / 76))}`;
        const refused = lmtp(carol.address, erin.address, big);
        assert.match(
            refused,
            /^< 451 4\.2\.0 <erin@example\.test> Mail size is larger than the maximum size allowed by server configuration/m,
            refused,
        );
        const small = `Subject: fits LMTP\n\n${`${"z".repeat(75)}\n`.repeat(4000)}`;
        const taken = lmtp(carol.address, erin.address, small);
        assert.match(taken, /^< 250 2\.0\.0 <erin@example\.test> \S+ Saved/m, taken);
        // The same limit holds for IMAP APPEND (e.g. a client saving a huge draft).
        const client = await imapClient(erin, "imaps", ca, PORTS);
        try {
            await assert.rejects(client.append("Drafts", Buffer.from(big.replace(/\n/g, "\r\n"))), (e: any) => {
                assert.match(
                    `${e.responseText ?? ""} ${e.message}`,
                    /Mail size is larger than the maximum size allowed by server configuration/,
                    JSON.stringify(e),
                );
                return true;
            });
        } finally {
            await client.logout();
        }
        // Through Postfix, a message just under message_size_limit must not meet a stricter Dovecot.
        // Postfix's limit counts the headers this server adds before queueing (its Received line,
        // rspamd's Authentication-Results and ARC set: about 3 KB), so the body leaves room for them.
        const subject = uniqueSubject("near the size limit");
        const r = send(carol.address, erin.address, subject, { body: bodyFile("near-limit.txt", SIZE_LIMIT - 8000) });
        assert.equal(r.status, 0, r.transcript);
        const source = await read(erin, subject);
        assert.ok(source.length > SIZE_LIMIT - 8000, `delivered whole (${source.length} bytes)`);
    });

    test("Sieve fileinto (raw script): the message lands in the folder, which is created and subscribed", async () => {
        const subject = uniqueSubject("[file] for the Filed folder");
        assert.equal(send(erin.address, bob.address, subject).status, 0);
        await read(bob, subject, "Filed");
        assert.equal((await messages(bob, subject)).length, 0, "not in INBOX");
        const client = await imapClient(bob, "imaps", ca, PORTS);
        try {
            assert.equal((await client.list()).find(b => b.path === "Filed")?.subscribed, true);
        } finally {
            await client.logout();
        }
    });

    test("Sieve redirect: the message arrives in another mailbox instead", async () => {
        const subject = uniqueSubject("[redirect] to carol");
        assert.equal(send(erin.address, bob.address, subject).status, 0);
        const source = await read(carol, subject);
        assert.match(source, /^To: bob@example\.test/m);
        await waitForLog(`${PREFIX}-dovecot`, /lmtp\(bob@example\.test\).*sieve: .*forwarded to <carol@example\.org>/);
        assert.equal((await messages(bob, subject)).length, 0);
    });

    test("Sieve reject: the sender gets the rejection with the script's reason", async () => {
        const subject = uniqueSubject("[reject] please");
        assert.equal(send(carol.address, bob.address, subject).status, 0);
        const rejection = await waitForMessage(carol, subject, /bob does not take \[reject\] mail/);
        assert.match(rejection, /^Subject: Rejected: /m);
        assert.equal((await messages(bob, subject)).length, 0);
    });

    test("Sieve discard: nothing is delivered; stop: later rules do not run", async () => {
        const discarded = uniqueSubject("[discard] me");
        const stopped = uniqueSubject("[stop] here");
        assert.equal(send(erin.address, bob.address, discarded).status, 0);
        assert.equal(send(erin.address, bob.address, stopped).status, 0);
        // stop: kept in INBOX by the implicit keep, never filed by the rule after stop.
        await read(bob, stopped);
        await waitForLog(`${PREFIX}-dovecot`, /lmtp\(bob@example\.test\).*sieve: .*discard action/);
        assert.equal((await messages(bob, discarded)).length, 0, "discarded");
        assert.equal((await messages(bob, stopped, "NotReached")).length, 0, "no rule after stop ran");
    });

    test("typed fileInto: a matching message is filed, others stay in INBOX", async () => {
        const filed = uniqueSubject("[newsletter] weekly");
        const kept = uniqueSubject("plain mail for alice");
        assert.equal(send(bob.address, alice.address, filed).status, 0);
        assert.equal(send(bob.address, alice.address, kept).status, 0);
        await read(alice, filed, "Newsletters");
        await read(alice, kept);
        assert.equal((await messages(alice, filed)).length, 0);
    });

    test("vacation: one reply per sender per period, with the given subject, from the mailbox", async () => {
        const subjects = [uniqueSubject("first for alice"), uniqueSubject("second for alice")];
        for (const s of subjects) assert.equal(send(carol.address, alice.address, s).status, 0);
        for (const s of subjects) await read(alice, s);
        const reply = await waitForMessage(carol, VACATION_SUBJECT, /Alice is away\./);
        assert.match(reply, /^From: .*alice@example\.test/m);
        assert.match(reply, /^Auto-Submitted: auto-replied/m);
        assert.match(reply, /^Return-Path: <>/m, "sent with the null sender, so it never bounces back");
        await sleep(5000);
        assert.equal((await messages(carol, VACATION_SUBJECT)).length, 1, "exactly one reply for two messages");
    });

    test("vacation: no reply to list mail, to the null sender or to MAILER-DAEMON", async () => {
        const list = uniqueSubject("list mail for alice");
        const nullSender = uniqueSubject("bounce-like mail for alice");
        const daemon = uniqueSubject("daemon mail for alice");
        const personal = uniqueSubject("personal mail for alice");
        assert.equal(
            send(erin.address, alice.address, list, {
                headers: [
                    "List-Id: <dev.lists.example.test>",
                    "Precedence: list",
                    "Message-Id: <list-1@sievetest.example>",
                ],
            }).status,
            0,
        );
        assert.equal(
            send("<>", alice.address, nullSender, {
                headers: ["From: erin@example.test", "Message-Id: <null-1@sievetest.example>"],
            }).status,
            0,
        );
        assert.equal(
            send("MAILER-DAEMON@example.test", alice.address, daemon, {
                headers: ["Message-Id: <daemon-1@sievetest.example>"],
            }).status,
            0,
        );
        for (const s of [list, nullSender, daemon]) await read(alice, s);
        // erin's own personal mail is answered: the list mail was not, so this is her first reply.
        assert.equal(
            send(erin.address, alice.address, personal, { headers: ["Message-Id: <personal-1@sievetest.example>"] })
                .status,
            0,
        );
        const reply = await waitForMessage(erin, VACATION_SUBJECT, /In-Reply-To: <personal-1@sievetest\.example>/);
        assert.ok(reply);
        await sleep(3000);
        const replies = await messages(erin, VACATION_SUBJECT);
        assert.equal(replies.length, 1, "one reply, to the personal mail only");
        // Dovecot says why it did not answer each of them.
        const logs = dockerLogs(`${PREFIX}-dovecot`);
        assert.match(
            logs,
            /lmtp\(alice@example\.test\).*msgid=<list-1@sievetest\.example>: vacation action: discarding vacation response to mailinglist recipient/,
        );
        assert.match(
            logs,
            /lmtp\(alice@example\.test\).*msgid=<null-1@sievetest\.example>: vacation action: discarded vacation reply to <>/,
        );
        assert.match(
            logs,
            /lmtp\(alice@example\.test\).*msgid=<daemon-1@sievetest\.example>: vacation action: discard/,
        );
        assert.doesNotMatch(logs, /msgid=<(list|null|daemon)-1@sievetest\.example>: vacation action: sent/);
    });

    test("vacation limits are Dovecot's sieve_vacation_*_period settings", () => {
        const values = ["sieve_vacation_min_period", "sieve_vacation_default_period", "sieve_vacation_max_period"].map(
            s => dovecotExec(["doveconf", "-h", s]).stdout.trim(),
        );
        assert.deepEqual(values, ["1h", "2d", "10d"]);
        // The names are real and Pigeonhole reads them: doveconf (which the config job runs)
        // refuses an unknown name and limits out of order, and accepts these.
        const check = (lines: string[]) =>
            dovecotExec(
                ["bash", "-c", "cat > /tmp/check.conf && doveconf -c /tmp/check.conf -n"],
                ["dovecot_config_version = 2.4.0", "dovecot_storage_version = 2.4.0", ...lines, ""].join("\n"),
            );
        const unknown = check(["sieve_vacation_minimum_period = 1h"]);
        assert.notEqual(unknown.status, 0);
        assert.match(unknown.stderr, /Unknown setting: sieve_vacation_minimum_period/);
        const disordered = check([
            "sieve_vacation_min_period = 10d",
            "sieve_vacation_default_period = 2d",
            "sieve_vacation_max_period = 30d",
        ]);
        assert.notEqual(disordered.status, 0);
        assert.match(
            disordered.stderr,
            /Violated sieve_vacation_min_period < sieve_vacation_default_period < sieve_vacation_max_period/,
        );
        const ours = check([
            "sieve_vacation_min_period = 1h",
            "sieve_vacation_default_period = 2d",
            "sieve_vacation_max_period = 10d",
        ]);
        assert.equal(ours.status, 0, ours.stderr);
    });

    test("ManageSieve on 4190 (STARTTLS): advertises Pigeonhole's extensions; an uploaded, activated script changes delivery", async () => {
        const greeting = await manageSieveGreeting();
        assert.match(greeting, /^"STARTTLS"/m);
        const caps = /^"SIEVE" "([^"]*)"/m.exec(greeting);
        assert.ok(caps, greeting);
        assert.deepEqual(
            caps[1].split(" ").sort(),
            SIEVE_EXTENSIONS.filter(e => !["comparator-i;octet", "comparator-i;ascii-casemap"].includes(e)).sort(),
            "SIEVE_EXTENSIONS matches what the server offers",
        );
        const script = tmp("managesieve.sieve");
        fs.writeFileSync(
            script,
            'require "fileinto";\nif header :contains "Subject" "[ms]" { fileinto "ViaManageSieve"; }\n',
        );
        // erin has no rules from the deployment; alice has (vacation, fileInto): both scripts run.
        for (const u of [erin, alice]) {
            const up = sieveConnect(u, ["--upload", "--localsieve", script, "--remotesieve", "mine"]);
            assert.equal(up.status, 0, up.output);
            const act = sieveConnect(u, ["--activate", "--remotesieve", "mine"]);
            assert.equal(act.status, 0, act.output);
            const listed = sieveConnect(u, ["--list"]);
            assert.match(listed.output, /^"mine" ACTIVE$/m, listed.output);
            const subject = uniqueSubject("[ms] via the uploaded script");
            assert.equal(send(bob.address, u.address, subject).status, 0);
            await read(u, subject, "ViaManageSieve");
        }
    });

    test("POP3 and POP3S, once turned on, serve mail to a real POP3 client (curl)", async () => {
        const config = stackConfig({
            "mailserver:imapPorts": {
                imap: PORTS.imap,
                imaps: PORTS.imaps,
                managesieve: PORTS.managesieve,
                pop3: PORTS.pop3,
                pop3s: PORTS.pop3s,
            },
        });
        const second = deploy(config);
        assert.ok(second.kept.includes(`${PREFIX}-dovecot`), `dovecot kept, reloaded: ${JSON.stringify(second)}`);
        waitForReload();
        const subject = uniqueSubject("for POP3");
        assert.equal(send(carol.address, frank.address, subject, { body: "fetched over POP3" }).status, 0);
        await read(frank, subject);
        const curl = (url: string, extra: string[] = []) =>
            spawnSync(
                "curl",
                [
                    "-sS",
                    "--max-time",
                    "20",
                    "--cacert",
                    ca,
                    "--resolve",
                    `mail.example.test:${PORTS.pop3}:${HOST}`,
                    "--resolve",
                    `mail.example.test:${PORTS.pop3s}:${HOST}`,
                    "-u",
                    `${frank.address}:${frank.password}`,
                    ...extra,
                    url,
                ],
                { encoding: "utf8" },
            );
        // The reload brings the listeners up within the entrypoint's poll; bounded wait.
        let r = curl(`pop3s://mail.example.test:${PORTS.pop3s}/1`);
        for (let i = 0; i < 20 && r.status !== 0; i++) {
            await sleep(1000);
            r = curl(`pop3s://mail.example.test:${PORTS.pop3s}/1`);
        }
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`Subject: ${subject}`));
        assert.match(r.stdout, /fetched over POP3/);
        const starttls = curl(`pop3://mail.example.test:${PORTS.pop3}/1`, ["--ssl-reqd"]);
        assert.equal(starttls.status, 0, starttls.stderr);
        assert.match(starttls.stdout, new RegExp(`Subject: ${subject}`));
    });

    test("a script that does not compile fails the deploy (sievec in the config job); Dovecot keeps the previous rules", async () => {
        const before = currentGeneration();
        const broken = `require "fileinto";\nif header :contains "Subject" "[file]" { fileinto "Filed" }\n`;
        assert.throws(
            () => deploy(stackConfig({}, broken)),
            (e: Error) => {
                assert.match(e.message, /deploy failed/);
                assert.match(
                    e.message,
                    /sievetest-dovecot-config: the configuration was rejected by the service's own checks/,
                );
                return true;
            },
        );
        const job = dockerLogs(`${PREFIX}-dovecot-config`);
        assert.match(job, /bob@example\.test: line 2: error: /, job);
        assert.match(job, /Sieve script bob@example\.test\.sieve does not compile/);
        assert.equal(currentGeneration(), before, "the running generation is unchanged");
        const subject = uniqueSubject("[file] after the failed deploy");
        assert.equal(send(erin.address, bob.address, subject).status, 0);
        await read(bob, subject, "Filed");
    });

    test("an unknown Sieve extension fails at preview, naming component, field, value and the accepted extensions", () => {
        const script = 'require "nonexistent";\nkeep;\n';
        assert.throws(
            () => deploy(stackConfig({}, script), false),
            (e: Error) => {
                assert.match(
                    e.message,
                    /VirtualDomain example\.test: mailboxes\[1\]\.sieveScript = "require \\"nonexistent\\"" is not accepted; expected only extensions .*: fileinto, reject, .*vacation/,
                );
                return true;
            },
        );
    });

    test("the logs hold no unexpected warnings or errors", () => {
        assertCleanLogs(PREFIX, {
            // the passwordHash scenario's wrong password, on purpose
            postfix: [
                /warning: localhost\[127\.0\.0\.1\]: SASL PLAIN authentication failed: /,
                /warning: SASL authentication failure: Password verification failed/,
            ],
            dovecot: [
                /^master: Warning: SIGHUP received - reloading configuration$/,
                // The over-limit LMTP scenario: the junk script (run on every delivery) cannot store it.
                /lmtp\(erin@example\.test\).*Error: sieve: .*failed to store into mailbox 'INBOX': Mail size is larger than the maximum size allowed/,
                /lmtp\(erin@example\.test\).*Error: sieve: Execution of script 'junk\/junk' failed with unsuccessful implicit keep/,
            ],
        });
    });
});
