// MailServer backup (restic, in a container of its own beside DovecotImap's Dovecot) after
// validation, as its service definition and renderer read it (options/backup.ts declares it;
// render/backup.ts renders it; images/backup runs it).
import type { Input } from "@pulumi/pulumi";

/** How many snapshots `restic forget --prune` keeps, by period (restic's --keep-* flags); 0: none by that rule. */
export interface BackupRetention {
    last: number;
    hourly: number;
    daily: number;
    weekly: number;
    monthly: number;
    yearly: number;
}

/** MailServer backup, defaults applied (pinned to its declaration in options/backup.ts). */
export interface BackupSettings {
    /** The backup service runs (with the MailServer's DovecotImap, where the mail is). */
    enabled: boolean;
    /**
     * restic's repository: "volume" (a Docker volume of the stack, kept on destroy), or
     * "sftp:user@host:/path", "s3:https://host/bucket/path", "rest:https://host:port/path".
     */
    repository: string;
    /** Minutes between two backups (the first runs at once when none is recorded). */
    intervalMinutes: number;
    keep: BackupRetention;
    /** The healthcheck fails when the last successful backup is older than this many intervals. */
    staleAfterIntervals: number;
    /** The repository's password (restic encrypts with a key it unlocks): a Pulumi secret. */
    password: Input<string> | undefined;
    /** S3: the access key pair, Pulumi secrets (an AWS credentials file in the container). */
    s3AccessKeyId: Input<string> | undefined;
    s3SecretAccessKey: Input<string> | undefined;
    /** REST server: HTTP basic credentials, Pulumi secrets (written into the repository file's URL). */
    restUsername: Input<string> | undefined;
    restPassword: Input<string> | undefined;
    /** SFTP: the private key (a Pulumi secret) and the server's known_hosts lines (not secret). */
    sftpPrivateKey: Input<string> | undefined;
    sftpKnownHosts: string | undefined;
}

/** The repository's kind, from its location. */
export type BackupRepositoryKind = "volume" | "sftp" | "s3" | "rest";

export function repositoryKind(repository: string): BackupRepositoryKind | undefined {
    if (repository === "volume") return "volume";
    const scheme = /^(sftp|s3|rest):/.exec(repository)?.[1];
    return scheme as BackupRepositoryKind | undefined;
}

/** What the backup container's files are rendered from: nothing secret. */
export interface BackupSpec {
    /** restic's --host of every snapshot: the stack's prefix (a restore names the stack it restores from). */
    host: string;
    repositoryKind: BackupRepositoryKind;
    /** The location without credentials (shown in previews); "volume": the mounted repository volume. */
    repository: string;
    intervalMinutes: number;
    keep: BackupRetention;
    staleAfterIntervals: number;
    /** The data volumes backed up, each by its name in the stack and where the container mounts it. */
    sources: Array<{ volume: string; path: string }>;
    sftpKnownHosts: string | undefined;
}
