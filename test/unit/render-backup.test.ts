// The backup: its renderer (components/render/backup.ts: backup.conf, known_hosts, the restic
// repository file) and its options (components/options/backup.ts): defaults, what each kind of
// repository needs, and what the backup.conf a shell reads back holds.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BACKUP_OPTIONS, checkBackup } from "../../components/options/backup";
import { readOptions } from "../../components/options/declare";
import type { BackupSpec } from "../../components/model/backup";
import {
    awsCredentialsFile,
    renderBackupConf,
    renderBackupFiles,
    resticRepository,
} from "../../components/render/backup";
import { Validator } from "../../components/model/validator";

const SPEC: BackupSpec = {
    host: "mail",
    repositoryKind: "rest",
    repository: "rest:http://127.0.0.1:8000/mail",
    intervalMinutes: 60,
    keep: { last: 3, hourly: 0, daily: 7, weekly: 5, monthly: 12, yearly: 0 },
    staleAfterIntervals: 2,
    sources: [
        { volume: "queue", path: "/var/spool/postfix" },
        { volume: "mail", path: "/var/mail/vhosts" },
    ],
    sftpKnownHosts: undefined,
};

/** What bash sees after sourcing the file: the named variables, arrays one item a line. */
function sourced(conf: string, names: string[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "backup-conf-"));
    try {
        fs.writeFileSync(path.join(dir, "backup.conf"), conf);
        const script = `source "$1"; ${names.map(n => `printf '%s=%s\\n' ${n} "\${${n}[*]}"`).join("; ")}`;
        return execFileSync("bash", ["-c", script, "bash", path.join(dir, "backup.conf")], { encoding: "utf8" });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("backup files", () => {
    test("backup.conf is shell the image's scripts source: schedule, retention, sources in staging order", () => {
        const out = sourced(renderBackupConf(SPEC), [
            "BACKUP_HOST",
            "REPOSITORY_KIND",
            "REPOSITORY_DISPLAY",
            "INTERVAL_MINUTES",
            "STALE_AFTER_INTERVALS",
            "KEEP_LAST",
            "KEEP_DAILY",
            "KEEP_YEARLY",
            "SOURCES",
        ]);
        assert.equal(
            out,
            [
                "BACKUP_HOST=mail",
                "REPOSITORY_KIND=rest",
                "REPOSITORY_DISPLAY=rest:http://127.0.0.1:8000/mail",
                "INTERVAL_MINUTES=60",
                "STALE_AFTER_INTERVALS=2",
                "KEEP_LAST=3",
                "KEEP_DAILY=7",
                "KEEP_YEARLY=0",
                "SOURCES=queue:/var/spool/postfix mail:/var/mail/vhosts",
                "",
            ].join("\n"),
        );
    });

    test("a quote in a value cannot break out of its shell word", () => {
        const out = sourced(renderBackupConf({ ...SPEC, host: "it's; touch /tmp/x" }), ["BACKUP_HOST"]);
        assert.equal(out, "BACKUP_HOST=it's; touch /tmp/x\n");
    });

    test("known_hosts only with sftp; a probe file without a TCP port", () => {
        assert.deepEqual(
            renderBackupFiles(SPEC).map(f => f.path),
            ["backup.conf", "probe"],
        );
        const sftp = renderBackupFiles({
            ...SPEC,
            repositoryKind: "sftp",
            repository: "sftp:backup@host.example:/srv/restic",
            sftpKnownHosts: "host.example ssh-ed25519 AAAA\n",
        });
        assert.deepEqual(
            sftp.map(f => [f.path, f.mode]),
            [
                ["backup.conf", "0644"],
                ["known_hosts", "0644"],
                ["probe", "0644"],
            ],
        );
        assert.equal(sftp[1].content, "host.example ssh-ed25519 AAAA\n");
    });

    test("the repository file: REST credentials in its URL (escaped), the volume's mount point, others as given", () => {
        assert.equal(
            resticRepository("rest:https://backup.example.net:8000/mail", { username: "mail", password: "p@ss:w/rd" }),
            "rest:https://mail:p%40ss%3Aw%2Frd@backup.example.net:8000/mail\n",
        );
        assert.equal(resticRepository("volume"), "/repository\n");
        assert.equal(
            resticRepository("s3:https://s3.example.net/bucket/mail"),
            "s3:https://s3.example.net/bucket/mail\n",
        );
        assert.equal(
            awsCredentialsFile("AKID", "SECRET"),
            "[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n",
        );
    });
});

describe("backup options", () => {
    const read = (args: unknown) => {
        const v = new Validator("MailServer test");
        const b = readOptions(v, BACKUP_OPTIONS, args);
        checkBackup(v, b);
        return b;
    };
    const refused = (args: unknown, message: RegExp) => assert.throws(() => read(args), message);

    test("off by default; daily, keeping 7 daily, 5 weekly and 12 monthly snapshots, in a volume", () => {
        const b = read({});
        assert.equal(b.enabled, false);
        assert.equal(b.repository, "volume");
        assert.equal(b.intervalMinutes, 1440);
        assert.deepEqual(b.keep, { last: 0, hourly: 0, daily: 7, weekly: 5, monthly: 12, yearly: 0 });
        assert.equal(b.staleAfterIntervals, 2);
    });

    test("each kind of repository with what it needs is accepted", () => {
        read({ enabled: true, password: "p" });
        read({ enabled: true, password: "p", repository: "rest:http://127.0.0.1:8000/x" });
        read({ enabled: true, password: "p", repository: "rest:http://h/x", restUsername: "u", restPassword: "p" });
        read({
            enabled: true,
            password: "p",
            repository: "s3:https://h/b",
            s3AccessKeyId: "a",
            s3SecretAccessKey: "s",
        });
        read({
            enabled: true,
            password: "p",
            repository: "sftp:u@h:/srv",
            sftpPrivateKey: "k",
            sftpKnownHosts: "h ssh-ed25519 AAAA",
        });
    });

    test("what a kind does not use, half a REST login, and bad numbers are refused", () => {
        refused(
            { enabled: true, password: "p", s3AccessKeyId: "a" },
            /backup\.s3AccessKeyId = "\(secret\)" is not accepted; expected it only with a s3 repository; the repository is volume/,
        );
        refused(
            { enabled: true, password: "p", repository: "rest:http://h/x", restUsername: "u" },
            /backup\.restPassword = \(missing\) is not accepted; expected restUsername and restPassword together/,
        );
        refused(
            { enabled: true, password: "p", repository: "sftp:u@h:/srv", sftpPrivateKey: "k" },
            /backup\.sftpKnownHosts = \(missing\) is not accepted; expected a value with a sftp repository/,
        );
        refused(
            { intervalMinutes: 1 },
            /backup|intervalMinutes = 1 is not accepted; expected a whole number of minutes from 5/,
        );
        refused({ keep: { daily: -1 } }, /keep\.daily = -1 is not accepted; expected a whole number from 0 to 1000/);
        refused({ repository: "s3:https://user:pw@h/b" }, /repository = "\(not shown: it holds credentials\)"/);
    });

    test("off, nothing else is demanded (no password)", () => {
        read({ enabled: false, repository: "s3:https://h/b" });
    });
});
