// The stack the live tests deploy: host networking on high loopback ports, mynetworks trusting
// 127.0.0.1/32 only (so a client bound to 127.0.0.2 is an untrusted outsider).
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { ResourceStep } from "../../scripts/lib/steps";

export const ROOT = path.resolve(__dirname, "..", "..");

/**
 * The working tree as git sees it (tracked and new files, nothing ignored: no .local/, no
 * node_modules) copied into `dest`, as a user's checkout of the repository. Returns tar's errors.
 */
export function copyWorkingTree(dest: string): { status: number | null; stderr: string } {
    fs.mkdirSync(dest, { recursive: true });
    const tar = `git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - | tar -x -C ${dest}`;
    return spawnSync("bash", ["-c", tar], { cwd: ROOT, encoding: "utf8" });
}
export const ARTIFACTS = path.join(ROOT, "test", ".artifacts");
export const PREFIX = "mailtest";

/** Ports of a live stack: base + the standard port's last three digits (20025, 20587, ...). */
export function portsFrom(base: number) {
    return {
        smtp: base + 25,
        submission: base + 587,
        smtps: base + 465,
        imap: base + 143,
        imaps: base + 993,
        managesieve: base + 190,
        pop3: base + 110,
        pop3s: base + 995,
        /** Obsolete: where the Sieve reinject listener was (now a unix socket); nothing may listen here. */
        reinject: base + 26,
    };
}
export const PORTS = portsFrom(20000);

/** The monitoring endpoints' ports of a stack at `base`, after the same pattern (9154 -> base + 154). */
export function metricsPortsFrom(base: number) {
    return {
        postfix: base + 154,
        valkey: base + 121,
        node: base + 100,
        dovecot: base + 900,
        prometheus: base + 90,
        alertmanager: base + 93,
    };
}

export const USERS = {
    alice: { address: "alice@example.test", password: "alice-Secret-2026!" },
    bob: { address: "bob@example.test", password: "bob-Secret-2026!xx" },
    carol: { address: "carol@example.org", password: "carol-Secret-2026!" },
};

/**
 * Config of a live stack. Other test files run their own stacks side by side with another
 * prefix and port base, e.g. liveConfig({}, "relaytest", 21000).
 */
export function liveConfig(
    overrides: Record<string, unknown> = {},
    prefix = PREFIX,
    portBase = 20000,
): Record<string, unknown> {
    const ports = portsFrom(portBase);
    const config: Record<string, unknown> = {
        "mailserver:hostname": "mail.example.test",
        "mailserver:mode": "internet",
        "mailserver:networkMode": "host",
        "mailserver:namePrefix": prefix,
        "mailserver:inetInterfaces": ["127.0.0.1"],
        "mailserver:inetProtocols": "ipv4",
        "mailserver:mynetworks": ["127.0.0.1/32"],
        "mailserver:ports": {
            smtp: ports.smtp,
            submission: ports.submission,
            smtps: ports.smtps,
        },
        "mailserver:imapPorts": { imap: ports.imap, imaps: ports.imaps, managesieve: ports.managesieve },
        "mailserver:imapListen": ["127.0.0.1"],
        "mailserver:images": { buildNetworkMode: "host" },
        "mailserver:domains": [
            {
                domain: "example.test",
                mailboxes: [{ address: "alice", aliases: ["info"] }, { address: "bob" }],
                aliases: [{ address: "team", targets: [USERS.alice.address, USERS.bob.address] }],
            },
            { domain: "example.org", mailboxes: [{ address: "carol" }] },
        ],
        "mailserver:passwords": Object.fromEntries(Object.values(USERS).map(u => [u.address, u.password])),
        ...overrides,
    };
    // rspamd is what signs: a stack without it publishes no DKIM keys (MailServer refuses the mix).
    if ((config["mailserver:spamFilter"] as { enabled?: boolean } | undefined)?.enabled === false)
        config["mailserver:domains"] = (config["mailserver:domains"] as Array<Record<string, unknown>>).map(d => ({
            dkim: false,
            ...d,
        }));
    return config;
}

/**
 * Bridge mode as the README's dev stack runs it, for liveConfig's overrides: the stack's own
 * network, ports published on 127.0.0.1 (clients reach them through Docker's proxy), daemons
 * listening on all of the container's addresses, mynetworks left to the component.
 */
export const BRIDGE_MODE: Record<string, unknown> = {
    "mailserver:networkMode": "bridge",
    "mailserver:publishAddress": "127.0.0.1",
    "mailserver:inetInterfaces": undefined,
    "mailserver:imapListen": undefined,
    "mailserver:mynetworks": undefined,
};

export interface DeployResult {
    outputs: Record<string, any>;
    /** Containers the engine deleted and created again. */
    replaced: string[];
    /** Containers that existed before and still run (unchanged, or updated in place). */
    kept: string[];
    /** The engine's count of steps by kind ("same", "create", "update", "replace", ...). */
    changeSummary: Record<string, number>;
    /** What the operation did to every resource, with the properties forcing each replacement. */
    steps: ResourceStep[];
}

/** Folder of a live stack's engine workspace, state and passphrase. */
export function engineDir(prefix: string): string {
    return path.join(ARTIFACTS, "engine", prefix);
}

export interface DeployOptions {
    /** Preview only (nothing is created); outputs are then empty. */
    preview?: boolean;
    policyPacks?: string[];
    /** After up: write the stack's DKIM private keys (its secret dkimKeys output) to this file, 0600. */
    keysFile?: string;
    /** The stack (and its engine folder) when it is not named by the config's namePrefix. */
    stack?: string;
}

function request(config: Record<string, unknown>, options: DeployOptions): string {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const { stack, ...rest } = options;
    const prefix = stack ?? String(config["mailserver:namePrefix"]);
    const file = path.join(ARTIFACTS, `deploy-request-${prefix}.json`);
    fs.writeFileSync(file, JSON.stringify({ stackName: prefix, dir: engineDir(prefix), config, ...rest }), {
        mode: 0o600,
    });
    return file;
}

const DRIVER = [path.join(ROOT, "node_modules", ".bin", "tsx"), path.join(ROOT, "test", "live", "engine-deploy.ts")];

function result(status: number | null, stdout: string, stderr: string): DeployResult {
    if (status !== 0) throw new Error(`deploy failed (${status}):\n${stderr}\n${stdout}`);
    return JSON.parse(stdout.trim().split("\n").pop()!);
}

/** Appends an operation's engine output to test/.artifacts/engine-<prefix>.log. */
function keepEngineLog(config: Record<string, unknown>, output: string): void {
    fs.writeFileSync(path.join(ARTIFACTS, `engine-${String(config["mailserver:namePrefix"])}.log`), output, {
        flag: "a",
    });
}

/**
 * `pulumi up` (or, with live = false, `pulumi preview`) of the example program with this config,
 * on the real engine; throws with the engine's output on failure.
 */
export function deploy(
    config: Record<string, unknown> = liveConfig(),
    live = true,
    options: DeployOptions = {},
): DeployResult {
    const file = request(config, { preview: !live, ...options });
    const r = spawnSync(DRIVER[0], [DRIVER[1], file], {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 64 << 20,
        timeout: 15 * 60 * 1000,
    });
    fs.rmSync(file, { force: true });
    keepEngineLog(config, r.stderr);
    return result(r.status, r.stdout, r.stderr);
}

/** deploy() without blocking this process, for tests that send mail while the engine works. */
export function deployAsync(config: Record<string, unknown>, options: DeployOptions = {}): Promise<DeployResult> {
    const file = request(config, options);
    return new Promise((resolve, reject) => {
        const child = spawn(DRIVER[0], [DRIVER[1], file], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "",
            stderr = "";
        child.stdout.on("data", d => {
            stdout += d;
        });
        child.stderr.on("data", d => {
            stderr += d;
        });
        child.on("error", reject);
        child.on("close", code => {
            fs.rmSync(file, { force: true });
            keepEngineLog(config, stderr);
            try {
                resolve(result(code, stdout, stderr));
            } catch (e) {
                reject(e);
            }
        });
    });
}

function dockerList(args: string[]): string[] {
    return spawnSync("docker", args, { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
}
/** Ids of a live stack's containers, running or not. */
export const stackContainers = (prefix: string) =>
    dockerList(["ps", "-aq", "--filter", `label=mailserver.stack=${prefix}`]);
/** Names of a live stack's volumes. */
export const stackVolumes = (prefix: string) => dockerList(["volume", "ls", "-q", "--filter", `name=^${prefix}-`]);

/** Removes every container, volume and network of a live stack, and its engine state. */
export function destroy(prefix = PREFIX): void {
    const ids = stackContainers(prefix);
    if (ids.length) spawnSync("docker", ["rm", "-f", ...ids]);
    const vols = stackVolumes(prefix);
    if (vols.length) spawnSync("docker", ["volume", "rm", "-f", ...vols]);
    const nets = dockerList(["network", "ls", "-q", "--filter", `name=^${prefix}-`]);
    if (nets.length) spawnSync("docker", ["network", "rm", ...nets]);
    fs.rmSync(engineDir(prefix), { recursive: true, force: true });
}
