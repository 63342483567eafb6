// The stack command's secrets (scripts/lib/engine.ts, scripts/lib/local.ts): never on a command line
// while the real Pulumi CLI stores them, watched in the process table; .local/ modes enforced on
// every run; one writer of the passwords file at a time.
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import * as lockfile from "proper-lockfile";
import { openStack, setStackConfig } from "../../scripts/lib/engine";
import { ensurePasswords, secureLocal } from "../../scripts/lib/local";

const ROOT = path.resolve(__dirname, "..", "..");
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/**
 * A process (not this one: spawnSync would stop our event loop) that reads every /proc/<pid>/cmdline
 * in a loop and reports which of the markers it saw, and how many `pulumi config` commands. The
 * markers reach it through its environment, never its own command line.
 */
function watchProcessTable(markers: string[]): { stop(): Promise<{ seen: string[]; configCommands: number }> } {
    const script = `
        const fs = require("fs");
        const markers = JSON.parse(process.env.MARKERS);
        const seen = new Set(), commands = new Set();
        const scan = () => {
            for (const pid of fs.readdirSync("/proc")) {
                if (!/^[0-9]+$/.test(pid) || pid === String(process.pid)) continue;
                let cmd;
                try { cmd = fs.readFileSync("/proc/" + pid + "/cmdline", "utf8"); } catch { continue; }
                for (const m of markers) if (cmd.includes(m)) seen.add(m);
                if (/pulumi\\0config\\0/.test(cmd) || /\\0config\\0(set|set-all)\\0/.test(cmd)) commands.add(pid);
            }
        };
        const timer = setInterval(scan, 1);
        process.stdout.write("ready\\n");
        process.on("SIGTERM", () => {
            clearInterval(timer);
            process.stdout.write(JSON.stringify({ seen: [...seen], configCommands: commands.size }) + "\\n");
            process.exit(0);
        });`;
    const child: ChildProcess = spawn(process.execPath, ["-e", script], {
        env: { ...process.env, MARKERS: JSON.stringify(markers) },
        stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.on("data", d => (out += d));
    return {
        async stop() {
            while (!out.includes("ready")) await sleep(10);
            child.kill("SIGTERM");
            await new Promise(r => child.on("close", r));
            return JSON.parse(out.trim().split("\n").pop()!);
        },
    };
}

describe("stack config secrets and the real Pulumi CLI", () => {
    let tmp: string;
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stack-secrets-"));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    test("setStackConfig passes no secret on a command line (the process table is watched while the CLI runs)", async () => {
        const stack = await openStack({ stackName: "secrets", dir: path.join(tmp, "stack") });
        const password = `pw-marker-${process.pid}-a7Qz`;
        const keyPem = `-----BEGIN PRIVATE KEY-----\nkey-marker-${process.pid}-Zq7a\n-----END PRIVATE KEY-----\n`;
        const control = `control-marker-${process.pid}-x9`;
        const watcher = watchProcessTable([password, `key-marker-${process.pid}-Zq7a`, control]);
        // The positive control: the Automation API's setAllConfig, which setStackConfig used before,
        // puts a secret on the command line of `pulumi config set-all`. The watcher must see it.
        await stack.setAllConfig({ "mailserver:probe": { value: control, secret: true } });
        await setStackConfig(stack, {
            "mailserver:hostname": "mail.example.test",
            "mailserver:domains": [{ domain: "example.test", mailboxes: [{ address: "alice" }] }],
            "mailserver:passwords": { "alice@example.test": password },
            "mailserver:tlsKeyPem": keyPem,
        });
        const { seen, configCommands } = await watcher.stop();
        process.stdout.write(`# pulumi config commands seen: ${configCommands}; markers on a command line: ${seen}\n`);
        assert.deepEqual(seen, [control], "only the control's secret was on a command line");
        assert.ok(configCommands >= 3, `the watcher saw the CLI's config commands (${configCommands})`);
        // Stored, as secrets, with the values given; the control key was removed as stale.
        const stored = await stack.getAllConfig();
        assert.deepEqual(stored["mailserver:passwords"], {
            value: JSON.stringify({ "alice@example.test": password }),
            secret: true,
        });
        assert.deepEqual(stored["mailserver:tlsKeyPem"], { value: keyPem, secret: true });
        assert.equal(stored["mailserver:hostname"].secret, false);
        assert.equal(stored["mailserver:probe"], undefined);
        const file = fs.readFileSync(path.join(tmp, "stack", "workspace", "Pulumi.secrets.yaml"), "utf8");
        assert.ok(!file.includes(password) && !file.includes("key-marker"), "secrets encrypted in the config file");
    });
});

describe(".local/: modes and the passwords file", () => {
    let local: string;
    before(() => {
        local = fs.mkdtempSync(path.join(os.tmpdir(), "local-"));
    });
    after(() => fs.rmSync(local, { recursive: true, force: true }));
    const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);

    test("loose modes of files that existed before are made private on every run", () => {
        fs.chmodSync(local, 0o755);
        const passwords = path.join(local, "dev-passwords.json");
        const relay = path.join(local, "dev-relay-passwords.json");
        const stackDir = path.join(local, "stacks", "dev");
        const state = path.join(stackDir, "state", ".pulumi", "stacks", "mailserver");
        fs.mkdirSync(state, { recursive: true, mode: 0o755 });
        for (const [f, content] of [
            [passwords, "{}"],
            [relay, "{}"],
            [path.join(stackDir, "passphrase"), "x"],
            [path.join(state, "dev.json"), "{}"],
        ])
            fs.writeFileSync(f, content, { mode: 0o644 });
        const certificate = path.join(local, "dev-certificate.pem");
        fs.writeFileSync(certificate, "public", { mode: 0o644 });
        secureLocal(local);
        assert.equal(mode(local), "700");
        assert.equal(mode(passwords), "600");
        assert.equal(mode(relay), "600");
        assert.equal(mode(path.join(local, "stacks")), "700");
        assert.equal(mode(stackDir), "700");
        assert.equal(mode(path.join(stackDir, "passphrase")), "600");
        assert.equal(mode(path.join(stackDir, "state")), "700");
        assert.equal(mode(state), "700");
        assert.equal(mode(path.join(state, "dev.json")), "600");
        assert.equal(mode(certificate), "644", "a public certificate keeps its mode");
    });

    test("ensurePasswords waits for the lock's holder and keeps what it wrote: one writer at a time", async () => {
        const file = path.join(local, "lock-passwords.json");
        // This test holds the lock, as a stack command in the middle of its update would.
        const release = await lockfile.lock(file, { realpath: false });
        const child = spawn(
            process.execPath,
            [
                "--import",
                "tsx",
                "-e",
                `require(${JSON.stringify(path.join(ROOT, "scripts", "lib", "local.ts"))})` +
                    `.ensurePasswords(${JSON.stringify(file)}, ["alice@example.test", "bob@example.test"])` +
                    ".then(p => process.stdout.write(JSON.stringify(p)))",
            ],
            { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
        );
        let out = "";
        child.stdout.on("data", d => (out += d));
        const closed = new Promise(r => child.on("close", r));
        await sleep(3000);
        assert.ok(!fs.existsSync(file), "the other run wrote while the lock was held");
        // What the holder writes (alice's password) is what the waiting run must keep.
        fs.writeFileSync(file, JSON.stringify({ "alice@example.test": "holder-wrote-this" }), { mode: 0o644 });
        await release();
        await closed;
        const seen = JSON.parse(out);
        assert.equal(seen["alice@example.test"], "holder-wrote-this");
        assert.match(seen["bob@example.test"], /^[A-Za-z0-9]{20}$/);
        assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), seen);
        assert.equal(mode(file), "600");
    });

    test("two runs at once agree on every password, and the second does not rewrite the file", async () => {
        const file = path.join(local, "race-passwords.json");
        const addresses = Array.from({ length: 5 }, (_, i) => `user${i}@example.test`);
        const [a, b] = await Promise.all([ensurePasswords(file, addresses), ensurePasswords(file, addresses)]);
        assert.deepEqual(a, b);
        const written = fs.statSync(file).mtimeMs;
        await sleep(20);
        assert.deepEqual(await ensurePasswords(file, addresses), a);
        assert.equal(fs.statSync(file).mtimeMs, written, "nothing missing: not rewritten");
    });
});
