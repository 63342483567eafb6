// The k8s-mail test's load while a Postfix pod is killed: `sessions` clients each send one message
// per connection (so kube-proxy spreads connections over the replicas, the dead one included until
// it leaves the Service), each message with its own Message-ID; a message counts as acknowledged
// only when the server answered its data with 250. Built on nodemailer's SMTPConnection, like
// bench/smtp-load.ts.
import SMTPConnection from "nodemailer/lib/smtp-connection";

export interface StormSpec {
    host: string;
    port: number;
    from: string;
    to: string;
    /** In every subject and Message-ID, to find this run's messages. */
    run: string;
    messages: number;
    sessions: number;
    /** Called after each acknowledged message with how many were acknowledged so far. */
    onSent?: (acknowledged: number) => void;
}

export async function stormSend(spec: StormSpec): Promise<{ acked: Set<string>; errors: string[] }> {
    const acked = new Set<string>();
    const errors: string[] = [];
    let next = 0;
    const one = (n: number) =>
        new Promise<void>(resolve => {
            const id = `<${n}.${spec.run}@storm.example>`;
            const conn = new SMTPConnection({
                host: spec.host,
                port: spec.port,
                name: "storm.example",
                ignoreTLS: true,
                connectionTimeout: 10_000,
                socketTimeout: 30_000,
            });
            let done = false;
            const finish = (error?: string) => {
                if (done) return;
                done = true;
                if (error) errors.push(`${id}: ${error}`);
                try {
                    conn.close();
                } catch {
                    // already closed
                }
                resolve();
            };
            conn.on("error", (e: Error) => finish(e.message));
            conn.connect(err => {
                if (err) return finish(err.message);
                const message =
                    `From: <${spec.from}>\r\nTo: <${spec.to}>\r\nSubject: ${spec.run} ${n}\r\n` +
                    `Date: ${new Date().toUTCString()}\r\nMessage-ID: ${id}\r\n\r\nmessage ${n} of ${spec.run}\r\n`;
                conn.send({ from: spec.from, to: [spec.to] }, message, (e, info) => {
                    if (e) return finish(e.message);
                    if (/^250/.test(info.response ?? "")) {
                        acked.add(id);
                        spec.onSent?.(acked.size);
                    }
                    conn.quit();
                    finish();
                });
            });
        });
    const worker = async () => {
        while (next < spec.messages) await one(next++);
    };
    await Promise.all(Array.from({ length: spec.sessions }, worker));
    return { acked, errors };
}
