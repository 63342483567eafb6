// Live test of tls.acme: the stack's ACME container (Debian's lego) against Pebble, a local ACME
// test server, with Pebble's challenge test server answering the DNS queries of its HTTP-01
// validation (every name -> 127.0.0.71, where the ACME container's HTTP-01 server listens). No
// internet: Pebble and its DNS on 127.0.0.70; the mail services on 127.0.0.1 (port base 33000).
//
// Shown here: `pulumi up` succeeds while Pebble is down (a temporary self-signed certificate is
// served); once Pebble starts, Postfix (25 STARTTLS, 465, 587 STARTTLS) and Dovecot (993, 4190
// STARTTLS) serve Pebble's certificate, and again a new one after a forced renewal, without a
// container being replaced, while SMTP and IMAP sessions run without a refused connection or a
// failed session. The private key is in no container's environment, label, log or in the state.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as tls from "tls";
import { docker, dockerLogs, HOST } from "./clients";
import { Pebble, Served, served as servedOn, TlsPort, waitForAll as waitForAllOn } from "./pebble";
import { ARTIFACTS, deploy, destroy, engineDir, liveConfig, portsFrom, stackContainers, USERS } from "./stack";

const PREFIX = "acmetest";
const PORTS = portsFrom(33000);
const PEBBLE = "127.0.0.70";
const HTTP01 = "127.0.0.71";
const HOSTNAME = "mail.example.test";
const EXTRA = "imap.example.test";
const WORK = path.join(ARTIFACTS, "acme");
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The ports whose certificate is checked, and how openssl starts TLS there. */
const TLS_PORTS: TlsPort[] = [
    { name: "smtp", port: PORTS.smtp, starttls: "smtp" },
    { name: "smtps", port: PORTS.smtps },
    { name: "submission", port: PORTS.submission, starttls: "smtp" },
    { name: "imaps", port: PORTS.imaps },
    { name: "managesieve", port: PORTS.managesieve, starttls: "sieve" },
];

const pebbleServer = new Pebble({
    work: WORK,
    address: PEBBLE,
    portBase: 33000,
    dnsServer: `${PEBBLE}:33053`,
    label: PREFIX,
});
const served = (p: TlsPort) => servedOn(p, HOSTNAME);
const waitForAll = (what: string, ok: (s: Served) => boolean, timeoutMs?: number) =>
    waitForAllOn(TLS_PORTS, HOSTNAME, what, ok, timeoutMs);

// ---------------------------------------------------------------- Pebble

let challtestsrv: ChildProcess | undefined;

/** Pebble, with pebble-challtestsrv as its DNS (every name -> 127.0.0.71). */
async function startPebble(): Promise<void> {
    const log = fs.openSync(path.join(WORK, "challtestsrv.log"), "a");
    challtestsrv = spawn(
        "pebble-challtestsrv",
        [
            "-defaultIPv4",
            HTTP01,
            "-defaultIPv6",
            "",
            "-dns01",
            `${PEBBLE}:33053`,
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            `${PEBBLE}:33055`,
        ],
        { stdio: ["ignore", log, log] },
    );
    await pebbleServer.start();
}

// ---------------------------------------------------------------- load

interface Load {
    ok: number;
    refused: number;
    failed: string[];
    stop: () => Promise<void>;
}

/** A line reader over a socket: expect(re) waits (bounded) until the unread text matches. */
function lines(socket: net.Socket) {
    let buf = "";
    let wake: (() => void) | undefined;
    const onData = (d: Buffer) => {
        buf += d.toString("latin1");
        wake?.();
    };
    socket.on("data", onData);
    return {
        async expect(re: RegExp, ms = 20_000): Promise<string> {
            const deadline = Date.now() + ms;
            while (!re.test(buf)) {
                if (Date.now() > deadline) throw new Error(`no ${re} within ${ms / 1000}s; got ${JSON.stringify(buf)}`);
                if (socket.destroyed) throw new Error(`connection closed; got ${JSON.stringify(buf)}`);
                await new Promise<void>(r => {
                    wake = r;
                    setTimeout(r, 100);
                });
            }
            const out = buf;
            buf = "";
            return out;
        },
        send: (l: string) => socket.write(`${l}\r\n`),
        detach: () => socket.off("data", onData),
    };
}

function connectPlain(port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
        const s = net.connect({ host: HOST, port }, () => resolve(s));
        s.once("error", reject);
    });
}
function startTls(port: number, socket?: net.Socket): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
        // The certificate is checked by serial elsewhere; here only the session has to work.
        const opts = { servername: HOSTNAME, rejectUnauthorized: false };
        const s = socket ? tls.connect({ ...opts, socket }) : tls.connect({ ...opts, host: HOST, port });
        s.once("secureConnect", () => resolve(s));
        s.once("error", reject);
    });
}
const SMTP_END = /^\d{3} [^\r\n]*\r\n/m;
const plainAuth = Buffer.from(`\0${USERS.alice.address}\0${USERS.alice.password}`).toString("base64");

/** One SMTP session: TLS (STARTTLS or implicit), EHLO, then AUTH on 587 and 465, MAIL/RCPT on 25. */
async function smtpSession(port: number, starttls: boolean): Promise<void> {
    let socket: net.Socket = starttls ? await connectPlain(port) : await startTls(port);
    try {
        let c = lines(socket);
        const reply = async (cmd: string | undefined, code: RegExp) => {
            if (cmd !== undefined) c.send(cmd);
            const r = await c.expect(SMTP_END);
            const last = r.match(SMTP_END)![0];
            if (!code.test(last)) throw new Error(`${cmd ?? "greeting"}: ${last.trim()}`);
        };
        await reply(undefined, /^220/);
        await reply("EHLO load.example.test", /^250/);
        if (starttls) {
            await reply("STARTTLS", /^220/);
            c.detach();
            socket = await startTls(port, socket);
            c = lines(socket);
            await reply("EHLO load.example.test", /^250/);
        }
        if (port !== PORTS.smtp) {
            await reply(`AUTH PLAIN ${plainAuth}`, /^235/);
        } else {
            await reply("MAIL FROM:<load@example.test>", /^250/);
            await reply(`RCPT TO:<${USERS.alice.address}>`, /^250/);
            await reply("RSET", /^250/);
        }
        await reply("QUIT", /^221/);
    } finally {
        socket.destroy();
    }
}

/** One IMAP session on 993: LOGIN, SELECT INBOX, LOGOUT. */
async function imapSession(): Promise<void> {
    const socket = await startTls(PORTS.imaps);
    try {
        const c = lines(socket);
        await c.expect(/^\* OK/m);
        for (const [tag, cmd] of [
            ["a1", `LOGIN ${USERS.alice.address} "${USERS.alice.password}"`],
            ["a2", "SELECT INBOX"],
            ["a3", "LOGOUT"],
        ]) {
            c.send(`${tag} ${cmd}`);
            const r = await c.expect(new RegExp(`^${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`, "m"));
            if (!new RegExp(`^${tag} OK`, "m").test(r)) throw new Error(`IMAP ${cmd.split(" ")[0]}: ${r.trim()}`);
        }
    } finally {
        socket.destroy();
    }
}

/** Sessions in a loop, two at a time per kind, until stop(); every outcome counted. */
function startLoad(): Load {
    const load: Load = { ok: 0, refused: 0, failed: [], stop: async () => undefined };
    let running = true;
    const kinds: Array<[string, () => Promise<void>]> = [
        ["smtp 25", () => smtpSession(PORTS.smtp, true)],
        ["smtps 465", () => smtpSession(PORTS.smtps, false)],
        ["submission 587", () => smtpSession(PORTS.submission, true)],
        ["imaps 993", imapSession],
    ];
    const workers = kinds.flatMap(([name, session]) =>
        [0, 1].map(async () => {
            while (running) {
                try {
                    await session();
                    load.ok++;
                } catch (e) {
                    const msg = String((e as Error).message ?? e);
                    if (/ECONNREFUSED/.test(msg)) load.refused++;
                    else load.failed.push(`${name}: ${msg}`);
                }
                await sleep(50);
            }
        }),
    );
    load.stop = async () => {
        running = false;
        await Promise.all(workers);
    };
    return load;
}

// ---------------------------------------------------------------- the suite

const serviceIds = () =>
    Object.fromEntries(
        ["postfix", "dovecot", "saslauthd", "acme"].map(s => [
            s,
            docker(["container", "inspect", "-f", "{{.Id}}", `${PREFIX}-${s}`]),
        ]),
    );

describe("tls.acme against Pebble (HTTP-01), certificates switched without restarts", () => {
    let caPem = "";
    let config: Record<string, unknown>;
    let ids: Record<string, string>;
    let intermediate = "";

    before(() => {
        destroy(PREFIX);
        caPem = pebbleServer.makeFiles();
        config = liveConfig(
            {
                "mailserver:tls": {
                    acme: {
                        directory: pebbleServer.directory,
                        email: "hostmaster@example.test",
                        names: [EXTRA],
                        httpPort: 33080,
                        httpAddress: HTTP01,
                        // Pebble is started after the deployment: the first retry comes soon.
                        retrySeconds: 5,
                        caCertPem: caPem,
                    },
                },
                "mailserver:spamFilter": { enabled: false },
            },
            PREFIX,
            33000,
        );
    });

    after(() => {
        pebbleServer.stop();
        challtestsrv?.kill();
        for (const c of ["acme", "postfix", "dovecot"])
            try {
                fs.writeFileSync(path.join(WORK, `${c}.log`), dockerLogs(`${PREFIX}-${c}`));
            } catch {
                // not deployed
            }
        destroy(PREFIX);
        assert.deepEqual(stackContainers(PREFIX), [], "containers left behind");
    });

    test("pulumi up succeeds while the ACME server is down: a temporary self-signed certificate is served", () => {
        const r = deploy(config);
        assert.ok(r.outputs, "deployed");
        ids = serviceIds();
        const all = TLS_PORTS.map(served);
        for (const [i, s] of all.entries()) {
            assert.ok(s, `${TLS_PORTS[i].name}: no certificate`);
            assert.equal(s.issuer, `CN = ${HOSTNAME}`, `${TLS_PORTS[i].name}: the temporary certificate`);
            assert.deepEqual(s.names, [EXTRA, HOSTNAME].sort());
        }
        assert.equal(new Set(all.map(s => s!.serial)).size, 1, "one certificate on every port");
        process.stdout.write(`# temporary certificate: ${JSON.stringify(all[0])}\n`);
    });

    test("once Pebble starts, every port serves Pebble's certificate, under load, with no restart", async () => {
        await startPebble();
        intermediate = pebbleServer.intermediate();
        const load = startLoad();
        const started = Date.now();
        let all: Served[];
        try {
            all = await waitForAll("Pebble's certificate", s => s.issuer === intermediate, 180_000);
            // Sessions go on a little after the switch, on the new certificate.
            await sleep(3000);
        } finally {
            await load.stop();
        }
        process.stdout.write(
            `# switched to ${all[0].serial} (${intermediate}) after ${(Date.now() - started) / 1000}s; ` +
                `load: ${load.ok} sessions ok, ${load.refused} refused, ${load.failed.length} failed\n`,
        );
        assert.equal(new Set(all.map(s => s.serial)).size, 1, "the same certificate on every port");
        assert.deepEqual(all[0].names, [EXTRA, HOSTNAME].sort());
        assert.equal(load.refused, 0, "refused connections");
        assert.deepEqual(load.failed, [], "failed sessions");
        assert.ok(load.ok > 20, `sessions ran (${load.ok})`);
        assert.deepEqual(serviceIds(), ids, "no container was replaced or recreated");
    });

    test("a forced renewal reaches every port under load, with no restart", async () => {
        const before = served(TLS_PORTS[0])!.serial;
        const load = startLoad();
        let all: Served[];
        try {
            await sleep(2000);
            docker(["exec", `${PREFIX}-acme`, "/usr/local/lib/mail/acme", "renew-now"]);
            all = await waitForAll("the renewed certificate", s => s.issuer === intermediate && s.serial !== before);
            await sleep(3000);
        } finally {
            await load.stop();
        }
        process.stdout.write(
            `# renewed ${before} -> ${all[0].serial}; load: ${load.ok} sessions ok, ${load.refused} refused, ` +
                `${load.failed.length} failed\n`,
        );
        assert.equal(new Set(all.map(s => s.serial)).size, 1, "the same certificate on every port");
        assert.equal(load.refused, 0, "refused connections");
        assert.deepEqual(load.failed, [], "failed sessions");
        assert.ok(load.ok > 20, `sessions ran (${load.ok})`);
        assert.deepEqual(serviceIds(), ids, "no container was replaced or recreated");
        const restarts = docker(["inspect", "-f", "{{.RestartCount}}", ...Object.values(ids)]);
        assert.deepEqual(restarts.split("\n"), ["0", "0", "0", "0"], "restart counts");
    });

    test("the private key is in no environment, label, log or Pulumi state", () => {
        const key = docker(["exec", `${PREFIX}-acme`, "cat", "/certs/current/key.pem"]);
        const body = key.split("\n").filter(l => !l.startsWith("-----"))[0];
        assert.ok(body && body.length > 40, "a key was read");
        for (const id of stackContainers(PREFIX)) {
            const inspect = docker(["inspect", id]);
            assert.ok(!inspect.includes(body) && !inspect.includes("PRIVATE KEY"), `docker inspect ${id}`);
            const logs = spawnSync("docker", ["logs", id], { encoding: "utf8", maxBuffer: 64 << 20 });
            assert.ok(!`${logs.stdout}${logs.stderr}`.includes("PRIVATE KEY"), `docker logs ${id}`);
        }
        const state = spawnSync("grep", ["-rlF", body, engineDir(PREFIX)], { encoding: "utf8" });
        assert.equal(state.stdout.trim(), "", "the key in the engine's state");
    });

    test("a second pulumi up changes nothing: the certificate lives outside the deployment", () => {
        const r = deploy(config);
        assert.deepEqual(r.replaced, [], "replaced containers");
        assert.deepEqual(serviceIds(), ids, "container ids");
        assert.equal(served(TLS_PORTS[0])!.issuer, intermediate, "still Pebble's certificate");
    });

    test("a new directory (staging -> production) orders anew; only the ACME container is replaced", async () => {
        const before = served(TLS_PORTS[0])!.serial;
        // Another directory URL of the same Pebble stands in for production after staging: the
        // certificate is not due, so only the recorded directory makes the client order again.
        const moved = structuredClone(config);
        (moved["mailserver:tls"] as any).acme.directory = `${pebbleServer.directory}?production`;
        const r = deploy(moved);
        assert.deepEqual(
            r.replaced.filter(n => !n.endsWith("-acme")),
            [],
            "only the ACME container is replaced",
        );
        const now = serviceIds();
        assert.deepEqual({ ...now, acme: ids.acme }, ids, "Postfix, Dovecot and saslauthd kept");
        const all = await waitForAll("the certificate from the new directory", s => s.serial !== before);
        assert.equal(new Set(all.map(s => s.serial)).size, 1, "the same certificate on every port");
        assert.equal(all[0].issuer, intermediate);
        process.stdout.write(`# new directory: ${before} -> ${all[0].serial}\n`);
    });
});
