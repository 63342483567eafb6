// The benchmark's load client, built on nodemailer's SMTPConnection: like Postfix's smtp-source
// with -d, each of S sessions connects once and sends message after message (MAIL right after the
// previous 250, no RSET, as smtp-source does). It also times each message from the end of its data
// (the final "." line written to the socket) to the server's reply: the time the server takes to
// take the message into its queue, with whatever it does before replying (cleanup(8), milters).
import { randomBytes } from "crypto";
import type * as net from "net";
import { performance } from "perf_hooks";
import SMTPConnection from "nodemailer/lib/smtp-connection";

export interface SmtpLoadSpec {
    host?: string;
    port: number;
    from: string;
    to: string;
    messages: number;
    sessions: number;
    /** Body length in bytes (smtp-source's -l), after a few header lines. */
    bodyBytes: number;
    /** Every session is closed after this many seconds, whatever is left unsent. */
    boundSeconds: number;
}

export interface SmtpLoadResult {
    /** From the first connection until the last message was answered (or the bound). */
    acceptSeconds: number;
    /** Messages the server answered with 250. */
    accepted: number;
    /** For each accepted message: milliseconds from the final "." line written to the 250 reply. */
    latenciesMs: number[];
    /** Refusals and connection failures, one line each. */
    errors: string[];
}

/** A body of `bytes` bytes in lines of 78 characters plus CRLF, like smtp-source's "La de da". */
function body(bytes: number): string {
    const line = `${"La de da de da ".repeat(6).slice(0, 78)}\r\n`;
    return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

const promised = <T>(f: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v as T))));

/** Sends `messages` messages over `sessions` sessions that take the next message from a shared count. */
export async function smtpLoad(spec: SmtpLoadSpec): Promise<SmtpLoadResult> {
    const text = body(spec.bodyBytes);
    const started = performance.now();
    const deadline = started + spec.boundSeconds * 1000;
    let next = 0;
    const result: SmtpLoadResult = { acceptSeconds: 0, accepted: 0, latenciesMs: [], errors: [] };
    const open = new Set<SMTPConnection>();
    let bound: NodeJS.Timeout | undefined;
    // At the bound the sessions are closed; a send they were waiting for may never call back.
    const bounded = new Promise<void>(resolve => {
        bound = setTimeout(() => {
            result.errors.push(`bound of ${spec.boundSeconds} s reached with ${spec.messages - next} messages unsent`);
            next = spec.messages;
            for (const c of open) c.close();
            resolve();
        }, spec.boundSeconds * 1000);
    });

    const session = async (): Promise<void> => {
        if (next >= spec.messages) return;
        const conn = new SMTPConnection({
            host: spec.host ?? "127.0.0.1",
            port: spec.port,
            name: "bench.sender.example",
            // smtp-source speaks plain SMTP; both systems advertise STARTTLS on port 25.
            ignoreTLS: true,
            socketTimeout: Math.max(1000, deadline - performance.now()),
        });
        open.add(conn);
        let closed = false;
        conn.on("error", (e: Error) => {
            closed = true;
            result.errors.push(`session: ${e.message}`);
        });
        conn.on("end", () => {
            closed = true;
        });
        try {
            await promised<void>(cb => conn.connect(err => cb(err)));
            // Every write to the socket stamps the time; after the data's final "." the client
            // writes nothing until the reply, so the last stamp before the reply is the end of DATA.
            const socket = conn._socket as net.Socket;
            // The data and its final "." reach the socket as two writes: with Nagle's algorithm the
            // kernel may hold the "." until the data is acknowledged (smtp-source writes both at once).
            socket.setNoDelay(true);
            const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
            let lastWrite = 0;
            socket.write = ((...args: unknown[]) => {
                lastWrite = performance.now();
                return write(...args);
            }) as typeof socket.write;
            while (next < spec.messages && !closed) {
                const n = next++;
                const message =
                    `From: <${spec.from}>\r\nTo: <${spec.to}>\r\nSubject: benchmark message ${n + 1}\r\n` +
                    `Date: ${new Date().toUTCString()}\r\n` +
                    `Message-ID: <${randomBytes(8).toString("hex")}.${n + 1}@bench.sender.example>\r\n\r\n${text}`;
                try {
                    await promised(cb => conn.send({ from: spec.from, to: [spec.to] }, message, cb));
                    result.latenciesMs.push(performance.now() - lastWrite);
                    result.accepted++;
                } catch (e) {
                    result.errors.push(`message ${n + 1}: ${e instanceof Error ? e.message : e}`);
                }
            }
        } catch (e) {
            if (!closed) result.errors.push(`session: ${e instanceof Error ? e.message : e}`);
        } finally {
            open.delete(conn);
            if (!closed) conn.quit();
        }
    };

    await Promise.race([Promise.all(Array.from({ length: spec.sessions }, session)), bounded]);
    clearTimeout(bound);
    result.acceptSeconds = (performance.now() - started) / 1000;
    return result;
}

/** The q-quantile (0..1) of `values` by the nearest-rank method, or undefined when there are none. */
export function quantile(values: number[], q: number): number | undefined {
    if (!values.length) return undefined;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
