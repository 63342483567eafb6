// What a live test needs to prove a certificate change reaches running services: the certificate
// a new TLS session sees on each port (openssl s_client), and a load of real SMTP and IMAP
// sessions whose every outcome is counted (refused connections apart from failed sessions).
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { monitorEventLoopDelay } from "perf_hooks";
import * as tls from "tls";
import { HOST } from "./clients";
import { portsFrom } from "./stack";

type Ports = ReturnType<typeof portsFrom>;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export interface TlsPort {
    name: string;
    port: number;
    /** How openssl starts TLS there; undefined: implicit TLS. */
    starttls?: string;
}

/** Every port with TLS whose certificate a change must reach: 25, 465, 587, 993 and 4190. */
export function tlsPorts(ports: Ports): TlsPort[] {
    return [
        { name: "smtp", port: ports.smtp, starttls: "smtp" },
        { name: "smtps", port: ports.smtps },
        { name: "submission", port: ports.submission, starttls: "smtp" },
        { name: "imaps", port: ports.imaps },
        { name: "managesieve", port: ports.managesieve, starttls: "sieve" },
    ];
}

/** Runs a tool (openssl, curl) and returns its output; a non-zero exit throws. */
export function run(cmd: string, args: string[], input?: string): string {
    const r = spawnSync(cmd, args, { input, encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
}

export interface TestCert {
    cert: string;
    key: string;
    serial: string;
    /** Where the PEMs are: <dir>/<name>.pem and <dir>/<name>.key. */
    certFile: string;
    keyFile: string;
}

/**
 * A P-256 key and a 2-day certificate made with openssl in `dir`: self-signed (usable as a CA), or
 * signed by the CA made earlier in the same folder under the name `ca`. `san`: e.g. "DNS:mail.example.test".
 */
/**
 * A test certificate: self-signed, or signed by the CA `ca` made before in `dir`. `strict`: with
 * the extensions strict verifiers demand (Python 3.13's default): a CA's keyUsage, a leaf's key
 * identifiers and usages.
 */
export function makeCert(
    dir: string,
    name: string,
    o: { subject: string; san?: string; ca?: string; strict?: boolean },
): TestCert {
    fs.mkdirSync(dir, { recursive: true });
    const f = (n: string, ext: string) => path.join(dir, `${n}.${ext}`);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", o.subject];
    if (o.ca === undefined) {
        const san = o.san ? ["-addext", `subjectAltName=${o.san}`] : [];
        if (o.strict) san.push("-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature");
        run("openssl", [
            "req",
            "-x509",
            ...ec,
            "-days",
            "2",
            ...san,
            "-keyout",
            f(name, "key"),
            "-out",
            f(name, "pem"),
        ]);
    } else {
        const strict = o.strict
            ? "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            : "";
        fs.writeFileSync(
            f(name, "ext"),
            `${o.san ? `subjectAltName=${o.san}\n` : ""}basicConstraints=CA:FALSE\n${strict}`,
        );
        run("openssl", ["req", ...ec, "-keyout", f(name, "key"), "-out", f(name, "csr")]);
        run("openssl", [
            ...["x509", "-req", "-in", f(name, "csr"), "-CA", f(o.ca, "pem"), "-CAkey", f(o.ca, "key")],
            ...["-CAcreateserial", "-days", "2", "-extfile", f(name, "ext"), "-out", f(name, "pem")],
        ]);
    }
    const cert = fs.readFileSync(f(name, "pem"), "utf8");
    return {
        cert,
        key: fs.readFileSync(f(name, "key"), "utf8"),
        serial: run("openssl", ["x509", "-noout", "-serial"], cert).match(/serial=(\S+)/)![1],
        certFile: f(name, "pem"),
        keyFile: f(name, "key"),
    };
}

export interface Served {
    serial: string;
    issuer: string;
    names: string[];
}

/**
 * Runs a tool without blocking this process, so a load's sessions keep being served while it
 * runs (a synchronous child stalls them all and times them out, though the servers answered).
 */
export function runAsync(
    cmd: string,
    args: string[],
    input = "",
    timeoutMs = 20_000,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", d => (stdout += d));
        child.stderr.setEncoding("utf8").on("data", d => (stderr += d));
        child.once("error", reject);
        child.once("close", status => resolve({ status, stdout, stderr }));
        child.stdin.on("error", () => undefined);
        child.stdin.end(input);
    });
}

/** The leaf certificate a new TLS session on this port sees (openssl s_client, then x509). */
export async function served(p: TlsPort, servername: string): Promise<Served | undefined> {
    const r = await runAsync("openssl", [
        "s_client",
        "-connect",
        `${HOST}:${p.port}`,
        "-servername",
        servername,
        ...(p.starttls ? ["-starttls", p.starttls] : []),
    ]);
    const pem = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
    if (!pem) return undefined;
    const x = await runAsync("openssl", ["x509", "-noout", "-serial", "-issuer", "-ext", "subjectAltName"], pem);
    if (x.status !== 0) throw new Error(`openssl x509 failed (${x.status}): ${x.stderr}`);
    return {
        serial: x.stdout.match(/serial=(\S+)/)![1],
        issuer: x.stdout.match(/issuer=(.*)/)![1].trim(),
        names: [...x.stdout.matchAll(/DNS:([^,\s]+)/g)].map(m => m[1]).sort(),
    };
}

/** The certificates new sessions see on every port, one port after the other. */
export async function servedOnAll(ports: TlsPort[], servername: string): Promise<Array<Served | undefined>> {
    const all: Array<Served | undefined> = [];
    for (const p of ports) all.push(await served(p, servername));
    return all;
}

/** Polls until every port serves a certificate that `ok` accepts; bounded in time. */
export async function waitForAll(
    ports: TlsPort[],
    servername: string,
    what: string,
    ok: (s: Served) => boolean,
    timeoutMs = 120_000,
): Promise<Served[]> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        const all = await servedOnAll(ports, servername);
        last = all;
        if (all.every(s => s && ok(s))) return all as Served[];
        await sleep(1000);
    }
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}: ${JSON.stringify(last)}`);
}

export interface Load {
    ok: number;
    refused: number;
    failed: string[];
    /** The longest this process's event loop was blocked while the load ran: a session can only
     * be judged slow when this stays well below its 20 s limit. */
    maxLagMs: number;
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
                if (Date.now() > deadline) {
                    // Timers run before pending socket reads: let those in before judging.
                    await new Promise(r => setImmediate(r));
                    if (re.test(buf)) break;
                    throw new Error(`no ${re} within ${ms / 1000}s; got ${JSON.stringify(buf)}`);
                }
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

const SMTP_END = /^\d{3} [^\r\n]*\r\n/m;

export interface LoadTarget {
    ports: Ports;
    /** SNI name the sessions send. */
    servername: string;
    /** A mailbox of the stack: SMTP AUTH on 465/587, LOGIN on 993, and the RCPT on 25. */
    user: { address: string; password: string };
}

/** Real SMTP and IMAP sessions against one stack. */
function sessions(t: LoadTarget) {
    const startTls = (port: number, socket?: net.Socket): Promise<tls.TLSSocket> =>
        new Promise((resolve, reject) => {
            // The certificate is checked by serial elsewhere; here only the session has to work.
            const opts = { servername: t.servername, rejectUnauthorized: false };
            const s = socket ? tls.connect({ ...opts, socket }) : tls.connect({ ...opts, host: HOST, port });
            s.once("secureConnect", () => resolve(s));
            s.once("error", reject);
        });
    const plainAuth = Buffer.from(`\0${t.user.address}\0${t.user.password}`).toString("base64");

    /** TLS (STARTTLS or implicit), EHLO, then AUTH on 587 and 465, MAIL/RCPT on 25. */
    async function smtp(port: number, starttls: boolean): Promise<void> {
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
            if (port !== t.ports.smtp) {
                await reply(`AUTH PLAIN ${plainAuth}`, /^235/);
            } else {
                await reply("MAIL FROM:<load@example.test>", /^250/);
                await reply(`RCPT TO:<${t.user.address}>`, /^250/);
                await reply("RSET", /^250/);
            }
            await reply("QUIT", /^221/);
        } finally {
            socket.destroy();
        }
    }

    /** 993: LOGIN, SELECT INBOX, LOGOUT. */
    async function imap(): Promise<void> {
        const socket = await startTls(t.ports.imaps);
        try {
            const c = lines(socket);
            await c.expect(/^\* OK/m);
            for (const [tag, cmd] of [
                ["a1", `LOGIN ${t.user.address} "${t.user.password}"`],
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
    return { smtp, imap };
}

/** Sessions in a loop, two at a time on each of 25, 465, 587 and 993, until stop(); every outcome counted. */
export function startLoad(t: LoadTarget): Load {
    const load: Load = { ok: 0, refused: 0, failed: [], maxLagMs: 0, stop: async () => undefined };
    const s = sessions(t);
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    let running = true;
    const kinds: Array<[string, () => Promise<void>]> = [
        ["smtp 25", () => s.smtp(t.ports.smtp, true)],
        ["smtps 465", () => s.smtp(t.ports.smtps, false)],
        ["submission 587", () => s.smtp(t.ports.submission, true)],
        ["imaps 993", s.imap],
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
        lag.disable();
        load.maxLagMs = Math.round(lag.max / 1e6);
    };
    return load;
}

/** One line for the test's output: what the load did. */
export const loadSummary = (load: Load) =>
    `load: ${load.ok} sessions ok, ${load.refused} refused, ${load.failed.length} failed; ` +
    `longest event-loop stall ${load.maxLagMs} ms`;
