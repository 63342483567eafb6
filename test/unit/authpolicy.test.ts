// The brute-force policy service (images/authpolicy/authpolicy.py), run with the host's python3
// on a unix socket and asked as Dovecot asks it: over its socket, as an HTTP proxy (request lines
// in absolute form), with the settings as request attributes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";

const SCRIPT = path.resolve(__dirname, "..", "..", "images", "authpolicy", "authpolicy.py");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "authpolicy-"));
const socketPath = path.join(dir, "policy.sock");
let service: ChildProcess;
let output = "";

const settings = { max_failures: "3", max_login_failures: "5", find_seconds: "600", ban_seconds: "2", exempt: "" };

function ask(command: "allow" | "report", body: Record<string, unknown>): Promise<{ status: number; json: any }> {
    return new Promise((resolve, reject) => {
        const payload = JSON.stringify({ ...settings, ...body });
        const req = http.request(
            {
                socketPath,
                method: "POST",
                // Absolute form, as Dovecot's HTTP client writes it to a proxy.
                path: `http://authpolicy/?command=${command}`,
                headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) },
            },
            res => {
                let data = "";
                res.on("data", d => (data += d));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) }));
            },
        );
        req.on("error", reject);
        req.end(payload);
    });
}

const allow = async (remote: string, login: string, extra: Record<string, unknown> = {}) =>
    (await ask("allow", { remote, login, protocol: "imap", ...extra })).json.status as number;
const fail = (remote: string, login: string, extra: Record<string, unknown> = {}) =>
    ask("report", { remote, login, protocol: "imap", success: false, policy_reject: false, ...extra });
const succeed = (remote: string, login: string) =>
    ask("report", { remote, login, protocol: "imap", success: true, policy_reject: false });

before(async () => {
    service = spawn("python3", [SCRIPT, socketPath], { stdio: ["ignore", "pipe", "pipe"] });
    service.stdout!.on("data", d => (output += d));
    service.stderr!.on("data", d => (output += d));
    for (let i = 0; i < 100 && !fs.existsSync(socketPath); i++) await new Promise(r => setTimeout(r, 50));
    assert.ok(fs.existsSync(socketPath), output);
});
after(() => {
    service.kill();
    fs.rmSync(dir, { recursive: true, force: true });
});

test("the socket is open to Dovecot's auth process (another user): mode 0666", () => {
    assert.equal(fs.statSync(socketPath).mode & 0o777, 0o666);
});

test("an address is banned after max_failures failures, for every login, even a right password; others are not", async () => {
    assert.equal(await allow("192.0.2.1", "alice@example.test"), 0);
    for (let i = 0; i < 3; i++) await fail("192.0.2.1", `user${i}@example.test`);
    assert.equal(await allow("192.0.2.1", "alice@example.test"), -1);
    const refused = await ask("allow", { remote: "192.0.2.1", login: "bob@example.test" });
    assert.deepEqual(refused.json, { status: -1, msg: "Too many failed logins from 192.0.2.1; try again later" });
    assert.equal(await allow("192.0.2.2", "alice@example.test"), 0, "another address");
    assert.match(output, /banned address 192\.0\.2\.1 for 2 s after 3 failed logins within 600 s/);
});

test("refusals during a ban do not count, and the ban ends after ban_seconds", async () => {
    for (let i = 0; i < 3; i++) await fail("192.0.2.10", "x@example.test");
    assert.equal(await allow("192.0.2.10", "x@example.test"), -1);
    await fail("192.0.2.10", "x@example.test", { policy_reject: true });
    await new Promise(r => setTimeout(r, 2200));
    assert.equal(await allow("192.0.2.10", "x@example.test"), 0);
});

test("failures older than find_seconds are forgotten", async () => {
    const short = { find_seconds: "1" };
    await fail("192.0.2.20", "y@example.test", short);
    await fail("192.0.2.20", "y@example.test", short);
    await new Promise(r => setTimeout(r, 1100));
    await fail("192.0.2.20", "y@example.test", short);
    assert.equal(await allow("192.0.2.20", "y@example.test", short), 0);
});

test("exempt networks and the gateway are never banned by address", async () => {
    const exempt = { exempt: "198.51.100.0/24 gateway" };
    for (let i = 0; i < 5; i++) await fail("198.51.100.7", `u${i}@example.test`, exempt);
    assert.equal(await allow("198.51.100.7", "z@example.test", exempt), 0);
    fs.writeFileSync(path.join(dir, "gateway"), "172.18.0.1\n");
    for (let i = 0; i < 5; i++) await fail("172.18.0.1", `v${i}@example.test`, exempt);
    assert.equal(await allow("172.18.0.1", "z@example.test", exempt), 0);
    // Without the keyword, the same address is banned like any other.
    for (let i = 0; i < 3; i++) await fail("172.18.0.1", `w${i}@example.test`);
    assert.equal(await allow("172.18.0.1", "z@example.test"), -1);
});

test("a login attacked from many addresses is closed to new addresses; its known addresses keep working", async () => {
    await succeed("203.0.113.1", "Carol@Example.test");
    for (let i = 0; i < 5; i++) await fail(`203.0.113.${10 + i}`, "carol@example.test");
    const refused = await ask("allow", { remote: "203.0.113.50", login: "carol@example.test" });
    assert.deepEqual(refused.json, { status: -1, msg: "Too many failed logins to this account; try again later" });
    assert.equal(await allow("203.0.113.1", "carol@example.test"), 0, "the owner's address (logins are lower-cased)");
    assert.equal(await allow("203.0.113.50", "dave@example.test"), 0, "another login from the new address");
});

test("a malformed request is allowed (fail open, as Dovecot is when the service is down) and logged", async () => {
    assert.equal(await allow("192.0.2.30", "a@example.test", { max_failures: "none" }), 0);
    const r = await ask("allow", { remote: "192.0.2.30", login: "a@example.test", max_failures: "-1" });
    assert.equal(r.json.status, 0);
    assert.match(output, /bad request/);
});

test("200 connections at once are all answered: Dovecot 2.4.1's auth process cannot bear a refused connect", async () => {
    const statuses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => allow(`198.18.0.${i % 250}`, `burst${i}@example.test`)),
    );
    assert.deepEqual(new Set(statuses), new Set([0]));
});

test("the healthcheck answers, and leaves no traceback in the service's log", () => {
    for (let i = 0; i < 3; i++) {
        const r = spawnSync("python3", [SCRIPT, "--check", socketPath], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
    }
    assert.doesNotMatch(output, /Traceback|Error/);
});
