// The stack the live tests deploy: host networking on high loopback ports, mynetworks trusting
// 127.0.0.1/32 only (so a client bound to 127.0.0.2 is an untrusted outsider).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const ARTIFACTS = path.join(ROOT, "test", ".artifacts");
export const PREFIX = "mailtest";

export const PORTS = { smtp: 20025, submission: 20587, smtps: 20465, imap: 20143, imaps: 20993, managesieve: 24190 };

export const USERS = {
    alice: { address: "alice@example.test", password: "alice-Secret-2026!" },
    bob: { address: "bob@example.test", password: "bob-Secret-2026!xx" },
    carol: { address: "carol@example.org", password: "carol-Secret-2026!" },
};

export function liveConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        "mailserver:hostname": "mail.example.test",
        "mailserver:mode": "internet",
        "mailserver:networkMode": "host",
        "mailserver:namePrefix": PREFIX,
        "mailserver:inetInterfaces": ["127.0.0.1"],
        "mailserver:inetProtocols": "ipv4",
        "mailserver:mynetworks": ["127.0.0.1/32"],
        "mailserver:ports": { smtp: PORTS.smtp, submission: PORTS.submission, smtps: PORTS.smtps },
        "mailserver:imapPorts": { imap: PORTS.imap, imaps: PORTS.imaps, managesieve: PORTS.managesieve },
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

/** Deploys (or updates) the live stack; throws with the program's output on failure. */
export function deploy(config: Record<string, unknown> = liveConfig(), live = true): DeployResult {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const requestFile = path.join(ARTIFACTS, "deploy-request.json");
    fs.writeFileSync(requestFile, JSON.stringify({
        stack: "live", config, secretKeys: ["mailserver:passwords", "mailserver:relayPasswords", "mailserver:tlsKeyPem"],
        live, stateFile: path.join(ARTIFACTS, "live-state.json"),
    }), { mode: 0o600 });
    const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "tsx"), [path.join(ROOT, "test", "harness", "deploy.ts"), requestFile],
        { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20, timeout: 15 * 60 * 1000 });
    fs.rmSync(requestFile, { force: true });
    if (r.status !== 0) throw new Error(`deploy failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
    process.stderr.write(r.stderr);
    const last = r.stdout.trim().split("\n").pop()!;
    return JSON.parse(last);
}

/** Removes every container and volume of the live stack, and the harness state. */
export function destroy(): void {
    const ids = spawnSync("docker", ["ps", "-aq", "--filter", `label=mailserver.stack=${PREFIX}`], { encoding: "utf8" }).stdout.trim();
    if (ids) spawnSync("docker", ["rm", "-f", ...ids.split("\n")]);
    const vols = spawnSync("docker", ["volume", "ls", "-q", "--filter", `name=^${PREFIX}-`], { encoding: "utf8" }).stdout.trim();
    if (vols) spawnSync("docker", ["volume", "rm", "-f", ...vols.split("\n")]);
    fs.rmSync(path.join(ARTIFACTS, "live-state.json"), { force: true });
}
