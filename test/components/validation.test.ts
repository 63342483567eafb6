// Bad arguments are refused in the constructor, synchronously, before the component or any of
// its children is registered: `pulumi preview` stops with a message naming the component, the
// field and the value, and nothing half-built is left in the plan.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import { installMocks, MockEnv } from "./mocks";

let env: MockEnv;
let c: typeof import("../../components");
let domain: import("../../components").VirtualDomain;
let server: import("../../components").MailServer;

before(async () => {
    env = await installMocks();
    c = await import("../../components");
    domain = new c.VirtualDomain("v-example.com", {
        domain: "example.com",
        mailboxes: [{ address: "alice", password: env.pulumi.secret("alice-Valid-Password-1") }],
    });
    server = new c.MailServer("v-server", { hostname: "mail.example.com", domains: [domain], namePrefix: "vs" });
    await env.settle();
});

/**
 * Asserts that construct() throws a MailConfigError synchronously whose message starts with
 * "<label>: <field> = <value>". Returns the message; nothingRegistered() checks the rest.
 */
function refused(label: string, field: string, shownValue: string, construct: () => unknown): string {
    let error: unknown;
    try {
        construct();
    } catch (e) {
        error = e;
    }
    assert.ok(error, `${label}: expected the constructor to throw`);
    assert.ok(error instanceof c.MailConfigError, `${label}: expected a MailConfigError, got ${error}`);
    const message = (error as Error).message;
    assert.ok(message.startsWith(`${label}: ${field} = ${shownValue} is not accepted; `), `message: ${message}`);
    return message;
}

/**
 * Once every registration in flight has settled: nothing was registered since `count`, under any of these names or
 * prefixes.
 */
async function nothingRegistered(count: number, names: string[]) {
    await env.settle();
    assert.deepEqual(
        env.records.slice(count).map(r => `${r.type} ${r.name}`),
        [],
        "registered before refusing",
    );
    for (const n of names)
        assert.equal(
            env.records.find(r => r.name === n || r.name.startsWith(`${n}-`)),
            undefined,
            `${n} registered`,
        );
}

test("MailServer with an invalid hostname throws synchronously and registers nothing", async () => {
    const count = env.records.length;
    const message = refused(
        "MailServer bad-hostname",
        "hostname",
        JSON.stringify("not a host name"),
        () => new c.MailServer("bad-hostname", { hostname: "not a host name", domains: [domain], namePrefix: "bh" }),
    );
    assert.match(message, /fully qualified host name/);
    await nothingRegistered(count, ["bad-hostname", "bh"]);
});

test("other invalid MailServer arguments are refused the same way", async () => {
    const cases: Array<[string, string, string, Partial<import("../../components").MailServerArgs>]> = [
        ["bad-parent", "hostname", `"mail.example"`, { hostname: "mail.example" }],
        ["open-relay", "mynetworks[0]", `"0.0.0.0/0"`, { mynetworks: ["0.0.0.0/0"] }],
        ["open-relay6", "mynetworks[1]", `"[::]/0"`, { mynetworks: ["127.0.0.0/8", "[::]/0"] }],
        ["dup-port", "ports.submission", "587", { ports: { smtp: 587 } }],
        ["bad-port", "ports.smtps", "70000", { ports: { smtps: 70000 } }],
        ["bad-netmode", "networkMode", `"overlay"`, { networkMode: "overlay" as any }],
        ["bad-publish", "publishAddress", `"localhost"`, { publishAddress: "localhost" }],
        ["bad-prefix", "namePrefix", `"bad prefix!"`, { namePrefix: "bad prefix!" }],
        ["no-domains", "domains", "[]", { domains: [] }],
        ["relay-with-domains", "domains[0]", `"example.com (alice@example.com)"`, { mode: "relay" }],
        ["bad-mode", "mode", `"smarthost"`, { mode: "smarthost" as any }],
        ["bad-admin", "adminAddress", `"nobody@example.com"`, { adminAddress: "nobody@example.com" }],
        ["bad-dest", "mydestination[0]", `"example.com"`, { mydestination: ["example.com"] }],
        ["bad-tls", "tls.keyPem", `"(only one of certPem/keyPem)"`, { tls: { certPem: "x" } }],
        ["bad-size", "messageSizeLimit", "-1", { messageSizeLimit: -1 }],
    ];
    const count = env.records.length;
    for (const [name, field, shown, override] of cases) {
        refused(
            `MailServer ${name}`,
            field,
            shown,
            () =>
                new c.MailServer(name, {
                    hostname: "mail.example.com",
                    domains: [domain],
                    namePrefix: `p-${name}`,
                    ...override,
                } as any),
        );
    }
    await nothingRegistered(
        count,
        cases.flatMap(([name]) => [name, `p-${name}`]),
    );
});

test("a supplied certificate that does not belong to the key is refused before registration", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-tls-"));
    try {
        const gen = (n: string) =>
            execFileSync(
                "openssl",
                [
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    path.join(dir, `${n}.key`),
                    "-out",
                    path.join(dir, `${n}.crt`),
                    "-subj",
                    "/CN=mail.example.com",
                    "-days",
                    "1",
                ],
                { stdio: "pipe" },
            );
        gen("a");
        gen("b");
        const certA = fs.readFileSync(path.join(dir, "a.crt"), "utf8"),
            keyB = fs.readFileSync(path.join(dir, "b.key"), "utf8");
        const count = env.records.length;
        const message = refused(
            "MailServer wrong-key",
            "tls.keyPem",
            `"(a key that does not match)"`,
            () =>
                new c.MailServer("wrong-key", {
                    hostname: "mail.example.com",
                    domains: [domain],
                    namePrefix: "wk",
                    tls: { certPem: certA, keyPem: keyB },
                }),
        );
        await nothingRegistered(count, ["wrong-key", "wk"]);
        assert.ok(
            !message.includes("PRIVATE KEY") && !message.includes(keyB.split("\n")[1]),
            "the key is never printed",
        );
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("DovecotImap, Relayhost and VirtualDomain argument errors are refused before registration", async () => {
    const count = env.records.length;
    refused(
        "DovecotImap imap-port-clash",
        "ports.imap",
        "25",
        () => new c.DovecotImap("imap-port-clash", { mailServer: server, ports: { imap: 25 } }),
    );
    refused(
        "DovecotImap imap-bad-listen",
        "listen[0]",
        `"everywhere"`,
        () => new c.DovecotImap("imap-bad-listen", { mailServer: server, listen: ["everywhere"] }),
    );
    refused(
        "DovecotImap imap-no-server",
        "mailServer",
        "(missing)",
        () => new c.DovecotImap("imap-no-server", {} as any),
    );
    refused(
        "Relayhost relay-cleartext",
        "tlsPolicy",
        `"none"`,
        () =>
            new c.Relayhost("relay-cleartext", {
                host: "smtp.relay.example.net",
                username: "u",
                password: env.pulumi.secret("relay-password-1234"),
                tlsPolicy: "none",
            }),
    );
    refused(
        "Relayhost relay-user-only",
        "password",
        "(missing)",
        () => new c.Relayhost("relay-user-only", { host: "smtp.relay.example.net", username: "u" }),
    );
    refused(
        "Relayhost relay-port",
        "port",
        "70000",
        () => new c.Relayhost("relay-port", { host: "smtp.relay.example.net", port: 70000 }),
    );
    refused(
        "VirtualDomain vd-bad-domain",
        "domain",
        `"example"`,
        () => new c.VirtualDomain("vd-bad-domain", { domain: "example" }),
    );
    refused(
        "VirtualDomain vd-dup",
        "aliases[0].address",
        `"alice@example.net"`,
        () =>
            new c.VirtualDomain("vd-dup", {
                domain: "example.net",
                mailboxes: [{ address: "alice", password: env.pulumi.secret("alice-Valid-Password-1") }],
                aliases: [{ address: "alice", targets: ["x@example.org"] }],
            }),
    );
    refused(
        "VirtualDomain vd-no-password",
        "mailboxes[0].password",
        "(missing)",
        () =>
            new c.VirtualDomain("vd-no-password", { domain: "example.net", mailboxes: [{ address: "alice" } as any] }),
    );
    await nothingRegistered(count, [
        "imap-port-clash",
        "imap-bad-listen",
        "imap-no-server",
        "relay-cleartext",
        "relay-user-only",
        "relay-port",
        "vd-bad-domain",
        "vd-dup",
        "vd-no-password",
    ]);
});

test("a VirtualDomain with a too-short plain password is refused before registration, without echoing it", async () => {
    const count = env.records.length;
    const message = refused(
        "VirtualDomain vd-short-pw",
        "mailboxes[0].password",
        `"(a secret of 5 characters)"`,
        () =>
            new c.VirtualDomain("vd-short-pw", {
                domain: "example.net",
                mailboxes: [{ address: "alice", password: "hunt2" }],
            }),
    );
    assert.ok(!message.includes("hunt2"));
    await nothingRegistered(count, ["vd-short-pw"]);
});

test("a VirtualDomain with a bad spf or mxHosts entry is refused before registration", async () => {
    const count = env.records.length;
    refused(
        "VirtualDomain vd-bad-spf",
        "spf",
        `"mx -all"`,
        () => new c.VirtualDomain("vd-bad-spf", { domain: "example.net", spf: "mx -all" }),
    );
    refused(
        "VirtualDomain vd-bad-mx",
        "mxHosts[0]",
        `"mx"`,
        () => new c.VirtualDomain("vd-bad-mx", { domain: "example.net", mxHosts: ["mx"] }),
    );
    await nothingRegistered(count, ["vd-bad-spf", "vd-bad-mx"]);
});

test("a relay-mode MailServer user with a too-short plain password is refused before registration", async () => {
    const relay = new c.Relayhost("v-relay", { host: "smtp.relay.example.net" });
    await env.settle();
    const count = env.records.length;
    const message = refused(
        "MailServer relay-users",
        "users[0].password",
        `"(a secret of 5 characters)"`,
        () =>
            new c.MailServer("relay-users", {
                mode: "relay",
                hostname: "relay.example.com",
                relayhosts: [relay],
                namePrefix: "ru",
                users: [{ address: "app@example.com", password: "hunt2" }],
            } as any),
    );
    assert.ok(!message.includes("hunt2"));
    await nothingRegistered(count, ["relay-users", "ru"]);
});

test("the password error never echoes the password (thrown synchronously either way)", () => {
    assert.throws(
        () =>
            new c.VirtualDomain("vd-echo", {
                domain: "example.net",
                mailboxes: [{ address: "alice", password: "hunter2" }],
            }),
        (e: any) =>
            e instanceof c.MailConfigError &&
            !e.message.includes("hunter2") &&
            e.message.includes("(a secret of 7 characters)"),
    );
});
