// `npm run status`: what the screen shows, from facts gathered by statusFacts.ts. Pure: the log
// counting, the sparkline and the screen are unit-tested without a stack.

/** One container of the stack. */
export interface ServiceStatus {
    name: string;
    /** Docker's state: running, exited, restarting... */
    state: string;
    /** Docker's health: healthy, unhealthy, starting, or "none" without a healthcheck. */
    health: string;
    uptimeSeconds: number | undefined;
    /** The configuration generation the service runs (/run/mail/applied). */
    generation: string | undefined;
}

export interface QueueStatus {
    incoming: number;
    active: number;
    deferred: number;
    hold: number;
    maildrop: number;
    total: number;
}

export const EVENTS = ["received", "delivered", "deferred", "bounced"] as const;
export type MailEvent = (typeof EVENTS)[number];

/** The last hour's counts, in total and per 5-minute bucket (oldest first). */
export interface HourCounts {
    totals: Record<MailEvent, number>;
    buckets: Record<MailEvent, number[]>;
}

export interface CertificateStatus {
    service: string;
    subject: string;
    names: string[];
    notAfter: string;
    daysLeft: number;
}

export interface VolumeStatus {
    name: string;
    /** Bytes in the volume (du), undefined when it could not be measured. */
    bytes: number | undefined;
    /** Use of the file system that holds it, in per cent. */
    fileSystemPercent: number | undefined;
}

export interface BackupStatus {
    result: string;
    lastSuccess: string | undefined;
}

export interface StackStatus {
    prefix: string;
    at: string;
    services: ServiceStatus[];
    queue: QueueStatus | undefined;
    lastHour: HourCounts;
    certificates: CertificateStatus[];
    volumes: VolumeStatus[];
    backup: BackupStatus | undefined;
}

export const BUCKETS = 12;
const BUCKET_MS = 5 * 60 * 1000;

/** Which event a Postfix log line is, if any: a message received (cleanup), or a delivery's outcome. */
export function postfixEvent(line: string): MailEvent | undefined {
    if (/postfix(\/[\w-]+)*\/cleanup\[\d+\]: [0-9A-Za-z]+: message-id=/.test(line)) return "received";
    const status =
        /postfix(\/[\w-]+)*\/(smtp|lmtp|local|virtual|pipe|error|discard)\[\d+\]: .* status=(sent|deferred|bounced)/.exec(
            line,
        )?.[3];
    if (status === "sent") return "delivered";
    return status as MailEvent | undefined;
}

/**
 * Counts `docker logs --timestamps --since 1h` of the Postfix container: each line starts with
 * Docker's RFC 3339 timestamp. Bucket 11 is the latest five minutes.
 */
export function countLastHour(lines: string[], now: Date): HourCounts {
    const zero = () => Object.fromEntries(EVENTS.map(e => [e, 0])) as Record<MailEvent, number>;
    const totals = zero();
    const buckets = Object.fromEntries(EVENTS.map(e => [e, new Array<number>(BUCKETS).fill(0)])) as Record<
        MailEvent,
        number[]
    >;
    for (const line of lines) {
        const space = line.indexOf(" ");
        const at = Date.parse(line.slice(0, space));
        if (Number.isNaN(at)) continue;
        const age = now.getTime() - at;
        if (age < 0 || age >= BUCKETS * BUCKET_MS) continue;
        const event = postfixEvent(line.slice(space + 1));
        if (!event) continue;
        totals[event]++;
        buckets[event][BUCKETS - 1 - Math.floor(age / BUCKET_MS)]++;
    }
    return { totals, buckets };
}

const BARS = "▁▂▃▄▅▆▇█";
/** A sparkline: one bar per value, scaled to the largest; all zero is a flat line. */
export function sparkline(values: number[]): string {
    const max = Math.max(...values, 0);
    return values
        .map(v => (max === 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1)))]))
        .join("");
}

/** Counts of `postqueue -j` lines by queue. */
export function countQueue(postqueueJson: string): QueueStatus {
    const q: QueueStatus = { incoming: 0, active: 0, deferred: 0, hold: 0, maildrop: 0, total: 0 };
    for (const line of postqueueJson.split("\n").filter(l => l.trim())) {
        const name = (JSON.parse(line) as { queue_name: string }).queue_name as keyof QueueStatus;
        if (name in q && name !== "total") q[name]++;
        q.total++;
    }
    return q;
}

export function duration(seconds: number | undefined): string {
    if (seconds === undefined) return "-";
    const d = Math.floor(seconds / 86400),
        h = Math.floor((seconds % 86400) / 3600),
        m = Math.floor((seconds % 3600) / 60);
    return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

export function bytes(n: number | undefined): string {
    if (n === undefined) return "-";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const pad = (s: string, n: number) => s.padEnd(n);

/** The one screen. */
export function renderStatus(s: StackStatus): string {
    const out: string[] = [`mail stack ${s.prefix}, ${s.at}`, "", "services"];
    for (const x of s.services)
        out.push(
            `  ${pad(x.name, 22)} ${pad(x.state, 10)} ${pad(x.health, 10)} up ${pad(duration(x.uptimeSeconds), 9)} ` +
                `generation ${x.generation ?? "-"}`,
        );
    out.push("", "queue");
    if (s.queue) {
        const q = s.queue;
        out.push(
            `  active ${q.active}   deferred ${q.deferred}   hold ${q.hold}   incoming ${q.incoming}   maildrop ${q.maildrop}   total ${q.total}`,
        );
    } else out.push("  (Postfix does not answer)");
    out.push("", "last hour (5-minute bars, oldest first)");
    for (const e of EVENTS)
        out.push(`  ${pad(e, 10)} ${String(s.lastHour.totals[e]).padStart(6)}  ${sparkline(s.lastHour.buckets[e])}`);
    out.push("", "certificates");
    if (s.certificates.length === 0) out.push("  (none found)");
    for (const c of s.certificates)
        out.push(
            `  ${pad(c.service, 8)} ${pad(c.names.join(", ") || c.subject, 40)} ${c.daysLeft} days left (${c.notAfter})`,
        );
    out.push("", "volumes");
    for (const v of s.volumes)
        out.push(
            `  ${pad(v.name, 30)} ${bytes(v.bytes).padStart(9)}   file system ${v.fileSystemPercent === undefined ? "-" : `${v.fileSystemPercent} %`} used`,
        );
    out.push("", "last backup");
    out.push(
        s.backup ? `  ${s.backup.result}, last success ${s.backup.lastSuccess ?? "never"}` : "  (no backup service)",
    );
    return out.join("\n") + "\n";
}
