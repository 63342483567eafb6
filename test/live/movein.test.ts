// Moving in (issue 21): a source IMAP server (a second Dovecot, started here from the stack's own
// Dovecot image with a configuration of its own: host network, IMAPS on 127.0.0.91:32644 with a
// certificate of a CA made here, which the plan gives as source.caPem and Dovecot verifies) holds
// 500 messages in three folders with flags and keywords; `npm run move-in`'s moveIn() copies
// alice's mailbox into the stack; both sides are compared over IMAP (folders, Message-IDs, flags).
// Then 20 messages arrive at the source and a flag changes: a second run copies only those (the
// first 500 keep their UIDs and files here) and applies the flag. Last, after the switch-over (a
// message delivered here), a run with --final (one-way sync) brings the source's last message and
// keeps the one that arrived here.
// Stacks: movein (port base 32500: 32525, 33087, 32965, 32643, 33493, 32690), moveinsrc (the source).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ImapFlow } from "imapflow";
import { caFile, fetchBySubject, imapClient, smtp, uniqueSubject } from "./clients";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom, stackContainers, USERS } from "./stack";
import { moveIn } from "../../scripts/move-in";
import { readMoveInPlan } from "../../scripts/lib/move-in";
import { importDms, stackConfig } from "../../scripts/lib/dms-import";
import { encrypt } from "unixcrypt";

const PREFIX = "movein";
const SOURCE = "moveinsrc";
const PORTS = portsFrom(32500);
const SOURCE_HOST = "127.0.0.91";
const SOURCE_PORT = 32644;
const SOURCE_LOGIN = { user: "alice.old", password: "alice-Source-Password-1" };
const FOLDERS: Array<[string, number]> = [
    ["INBOX", 300],
    ["Archive/2024", 150],
    ["Projects", 50],
];
const { alice } = USERS;
/** A docker-mailserver account moved in with its hash (npm run import-dms): nobody resets its password. */
const DMS_USER = { address: "dana@example.test", password: "dana-Old-DMS-Password-1" };
const report = (line: string) => process.stdout.write(`# ${line}\n`);
const SOURCE_DIR = path.join(ARTIFACTS, "moveinsrc");

/** A Dovecot 2.4 of its own: one user in a passwd-file, Maildir on the container's disk, IMAPS only. */
const SOURCE_CONF = `dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap
listen = ${SOURCE_HOST}
base_dir = /tmp/source-run
log_path = /dev/stderr
info_log_path = /dev/stdout
ssl = required
ssl_server_cert_file = /source/cert.pem
ssl_server_key_file = /source/key.pem
auth_mechanisms = plain login
passdb passwd-file {
  passwd_file_path = /source/passwd
}
userdb static {
  fields {
    uid = vmail
    gid = vmail
    home = /tmp/source-mail/%{user}
  }
}
mail_driver = maildir
mail_path = ~/Maildir
first_valid_uid = 5000
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = ${SOURCE_PORT}
  }
}
`;

function docker(args: string[]) {
    const r = spawnSync("docker", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`docker ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
}

async function sourceClient(): Promise<ImapFlow> {
    const client = new ImapFlow({
        host: SOURCE_HOST,
        port: SOURCE_PORT,
        secure: true,
        tls: { ca: fs.readFileSync(path.join(SOURCE_DIR, "ca.pem"), "utf8") },
        auth: { user: SOURCE_LOGIN.user, pass: SOURCE_LOGIN.password },
        logger: false,
    });
    await client.connect();
    return client;
}

function message(folder: string, i: number): string {
    return [
        `From: sender${i % 7}@elsewhere.example`,
        `To: ${alice.address}`,
        `Subject: ${folder} message ${i}`,
        `Date: ${new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toUTCString()}`,
        `Message-ID: <${folder.replace("/", ".")}-${i}@source.example>`,
        "",
        `Body of ${folder} message ${i}.`,
        "",
    ].join("\r\n");
}

/** Flags of the i-th message: every 2nd read, every 5th flagged, every 7th with a keyword. */
const flagsOf = (i: number) => [
    ...(i % 2 === 0 ? ["\\Seen"] : []),
    ...(i % 5 === 0 ? ["\\Flagged"] : []),
    ...(i % 7 === 0 ? ["$Label1"] : []),
];

async function fill(client: ImapFlow, folder: string, from: number, to: number) {
    if (folder !== "INBOX") await client.mailboxCreate(folder).catch(() => undefined);
    for (let i = from; i < to; i++) await client.append(folder, message(folder, i), flagsOf(i));
}

/** Folder -> Message-ID -> { uid, sorted flags } of one side. */
async function snapshot(client: ImapFlow, folders: string[]) {
    const out: Record<string, Record<string, { uid: number; flags: string[] }>> = {};
    for (const folder of folders) {
        out[folder] = {};
        const lock = await client.getMailboxLock(folder);
        try {
            for await (const m of client.fetch("1:*", { envelope: true, flags: true, uid: true })) {
                const flags = [...(m.flags ?? [])].filter(f => f !== "\\Recent").sort();
                out[folder][m.envelope?.messageId ?? `uid ${m.uid}`] = { uid: m.uid, flags };
            }
        } catch (e) {
            if (!/empty|Nothing/i.test(String(e))) throw e;
        } finally {
            lock.release();
        }
    }
    return out;
}

const flagsOnly = (s: Awaited<ReturnType<typeof snapshot>>) =>
    Object.fromEntries(
        Object.entries(s).map(([f, msgs]) => [
            f,
            Object.fromEntries(Object.entries(msgs).map(([id, m]) => [id, m.flags.join(" ")])),
        ]),
    );

/** The message files of alice's INBOX here (Maildir), by their unique part (the flags after ":2," set aside). */
function inboxFiles(): Set<string> {
    const dir = "/var/mail/vhosts/example.test/alice/Maildir";
    const out = docker(["exec", dovecot, "sh", "-c", `ls -1 ${dir}/cur ${dir}/new | grep -v ':$' || true`]);
    return new Set(
        out
            .split("\n")
            .filter(l => l.trim() !== "")
            .map(l => l.replace(/:2,.*$/, "")),
    );
}

let ca: string;
let dovecot: string;
let planFile: string;

before(() => {
    destroy(PREFIX);
    destroy(SOURCE);
    // A mailbox imported from docker-mailserver's postfix-accounts.cf (doveadm pw -s SHA512-CRYPT:
    // 5000 rounds), hash kept: its old password must still log in.
    const dms = importDms({
        "postfix-accounts.cf": `${DMS_USER.address}|{SHA512-CRYPT}${encrypt(DMS_USER.password, "$6$dmsSaltDmsSalt1")}\n`,
    });
    const base = liveConfig({ "mailserver:dns": "none" }, PREFIX, 32500);
    const imported = stackConfig(dms, "mail.example.test")["mailserver:domains"] as Array<{ mailboxes: unknown[] }>;
    const domains = (base["mailserver:domains"] as Array<{ domain: string; mailboxes: unknown[] }>).map(d =>
        d.domain === "example.test" ? { ...d, mailboxes: [...d.mailboxes, ...imported[0].mailboxes] } : d,
    );
    const r = deploy({ ...base, "mailserver:domains": domains, "mailserver:passwordHashes": dms.passwordHashes });
    ca = caFile(r.outputs.certificatePem, PREFIX);
    dovecot = r.outputs.dovecotContainer;
    // The source: the stack's own Dovecot image (its entrypoint skipped), with the configuration above.
    fs.rmSync(SOURCE_DIR, { recursive: true, force: true });
    fs.mkdirSync(SOURCE_DIR, { recursive: true });
    fs.writeFileSync(path.join(SOURCE_DIR, "dovecot.conf"), SOURCE_CONF);
    fs.writeFileSync(path.join(SOURCE_DIR, "passwd"), `${SOURCE_LOGIN.user}:{PLAIN}${SOURCE_LOGIN.password}\n`);
    // The source's certificate, for its IP address, from a CA of the test's own (not in any system store).
    const openssl = (args: string[]) => {
        const r = spawnSync("openssl", args, { cwd: SOURCE_DIR, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
    };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl([
        "req",
        "-x509",
        ...ec,
        "-days",
        "2",
        "-subj",
        "/CN=move-in test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(["req", ...ec, "-subj", "/CN=imap.old.test", "-keyout", "key.pem", "-out", "source.csr"]);
    fs.writeFileSync(path.join(SOURCE_DIR, "san.cnf"), `subjectAltName = IP:${SOURCE_HOST}\n`);
    const signed = ["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.cnf"];
    openssl(["x509", "-req", "-in", "source.csr", ...signed, "-out", "cert.pem"]);
    const image = docker(["inspect", "--format", "{{.Config.Image}}", dovecot]);
    docker([
        "run", "-d", "--name", `${SOURCE}-dovecot`, "--label", `mailserver.stack=${SOURCE}`, "--network", "host",
        "-v", `${SOURCE_DIR}:/source:ro`, "--entrypoint", "dovecot", image, "-F", "-c", "/source/dovecot.conf",
    ]); // prettier-ignore
    planFile = path.join(ARTIFACTS, "movein-plan.json");
    fs.writeFileSync(
        planFile,
        JSON.stringify({
            source: {
                host: SOURCE_HOST,
                port: SOURCE_PORT,
                tls: "imaps",
                caPem: fs.readFileSync(path.join(SOURCE_DIR, "ca.pem"), "utf8"),
            },
            mailboxes: [{ address: alice.address, login: SOURCE_LOGIN.user, password: SOURCE_LOGIN.password }],
        }),
        { mode: 0o600 },
    );
});

after(() => {
    for (const id of stackContainers(SOURCE)) spawnSync("docker", ["rm", "-f", id]);
    destroy(SOURCE);
    destroy(PREFIX);
    fs.rmSync(planFile, { force: true });
    fs.rmSync(SOURCE_DIR, { recursive: true, force: true });
});

describe("moving in from docker-mailserver: the imported hash", () => {
    test("an account imported with its SHA512-CRYPT hash logs in with its old password (IMAP and SMTP AUTH)", async () => {
        const client = await imapClient(DMS_USER, "imaps", ca, PORTS);
        await client.logout();
        const r = smtp({
            port: PORTS.submission,
            tls: "starttls",
            ca,
            auth: DMS_USER,
            from: DMS_USER.address,
            // Not to alice: her mailbox here must hold nothing of its own before the first copy.
            to: USERS.bob.address,
            subject: uniqueSubject("from dana"),
        });
        assert.equal(r.status, 0, r.transcript);
        const wrong = smtp({
            port: PORTS.submission,
            tls: "starttls",
            ca,
            auth: DMS_USER,
            password: "not-her-password-1",
            quitAfter: "AUTH",
        });
        assert.notEqual(wrong.status, 0, "a wrong password is refused");
    });
});

describe("moving in from another IMAP server", () => {
    let first: Awaited<ReturnType<typeof snapshot>>;
    const folders = FOLDERS.map(([f]) => f);

    test("500 messages in three folders, with flags and keywords, are copied; both sides agree", async () => {
        let source: ImapFlow | undefined;
        for (let attempt = 0; !source && attempt < 40; attempt++)
            source = await sourceClient().catch(async () => {
                await new Promise(r => setTimeout(r, 250));
                return undefined;
            });
        assert.ok(source, "the source Dovecot answers");
        const t0 = Date.now();
        for (const [folder, count] of FOLDERS) await fill(source, folder, 0, count);
        report(`source filled with 500 messages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        const before = await snapshot(source, folders);
        await source.logout();
        assert.equal(
            Object.values(before).reduce((n, m) => n + Object.keys(m).length, 0),
            500,
        );

        // Without the plan's CA the source's certificate is not trusted: nothing is copied.
        const { caPem: _, ...untrusted } = JSON.parse(fs.readFileSync(planFile, "utf8")).source;
        const refused = moveIn(
            dovecot,
            readMoveInPlan({ ...JSON.parse(fs.readFileSync(planFile, "utf8")), source: untrusted }),
            false,
        );
        assert.ok(!refused[0].ok, refused[0].output);
        assert.match(refused[0].output, /Received invalid SSL certificate: unable to get local issuer certificate/);
        report(`without caPem: refused (${refused[0].output.split("\n").find(l => /certificate|SSL/i.test(l))})`);

        const results = moveIn(dovecot, readMoveInPlan(JSON.parse(fs.readFileSync(planFile, "utf8"))), false);
        report(`first run: ${results.map(r => `${r.address} ${r.ok ? "ok" : "FAILED"} ${r.seconds.toFixed(1)} s`)}`);
        assert.ok(
            results.every(r => r.ok),
            results.map(r => r.output).join("\n"),
        );

        const here = await imapClient(alice, "imaps", ca, PORTS);
        try {
            const listed = (await here.list()).map(m => m.path);
            for (const f of folders) assert.ok(listed.includes(f), `${f} in ${listed.join(", ")}`);
            first = await snapshot(here, folders);
        } finally {
            await here.logout();
        }
        assert.deepEqual(flagsOnly(first), flagsOnly(before));
    });

    test("a second run after 20 new messages and a flag change copies only those", async () => {
        const source = await sourceClient();
        await fill(source, "INBOX", 300, 320);
        const lock = await source.getMailboxLock("INBOX");
        try {
            // Message 1 (unread, unflagged) is read and flagged at the source.
            const found = await source.search({ header: { "message-id": "<INBOX-1@source.example>" } }, { uid: true });
            assert.ok(found && found.length === 1, "message 1 at the source");
            const uid = found[0];
            await source.messageFlagsAdd(String(uid), ["\\Seen", "\\Flagged"], { uid: true });
        } finally {
            lock.release();
        }
        const changed = await snapshot(source, folders);
        await source.logout();
        const filesBefore = inboxFiles();
        assert.equal(filesBefore.size, 300);

        const results = moveIn(dovecot, readMoveInPlan(JSON.parse(fs.readFileSync(planFile, "utf8"))), false);
        report(`second run: ${results.map(r => `${r.address} ${r.ok ? "ok" : "FAILED"} ${r.seconds.toFixed(1)} s`)}`);
        assert.ok(
            results.every(r => r.ok),
            results.map(r => r.output).join("\n"),
        );

        const here = await imapClient(alice, "imaps", ca, PORTS);
        let second: Awaited<ReturnType<typeof snapshot>>;
        try {
            second = await snapshot(here, folders);
        } finally {
            await here.logout();
        }
        assert.deepEqual(flagsOnly(second), flagsOnly(changed));
        assert.equal(Object.keys(second.INBOX).length, 320);
        // The first 500 kept their UIDs here (not copied again); the new ones came after them.
        for (const f of folders)
            for (const [id, m] of Object.entries(first[f])) assert.equal(second[f][id].uid, m.uid, `${f} ${id}`);
        const maxFirst = Math.max(...Object.values(first.INBOX).map(m => m.uid));
        const news = Object.entries(second.INBOX).filter(([id]) => !(id in first.INBOX));
        assert.equal(news.length, 20);
        assert.ok(news.every(([, m]) => m.uid > maxFirst));
        assert.equal(second.INBOX["<INBOX-1@source.example>"].flags.join(" "), "\\Flagged \\Seen");
        // Not copied again: the 300 files of the first run are still there, and only 20 were added.
        const filesAfter = inboxFiles();
        assert.deepEqual(
            [...filesBefore].filter(f => !filesAfter.has(f)),
            [],
        );
        assert.equal(filesAfter.size, 320);
    });

    test("after the switch-over, --final brings the source's last message and keeps what arrived here", async () => {
        // Mail now arrives here (the MX points to the stack) ...
        const subject = uniqueSubject("arrived here");
        const r = smtp({ port: PORTS.smtp, from: "someone@elsewhere.example", to: alice.address, subject });
        assert.equal(r.status, 0, r.transcript);
        await fetchBySubject(alice, subject, "imaps", ca, "INBOX", 30_000, PORTS);
        // ... while one last message reached the old server.
        const source = await sourceClient();
        await fill(source, "INBOX", 320, 321);
        await source.logout();

        const results = moveIn(dovecot, readMoveInPlan(JSON.parse(fs.readFileSync(planFile, "utf8"))), true);
        report(`final run: ${results.map(r => `${r.address} ${r.ok ? "ok" : "FAILED"} ${r.seconds.toFixed(1)} s`)}`);
        assert.ok(
            results.every(r => r.ok),
            results.map(r => r.output).join("\n"),
        );
        const here = await imapClient(alice, "imaps", ca, PORTS);
        try {
            const inbox = (await snapshot(here, ["INBOX"])).INBOX;
            assert.ok("<INBOX-320@source.example>" in inbox, "the source's last message");
            const lock = await here.getMailboxLock("INBOX");
            try {
                const kept = await here.search({ subject }, { uid: true });
                assert.ok(kept && kept.length === 1, "the message that arrived here is kept");
            } finally {
                lock.release();
            }
            assert.equal(Object.keys(inbox).length, 322);
        } finally {
            await here.logout();
        }
    });
});
