// Live test of the PROXY protocol behind a real TCP load balancer: a MailServer and DovecotImap
// (host mode, listening on 127.0.0.100 only, port base 28000) with proxyProtocol on every SMTP
// listener and on IMAP, IMAPS and ManageSieve, and HAProxy (Debian's package) in front on
// 127.0.0.101, sending a PROXY v2 header (send-proxy-v2) from that address. Clients bind
// 127.0.0.2-127.0.0.4: Postfix's logs and Received header and Dovecot's login log name the
// client, not the balancer; the brute-force ban falls on the client, not on everyone behind the
// balancer; a connection without a header is refused; Dovecot refuses a header from outside its
// trusted networks, while Postfix believes one from anyone (why its PROXY ports must be firewalled).
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { caFile, docker, dockerLogs, keepLogs, smtp, textMatching, uniqueSubject } from "./clients";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom, USERS } from "./stack";

const PREFIX = "proxyp";
const BASE = 28000;
const PORTS = portsFrom(BASE);
/** Where Postfix and Dovecot listen. */
const SERVER = "127.0.0.100";
/** HAProxy: its frontends, and the address its connections to the daemons come from. */
const BALANCER = "127.0.0.101";
const CLIENT = "127.0.0.2";
/** A client that sends a PROXY header of its own, claiming CLAIMED. */
const FORGER = "127.0.0.3";
const CLAIMED = "127.0.0.9";
const ATTACKER = "127.0.0.4";
const MAX_FAILURES = 3;
const PROXIED = ["smtp", "submission", "smtps", "imap", "imaps", "managesieve"] as const;
const HAPROXY_DIR = path.join(ARTIFACTS, PREFIX);
const alice = USERS.alice;
const bob = USERS.bob;

let ca: string;
let haproxy: ChildProcess | undefined;
let addedServerAddress = false;

const report = (line: string) => process.stdout.write(`# ${line}\n`);

function config() {
    return liveConfig(
        {
            "mailserver:inetInterfaces": [SERVER],
            "mailserver:imapListen": [SERVER],
            // Report mail would enter port 25 without a header: the preview refuses the mix.
            "mailserver:reports": { tls: false, dmarc: false },
            "mailserver:proxyProtocol": {
                listeners: ["smtp", "submission", "smtps"],
                trustedNetworks: [`${BALANCER}/32`],
            },
            // Dovecot trusts the MailServer's trustedNetworks.
            "mailserver:imapProxyProtocol": { listeners: ["imap", "imaps", "managesieve"] },
            "mailserver:imapBruteForce": { maxFailures: MAX_FAILURES, findTime: "10m", banTime: "10m" },
        },
        PREFIX,
        BASE,
    );
}

/** HAProxy in TCP mode: one frontend per proxied port on BALANCER, forwarding to SERVER with a v2 header. */
function haproxyConfig(): string {
    const sections = PROXIED.map(
        name => `
listen ${name}
    bind ${BALANCER}:${PORTS[name]}
    server mail ${SERVER}:${PORTS[name]} send-proxy-v2 source ${BALANCER}
`,
    );
    return `global
    maxconn 200
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
${sections.join("")}`;
}

/**
 * Postfix's inet_interfaces must name an address an interface has (postconf refuses others), and
 * loopback has only 127.0.0.1: SERVER is added to it as a /32 for the test, and removed after.
 */
function addServerAddress(): boolean {
    const shown = spawnSync("ip", ["-4", "addr", "show", "dev", "lo"], { encoding: "utf8" }).stdout;
    if (shown.includes(` ${SERVER}/32 `)) return false;
    const r = spawnSync("ip", ["addr", "add", `${SERVER}/32`, "dev", "lo"], { encoding: "utf8" });
    assert.equal(r.status, 0, `ip addr add ${SERVER}/32 dev lo: ${r.stderr}`);
    return true;
}

async function startHaproxy(): Promise<void> {
    fs.mkdirSync(HAPROXY_DIR, { recursive: true });
    const cfg = path.join(HAPROXY_DIR, "haproxy.cfg");
    fs.writeFileSync(cfg, haproxyConfig());
    const check = spawnSync("haproxy", ["-c", "-f", cfg], { encoding: "utf8" });
    assert.equal(check.status, 0, `haproxy -c: ${check.stdout}${check.stderr}`);
    const out = fs.openSync(path.join(HAPROXY_DIR, "haproxy.out"), "w");
    haproxy = spawn("haproxy", ["-db", "-f", cfg], { stdio: ["ignore", out, out] });
    for (let i = 0; i < 50; i++) {
        if ((await exchange(BALANCER, PORTS.smtp, CLIENT, "", 5000, "QUIT\r\n")).received.startsWith("220 ")) return;
        await new Promise(r => setTimeout(r, 200));
    }
    throw new Error(`HAProxy does not forward to Postfix; see ${HAPROXY_DIR}/haproxy.out`);
}

/**
 * A raw TCP session from `source`: writes `send` once connected (and `afterGreeting` once the
 * server first speaks), collects what the server says until it closes the connection or `waitMs` pass.
 */
function exchange(
    server: string,
    port: number,
    source: string,
    send: string,
    waitMs = 8000,
    afterGreeting?: string,
): Promise<{ received: string; closedByServer: boolean }> {
    return new Promise(resolve => {
        let received = "";
        const socket = net.connect({ host: server, port, localAddress: source });
        const timer = setTimeout(() => {
            socket.destroy();
            resolve({ received, closedByServer: false });
        }, waitMs);
        socket.on("connect", () => socket.write(send));
        socket.on("data", d => {
            if (afterGreeting !== undefined && received === "") socket.write(afterGreeting);
            received += d.toString("latin1");
        });
        socket.on("error", () => undefined);
        socket.on("close", () => {
            clearTimeout(timer);
            resolve({ received, closedByServer: true });
        });
    });
}

/** An IMAPS login with curl from `source` through `server`: "ok" or curl's exit code (67: login denied). */
function imapsLogin(u: { address: string; password: string }, password: string, source: string, server: string) {
    const r = spawnSync(
        "curl",
        [
            ...["--silent", "--show-error", "--max-time", "30", "--interface", source, "--cacert", ca],
            ...["--connect-to", `mail.example.test:${PORTS.imaps}:${server}:${PORTS.imaps}`],
            ...["--user", `${u.address}:${password}`, `imaps://mail.example.test:${PORTS.imaps}/`, "--request", "NOOP"],
        ],
        { encoding: "utf8", timeout: 60_000 },
    );
    return r.status === 0 ? "ok" : `curl ${r.status}`;
}

/** The delivered message with this subject in a mailbox of example.test, read from its Maildir. */
async function delivered(mailbox: string, subject: string): Promise<string> {
    const dir = `/var/mail/vhosts/example.test/${mailbox}/Maildir`;
    for (let i = 0; i < 60; i++) {
        const r = spawnSync(
            "docker",
            ["exec", `${PREFIX}-dovecot`, "sh", "-c", `grep -rlF -- "${subject}" ${dir} | head -1 | xargs -r cat`],
            { encoding: "utf8" },
        );
        if (r.stdout.includes(subject)) return r.stdout;
        await new Promise(r => setTimeout(r, 500));
    }
    throw new Error(`no message "${subject}" in ${dir}`);
}

const postfixLog = () => dockerLogs(`${PREFIX}-postfix`);
const dovecotLog = () => dockerLogs(`${PREFIX}-dovecot`);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The log once it has a line matching `pattern` (a refused connection is logged after it closes), at most 10 s. */
const logWith = (read: () => string, pattern: RegExp) => textMatching(read, pattern, 10_000, 250);

describe("PROXY protocol behind HAProxy, live", () => {
    before(async () => {
        destroy(PREFIX);
        addedServerAddress = addServerAddress();
        ca = caFile(deploy(config()).outputs.certificatePem, PREFIX);
        await startHaproxy();
    });
    after(() => {
        haproxy?.kill();
        keepLogs(PREFIX, ["postfix", "dovecot", "authpolicy"]);
        destroy(PREFIX);
        if (addedServerAddress) spawnSync("ip", ["addr", "del", `${SERVER}/32`, "dev", "lo"]);
    });

    test("SMTP on port 25 through the balancer: Postfix logs and the Received header name the client, not the balancer", async () => {
        const subject = uniqueSubject("proxied smtp");
        const r = smtp({
            server: BALANCER,
            port: PORTS.smtp,
            source: CLIENT,
            from: "someone@sender.example",
            to: alice.address,
            subject,
        });
        assert.equal(r.status, 0, r.transcript);
        const message = await delivered("alice", subject);
        // Postfix's own Received header (the first is Dovecot's, for the LMTP delivery).
        const received =
            /^Received: from [^\n]*\n\tby mail\.example\.test \(Postfix\)[\s\S]*?(?=^\S)/m.exec(message)?.[0] ?? "";
        report(`Received: ${received.replace(/\s+/g, " ").slice(0, 160)}`);
        assert.match(received, new RegExp(`\\[${escape(CLIENT)}\\]`), message.slice(0, 2000));
        assert.doesNotMatch(message, new RegExp(escape(BALANCER)));
        assert.match(
            postfixLog(),
            new RegExp(`postfix/smtp/smtpd\\[\\d+\\]: connect from [^\\s]*\\[${escape(CLIENT)}\\]`),
        );
        assert.doesNotMatch(postfixLog(), new RegExp(`connect from [^\\s]*\\[${escape(BALANCER)}\\]`));
    });

    for (const [name, tls] of [
        ["submission", "starttls"],
        ["smtps", "implicit"],
    ] as const)
        test(`${name} through the balancer (${tls} TLS after the header): the login is logged from the client's address`, () => {
            const r = smtp({
                server: BALANCER,
                port: PORTS[name],
                source: CLIENT,
                tls,
                ca,
                auth: alice,
                from: alice.address,
                to: bob.address,
                subject: uniqueSubject(`proxied ${name}`),
            });
            assert.equal(r.status, 0, r.transcript);
            const login = new RegExp(
                `postfix/${name}/smtpd\\[\\d+\\]: \\w+: client=[^\\s]*\\[${escape(CLIENT)}\\], sasl_method=PLAIN, sasl_username=${escape(alice.address)}`,
            );
            assert.match(postfixLog(), login);
        });

    test("IMAPS through the balancer: Dovecot's login log has the client's address (rip)", () => {
        assert.equal(imapsLogin(alice, alice.password, CLIENT, BALANCER), "ok");
        const logins = dovecotLog()
            .split("\n")
            .filter(l => l.includes("imap-login: Info: Logged in: user=<alice@example.test>"));
        report(`login: ${logins.at(-1)}`);
        assert.ok(logins.length > 0);
        assert.ok(
            // lip is the balancer's frontend: the header names the connection the client made.
            logins.every(l => l.includes(`rip=${CLIENT},`) && l.includes(`lip=${BALANCER},`)),
            logins.join("\n"),
        );
    });

    test("brute force behind the balancer: the failing client is banned, another client through the same balancer logs in", () => {
        const failures = Array.from({ length: MAX_FAILURES + 1 }, (_, i) =>
            imapsLogin(bob, `wrong-${i}`, ATTACKER, BALANCER),
        );
        const attacker = imapsLogin(bob, bob.password, ATTACKER, BALANCER);
        const other = imapsLogin(bob, bob.password, CLIENT, BALANCER);
        report(
            `attacker ${ATTACKER}: ${failures.join(", ")}, then the right password: ${attacker}; ${CLIENT}: ${other}`,
        );
        assert.ok(
            failures.every(f => f === "curl 67"),
            failures.join(", "),
        );
        assert.equal(attacker, "curl 67", "the banned address is refused even with the right password");
        assert.equal(other, "ok", "the balancer's other clients are not banned with it");
    });

    test("a direct connection without a PROXY header is refused: no greeting from Postfix or Dovecot", async () => {
        const postfix = await exchange(SERVER, PORTS.smtp, CLIENT, "EHLO client.example\r\n");
        const dovecot = await exchange(SERVER, PORTS.imap, CLIENT, "a CAPABILITY\r\n");
        report(`Postfix: ${JSON.stringify(postfix)}; Dovecot: ${JSON.stringify(dovecot)}`);
        assert.ok(postfix.closedByServer && !postfix.received.includes("220"), JSON.stringify(postfix));
        assert.ok(dovecot.closedByServer && !dovecot.received.includes("* OK"), JSON.stringify(dovecot));
        assert.match(await logWith(postfixLog, /warning: haproxy read: /), /warning: haproxy read: /);
        const untrusted = new RegExp(`haproxy: Client not trusted \\(rip=${escape(CLIENT)}\\)`);
        assert.match(await logWith(dovecotLog, untrusted), untrusted);
    });

    test("Dovecot refuses a PROXY header from outside its trusted networks: the claimed address is not believed", async () => {
        const header = `PROXY TCP4 ${CLAIMED} ${SERVER} 40000 ${PORTS.imap}\r\n`;
        const r = await exchange(SERVER, PORTS.imap, FORGER, `${header}a LOGOUT\r\n`);
        report(`Dovecot to ${FORGER}: ${JSON.stringify(r)}`);
        assert.ok(r.closedByServer && !r.received.includes("* OK"), JSON.stringify(r));
        const untrusted = new RegExp(`haproxy: Client not trusted \\(rip=${escape(FORGER)}\\)`);
        const log = await logWith(dovecotLog, untrusted);
        assert.match(log, untrusted);
        assert.doesNotMatch(log, new RegExp(`rip=${escape(CLAIMED)}\\b`));
    });

    test("Postfix believes a PROXY header from anyone who reaches the port: why its PROXY listeners must be firewalled", async () => {
        const header = `PROXY TCP4 ${CLAIMED} ${SERVER} 40000 ${PORTS.smtp}\r\n`;
        const r = await exchange(SERVER, PORTS.smtp, FORGER, header, 8000, "QUIT\r\n");
        report(`Postfix to ${FORGER}: ${JSON.stringify(r)}`);
        assert.match(r.received, /^220 /);
        assert.match(postfixLog(), new RegExp(`connect from [^\\s]*\\[${escape(CLAIMED)}\\]`));
    });

    test("the Postfix healthcheck reaches its PROXY port (it sends a header naming itself): the container is healthy", () => {
        const health = docker(["inspect", "-f", "{{.State.Health.Status}}", `${PREFIX}-postfix`]);
        const probe = docker(["exec", `${PREFIX}-postfix`, "cat", "/config/current/probe"]);
        assert.match(probe, /^proxy=v1$/m);
        assert.equal(health, "healthy");
    });
});
