// `npm run status`: the facts of a running stack, gathered from its Docker engine alone (docker
// inspect, logs and exec into its own containers), so it works with or without monitoring and on
// a remote engine. statusView.ts turns them into the screen or JSON.
import { spawnSync } from "child_process";
import { X509Certificate } from "crypto";
import {
    BackupStatus,
    CertificateStatus,
    countLastHour,
    countQueue,
    ServiceStatus,
    StackStatus,
    VolumeStatus,
} from "./statusView";

type Run = (args: string[]) => { ok: boolean; out: string };

/** docker with the stack's engine; never throws. */
export function dockerRunner(env: NodeJS.ProcessEnv): Run {
    return args => {
        const r = spawnSync("docker", args, { encoding: "utf8", env, timeout: 30_000, maxBuffer: 64 << 20 });
        return { ok: r.status === 0, out: `${r.stdout ?? ""}${args[0] === "logs" ? (r.stderr ?? "") : ""}` };
    };
}

interface Inspected {
    Name: string;
    State: { Status: string; StartedAt: string; Health?: { Status: string } };
    Mounts: Array<{ Type: string; Name?: string; Destination: string }>;
}

/** The certificate in a service's container: the ACME pair (tls.acme) or its config generation's. */
function certificateOf(run: Run, container: string, service: string, now: Date): CertificateStatus | undefined {
    const r = run([
        "exec",
        container,
        "sh",
        "-c",
        "cat /certs/current/cert.pem 2>/dev/null || cat /config/current/tls/cert.pem",
    ]);
    if (!r.ok || !r.out.includes("BEGIN CERTIFICATE")) return undefined;
    const cert = new X509Certificate(r.out);
    const notAfter = new Date(cert.validTo);
    return {
        service,
        subject: cert.subject.replace(/\n/g, ", "),
        names: (cert.subjectAltName ?? "")
            .split(", ")
            .filter(n => n.startsWith("DNS:"))
            .map(n => n.slice(4)),
        notAfter: notAfter.toISOString(),
        daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000),
    };
}

/** Each data volume's size (du) and its file system's use (df), measured inside a container that mounts it. */
function volumesOf(run: Run, inspected: Inspected[], prefix: string): VolumeStatus[] {
    const seen = new Set<string>();
    const volumes: VolumeStatus[] = [];
    for (const c of inspected) {
        if (c.State.Status !== "running") continue;
        for (const m of c.Mounts) {
            if (m.Type !== "volume" || !m.Name || seen.has(m.Name) || !m.Name.startsWith(`${prefix}-`)) continue;
            // Config, socket and log volumes are small and made anew: the state is what fills a disk.
            if (/-(config|run|milter|lmtp|log|metrics|status|staging)$/.test(m.Name)) continue;
            seen.add(m.Name);
            const du = run(["exec", c.Name.replace(/^\//, ""), "du", "-sk", m.Destination]);
            const df = run(["exec", c.Name.replace(/^\//, ""), "df", "-P", m.Destination]);
            const used = /\s(\d+)%\s/.exec(df.out.split("\n")[1] ?? "")?.[1];
            volumes.push({
                name: m.Name,
                // du also prints its total when it could not read everything (its exit status is then 1).
                bytes: /^\d+\s/.test(du.out) ? Number(du.out.split(/\s/)[0]) * 1024 : undefined,
                fileSystemPercent: used === undefined ? undefined : Number(used),
            });
        }
    }
    return volumes.sort((a, b) => a.name.localeCompare(b.name));
}

/** The backup service's status file (result=, last_success=), when the stack has one. */
function backupOf(run: Run, prefix: string): BackupStatus | undefined {
    const r = run(["exec", `${prefix}-backup`, "cat", "/staging/status"]);
    if (!r.ok) return undefined;
    const field = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(r.out)?.[1]?.trim();
    // last_success: epoch seconds of the last good backup, 0 when none succeeded yet.
    const last = Number(field("last_success") ?? "0");
    return {
        result: field("result") ?? "unknown",
        lastSuccess: last > 0 ? new Date(last * 1000).toISOString() : undefined,
    };
}

export function gatherStatus(run: Run, prefix: string, now = new Date()): StackStatus {
    const ids = run(["ps", "-aq", "--filter", `label=mailserver.stack=${prefix}`])
        .out.split("\n")
        .filter(Boolean);
    const inspected: Inspected[] = ids.length > 0 ? JSON.parse(run(["inspect", ...ids]).out || "[]") : [];
    // Long-running services only: the config jobs run once and exit.
    const services = inspected.filter(c => !/-config$/.test(c.Name));
    const serviceStatus: ServiceStatus[] = services
        .map(c => {
            const name = c.Name.replace(/^\//, "");
            const running = c.State.Status === "running";
            const applied = running ? run(["exec", name, "cat", "/run/mail/applied"]) : undefined;
            return {
                name,
                state: c.State.Status,
                health: c.State.Health?.Status ?? "none",
                uptimeSeconds: running
                    ? Math.max(0, (now.getTime() - Date.parse(c.State.StartedAt)) / 1000)
                    : undefined,
                generation: applied?.ok ? applied.out.trim() || undefined : undefined,
            };
        })
        .sort((a, b) => a.name.localeCompare(b.name));
    const postfix = `${prefix}-postfix`;
    const queue = run(["exec", postfix, "postqueue", "-j"]);
    const logs = run(["logs", "--timestamps", "--since", "1h", postfix]);
    const certificates = [
        certificateOf(run, postfix, "postfix", now),
        ...(services.some(c => c.Name === `/${prefix}-web`) ? [certificateOf(run, `${prefix}-web`, "web", now)] : []),
    ].filter((c): c is CertificateStatus => c !== undefined);
    return {
        prefix,
        at: now.toISOString(),
        services: serviceStatus,
        queue: queue.ok ? countQueue(queue.out) : undefined,
        lastHour: countLastHour(logs.out.split("\n"), now),
        certificates,
        volumes: volumesOf(run, inspected, prefix),
        backup: backupOf(run, prefix),
    };
}
