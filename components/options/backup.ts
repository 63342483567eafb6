// MailServer's backup option (restic, a container of its own beside DovecotImap's Dovecot),
// declared once, and its rules on other fields. Off by default: it needs a repository of the
// user's and a password that must be kept outside the server (without it nothing restores).
import type { Input } from "@pulumi/pulumi";
import { BackupSettings, repositoryKind } from "../model/backup";
import { Validator } from "../model/validator";
import { boolean, integer, object, passthrough, Pinned, SameType, text, Values, wholeNumber } from "./declare";

const secret = (doc: string) =>
    passthrough<Input<string>, { doc: string }>("pulumi.Input<string>", { type: "string", secret: true }, { doc });

const REPOSITORY_ACCEPTED =
    'expected "volume" (a Docker volume of the stack, kept on destroy: not safe from losing the host), ' +
    'or restic\'s "sftp:user@host:/path", "s3:https://host/bucket/path" or "rest:https://host:port/path" ' +
    "(credentials in their own secret fields, never in the location)";

const count = (doc: string, max: number, defaultValue: number) =>
    wholeNumber({ doc, default: defaultValue, min: 0, max });

export const BACKUP_RETENTION_OPTIONS = {
    last: count("Keep the last this many snapshots", 1000, 0),
    hourly: count("Keep the last snapshot of each of this many hours", 1000, 0),
    daily: count("Keep the last snapshot of each of this many days", 1000, 7),
    weekly: count("Keep the last snapshot of each of this many weeks", 1000, 5),
    monthly: count("Keep the last snapshot of each of this many months", 1000, 12),
    yearly: count("Keep the last snapshot of each of this many years", 100, 0),
};

export const BACKUP_OPTIONS = {
    enabled: boolean({
        doc:
            "restic (a container of its own) backs up the mail (with indexes, Sieve scripts and vacation state), the " +
            "queue, rspamd's and Valkey's data and the ACME account and certificates, encrypted and deduplicated, on a " +
            "schedule. Runs with the MailServer's DovecotImap, where the mail is",
        default: false,
    }),
    repository: text({
        doc:
            'Where restic keeps the backups: "volume" (a Docker volume of the stack), "sftp:user@host:/path" ' +
            '("sftp://user@host:port//path" on another port than 22), "s3:https://host/bucket/path" or ' +
            '"rest:https://host:port/path"; shown in previews, so no credentials here',
        default: "volume",
        accepted: REPOSITORY_ACCEPTED,
        check: (v, f, x) => {
            if (repositoryKind(x) === undefined || /\s/.test(x)) v.fail(f, x, REPOSITORY_ACCEPTED);
            // A user:password@ in a URL would be shown in previews and stored in the state in clear.
            if (/^(s3|rest):[a-z]+:\/\/[^/]*@/i.test(x))
                v.fail(
                    f,
                    "(not shown: it holds credentials)",
                    "expected the location without user:password@: give them in backup.restUsername/restPassword " +
                        "or backup.s3AccessKeyId/s3SecretAccessKey (Pulumi secrets)",
                );
            // SFTP logs in with a key only (restic cannot give ssh a password); a password here would show.
            if (/^sftp:(\/\/)?[^/@]*:[^/@]*@/i.test(x))
                v.fail(
                    f,
                    "(not shown: it holds a password)",
                    "expected sftp:user@host:/path without a password: SFTP logs in with backup.sftpPrivateKey",
                );
            return x;
        },
    }),
    intervalMinutes: integer({
        doc: "Minutes between two backups; the first runs when the container starts without a recorded backup",
        default: 1440,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 5 && x <= 10080
                ? x
                : v.fail(f, x, "expected a whole number of minutes from 5 to 10080 (a week)"),
    }),
    keep: object("BackupRetention", BACKUP_RETENTION_OPTIONS, {
        doc: "What `restic forget --prune` keeps after each backup (restic's --keep-* rules; a snapshot kept by any rule stays)",
        default: {},
    }),
    staleAfterIntervals: wholeNumber({
        doc: "The backup container is unhealthy when the last backup failed, or when the last good one is older than this many intervals",
        default: 2,
        min: 1,
        max: 100,
    }),
    password: secret(
        "The repository's password (a Pulumi secret; keep a copy outside the server: without it no backup restores)",
    ),
    s3AccessKeyId: secret("s3: the access key id (a Pulumi secret)"),
    s3SecretAccessKey: secret("s3: the secret access key (a Pulumi secret)"),
    restUsername: secret("rest: the REST server's user name (a Pulumi secret)"),
    restPassword: secret("rest: the REST server's password (a Pulumi secret)"),
    sftpPrivateKey: secret("sftp: the OpenSSH private key restic logs in with (a Pulumi secret)"),
    sftpKnownHosts: text({
        doc:
            "sftp: the server's known_hosts lines (its host key, as `ssh-keyscan [-p port] host` prints them: " +
            '"[host]:port ..." on another port than 22), required with sftp: the host key is checked',
    }),
};

export type _BackupRetentionPinned = Pinned<SameType<BackupSettings["keep"], Values<typeof BACKUP_RETENTION_OPTIONS>>>;
export type _BackupPinned = Pinned<SameType<BackupSettings, Values<typeof BACKUP_OPTIONS>>>;

/** Which secret and plain fields each kind of repository needs, and which it cannot use. */
const KIND_FIELDS = {
    volume: [],
    sftp: ["sftpPrivateKey", "sftpKnownHosts"],
    s3: ["s3AccessKeyId", "s3SecretAccessKey"],
    rest: [],
} as const;
const STORE_FIELDS = [
    "s3AccessKeyId",
    "s3SecretAccessKey",
    "restUsername",
    "restPassword",
    "sftpPrivateKey",
    "sftpKnownHosts",
] as const;

/** The backup's rules across its fields (validateMailServer calls it). */
export function checkBackup(v: Validator, b: BackupSettings): void {
    if (!b.enabled) return;
    if (b.password === undefined)
        v.fail(
            "backup.password",
            undefined,
            "expected the repository's password (a Pulumi secret) when backup.enabled is true: restic encrypts every backup with it",
        );
    const kind = repositoryKind(b.repository)!;
    for (const field of KIND_FIELDS[kind])
        if (b[field] === undefined)
            v.fail(`backup.${field}`, undefined, `expected a value with a ${kind} repository (${b.repository})`);
    const usable: readonly string[] = kind === "rest" ? ["restUsername", "restPassword"] : KIND_FIELDS[kind];
    for (const field of STORE_FIELDS)
        if (b[field] !== undefined && !usable.includes(field))
            v.fail(
                `backup.${field}`,
                field === "sftpKnownHosts" ? b[field] : "(secret)",
                `expected it only with a ${field.startsWith("s3") ? "s3" : field.startsWith("rest") ? "rest" : "sftp"} repository; ` +
                    `the repository is ${kind} (${b.repository})`,
            );
    if ((b.restUsername === undefined) !== (b.restPassword === undefined))
        v.fail(
            b.restUsername === undefined ? "backup.restUsername" : "backup.restPassword",
            undefined,
            "expected restUsername and restPassword together (HTTP basic authentication), or neither",
        );
    const k = b.keep;
    if (k.last + k.hourly + k.daily + k.weekly + k.monthly + k.yearly === 0)
        v.fail(
            "backup.keep",
            k,
            "expected at least one snapshot kept by some rule: keeping none would delete every backup",
        );
}

/** MailServer's `backup` group (declared here so that options/mailServer.ts stays within 300 lines). */
export const BACKUP_GROUP = object("BackupArgs", BACKUP_OPTIONS, {
    doc: "Encrypted, deduplicated backups of everything not in the Pulumi state (restic), off by default",
    default: {},
});
