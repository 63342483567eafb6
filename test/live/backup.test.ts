// The restore drill (issue 21): MailServer backup (images/backup, restic) deployed by the real
// engine (prefix backuptest, port base 29000, host mode on 127.0.0.1) against a real restic REST
// store running here (rclone's `serve restic`, Debian's rclone, on 127.0.0.1:29800 with HTTP basic
// authentication). Alice's mail in several folders with flags and a keyword, a ManageSieve script
// made active, a vacation reply's state, two messages held in Postfix's queue; a backup taken while
// mail is being delivered; then the stack, its containers and volumes removed; a new stack
// (restoretest, port base 32000) restored by the documented command, run as a user runs it in a
// copy of the repository (`npm run stack -- restore restoretest --from backuptest --snapshot <id>`:
// restore into new volumes, then up); then every message is there by Message-ID, in its folder
// with its flags, UIDVALIDITY and UIDs kept, the Sieve script active, the vacation state kept (no
// second reply to a sender already answered), the held messages delivered once released, and
// nothing sent after the backup. A backup against a store that refuses it fails loudly (its log,
// its status, an unhealthy container) and the next good one clears it. Prints the backup's and the
// restore's time and size.
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ImapFlow } from "imapflow";
import { SECRET_KEYS } from "../../stack/config";
import { caFile, docker, dockerLogs, imapClient, keepLogs, OUTSIDER, sieveConnect, smtp } from "./clients";
import { ARTIFACTS, copyWorkingTree, deploy, destroy, liveConfig, portsFrom, ROOT, stackVolumes, USERS } from "./stack";

const PREFIX = "backuptest";
const RESTORED = "restoretest";
const PORTS = portsFrom(29000);
const RESTORED_PORTS = portsFrom(32000);
const STORE_PORT = 29800;
const STORE_DIR = path.join(ARTIFACTS, "backup-store");
const STORE_USER = "drill";
const STORE_PASSWORD = "Store-Pass-29800";
const REPOSITORY_PASSWORD = "Repository-Pass-For-The-Drill";
/** The user's copy of the repository the restore command runs in (its own stacks/ and .local/). */
const COPY = `/var/tmp/restoredrill-${process.pid}`;
const alice = USERS.alice;

function config(prefix: string, portBase: number) {
    const base = liveConfig({}, prefix, portBase);
    const domains = (base["mailserver:domains"] as Array<Record<string, any>>).map(d =>
        d.domain === "example.test"
            ? {
                  ...d,
                  mailboxes: d.mailboxes.map((m: Record<string, unknown>) =>
                      m.address === "alice" ? { ...m, vacation: { subject: "Away", body: "Back soon.", days: 7 } } : m,
                  ),
              }
            : d,
    );
    return {
        ...base,
        "mailserver:domains": domains,
        "mailserver:backup": {
            enabled: true,
            repository: `rest:http://127.0.0.1:${STORE_PORT}/drill`,
            intervalMinutes: 1440,
            // Every run of the drill is on one day: keep.daily alone would keep only the last one,
            // and the drill restores an earlier one.
            keep: { last: 10 },
        },
        "mailserver:backupSecrets": {
            password: REPOSITORY_PASSWORD,
            restUsername: STORE_USER,
            restPassword: STORE_PASSWORD,
        },
    };
}

let store: ChildProcess | undefined;

/**
 * rclone's restic REST server on loopback, HTTP basic authentication from an htpasswd file; with
 * `refusing`, the drill's user has another password there, so every request is refused (401).
 */
async function startStore({ fresh = true, refusing = false } = {}): Promise<void> {
    if (fresh) fs.rmSync(STORE_DIR, { recursive: true, force: true });
    fs.mkdirSync(STORE_DIR, { recursive: true });
    // Apache MD5 (openssl passwd -apr1), which rclone's htpasswd reader accepts.
    const password = refusing ? `not-${STORE_PASSWORD}` : STORE_PASSWORD;
    const hash = spawnSync("openssl", ["passwd", "-apr1", "-stdin"], { input: password, encoding: "utf8" });
    assert.equal(hash.status, 0, hash.stderr);
    const htpasswd = path.join(ARTIFACTS, "backup-store.htpasswd");
    fs.writeFileSync(htpasswd, `${STORE_USER}:${hash.stdout.trim()}\n`, { mode: 0o600 });
    store = spawn(
        "rclone",
        ["serve", "restic", STORE_DIR, "--addr", `127.0.0.1:${STORE_PORT}`, "--htpasswd", htpasswd],
        {
            stdio: ["ignore", "ignore", "pipe"],
        },
    );
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
        const r = spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${STORE_PORT}/`]);
        if (String(r.stdout) === "401") return;
        await new Promise(r => setTimeout(r, 300));
    }
    throw new Error("rclone serve restic did not answer");
}

async function stopStore(): Promise<void> {
    const running = store;
    if (running === undefined || running.exitCode !== null) return;
    await new Promise(resolve => {
        running.once("exit", resolve);
        running.kill();
    });
}

/** `run-backup` in the backup container, now: its exit status and output. */
function runBackup(prefix: string): Promise<{ code: number | null; output: string }> {
    return new Promise(resolve => {
        const p = spawn("docker", ["exec", `${prefix}-backup`, "/usr/local/lib/mail/run-backup"], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        p.stdout.on("data", d => (output += d));
        p.stderr.on("data", d => (output += d));
        p.on("close", code => resolve({ code, output }));
    });
}

const health = (container: string) => docker(["inspect", "-f", "{{.State.Health.Status}}", container]);

/**
 * The repository as a user has it (tracked and untracked files, not ignored ones; node_modules
 * shared), with the restored stack's config file and its .local/ secrets files written as a user
 * writes them: the passwords, and the backup's secrets of the stack it restores.
 */
function userCopy(config: Record<string, unknown>): void {
    fs.rmSync(COPY, { recursive: true, force: true });
    const copy = copyWorkingTree(COPY);
    assert.equal(copy.status, 0, copy.stderr);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(COPY, "node_modules"));
    const plain = Object.fromEntries(Object.entries(config).filter(([k]) => !SECRET_KEYS.includes(k)));
    fs.writeFileSync(path.join(COPY, "stacks", `Pulumi.${RESTORED}.yaml`), JSON.stringify({ config: plain }, null, 2));
    fs.mkdirSync(path.join(COPY, ".local"), { mode: 0o700 });
    const passwords = Object.fromEntries(Object.values(USERS).map(u => [u.address, u.password]));
    const secrets = { password: REPOSITORY_PASSWORD, restUsername: STORE_USER, restPassword: STORE_PASSWORD };
    fs.writeFileSync(path.join(COPY, ".local", `${RESTORED}-passwords.json`), JSON.stringify(passwords), {
        mode: 0o600,
    });
    fs.writeFileSync(path.join(COPY, ".local", `${RESTORED}-backup-secrets.json`), JSON.stringify(secrets), {
        mode: 0o600,
    });
}

/** The store's size on disk, in bytes. */
const storeBytes = () => Number(spawnSync("du", ["-sb", STORE_DIR], { encoding: "utf8" }).stdout.split("\t")[0]);

interface Sent {
    messageId: string;
    subject: string;
}
let counter = 0;
function send(label: string, port = PORTS.smtp): Sent {
    const id = `<${label}-${++counter}-${Date.now()}@drill.example>`;
    const subject = `${label} ${counter}`;
    const r = smtp({
        port,
        source: OUTSIDER,
        from: "friend@sender.example",
        to: alice.address,
        subject,
        // Replaces swaks's own Message-Id header (a second one would be spam: MULTIPLE_UNIQUE_HEADERS).
        headers: [`Message-Id: ${id}`],
        body: `${label} body ${counter}\n${"x".repeat(200)}`,
    });
    assert.equal(r.status, 0, `sending ${subject}: ${r.transcript.slice(-800)}`);
    return { messageId: id, subject };
}

interface Seen {
    folder: string;
    uid: number;
    flags: string[];
}
/** Every message of alice's by Message-ID: folder, UID, flags; and each folder's UIDVALIDITY. */
async function inventory(client: ImapFlow) {
    const messages = new Map<string, Seen[]>();
    const validity: Record<string, string> = {};
    for (const box of await client.list()) {
        if (box.flags.has("\\Noselect") || box.flags.has("\\NonExistent")) continue;
        const lock = await client.getMailboxLock(box.path);
        try {
            validity[box.path] = String((client.mailbox as { uidValidity: bigint }).uidValidity);
            for await (const m of client.fetch("1:*", { uid: true, flags: true, envelope: true }, { uid: false })) {
                const id = m.envelope?.messageId ?? "";
                const list = messages.get(id) ?? [];
                // \Recent is a session's, not the message's: the first session to see a message gets it.
                const flags = [...(m.flags ?? [])].filter(f => f !== "\\Recent").sort();
                list.push({ folder: box.path, uid: m.uid, flags });
                messages.set(id, list);
            }
        } catch (e) {
            if (!String(e).includes("Nothing to fetch")) throw e;
        } finally {
            lock.release();
        }
    }
    return { messages, validity };
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (await check()) return;
        await new Promise(r => setTimeout(r, 500));
    }
    throw new Error(`timed out waiting for ${what}`);
}

const queueIds = (prefix: string) =>
    docker(["exec", `${prefix}-postfix`, "sh", "-c", "postqueue -j || true"])
        .split("\n")
        .filter(Boolean)
        .map(l => JSON.parse(l) as { queue_id: string; queue_name: string });

describe("backup and the restore drill, live", () => {
    let ca: string;
    let snapshotState: Awaited<ReturnType<typeof inventory>>;
    const kept: Sent[] = [];
    const during: Sent[] = [];
    const afterBackup: Sent[] = [];
    const held: Sent[] = [];
    let sieveScript = "";
    /** The snapshot the drill restores: the last one before the messages sent "after" the backup. */
    let drillSnapshot = "";

    before(async () => {
        destroy(PREFIX);
        destroy(RESTORED);
        await startStore();
        const r = deploy(config(PREFIX, 29000));
        ca = caFile(r.outputs.certificatePem, PREFIX);
    });
    after(() => {
        keepLogs(PREFIX, ["backup", "postfix", "dovecot"]);
        keepLogs(RESTORED, ["postfix", "dovecot"]);
        destroy(PREFIX);
        destroy(RESTORED);
        store?.kill();
        spawnSync("docker", ["rmi", "-f", `mailserver-backup:restore-${RESTORED}`]);
        fs.rmSync(STORE_DIR, { recursive: true, force: true });
        fs.rmSync(COPY, { recursive: true, force: true });
    });

    test("the backup container is healthy, hardened, and its first backup is in the store", async () => {
        const backup = `${PREFIX}-backup`;
        await waitFor(
            "the first backup",
            () => docker(["exec", backup, "cat", "/staging/status"]).includes("result=ok"),
            120_000,
        );
        assert.equal(docker(["inspect", "-f", "{{.State.Health.Status}}", backup]), "healthy");
        assert.equal(docker(["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", backup]), "true");
        // No secret in its environment or command line.
        const inspect = docker(["inspect", backup]);
        for (const secret of [REPOSITORY_PASSWORD, STORE_PASSWORD]) assert.ok(!inspect.includes(secret));
        assert.ok(fs.readdirSync(path.join(STORE_DIR, "drill", "snapshots")).length >= 1);
    });

    test("mail in folders with flags, a Sieve script, vacation state, held queue; a backup while mail arrives", async () => {
        for (let i = 0; i < 6; i++) kept.push(send("kept"));
        const client = await imapClient(alice, "imaps", ca, PORTS);
        try {
            await waitFor(
                `six messages (queue: ${JSON.stringify(queueIds(PREFIX))})`,
                async () =>
                    ((await client.status("INBOX", { messages: true })) as { messages?: number }).messages! >= 6,
            );
            // The vacation state the backup must keep: alice's reply to the first sender was sent once.
            const dovecotLog = dockerLogs(`${PREFIX}-dovecot`);
            assert.match(dovecotLog, /vacation action: sent vacation response to <friend@sender\.example>/);
            await client.mailboxCreate("Projects");
            await client.mailboxCreate("Archive/2026");
            const lock = await client.getMailboxLock("INBOX");
            try {
                await client.messageFlagsAdd({ header: { "message-id": kept[0].messageId } }, ["\\Seen"]);
                await client.messageFlagsAdd({ header: { "message-id": kept[1].messageId } }, [
                    "\\Flagged",
                    "$Important",
                ]);
                await client.messageMove({ header: { "message-id": kept[2].messageId } }, "Projects");
                await client.messageMove({ header: { "message-id": kept[3].messageId } }, "Archive/2026");
            } finally {
                lock.release();
            }
            const projects = await client.getMailboxLock("Projects");
            try {
                await client.messageFlagsAdd("1:*", ["\\Seen", "\\Answered"]);
            } finally {
                projects.release();
            }
        } finally {
            await client.logout();
        }
        // A Sieve script of alice's own, made active over ManageSieve.
        sieveScript = 'require ["fileinto"];\nif header :contains "subject" "drill-sieve" { fileinto "Projects"; }\n';
        const file = path.join(ARTIFACTS, `${PREFIX}-drill.sieve`);
        fs.writeFileSync(file, sieveScript);
        const server = { port: PORTS.managesieve, ca, servername: "mail.example.test" };
        const up = sieveConnect(alice, ["--upload", "--localsieve", file, "--remotesieve", "drill"], server);
        assert.equal(up.status, 0, up.output);
        const on = sieveConnect(alice, ["--activate", "--remotesieve", "drill"], server);
        assert.equal(on.status, 0, on.output);
        // Two messages in Postfix's queue: with Dovecot stopped, LMTP defers them (and Postfix retries only
        // after minutes, so they are still queued when the backup runs).
        docker(["stop", `${PREFIX}-dovecot`]);
        held.push(send("held"), send("held"));
        await waitFor(
            "two deferred messages",
            () => queueIds(PREFIX).filter(q => q.queue_name === "deferred").length === 2,
        );
        docker(["start", `${PREFIX}-dovecot`]);
        await waitFor(
            "dovecot healthy",
            () => docker(["inspect", "-f", "{{.State.Health.Status}}", `${PREFIX}-dovecot`]) === "healthy",
            60_000,
        );

        const client2 = await imapClient(alice, "imaps", ca, PORTS);
        try {
            snapshotState = await inventory(client2);
        } finally {
            await client2.logout();
        }
        // What the drill compares must be there to compare: folders, flags and a keyword.
        const at = (m: Sent) => snapshotState.messages.get(m.messageId);
        assert.deepEqual(at(kept[1]), [
            { folder: "INBOX", uid: at(kept[1])![0].uid, flags: ["$Important", "\\Flagged"] },
        ]);
        assert.deepEqual(
            at(kept[2])?.map(x => [x.folder, x.flags]),
            [["Projects", ["\\Answered", "\\Seen"]]],
        );
        assert.deepEqual(
            at(kept[3])?.map(x => x.folder),
            ["Archive/2026"],
        );
        assert.ok(Object.keys(snapshotState.validity).length >= 3);
        // The backup, while mail keeps arriving.
        const sizeBefore = storeBytes();
        const started = Date.now();
        const backupRun = runBackup(PREFIX).then(r => {
            if (r.code !== 0) throw new Error(`run-backup exited ${r.code}:\n${r.output}`);
            return r.output;
        });
        let done = false;
        void backupRun.then(
            () => (done = true),
            () => (done = true),
        );
        while (!done && during.length < 40) {
            during.push(send("during"));
            await new Promise(r => setImmediate(r));
        }
        const log = await backupRun;
        const seconds = (Date.now() - started) / 1000;
        console.log(
            `backup: ${seconds.toFixed(1)} s, store ${sizeBefore} -> ${storeBytes()} bytes, ${during.length} messages sent meanwhile\n${log}`,
        );
        assert.match(log, /snapshot [0-9a-f]+ saved/);
        // The mail's hard-link snapshot is gone once restic read it.
        assert.equal(
            docker([
                "exec",
                `${PREFIX}-backup`,
                "sh",
                "-c",
                "ls -A /var/mail/vhosts | grep -c backup-snapshot || true",
            ]),
            "0",
        );
        // Incremental: a second backup right after reads again only what changed (a few new messages).
        const second = await runBackup(PREFIX);
        assert.equal(second.code, 0, second.output);
        const again = second.output;
        drillSnapshot = /snapshot ([0-9a-f]+) saved/.exec(again)?.[1] ?? assert.fail(again);
        const files = /Files:\s+(\d+) new,\s+(\d+) changed,\s+(\d+) unmodified/.exec(again);
        assert.ok(files, again);
        console.log(`second backup: ${files[0]}`);
        assert.ok(Number(files[3]) > Number(files[1]) + Number(files[2]), `not incremental: ${files[0]}`);
        for (let i = 0; i < 3; i++) afterBackup.push(send("after"));
    });

    test("a backup the store refuses is loud: the log, the status, an unhealthy container; the next good one clears it", async () => {
        const backup = `${PREFIX}-backup`;
        await stopStore();
        await startStore({ fresh: false, refusing: true });
        try {
            const refused = await runBackup(PREFIX);
            assert.equal(refused.code, 1, refused.output);
            assert.match(refused.output, /^BACKUP FAILED \(rest:http:\/\/127\.0\.0\.1:29800\/drill\): /m);
            assert.ok(!refused.output.includes(STORE_PASSWORD), "the store's password in the output");
            assert.match(docker(["exec", backup, "cat", "/staging/status"]), /^result=failed$/m);
            await waitFor("the backup container unhealthy", () => health(backup) === "unhealthy", 90_000);
            assert.match(dockerLogs(backup), /BACKUP FAILED/);
        } finally {
            await stopStore();
            await startStore({ fresh: false });
        }
        const good = await runBackup(PREFIX);
        assert.equal(good.code, 0, good.output);
        await waitFor("the backup container healthy again", () => health(backup) === "healthy", 90_000);
    });

    test("the stack, its containers and volumes removed; a new stack restored from the backup by `npm run stack -- restore`", async () => {
        keepLogs(PREFIX, ["backup", "postfix", "dovecot", "rspamd"]);
        destroy(PREFIX);
        assert.deepEqual(stackVolumes(PREFIX), []);
        userCopy(config(RESTORED, 32000));
        const started = Date.now();
        const r = spawnSync(
            "npm",
            ["run", "--silent", "stack", "--", "restore", RESTORED, "--from", PREFIX, "--snapshot", drillSnapshot],
            {
                cwd: COPY,
                encoding: "utf8",
                maxBuffer: 64 << 20,
                timeout: 15 * 60 * 1000,
            },
        );
        fs.writeFileSync(path.join(ARTIFACTS, `restore-${RESTORED}.log`), `${r.stdout}\n${r.stderr}`);
        assert.equal(r.status, 0, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
        const restored = /restore: (\S+)'s snapshot (\S+) restored into (\S+)'s volumes in ([\d.]+) s/.exec(r.stdout);
        assert.ok(restored, r.stdout.slice(-3000));
        assert.deepEqual(restored.slice(1, 4), [PREFIX, drillSnapshot, RESTORED]);
        // The restore's own lines: what it restored into which volume, and how much.
        console.log(
            r.stdout
                .split("\n")
                .filter(l => l.startsWith("restore: "))
                .join("\n"),
        );
        console.log(
            `restore: ${restored[4]} s into the volumes; with the new stack's up ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        ca = path.join(COPY, ".local", `${RESTORED}-certificate.pem`);
        assert.ok(fs.existsSync(ca), "the restored stack's certificate");
    });

    test("every message by Message-ID in its folder with its flags, UIDVALIDITY and UIDs kept; nothing after the backup", async () => {
        const client = await imapClient(alice, "imaps", ca, RESTORED_PORTS);
        let now: Awaited<ReturnType<typeof inventory>>;
        try {
            now = await inventory(client);
        } finally {
            await client.logout();
        }
        for (const [folder, validity] of Object.entries(snapshotState.validity))
            assert.equal(now.validity[folder], validity, `UIDVALIDITY of ${folder}`);
        for (const [id, seen] of snapshotState.messages) assert.deepEqual(now.messages.get(id), seen, `message ${id}`);
        for (const m of afterBackup)
            assert.ok(!now.messages.has(m.messageId), `${m.subject} was sent after the backup`);
        const known = new Set([...kept, ...during, ...held, ...afterBackup].map(m => m.messageId));
        for (const id of now.messages.keys())
            if (id.includes("@drill.example")) assert.ok(known.has(id), `invented: ${id}`);
        const restoredDuring = during.filter(m => now.messages.has(m.messageId)).length;
        const duplicates = [...now.messages.values()].filter(l => l.length > 1).length;
        console.log(
            `restored: ${restoredDuring} of ${during.length} messages sent during the backup; ${duplicates} duplicated`,
        );
    });

    test("the vacation state is kept: no second reply to a sender already answered", async () => {
        const again = send("vacation-after-restore", RESTORED_PORTS.smtp);
        const id = again.messageId.replace(/[<>]/g, "").replace(/\./g, "\\.");
        await waitFor("alice's vacation rule ran on the new message", () =>
            new RegExp(`msgid=<${id}>: vacation action`).test(dockerLogs(`${RESTORED}-dovecot`)),
        );
        const log = dockerLogs(`${RESTORED}-dovecot`);
        assert.match(
            log,
            new RegExp(
                `msgid=<${id}>: vacation action: discarded duplicate vacation response to <friend@sender\\.example>`,
            ),
        );
    });

    test("the Sieve script is active and the queued messages are delivered", async () => {
        const server = { port: RESTORED_PORTS.managesieve, ca, servername: "mail.example.test" };
        const list = sieveConnect(alice, ["--list"], server);
        assert.match(list.output, /drill\s+<-\s*active|drill.*ACTIVE/i);
        docker(["exec", `${RESTORED}-postfix`, "postqueue", "-f"]);
        const client = await imapClient(alice, "imaps", ca, RESTORED_PORTS);
        try {
            await waitFor("the held messages", async () => {
                const { messages } = await inventory(client);
                return held.every(m => (messages.get(m.messageId) ?? []).length === 1);
            });
        } finally {
            await client.logout();
        }
    });
});
