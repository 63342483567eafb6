// Backup (MailServer backup, off by default): restic in a container of its own, with the mail
// volume of DovecotImap (where the mail is) and MailServer's data volumes mounted. On a schedule it
// stages a consistent copy of each (images/backup/snapshot: Maildir messages hard-linked, checked
// against each folder's dovecot-uidlist; the queue copied by queue ID until two passes agree),
// then `restic backup` and `restic forget --prune`. Its files: render/backup.ts; its image:
// images/backup; the restore: images/backup/restore, run by `npm run stack -- restore`.
import type { BackupSettings, BackupSpec } from "../model/backup";
import { repositoryKind } from "../model/backup";
import { CERTS_MOUNT, CERTS_VOLUME } from "../model/certificate";
import { paths } from "../model/paths";
import type { MailServerSettings } from "../model/settings";
import {
    awsCredentialsFile,
    BACKUP_REPOSITORY_DIR,
    BACKUP_SECRET_FILES,
    BACKUP_STAGING_DIR,
    renderBackupFiles,
    resticRepository,
} from "../render/backup";
import { RSPAMD_DB_DIR, VALKEY_DATA_DIR } from "../render/rspamdShared";
import { COMMON_HEALTHCHECK, CONFIG, ImapService, SERVICE_STATUS, StagedFile } from "./definition";

/**
 * The data volumes backed up with these settings, in the order they are staged: the queue before
 * the mail (a message delivered meanwhile is then in both, never lost), the rest after.
 */
export function backupSources(s: BackupSourceSettings): BackupSpec["sources"] {
    return [
        { volume: "queue", path: paths.postfixQueue },
        { volume: "mail", path: paths.mailRoot },
        ...(s.spamFilterEnabled
            ? [
                  { volume: "rspamd-data", path: RSPAMD_DB_DIR },
                  { volume: "valkey-data", path: VALKEY_DATA_DIR },
              ]
            : []),
        ...(s.acme
            ? [
                  { volume: "acme", path: "/acme" },
                  { volume: CERTS_VOLUME, path: CERTS_MOUNT },
              ]
            : []),
    ];
}

/** What decides the backup's sources: whether rspamd (and Valkey) run, and the ACME client. */
export interface BackupSourceSettings {
    spamFilterEnabled: boolean;
    acme: boolean;
}

/** What a stack's backup is rendered from (its MailServer's settings, or a restore's). */
export function backupSpecOf(prefix: string, b: BackupSettings, sources: BackupSourceSettings): BackupSpec {
    return {
        host: prefix,
        repositoryKind: repositoryKind(b.repository)!,
        repository: b.repository,
        intervalMinutes: b.intervalMinutes,
        keep: b.keep,
        staleAfterIntervals: b.staleAfterIntervals,
        sources: backupSources(sources),
        sftpKnownHosts: b.sftpKnownHosts,
    };
}

/** The repository volume: data only with repository "volume" (empty, but mounted, otherwise). */
export const BACKUP_REPOSITORY_VOLUME = "backup-repository";

/** What backup.conf is rendered from. */
export const backupSpec = (s: MailServerSettings): BackupSpec =>
    backupSpecOf(s.prefix, s.backup, { spamFilterEnabled: s.spamFilter.enabled, acme: s.tls.acme !== undefined });

const rootOnly = (path: string, content: StagedFile["content"]): StagedFile => ({
    path,
    content,
    mode: "0400",
    owner: "root",
    group: "root",
});

export const backup: ImapService = {
    name: "backup",
    component: "DovecotImap",
    image: "A prebuilt backup image to use instead of building images/backup (backup)",
    runs: s => s.server.backup.enabled,
    security: {
        user: "root",
        // Reads every file whatever its owner (DAC_READ_SEARCH), hard-links vmail's messages into
        // the snapshot directory of the mail volume (FOWNER: protected_hardlinks; DAC_OVERRIDE:
        // vmail's directories) and keeps owners on the staged copies (CHOWN).
        capabilities: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER"],
        tmpfs: ["/run/mail", "/tmp"],
    },
    // Reaches the repository (SFTP, S3, REST).
    network: "stack",
    volumes: [
        // The staged copies, restic's cache and the last run's status: made anew at will.
        { name: "backup-staging", path: BACKUP_STAGING_DIR, kind: "socket" },
        // repository "volume": the repository itself (empty otherwise); kept on destroy.
        { name: BACKUP_REPOSITORY_VOLUME, path: BACKUP_REPOSITORY_DIR, kind: "data" },
    ],
    // Each data volume while its service runs (deploy.ts mounts another component's volumes by name).
    mounts: [
        CONFIG,
        "backup-staging",
        BACKUP_REPOSITORY_VOLUME,
        "queue",
        "mail",
        "rspamd-data",
        "valkey-data",
        "acme",
        CERTS_VOLUME,
        // With monitoring.metrics: where it copies its status for the metrics container.
        "backup-status",
        SERVICE_STATUS,
    ],
    config: {
        files: s => renderBackupFiles(backupSpec(s.server)),
        secretFiles: (s, secrets) => {
            const b = s.server.backup;
            const x = secrets.backup;
            if (!x) throw new Error("backup: the component gave no backup secrets");
            const kind = repositoryKind(b.repository);
            return [
                rootOnly(
                    BACKUP_SECRET_FILES.password,
                    x.password.apply(p => `${p}\n`),
                ),
                rootOnly(
                    BACKUP_SECRET_FILES.repository,
                    x.rest
                        ? x.rest.apply(r => resticRepository(b.repository, r))
                        : x.password.apply(() => resticRepository(b.repository)),
                ),
                ...(kind === "s3" && x.s3
                    ? [
                          rootOnly(
                              BACKUP_SECRET_FILES.awsCredentials,
                              x.s3.apply(k => awsCredentialsFile(k.id, k.secret)),
                          ),
                      ]
                    : []),
                ...(kind === "sftp" && x.sftpPrivateKey
                    ? [
                          rootOnly(
                              BACKUP_SECRET_FILES.sftpKey,
                              x.sftpPrivateKey.apply(k => `${k.trim()}\n`),
                          ),
                      ]
                    : []),
            ];
        },
    },
    healthcheck: COMMON_HEALTHCHECK,
    reload: "none: backup.conf and the secret files are read afresh before each run",
};
