// Renders the backup service's files (MailServer backup, images/backup): backup.conf, which the
// image's scripts read before every run (so a new schedule or retention needs no new container),
// the SFTP server's known_hosts, and the probe file (no TCP port: the healthcheck reads the last
// run's status instead). Secrets (repository password, store credentials) are never rendered
// here: components/services/backup.ts stages them as root-only files from Pulumi secrets.
import type { BackupSpec } from "../model/backup";
import { publicFile, RenderedFile } from "../model/spec";
import { renderProbe } from "./probe";

/** Where the backup container mounts the repository volume (repository "volume"). */
export const BACKUP_REPOSITORY_DIR = "/repository";
/** The staging volume: consistent copies of the data volumes are made here before restic reads them. */
export const BACKUP_STAGING_DIR = "/staging";
/** Inside each mail volume: the hard-linked snapshot of the Maildirs (same file system, no copy). */
export const MAIL_SNAPSHOT_DIR = ".backup-snapshot";
/** The secret files, in the config volume (root, 0400), as the image's scripts read them. */
export const BACKUP_SECRET_FILES = {
    password: "secrets/password",
    repository: "secrets/repository",
    awsCredentials: "secrets/aws-credentials",
    sftpKey: "secrets/sftp-key",
} as const;

const HEADER =
    "# Rendered by the mailserver package (components/render/backup.ts). Do not edit here:\n" +
    "# every deploy replaces this file. Change the component's arguments instead.\n";

/** A shell word that `source` reads back as exactly this text. */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** backup.conf: shell assignments (the image's scripts source it); no secret in it. */
export function renderBackupConf(spec: BackupSpec): string {
    const k = spec.keep;
    const lines = [
        // restic's --host of this stack's snapshots: a restore into another stack names it.
        `BACKUP_HOST=${quote(spec.host)}`,
        `REPOSITORY_KIND=${spec.repositoryKind}`,
        // The location without credentials, for logs; restic reads the full one from its file.
        `REPOSITORY_DISPLAY=${quote(spec.repository)}`,
        `INTERVAL_MINUTES=${spec.intervalMinutes}`,
        `STALE_AFTER_INTERVALS=${spec.staleAfterIntervals}`,
        `KEEP_LAST=${k.last}`,
        `KEEP_HOURLY=${k.hourly}`,
        `KEEP_DAILY=${k.daily}`,
        `KEEP_WEEKLY=${k.weekly}`,
        `KEEP_MONTHLY=${k.monthly}`,
        `KEEP_YEARLY=${k.yearly}`,
        // "volume:path" of each data volume, in the order they are staged (queue before mail: a
        // message delivered during the backup is then in both, never in neither).
        `SOURCES=(${spec.sources.map(s => quote(`${s.volume}:${s.path}`)).join(" ")})`,
    ];
    return `${HEADER}${lines.join("\n")}\n`;
}

/** The backup container's files. */
export function renderBackupFiles(spec: BackupSpec): RenderedFile[] {
    const files = [publicFile("backup.conf", renderBackupConf(spec))];
    if (spec.repositoryKind === "sftp")
        files.push(publicFile("known_hosts", `${(spec.sftpKnownHosts ?? "").trim()}\n`));
    files.push(renderProbe(undefined));
    return files;
}

/**
 * The repository as restic reads it (RESTIC_REPOSITORY_FILE): a REST server's credentials go in its
 * URL (every restic version reads them there), so the file is a secret; "volume" is the mounted volume.
 */
export function resticRepository(repository: string, rest?: { username: string; password: string }): string {
    if (repository === "volume") return `${BACKUP_REPOSITORY_DIR}\n`;
    if (rest && repository.startsWith("rest:")) {
        const url = new URL(repository.slice("rest:".length));
        url.username = encodeURIComponent(rest.username);
        url.password = encodeURIComponent(rest.password);
        return `rest:${url.toString()}\n`;
    }
    return `${repository}\n`;
}

/** An AWS shared credentials file (restic's S3 client reads AWS_SHARED_CREDENTIALS_FILE). */
export function awsCredentialsFile(accessKeyId: string, secretAccessKey: string): string {
    return `[default]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`;
}
