// The stack the live tests deploy: host networking on high loopback ports, mynetworks trusting
// 127.0.0.1/32 only (so a client bound to 127.0.0.2 is an untrusted outsider).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const ARTIFACTS = path.join(ROOT, "test", ".artifacts");
export const PREFIX = "mailtest";

/** Ports of a live stack: base + the standard port's last three digits (20025, 20587, ...). */
export function portsFrom(base: number) {
    return { smtp: base + 25, submission: base + 587, smtps: base + 465, imap: base + 143, imaps: base + 993, managesieve: base + 190, pop3: base + 110, pop3s: base + 995, reinject: base + 26 };
}
export const PORTS = portsFrom(20000);

export const USERS = {
    alice: { address: "alice@example.test", password: "alice-Secret-2026!" },
    bob: { address: "bob@example.test", password: "bob-Secret-2026!xx" },
    carol: { address: "carol@example.org", password: "carol-Secret-2026!" },
};

/**
 * Config of a live stack. Other test files run their own stacks side by side with another
 * prefix and port base, e.g. liveConfig({}, "relaytest", 21000).
 */
export function liveConfig(overrides: Record<string, unknown> = {}, prefix = PREFIX, portBase = 20000): Record<string, unknown> {
    const ports = portsFrom(portBase);
    return {
        "mailserver:hostname": "mail.example.test",
        "mailserver:mode": "internet",
        "mailserver:networkMode": "host",
        "mailserver:namePrefix": prefix,
        "mailserver:inetInterfaces": ["127.0.0.1"],
        "mailserver:inetProtocols": "ipv4",
        "mailserver:mynetworks": ["127.0.0.1/32"],
        "mailserver:ports": { smtp: ports.smtp, submission: ports.submission, smtps: ports.smtps, reinject: ports.reinject },
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
}

export interface DeployResult { outputs: Record<string, any>; replaced: string[]; kept: string[] }

/** Deploys (or updates) a live stack; throws with the program's output on failure. */
export function deploy(config: Record<string, unknown> = liveConfig(), live = true): DeployResult {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const prefix = String(config["mailserver:namePrefix"]);
    const requestFile = path.join(ARTIFACTS, `deploy-request-${prefix}.json`);
    fs.writeFileSync(requestFile, JSON.stringify({
        stack: "live", config, secretKeys: ["mailserver:passwords", "mailserver:relayPasswords", "mailserver:tlsKeyPem"],
        live, stateFile: path.join(ARTIFACTS, `live-state-${prefix}.json`),
    }), { mode: 0o600 });
    const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "tsx"), [path.join(ROOT, "test", "harness", "deploy.ts"), requestFile],
        { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20, timeout: 15 * 60 * 1000 });
    fs.rmSync(requestFile, { force: true });
    if (r.status !== 0) throw new Error(`deploy failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
    process.stderr.write(r.stderr);
    const last = r.stdout.trim().split("\n").pop()!;
    return JSON.parse(last);
}

/** Removes every container and volume of a live stack, and its harness state. */
export function destroy(prefix = PREFIX): void {
    const ids = spawnSync("docker", ["ps", "-aq", "--filter", `label=mailserver.stack=${prefix}`], { encoding: "utf8" }).stdout.trim();
    if (ids) spawnSync("docker", ["rm", "-f", ...ids.split("\n")]);
    const vols = spawnSync("docker", ["volume", "ls", "-q", "--filter", `name=^${prefix}-`], { encoding: "utf8" }).stdout.trim();
    if (vols) spawnSync("docker", ["volume", "rm", "-f", ...vols.split("\n")]);
    const nets = spawnSync("docker", ["network", "ls", "-q", "--filter", `name=^${prefix}-`], { encoding: "utf8" }).stdout.trim();
    if (nets) spawnSync("docker", ["network", "rm", ...nets.split("\n")]);
    fs.rmSync(path.join(ARTIFACTS, `live-state-${prefix}.json`), { force: true });
}
