// Real clients for the live tests: swaks for SMTP, imapflow for IMAP. Every connection goes to
// 127.0.0.1; the "untrusted outsider" binds its end to 127.0.0.2.
import { spawnSync } from "child_process";
import { randomUUID } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as tls from "tls";
import { ImapFlow } from "imapflow";
import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import { ARTIFACTS, PORTS } from "./stack";

export const HOST = "127.0.0.1";

/** Container ids of a stack's services, to tell whether the engine replaced them (internet mode: no saslauthd). */
export function containerIds(prefix: string): Record<string, string> {
    return Object.fromEntries(
        ["postfix", "dovecot", "authpolicy"].map(s => [
            s,
            docker(["container", "inspect", "-f", "{{.Id}}", `${prefix}-${s}`]),
        ]),
    );
}

/** The docker CLI on the test engine; throws with its output when it fails. */
export function docker(args: string[], input?: string): string {
    const r = spawnSync("docker", args, { input, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0)
        throw new Error(`docker ${args.slice(0, 3).join(" ")} … failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout.trim();
}
export const OUTSIDER = "127.0.0.2";

export interface SwaksResult {
    /** Exit status: 0 all good; 23/24/25/28 refused at some step (see swaks(1)). */
    status: number;
    transcript: string;
    /** Server reply lines ("<-" and "<~"), in order. */
    replies: string[];
}

export function swaks(args: string[]): SwaksResult {
    const r = spawnSync("swaks", ["--timeout", "20", "--suppress-data", ...args], {
        encoding: "utf8",
        timeout: 60_000,
        maxBuffer: 16 << 20,
    });
    const transcript = `${r.stdout}${r.stderr}`;
    const replies = transcript
        .split("\n")
        .filter(l => /^\s*<[-~*]\*?\s/.test(l))
        .map(l => l.replace(/^\s*<[-~*]\*?\s+/, ""));
    return { status: r.status ?? -1, transcript, replies };
}

/** One SMTP session: where to, from which address, how (TLS, AUTH), the message, and how far. */
export interface SmtpSession {
    /** The port on `server` (default HOST). */
    port: number;
    server?: string;
    /** The client's own address (swaks --local-interface): OUTSIDER for a client outside mynetworks. */
    source?: string;
    /** STARTTLS first (25, 587) or TLS on connect (465); default none. */
    tls?: "starttls" | "implicit";
    /** With tls: the CA file the server's certificate is verified against (unverified without it). */
    ca?: string;
    /** The name the certificate is verified for (SNI too); default mail.example.test. */
    servername?: string;
    /** SMTP AUTH as this login, with its own password unless `password` says otherwise. */
    auth?: Credentials;
    password?: string;
    mech?: "PLAIN" | "LOGIN";
    from?: string;
    /** One recipient or several (one RCPT each). */
    to?: string | string[];
    subject?: string;
    /** Further header lines, "Name: value". */
    headers?: string[];
    body?: string;
    /** End the session after this step instead of sending a message. */
    quitAfter?: "CONNECT" | "EHLO" | "TLS" | "AUTH" | "MAIL" | "RCPT";
    /** Any other swaks options, as they are (--data, --ehlo, ...). */
    args?: string[];
}

/** The swaks options of a session (see SmtpSession). */
export function smtpArgs(s: SmtpSession): string[] {
    const args = ["--server", s.server ?? HOST, "--port", String(s.port)];
    if (s.source !== undefined) args.push("--local-interface", s.source);
    if (s.tls !== undefined) args.push(s.tls === "implicit" ? "--tls-on-connect" : "-tls");
    if (s.tls !== undefined && s.ca !== undefined)
        args.push("--tls-verify", "--tls-ca-path", s.ca, "--tls-sni", s.servername ?? "mail.example.test");
    if (s.auth !== undefined)
        args.push(
            ...["--auth", s.mech ?? "PLAIN", "--auth-user", s.auth.address],
            ...["--auth-password", s.password ?? s.auth.password],
        );
    if (s.from !== undefined) args.push("--from", s.from);
    if (s.to !== undefined) args.push("--to", typeof s.to === "string" ? s.to : s.to.join(","));
    if (s.subject !== undefined) args.push("--header", `Subject: ${s.subject}`);
    for (const header of s.headers ?? []) args.push("--header", header);
    if (s.body !== undefined) args.push("--body", s.body);
    if (s.quitAfter !== undefined) args.push("--quit-after", s.quitAfter);
    return [...args, ...(s.args ?? [])];
}

/** One SMTP session with swaks (a real client): its exit status, transcript and the server's replies. */
export function smtp(session: SmtpSession): SwaksResult {
    return swaks(smtpArgs(session));
}

/**
 * Whether a service runs its active configuration generation: its entrypoint writes
 * /run/mail/applied once it has reloaded to /config/current (images/common/entrypoint).
 */
export function generationApplied(container: string): boolean {
    const check = 'test "$(cat /run/mail/applied)" = "$(readlink /config/current)"';
    return spawnSync("docker", ["exec", container, "sh", "-c", check]).status === 0;
}

/** The reply to the last command of a given kind, e.g. the RCPT reply. */
export function replyAfter(result: SwaksResult, command: RegExp): string | undefined {
    const lines = result.transcript.split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
        if (command.test(lines[i].replace(/^\s*[-~]>\*?\s+/, "")) && /^\s*[-~]>/.test(lines[i])) {
            const reply = lines.slice(i + 1).find(l => /^\s*<[-~*]\*?\s/.test(l));
            return reply?.replace(/^\s*<[-~*]\*?\s+/, "");
        }
    }
    return undefined;
}

export function caFile(certificatePem: string, prefix = "mailtest"): string {
    const file = path.join(ARTIFACTS, `server-ca-${prefix}.pem`);
    fs.writeFileSync(file, certificatePem);
    return file;
}

export function uniqueSubject(label: string): string {
    return `${label} ${randomUUID()}`;
}

export interface Credentials {
    address: string;
    password: string;
}

/** Where a live stack's Dovecot answers, and the name its certificate has. */
export interface ImapServer {
    host: string;
    servername: string;
}
const DEFAULT_IMAP_SERVER: ImapServer = { host: HOST, servername: "mail.example.test" };

export async function imapClient(
    user: Credentials,
    mode: "imaps" | "starttls",
    ca: string,
    ports = PORTS,
    server = DEFAULT_IMAP_SERVER,
): Promise<ImapFlow> {
    const client = new ImapFlow({
        host: server.host,
        port: mode === "imaps" ? ports.imaps : ports.imap,
        secure: mode === "imaps",
        doSTARTTLS: mode === "starttls" ? true : undefined,
        // Verify the deployed certificate itself (it is self-signed), by its name.
        tls: { ca: [fs.readFileSync(ca)], servername: server.servername },
        auth: { user: user.address, pass: user.password },
        logger: false,
    });
    await client.connect();
    return client;
}

/**
 * A login over IMAPS and a logout, from a chosen local address (the client address a server or a
 * PROXY header should name); resolves with the dialog (passwords left out), rejects on NO/BAD or 30 s.
 */
export function imapsLogin(
    server: { host: string; port: number; localAddress: string; servername: string; ca: string },
    u: Credentials,
): Promise<string> {
    return new Promise<string>((resolve, reject) => {
        const raw = net.connect({ host: server.host, port: server.port, localAddress: server.localAddress });
        const socket = tls.connect({ socket: raw, servername: server.servername, ca: fs.readFileSync(server.ca) });
        let dialog = "";
        const timer = setTimeout(() => socket.destroy(new Error(`IMAPS dialog timed out:\n${dialog}`)), 30_000);
        const send = (line: string) => {
            socket.write(`${line}\r\n`);
            dialog += `${line.split(" ").slice(0, 2).join(" ")}\n`;
        };
        socket.on("data", d => {
            dialog += d.toString();
            if (/^\* OK/m.test(dialog) && !dialog.includes("a LOGIN")) send(`a LOGIN "${u.address}" "${u.password}"`);
            if (/^a OK/m.test(dialog) && !dialog.includes("b LOGOUT")) send("b LOGOUT");
            if (/^a (NO|BAD)/m.test(dialog)) socket.destroy(new Error(dialog));
            if (/^b OK/m.test(dialog)) {
                clearTimeout(timer);
                socket.end();
                resolve(dialog);
            }
        });
        socket.on("error", e => {
            clearTimeout(timer);
            reject(e);
        });
    });
}

/**
 * A text (a log, say) once it matches `pattern`, or as it is when `timeoutMs` has passed: a daemon
 * may write its line a moment after the event, and a log reaches its reader later still. The
 * caller asserts the match, so a failure shows the last text read.
 */
export async function textMatching(
    read: () => string,
    pattern: RegExp,
    timeoutMs: number,
    pollMs = 1000,
): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
        const text = read();
        if (pattern.test(text) || Date.now() > until) return text;
        await new Promise(r => setTimeout(r, pollMs));
    }
}

/** Waits (bounded) until a message with this subject is in the mailbox; returns its source. */
export async function fetchBySubject(
    user: Credentials,
    subject: string,
    mode: "imaps" | "starttls",
    ca: string,
    mailbox = "INBOX",
    timeoutMs = 15_000,
    ports = PORTS,
    server = DEFAULT_IMAP_SERVER,
): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const client = await imapClient(user, mode, ca, ports, server);
    try {
        while (Date.now() < deadline) {
            const lock = await client.getMailboxLock(mailbox);
            try {
                const uids = await client.search({ subject }, { uid: true });
                if (uids && uids.length > 0) {
                    const msg = await client.fetchOne(String(uids[uids.length - 1]), { source: true }, { uid: true });
                    if (msg && msg.source) return msg.source.toString("utf8");
                }
            } finally {
                lock.release();
            }
            await new Promise(r => setTimeout(r, 500));
        }
        throw new Error(`no message "${subject}" in ${user.address}'s ${mailbox} after ${timeoutMs / 1000}s`);
    } finally {
        await client.logout().catch(() => undefined);
    }
}

/** sieve-connect (a real ManageSieve client) with STARTTLS verified against `ca` by `servername`. */
export function sieveConnect(
    user: Credentials,
    args: string[],
    server: { port: number; ca: string; servername: string },
): { status: number | null; output: string } {
    const r = spawnSync(
        "sieve-connect",
        [
            "--4",
            "--server",
            HOST,
            "--port",
            String(server.port),
            "--user",
            user.address,
            "--passwordfd",
            "0",
            "--tlscafile",
            server.ca,
            "--tlshostname",
            server.servername,
            "--noclearauth",
            ...args,
        ],
        { input: `${user.password}\n`, encoding: "utf8", timeout: 60_000 },
    );
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export function dockerLogs(container: string): string {
    const r = spawnSync("docker", ["logs", container], { encoding: "utf8", maxBuffer: 64 << 20 });
    return `${r.stdout}${r.stderr}`;
}

/** Keeps the logs of a stack's services as test artifacts, <prefix>-<service>.log; one never deployed is left out. */
export function keepLogs(prefix: string, services: string[]): void {
    for (const service of services) {
        const r = spawnSync("docker", ["logs", `${prefix}-${service}`], { encoding: "utf8", maxBuffer: 64 << 20 });
        if (r.status === 0)
            fs.writeFileSync(path.join(ARTIFACTS, `${prefix}-${service}.log`), `${r.stdout}${r.stderr}`);
    }
}

/** How many messages with this subject the mailbox holds right now (no waiting). */
export async function countBySubject(
    user: Credentials,
    subject: string,
    ca: string,
    ports = PORTS,
    mailbox = "INBOX",
): Promise<number> {
    const client = await imapClient(user, "imaps", ca, ports);
    try {
        const lock = await client.getMailboxLock(mailbox);
        try {
            const uids = await client.search({ subject }, { uid: true });
            return uids ? uids.length : 0;
        } finally {
            lock.release();
        }
    } finally {
        await client.logout().catch(() => undefined);
    }
}

const PROBLEM = /\b(warning|error|fatal|panic):/i;

type LoggedService = "postfix" | "dovecot" | "saslauthd";

/**
 * After a scenario: the services' logs hold no warning/error/fatal/panic lines except the ones
 * the scenario caused on purpose, which the caller lists. Prints what was expected and seen. The
 * services are internet mode's unless given (saslauthd runs in relay mode only); a service whose
 * container does not exist fails the check instead of passing it unread.
 */
export function assertCleanLogs(
    prefix: string,
    expected: Partial<Record<LoggedService, RegExp[]>>,
    services: LoggedService[] = ["postfix", "dovecot"],
): void {
    const unexpected: string[] = [];
    for (const service of services) {
        const patterns = expected[service] ?? [];
        const r = spawnSync("docker", ["logs", `${prefix}-${service}`], { encoding: "utf8", maxBuffer: 64 << 20 });
        if (r.status !== 0) throw new Error(`no logs of ${prefix}-${service}: ${r.stderr}`);
        const log = `${r.stdout}${r.stderr}`;
        fs.writeFileSync(path.join(ARTIFACTS, `${prefix}-${service}.log`), log);
        const lines = log.split("\n").filter(l => PROBLEM.test(l));
        const accepted = lines.filter(l => patterns.some(p => p.test(l)));
        process.stdout.write(
            `# ${prefix}-${service}: ${lines.length} warning/error lines, ${accepted.length} expected by the scenarios\n`,
        );
        unexpected.push(...lines.filter(l => !accepted.includes(l)).map(l => `${service}: ${l}`));
    }
    if (unexpected.length) throw new Error(`unexpected warnings/errors in the logs:\n${unexpected.join("\n")}`);
}

/** Recipient forms that tricked open relays in the past (all must be refused from outside). */
export const RELAY_TRICKS = [
    "victim@elsewhere.example",
    "victim%elsewhere.example@example.test", // percent hack
    '"victim@elsewhere.example"@example.test', // quoted local part
    "@example.test:victim@elsewhere.example", // source route
    "elsewhere.example!victim@example.test", // bang path
    "elsewhere.example!victim", // bare bang path
    "victim@elsewhere.example@example.test", // @ in the local part
    "victim@[127.0.0.9]", // IP literal
    "victim@ELSEWHERE.EXAMPLE.", // case and trailing dot
];

/**
 * Tries every relay trick, without AUTH, from `source` to `server` (an IPv4 or IPv6 address) on
 * each port (25 plain, 587 STARTTLS, 465 implicit TLS; TLS verified against `ca` for `servername`).
 * Returns how many were tried and which were accepted at RCPT.
 */
export function relayProbe(
    ports: { smtp: number; submission: number; smtps: number },
    source: string,
    ca: string,
    server = HOST,
    servername?: string,
): { tried: number; accepted: string[] } {
    const ways: Array<[number, SmtpSession["tls"]]> = [
        [ports.smtp, undefined],
        [ports.submission, "starttls"],
        [ports.smtps, "implicit"],
    ];
    let tried = 0;
    const accepted: string[] = [];
    for (const [port, tls] of ways) {
        for (const to of RELAY_TRICKS) {
            const r = smtp({
                server,
                port,
                source,
                tls,
                ca,
                servername,
                from: "spammer@elsewhere.example",
                to,
                quitAfter: "RCPT",
            });
            tried++;
            if (r.replies.some(l => /^250 2\.1\.5/.test(l))) accepted.push(`${port} ${to}`);
        }
    }
    return { tried, accepted };
}

/**
 * A plain-text protocol exchange (SMTP, IMAP, ManageSieve): sends the next command whenever a
 * line matches `replyEnds`; with `afterTls`, upgrades the socket (verifying against `ca`) and
 * continues with those commands. Bounded to 30 s.
 */
export function dialog(
    port: number,
    commands: string[],
    replyEnds = /^\d{3} /,
    source = OUTSIDER,
    afterTls?: string[],
    ca?: string,
): Promise<string[]> {
    return new Promise((resolve, reject) => {
        const lines: string[] = [];
        let socket: net.Socket | tls.TLSSocket = net.connect({ host: HOST, port, localAddress: source });
        const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error(`dialog on ${port} timed out:\n${lines.join("\n")}`));
        }, 30_000);
        const pending = [...commands];
        const attach = (s: net.Socket | tls.TLSSocket, queue: string[], onDone?: () => void) => {
            let buffer = "";
            s.on("data", d => {
                buffer += d.toString();
                const parts = buffer.split("\r\n");
                buffer = parts.pop()!;
                for (const line of parts) {
                    lines.push(line);
                    if (!replyEnds.test(line)) continue;
                    if (queue.length) s.write(queue.shift() + "\r\n");
                    else if (onDone) {
                        s.removeAllListeners("data");
                        onDone();
                    }
                }
            });
        };
        const upgrade = () => {
            socket = tls.connect(
                {
                    socket: socket as net.Socket,
                    ca: ca ? fs.readFileSync(ca) : undefined,
                    servername: "mail.example.test",
                },
                () => {
                    const rest = [...afterTls!];
                    socket.write(rest.shift() + "\r\n");
                    attach(socket, rest);
                },
            );
            socket.on("close", () => {
                clearTimeout(timer);
                resolve(lines);
            });
        };
        attach(socket, pending, afterTls ? upgrade : undefined);
        socket.on("close", () => {
            if (!afterTls) {
                clearTimeout(timer);
                resolve(lines);
            }
        });
        socket.on("error", e => {
            clearTimeout(timer);
            reject(e);
        });
    });
}

/** A message an SMTP server of a test (smtp-server) was given: its envelope, text and subject. */
export interface ServerMessage {
    from: string;
    to: string[];
    raw: string;
    subject: string;
}

/** Reads the message of an smtp-server `onData` call. */
export function readServerMessage(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("error", reject);
        stream.on("end", () => {
            const raw = Buffer.concat(chunks).toString("utf8");
            resolve({
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                to: session.envelope.rcptTo.map(r => r.address),
                raw,
                subject: /^Subject: (.*)$/im.exec(raw)?.[1].trim() ?? "",
            });
        });
    });
}
