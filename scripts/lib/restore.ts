// Restores a backup (MailServer backup) into the data volumes of a new stack, before its first
// `up`: builds images/backup, creates a one-off container of it with the new stack's volumes
// (<prefix>-mail, <prefix>-queue, ...; Docker creates them empty, and the stack's `up` then
// adopts them by name), copies in backup.conf and the secret files as a tar through the Docker
// API (never on a command line or in the environment), runs images/backup/restore, and removes
// the container with the secrets in it. Used by `npm run stack -- restore` and the restore drill.
import { spawnSync } from "child_process";
import * as path from "path";
import type { BackupSpec } from "../../components/model/backup";
import { repositoryKind } from "../../components/model/backup";
import {
    awsCredentialsFile,
    BACKUP_REPOSITORY_DIR,
    BACKUP_SECRET_FILES,
    BACKUP_STAGING_DIR,
    renderBackupConf,
    resticRepository,
} from "../../components/render/backup";

export interface RestoreRequest {
    /** The new stack's namePrefix: its volumes are <prefix>-<volume>. */
    prefix: string;
    /** The stack the backup was taken of (restic's --host: its namePrefix). */
    fromHost: string;
    /** A snapshot id, or "latest". */
    snapshot: string;
    /** The backup's sources and repository, as the new stack renders them (services/backup.ts backupSpec). */
    spec: BackupSpec;
    secrets: {
        password: string;
        s3AccessKeyId?: string;
        s3SecretAccessKey?: string;
        restUsername?: string;
        restPassword?: string;
        sftpPrivateKey?: string;
    };
    /** The Debian 13 base image to build from (images.baseImage). */
    baseImage?: string;
    /** "host": the container reaches a store on the host's loopback (tests, a store on this host). */
    networkMode?: string;
    /** Where the Docker engine is (DOCKER_HOST). */
    dockerHost?: string;
}

export interface RestoreResult {
    seconds: number;
    log: string;
}

const IMAGES = path.resolve(__dirname, "..", "..", "images");

/** A ustar archive of these files (root-owned, modes as given), the input of `docker cp -`. */
export function tarOf(files: Array<{ path: string; content: string; mode: number }>): Buffer {
    const blocks: Buffer[] = [];
    const dirs = new Set<string>();
    const header = (name: string, size: number, mode: number, type: "0" | "5") => {
        const h = Buffer.alloc(512);
        const put = (s: string, at: number, len: number) => h.write(s.slice(0, len), at, "utf8");
        put(name, 0, 100);
        put(`${mode.toString(8).padStart(7, "0")}\0`, 100, 8);
        put("0000000\0", 108, 8);
        put("0000000\0", 116, 8);
        put(`${size.toString(8).padStart(11, "0")}\0`, 124, 12);
        put(
            `${Math.floor(Date.now() / 1000)
                .toString(8)
                .padStart(11, "0")}\0`,
            136,
            12,
        );
        put("        ", 148, 8);
        put(type, 156, 1);
        put("ustar\0", 257, 6);
        put("00", 263, 2);
        let sum = 0;
        for (const b of h) sum += b;
        put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
        return h;
    };
    for (const f of files) {
        const parts = f.path.split("/");
        for (let i = 1; i < parts.length; i++) {
            const dir = `${parts.slice(0, i).join("/")}/`;
            if (!dirs.has(dir)) blocks.push(header(dir, 0, 0o755, "5"));
            dirs.add(dir);
        }
        const data = Buffer.from(f.content, "utf8");
        blocks.push(header(f.path, data.length, f.mode, "0"), data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
    blocks.push(Buffer.alloc(1024));
    return Buffer.concat(blocks);
}

function docker(args: string[], o: { input?: Buffer; dockerHost?: string; allowFail?: boolean } = {}) {
    const r = spawnSync("docker", args, {
        input: o.input,
        encoding: "utf8",
        maxBuffer: 64 << 20,
        env: { ...process.env, ...(o.dockerHost ? { DOCKER_HOST: o.dockerHost } : {}) },
    });
    if (r.status !== 0 && !o.allowFail)
        throw new Error(`docker ${args[0]} failed (${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
}

/** The files the restore container reads at /config/current: backup.conf and the secrets, root-only. */
export function restoreFiles(r: RestoreRequest): Array<{ path: string; content: string; mode: number }> {
    const s = r.secrets;
    const kind = repositoryKind(r.spec.repository);
    const rest =
        s.restUsername !== undefined && s.restPassword !== undefined
            ? { username: s.restUsername, password: s.restPassword }
            : undefined;
    return [
        { path: "current/backup.conf", content: renderBackupConf(r.spec), mode: 0o644 },
        { path: `current/${BACKUP_SECRET_FILES.password}`, content: `${s.password}\n`, mode: 0o400 },
        {
            path: `current/${BACKUP_SECRET_FILES.repository}`,
            content: resticRepository(r.spec.repository, rest),
            mode: 0o400,
        },
        ...(kind === "s3" && s.s3AccessKeyId !== undefined && s.s3SecretAccessKey !== undefined
            ? [
                  {
                      path: `current/${BACKUP_SECRET_FILES.awsCredentials}`,
                      content: awsCredentialsFile(s.s3AccessKeyId, s.s3SecretAccessKey),
                      mode: 0o400,
                  },
              ]
            : []),
        ...(kind === "sftp" && s.sftpPrivateKey !== undefined
            ? [{ path: `current/${BACKUP_SECRET_FILES.sftpKey}`, content: `${s.sftpPrivateKey.trim()}\n`, mode: 0o400 }]
            : []),
        ...(kind === "sftp"
            ? [{ path: "current/known_hosts", content: `${(r.spec.sftpKnownHosts ?? "").trim()}\n`, mode: 0o644 }]
            : []),
    ];
}

/** Restores the snapshot into the new stack's volumes; throws with restic's output if it fails. */
export function restoreIntoVolumes(r: RestoreRequest): RestoreResult {
    const started = Date.now();
    const image = `mailserver-backup:restore-${r.prefix}`;
    docker(
        [
            "build",
            "-q",
            "-t",
            image,
            "-f",
            path.join(IMAGES, "backup", "Dockerfile"),
            "--build-arg",
            `BASE_IMAGE=${r.baseImage ?? "debian:trixie-slim"}`,
            "--network",
            "host",
            IMAGES,
        ],
        { dockerHost: r.dockerHost },
    );
    const name = `${r.prefix}-restore`;
    docker(["rm", "-f", name], { dockerHost: r.dockerHost, allowFail: true });
    const volumes = [
        ...r.spec.sources.map(s => `${r.prefix}-${s.volume}:${s.path}`),
        `${r.prefix}-backup-staging:${BACKUP_STAGING_DIR}`,
        ...(r.spec.repositoryKind === "volume" ? [`${r.prefix}-backup-repository:${BACKUP_REPOSITORY_DIR}`] : []),
    ];
    docker(
        [
            "create",
            "--name",
            name,
            "--label",
            `mailserver.stack=${r.prefix}`,
            "--network",
            r.networkMode ?? "bridge",
            ...volumes.flatMap(v => ["-v", v]),
            "--entrypoint",
            "/usr/local/lib/mail/restore",
            image,
            r.fromHost,
            r.snapshot,
        ],
        { dockerHost: r.dockerHost },
    );
    try {
        docker(["cp", "-", `${name}:/config`], { input: tarOf(restoreFiles(r)), dockerHost: r.dockerHost });
        const run = docker(["start", "-a", name], { dockerHost: r.dockerHost, allowFail: true });
        const log = `${run.stdout}${run.stderr}`;
        if (run.status !== 0) throw new Error(`restore failed (${run.status}):\n${log}`);
        return { seconds: (Date.now() - started) / 1000, log };
    } finally {
        docker(["rm", "-f", name], { dockerHost: r.dockerHost, allowFail: true });
    }
}
