// MailServer backup against each kind of repository a user may already have (issue 21), deployed
// by the real engine (prefix bkstore, port base 52000, host mode on 127.0.0.1): the stack's own
// repository volume, then SFTP (a real sshd on 127.0.0.1:52822, key login, host key pinned), then
// S3 (moto's server on 127.0.0.1:52800, signed requests by an IAM user's key only). One stack whose
// backup.repository changes between steps: each change is a new configuration generation (the
// backup's config job), never a new backup container. For each store: a backup runs, its status
// says result=ok, the snapshot is in the store (listed by restic and seen on the store's side),
// a message restores from it byte for byte (restic dump), and no secret is in `docker inspect` of
// the backup container or in its log; from SFTP and S3 the snapshot also restores into another
// stack's new volumes (scripts/lib/restore.ts, what `npm run stack -- restore` runs, never deployed
// here: the drill, backup.test.ts, does that). An SFTP server presenting another host key is refused loudly.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Validator } from "../../components/model/validator";
import { BACKUP_OPTIONS } from "../../components/options/backup";
import { readOptions } from "../../components/options/declare";
import { backupSpecOf } from "../../components/services/backup";
import { RestoreRequest, restoreIntoVolumes } from "../../scripts/lib/restore";
import { docker, dockerLogs, keepLogs, OUTSIDER, smtp } from "./clients";
import { deploy, DeployResult, destroy, liveConfig, portsFrom, USERS } from "./stack";
import { S3Store, SftpStore, startS3Store, startSftpStore } from "./stores";

const PREFIX = "bkstore";
const PORTS = portsFrom(52000);
const SFTP_PORT = 52822;
const S3_PORT = 52800;
const BUCKET = "bkstore-backups";
// Where sshd's files and its chroot live (see startSftpStore: a root-only path).
const SFTP_DIR = "/run/bkstore-sftp";
const REPOSITORY_PASSWORD = "Bkstore-Repository-Pass-52000";
const BACKUP = `${PREFIX}-backup`;
/** The stack a backup is restored into (its volumes only: scripts/lib/restore.ts, never deployed). */
const RESTORED = "bkstorer";
const LIB = "/usr/local/lib/mail";

let sftp: SftpStore | undefined;
let s3: S3Store | undefined;

function config(backup: Record<string, unknown>, secrets: Record<string, string> = {}) {
    return liveConfig(
        {
            // Only the queue and the mail are backed up then: the stores are what this suite is about.
            "mailserver:spamFilter": { enabled: false },
            "mailserver:backup": { enabled: true, intervalMinutes: 1440, ...backup },
            "mailserver:backupSecrets": { password: REPOSITORY_PASSWORD, ...secrets },
        },
        PREFIX,
        52000,
    );
}

const indent = (text: string) => `  ${text.trim().split("\n").join("\n  ")}`;
const timed = <T>(what: string, f: () => T): T => {
    const started = Date.now();
    const r = f();
    console.log(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return r;
};

/** restic in the backup container, with the active generation's repository and credentials. */
function restic(args: string[]): Buffer {
    const r = spawnSync("docker", ["exec", BACKUP, "bash", "-c", `. ${LIB}/restic-env; restic_ "$@"`, "_", ...args], {
        maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, `restic ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
}

function runBackup(): { status: number | null; log: string } {
    const r = spawnSync("docker", ["exec", BACKUP, `${LIB}/run-backup`], { encoding: "utf8" });
    return { status: r.status, log: `${r.stdout}${r.stderr}` };
}
const status = () => docker(["exec", BACKUP, "cat", "/staging/status"]);

/** A config change: applied by the backup's config job, the backup container kept. */
function change(what: string, c: Record<string, unknown>): DeployResult {
    const id = docker(["inspect", "-f", "{{.Id}}", BACKUP]);
    const r = timed(`up (${what})`, () => deploy(c));
    const changed = r.steps.filter(s => s.change !== "same");
    console.log(
        `  ${JSON.stringify(r.changeSummary)}: ${changed.map(s => `${s.change} ${s.type} ${s.name} [${s.diffs}]`)}`,
    );
    assert.equal(docker(["inspect", "-f", "{{.Id}}", BACKUP]), id, "the backup container was replaced");
    assert.ok(!r.replaced.includes(BACKUP) && r.kept.includes(BACKUP), `replaced: ${r.replaced}`);
    // The components' own steps are updates of their registered settings (the new repository shows
    // in the preview); of the Docker resources only the backup's config job changes (a new generation).
    const resources = changed.filter(s => s.type.startsWith("docker:"));
    assert.deepEqual(
        resources.map(s => `${s.change} ${s.name}`),
        [`replace ${PREFIX}-backup-config`],
        "Docker resources changed",
    );
    for (const s of changed.filter(s => !s.type.startsWith("docker:"))) assert.equal(s.change, "update", s.urn);
    return r;
}

let counter = 0;
/** One message to alice; resolves to the path of its Maildir file, once delivered. */
async function deliver(label: string): Promise<{ id: string; file: string }> {
    const id = `<${label}-${++counter}-${Date.now()}@stores.example>`;
    const r = smtp({
        port: PORTS.smtp,
        source: OUTSIDER,
        from: "friend@sender.example",
        to: USERS.alice.address,
        subject: `${label} ${counter}`,
        headers: [`Message-Id: ${id}`],
        body: `${label} body ${counter}\n${"y".repeat(300)}`,
    });
    assert.equal(r.status, 0, r.transcript.slice(-800));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
        const found = spawnSync(
            "docker",
            ["exec", BACKUP, "grep", "-rlF", "--exclude-dir=.backup-snapshot", id, "/var/mail/vhosts"],
            { encoding: "utf8" },
        ).stdout.trim();
        if (found) return { id, file: found.split("\n")[0] };
        await new Promise(r => setTimeout(r, 300));
    }
    throw new Error(`${id} was not delivered`);
}

/**
 * A message delivered, a backup now, its status, its snapshot listed by restic, the message dumped
 * from the snapshot byte for byte; returns the snapshot's id and the message's file and bytes.
 */
async function backupAndRestoreOne(kind: string): Promise<{ snapshot: string; file: string; bytes: Buffer }> {
    const message = await deliver(kind);
    const run = timed(`backup to ${kind}`, runBackup);
    assert.equal(run.status, 0, run.log);
    console.log(indent(run.log));
    const snapshot = /snapshot ([0-9a-f]+) saved/.exec(run.log)?.[1];
    assert.ok(snapshot, run.log);
    const st = status();
    assert.match(st, /^result=ok$/m, st);
    assert.match(st, new RegExp(`^snapshot=${snapshot}$`, "m"), st);
    const listed = JSON.parse(restic(["snapshots", "--json"]).toString()) as Array<Record<string, any>>;
    const mine = listed.find(s => s.short_id === snapshot);
    assert.ok(mine, `restic snapshots: ${listed.map(s => s.short_id)}`);
    assert.equal(mine.hostname, PREFIX);
    assert.deepEqual(mine.tags, ["mailserver"]);
    // The message as the snapshot has it (the mail is staged in <mail volume>/.backup-snapshot).
    const base = path.basename(message.file).split(":2,")[0];
    const inSnapshot = restic(["ls", snapshot])
        .toString()
        .split("\n")
        .filter(p => p.includes("/.backup-snapshot/") && path.basename(p).startsWith(base));
    assert.equal(inSnapshot.length, 1, `${base} in snapshot ${snapshot}: ${inSnapshot}`);
    const restored = restic(["dump", snapshot, inSnapshot[0]]);
    const live = spawnSync("docker", ["exec", BACKUP, "cat", message.file], { maxBuffer: 16 << 20 }).stdout;
    assert.ok(live.length > 300 && live.includes(message.id), "the live message was read");
    assert.ok(restored.equals(live), `${inSnapshot[0]} restored from ${snapshot} differs from ${message.file}`);
    console.log(`  ${message.id}: ${restored.length} bytes restored from ${snapshot}, identical`);
    return { snapshot, file: message.file, bytes: live };
}

/**
 * The snapshot restored into another stack's new volumes as `npm run stack -- restore` does
 * (scripts/lib/restore.ts: the backup image, the secrets copied in as files); the message is there.
 */
function restoreElsewhere(
    backup: Record<string, unknown>,
    secrets: Omit<RestoreRequest["secrets"], "password">,
    one: { snapshot: string; file: string; bytes: Buffer },
): void {
    destroy(RESTORED);
    try {
        const settings = readOptions(new Validator("MailServer restore"), BACKUP_OPTIONS, {
            enabled: true,
            ...backup,
            password: REPOSITORY_PASSWORD,
        });
        const result = restoreIntoVolumes({
            prefix: RESTORED,
            fromHost: PREFIX,
            snapshot: one.snapshot,
            spec: backupSpecOf(RESTORED, settings, { spamFilterEnabled: false, acme: false }),
            secrets: { password: REPOSITORY_PASSWORD, ...secrets },
            networkMode: "host",
        });
        console.log(`  restore into ${RESTORED}: ${result.seconds.toFixed(1)} s\n${indent(result.log)}`);
        const volume = `${RESTORED}-mail:/var/mail/vhosts:ro`;
        const image = `mailserver-backup:restore-${RESTORED}`;
        const args = ["run", "--rm", "--network=none", "-v", volume, "--entrypoint=cat", image, one.file];
        const restored = spawnSync("docker", args).stdout;
        assert.ok(restored.equals(one.bytes), `${one.file} restored into ${RESTORED}-mail differs`);
    } finally {
        destroy(RESTORED);
    }
}

/** None of these secrets (nor any line of a multi-line one) in the container's settings or log. */
function assertNoSecrets(secrets: string[]): void {
    const exposed = docker(["inspect", BACKUP]) + dockerLogs(BACKUP);
    for (const secret of secrets)
        for (const part of secret.split("\n").filter(l => l.length >= 16 && !l.startsWith("-----")))
            assert.ok(!exposed.includes(part), `a secret (${part.slice(0, 4)}…) is in docker inspect or the log`);
}

describe("backup to a volume, SFTP and S3, live", () => {
    before(async () => {
        destroy(PREFIX);
        destroy(RESTORED);
        sftp = await startSftpStore(SFTP_DIR, SFTP_PORT);
        s3 = await startS3Store(S3_PORT, BUCKET);
    });
    after(() => {
        keepLogs(PREFIX, ["backup", "postfix", "dovecot"]);
        destroy(PREFIX);
        destroy(RESTORED);
        // Kept until now: the second restore builds its image from the first's layers.
        spawnSync("docker", ["rmi", "-f", `mailserver-backup:restore-${RESTORED}`]);
        sftp?.stop();
        s3?.stop();
        fs.rmSync(SFTP_DIR, { recursive: true, force: true });
    });

    test("repository volume: the first backup at start, then one now; the snapshot is in the volume", async () => {
        timed("first up (volume)", () => deploy(config({ repository: "volume" })));
        const deadline = Date.now() + 120_000;
        const done = () =>
            /^result=(ok|failed)$/m.test(
                spawnSync("docker", ["exec", BACKUP, "cat", "/staging/status"]).stdout.toString(),
            );
        while (!done())
            if (Date.now() > deadline) throw new Error("no first backup");
            else await new Promise(r => setTimeout(r, 1000));
        assert.match(status(), /^result=ok$/m, dockerLogs(BACKUP));
        const { snapshot } = await backupAndRestoreOne("volume");
        const files = docker(["exec", BACKUP, "ls", "/repository/snapshots"]).split("\n");
        assert.equal(files.filter(f => f.startsWith(snapshot)).length, 1, `the volume's snapshots: ${files}`);
        assertNoSecrets([REPOSITORY_PASSWORD]);
    });

    test("SFTP: a server presenting another host key is refused, loudly", async () => {
        const repository = `sftp://root@127.0.0.1:${SFTP_PORT}//backups/mail`;
        change(
            "sftp, another host key pinned",
            config({ repository, sftpKnownHosts: sftp!.wrongKnownHosts }, { sftpPrivateKey: sftp!.privateKey }),
        );
        const seen = sftp!.log().length;
        const run = runBackup();
        assert.equal(run.status, 1, run.log);
        console.log(indent(run.log));
        // The server saw the client leave before authenticating (ssh's own "Host key verification
        // failed." reaches restic's output only when restic prints it before exiting).
        const preauth = /Connection closed by 127\.0\.0\.1 port \d+ \[preauth\]/;
        // (the test's event loop reads sshd's log once spawnSync has returned)
        for (let i = 0; i < 50 && !preauth.test(sftp!.log().slice(seen)); i++)
            await new Promise(r => setTimeout(r, 100));
        const server = sftp!.log().slice(seen);
        assert.match(server, preauth, server);
        assert.doesNotMatch(server, /Accepted publickey/, server);
        assert.match(run.log, /^BACKUP FAILED \(sftp:/m);
        assert.match(status(), /^result=failed$/m);
        const health = spawnSync("docker", ["exec", BACKUP, `${LIB}/healthcheck`], { encoding: "utf8" });
        assert.notEqual(health.status, 0, "the healthcheck passes after a failed backup");
        assert.match(`${health.stdout}${health.stderr}`, /the last backup failed/);
        assert.deepEqual(fs.readdirSync(path.join(sftp!.root, "backups")), [], "nothing was written");
    });

    test("SFTP: key login, the pinned host key; the snapshot is on the server", async () => {
        const backup = {
            repository: `sftp://root@127.0.0.1:${SFTP_PORT}//backups/mail`,
            sftpKnownHosts: sftp!.knownHosts,
        };
        change("sftp", config(backup, { sftpPrivateKey: sftp!.privateKey }));
        const one = await backupAndRestoreOne("sftp");
        const snapshot = one.snapshot;
        const files = fs.readdirSync(path.join(sftp!.root, "backups", "mail", "snapshots"));
        assert.deepEqual(files.filter(f => f.startsWith(snapshot)).length, 1, `the server's snapshots: ${files}`);
        const health = spawnSync("docker", ["exec", BACKUP, `${LIB}/healthcheck`]);
        assert.equal(health.status, 0, `healthy again after a good backup: ${health.stdout}`);
        assertNoSecrets([REPOSITORY_PASSWORD, sftp!.privateKey]);
        restoreElsewhere(backup, { sftpPrivateKey: sftp!.privateKey }, one);
    });

    test("S3: signed by the IAM user's key; the snapshot is in the bucket", async () => {
        const backup = { repository: `s3:${s3!.endpoint}/${BUCKET}/mail` };
        const keys = { s3AccessKeyId: s3!.keyId, s3SecretAccessKey: s3!.secret };
        change("s3", config(backup, keys));
        const one = await backupAndRestoreOne("s3");
        const snapshot = one.snapshot;
        const listed = s3!.list("mail/snapshots/");
        assert.equal(listed.filter(k => k.startsWith(`mail/snapshots/${snapshot}`)).length, 1, `the bucket: ${listed}`);
        // The store checks every request's signature: the same listing with another secret is refused.
        assert.throws(() => s3!.list("mail/snapshots/", "not-the-secret"), /SignatureDoesNotMatch/);
        assertNoSecrets([REPOSITORY_PASSWORD, s3!.keyId, s3!.secret]);
        restoreElsewhere(backup, keys, one);
    });
});
