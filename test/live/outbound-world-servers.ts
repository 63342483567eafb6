// The remote servers of test/live/outbound-world.ts, run inside its network namespace (ip netns
// exec): one SMTP receiver per MX (smtp-server, with or without STARTTLS) and one HTTPS server per
// MTA-STS policy host. Each message, and each policy request, is appended as a JSON line to the
// spec's log, so the test process reads what arrived without talking to this one.
//
//   node --import tsx test/live/outbound-world-servers.ts <spec.json>
//
// Prints "ready" once every server listens; exits when its stdin closes (the test process ended,
// even killed), so no server outlives the test.
import * as fs from "node:fs";
import * as https from "node:https";
import type * as net from "node:net";
import type { TLSSocket } from "node:tls";
import { SMTPServer } from "smtp-server";

export interface ServersSpec {
    /** The JSON-lines file every message and policy request is appended to. */
    log: string;
    smtp: Array<{ host: string; address: string; port: number; starttls: boolean; certFile: string; keyFile: string }>;
    https: Array<{ host: string; address: string; port: number; certFile: string; keyFile: string; policy: string }>;
}

/** A line of the log: what a receiver got, or which policy a client asked for. */
export type LogLine =
    | { kind: "smtp"; host: string; from: string; to: string[]; data: string; secure: boolean; servername?: string }
    | { kind: "https"; host: string; path: string; servername?: string; status: number };

function append(spec: ServersSpec, line: LogLine): void {
    fs.appendFileSync(spec.log, JSON.stringify(line) + "\n");
}

function smtpServer(spec: ServersSpec, s: ServersSpec["smtp"][number]): SMTPServer {
    return new SMTPServer({
        name: s.host,
        key: fs.readFileSync(s.keyFile),
        cert: fs.readFileSync(s.certFile),
        // A mail exchanger takes mail from anyone and asks for no login.
        authOptional: true,
        // Disabled, not only hidden: a client that tries STARTTLS anyway is refused, as by a server without TLS.
        disabledCommands: s.starttls ? ["AUTH"] : ["AUTH", "STARTTLS"],
        hideSTARTTLS: !s.starttls,
        logger: false,
        onData(stream, session, callback) {
            const chunks: Buffer[] = [];
            stream.on("data", (c: Buffer) => chunks.push(c));
            stream.on("error", callback);
            stream.on("end", () => {
                append(spec, {
                    kind: "smtp",
                    host: s.host,
                    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                    to: session.envelope.rcptTo.map(r => r.address),
                    data: Buffer.concat(chunks).toString("utf8"),
                    secure: session.secure,
                    servername: session.servername || undefined,
                });
                callback(null, "OK: queued");
            });
        },
    });
}

function policyServer(spec: ServersSpec, h: ServersSpec["https"][number]): https.Server {
    return https.createServer({ key: fs.readFileSync(h.keyFile), cert: fs.readFileSync(h.certFile) }, (req, res) => {
        const ok = req.method === "GET" && req.url === "/.well-known/mta-sts.txt";
        const servername = (req.socket as TLSSocket).servername || undefined;
        append(spec, { kind: "https", host: h.host, path: req.url ?? "", servername, status: ok ? 200 : 404 });
        res.writeHead(ok ? 200 : 404, { "Content-Type": "text/plain" });
        res.end(ok ? h.policy : "not found\n");
    });
}

/** Resolves once listening; an address the namespace lacks (or a busy port) fails the start. */
function listen(server: net.Server, port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, address, () => {
            server.off("error", reject);
            resolve();
        });
    });
}

async function main(): Promise<void> {
    const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as ServersSpec;
    const listening: Array<Promise<void>> = [];
    for (const s of spec.smtp) {
        const server = smtpServer(spec, s);
        listening.push(listen(server.server, s.port, s.address));
        // After listening, a session's error (a client that went away) is only worth a line.
        server.on("error", e => console.error(`smtp ${s.host}: ${e.message}`));
    }
    for (const h of spec.https) listening.push(listen(policyServer(spec, h), h.port, h.address));
    await Promise.all(listening);
    process.stdin.on("end", () => process.exit(0));
    process.stdin.on("error", () => process.exit(0));
    process.stdin.resume();
    console.log("ready");
}

main().catch(e => {
    console.error(e);
    process.exit(1);
});
