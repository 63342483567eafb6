// Backup stores a live test runs on loopback, each a real server with its own credentials:
// OpenSSH's sshd (Debian's openssh-server) serving SFTP from a chroot, and moto's S3 server (in
// test/.venv, test/tools/setup-venv.sh) enforcing signed requests by an IAM user's key.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { ARTIFACTS, ROOT } from "./stack";

export interface Store {
    stop(): void;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (no request sent). */
async function listening(port: number, what: string, child: ChildProcess, log: () => string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}: ${log()}`);
        const up = await new Promise<boolean>(resolve => {
            const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
            s.on("error", () => resolve(false));
        });
        if (up) return;
        await new Promise(r => setTimeout(r, 200));
    }
    throw new Error(`${what} did not listen on 127.0.0.1:${port}: ${log()}`);
}

function run(command: string, args: string[]): string {
    const r = spawnSync(command, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${r.stderr}${r.error ?? ""}`);
    return r.stdout;
}

export interface SftpStore extends Store {
    /** The client's OpenSSH private key (what backup.sftpPrivateKey gets). */
    privateKey: string;
    /** The server's host key as a known_hosts line, "[127.0.0.1]:port ssh-ed25519 ...". */
    knownHosts: string;
    /** Another host key's line for the same address: what a man in the middle would present. */
    wrongKnownHosts: string;
    /** Where the server keeps what the client writes to "/" (its chroot). */
    root: string;
    /** sshd's log so far (-e: its messages on standard error). */
    log(): string;
}

/**
 * sshd on 127.0.0.1:port with a config, host key and authorized key of its own (made here), key
 * logins only, root confined to internal-sftp in a chroot. Every directory up to the chroot must
 * be root's and writable by no one else (sshd refuses it otherwise): not under /tmp, nor under a
 * checkout whose parents are unknown; /run is root's on every Debian host.
 */
export async function startSftpStore(dir: string, port: number): Promise<SftpStore> {
    fs.rmSync(dir, { recursive: true, force: true });
    const root = path.join(dir, "root");
    fs.mkdirSync(path.join(root, "backups"), { recursive: true, mode: 0o755 });
    for (const d of [dir, root]) fs.chmodSync(d, 0o755);
    const key = (name: string) => {
        run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.join(dir, name)]);
        return fs
            .readFileSync(path.join(dir, `${name}.pub`), "utf8")
            .split(" ")
            .slice(0, 2)
            .join(" ");
    };
    const hostKey = key("host-key");
    const clientKey = key("client-key");
    const otherHostKey = key("other-host-key");
    fs.writeFileSync(path.join(dir, "authorized_keys"), `${clientKey}\n`, { mode: 0o600 });
    const config = [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${path.join(dir, "host-key")}`,
        `PidFile ${path.join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "AllowUsers root",
        `ChrootDirectory ${root}`,
        "ForceCommand internal-sftp",
        "Subsystem sftp internal-sftp",
    ];
    fs.writeFileSync(path.join(dir, "sshd_config"), `${config.join("\n")}\n`);
    // sshd's privilege separation directory (Debian's service would make it).
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    let log = "";
    const child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config")], {
        stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", d => (log += d));
    await listening(port, "sshd", child, () => log);
    return {
        privateKey: fs.readFileSync(path.join(dir, "client-key"), "utf8"),
        knownHosts: `[127.0.0.1]:${port} ${hostKey}`,
        wrongKnownHosts: `[127.0.0.1]:${port} ${otherHostKey}`,
        root,
        log: () => log,
        stop: () => {
            child.kill();
            fs.mkdirSync(ARTIFACTS, { recursive: true });
            fs.writeFileSync(path.join(ARTIFACTS, `${path.basename(dir)}-sshd.log`), log);
        },
    };
}

export interface S3Store extends Store {
    endpoint: string;
    /** The IAM user's access key, made by the server (what backup.s3AccessKeyId/s3SecretAccessKey get). */
    keyId: string;
    secret: string;
    /** The bucket's keys under a prefix, listed with the user's key (or this secret) by another S3 client (boto3). */
    list(prefix: string, secret?: string): string[];
}

const PYTHON = path.join(ROOT, "test", ".venv", "bin", "python");
const S3_TOOL = path.join(ROOT, "test", "tools", "s3-store.py");

/** moto's S3 server on 127.0.0.1:port: after the four set-up requests, signed requests only. */
export async function startS3Store(port: number, bucket: string): Promise<S3Store> {
    const endpoint = `http://127.0.0.1:${port}`;
    let log = "";
    const child = spawn(path.join(ROOT, "test", ".venv", "bin", "moto_server"), ["-H", "127.0.0.1", "-p", `${port}`], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: "4" },
    });
    child.stdout!.on("data", d => (log += d));
    child.stderr!.on("data", d => (log += d));
    await listening(port, "moto_server", child, () => log);
    const key = JSON.parse(run(PYTHON, [S3_TOOL, "setup", endpoint, bucket])) as { id: string; secret: string };
    return {
        endpoint,
        keyId: key.id,
        secret: key.secret,
        list: (prefix, secret = key.secret) => {
            const r = spawnSync(PYTHON, [S3_TOOL, "list", endpoint, bucket, prefix], {
                encoding: "utf8",
                env: { ...process.env, S3_KEY_ID: key.id, S3_SECRET: secret },
            });
            if (r.status !== 0) throw new Error(`listing s3://${bucket}/${prefix} failed: ${r.stderr}`);
            return r.stdout.split("\n").filter(Boolean);
        },
        stop: () => child.kill(),
    };
}
