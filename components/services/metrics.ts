// The metrics exporters (MailServer monitoring.metrics): one container running Debian's Postfix
// exporter (showq through the queue volume, read-only; counts from a copy of Postfix's log),
// Valkey exporter (INFO over Valkey's socket) and node-exporter (the mail volumes' file system,
// and the stack's own facts from a loop: the served certificate's expiry, rspamd's /metrics).
// Dovecot serves its own metrics (render/metrics.ts renderDovecotMetrics).
import { BACKUP_STATUS_DIR, POSTFIX_LOG_DIR, RSPAMD_METRICS_DIR, SERVICE_STATUS_DIR } from "../model/monitoring";
import type { MailServerSettings } from "../model/settings";
import { MetricsSpec, renderMetricsFiles, TlsEndpoint } from "../render/metrics";
import { probeAddress } from "../render/probe";
import { COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";
import { mtasts } from "./mtaSts";
import { resolver } from "./resolver";

/** The TLS endpoints that serve the stack's certificate: Postfix's, and nginx's when it runs. */
function tlsEndpoints(s: MailServerSettings): TlsEndpoint[] {
    const host = s.placement.networkMode === "host";
    const p = s.postfix.ports;
    const postfixHost = host ? probeAddress(s.postfix.inetInterfaces) : `${s.prefix}-postfix`;
    const endpoints: TlsEndpoint[] = [
        p.smtps > 0
            ? { service: "postfix", host: postfixHost, port: p.smtps, starttls: "" }
            : { service: "postfix", host: postfixHost, port: p.submission, starttls: "smtp" },
    ];
    if (s.wellKnown)
        endpoints.push({
            service: "web",
            host: host ? probeAddress([s.wellKnown.address ?? "0.0.0.0"]) : `${s.prefix}-web`,
            port: s.wellKnown.httpsPort,
            starttls: "",
        });
    return endpoints;
}

/**
 * The services that report their health and configuration generation (images/common/healthcheck)
 * while they run with these settings: those built on images/common (COMMON_HEALTHCHECK), by each
 * one's `runs` (DovecotImap's: Dovecot in internet mode, the backup with MailServer backup).
 * test/unit/render-monitoring.test.ts checks this list against the registry.
 */
export function reportingServices(s: MailServerSettings): string[] {
    return [
        "postfix",
        s.postfix.mode === "internet" ? "dovecot" : "saslauthd",
        ...(s.spamFilter.enabled ? ["rspamd"] : []),
        ...(s.wellKnown ? ["web"] : []),
        ...(s.antivirus.enabled ? ["clamav"] : []),
        "metrics",
        ...(s.monitoring.alerts ? ["monitoring"] : []),
        ...(s.backup.enabled ? ["backup"] : []),
        ...[resolver, mtasts].filter(d => d.runs!(s)).map(d => d.name),
    ];
}

/** The metrics renderers' spec from MailServer's settings. */
export function metricsSpec(s: MailServerSettings): MetricsSpec {
    return {
        prefix: s.prefix,
        hostname: s.postfix.hostname,
        networkMode: s.placement.networkMode,
        address: s.monitoring.address,
        ports: s.monitoring.ports,
        spamFilter: s.spamFilter.enabled,
        dovecot: s.postfix.mode === "internet",
        tlsEndpoints: tlsEndpoints(s),
        backup: s.backup.enabled,
        reportingServices: reportingServices(s),
    };
}

export const metrics: MailServerService = {
    name: "metrics",
    component: "MailServer",
    image: "A prebuilt metrics image to use instead of building images/metrics (monitoring.metrics)",
    runs: s => s.monitoring.metrics,
    security: {
        user: "root",
        // The entrypoint makes the facts directory, then every exporter runs as nobody with the
        // queue's postdrop group (to reach showq, nothing else of the queue) via setpriv.
        // KILL: to stop and restart them (a root process without it cannot signal nobody's).
        capabilities: ["CAP_CHOWN", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"],
        tmpfs: ["/run/mail", "/run/metrics", "/tmp"],
    },
    network: "stack",
    ports: s => [
        s.monitoring.ports.postfix,
        s.monitoring.ports.node,
        ...(s.spamFilter.enabled ? [s.monitoring.ports.valkey] : []),
    ],
    publishAddress: s => s.monitoring.address,
    volumes: [
        // Postfix's log as Postfix writes it (a bounded copy beside its stdout), for the exporter.
        { name: "postfix-log", path: POSTFIX_LOG_DIR, kind: "socket" },
        // rspamd's controller socket for /metrics: only rspamd and this container mount it.
        { name: "rspamd-metrics", path: RSPAMD_METRICS_DIR, kind: "socket" },
        // The backup service's (DovecotImap) copy of its status file: result and last success.
        { name: "backup-status", path: BACKUP_STATUS_DIR, kind: "socket" },
        // Every service's last healthcheck: its result and the configuration generation it runs.
        { name: SERVICE_STATUS, path: SERVICE_STATUS_DIR, kind: "socket" },
    ],
    mounts: [CONFIG, "postfix-log", "rspamd-metrics", "backup-status", SERVICE_STATUS, "queue", "valkey-run"],
    // The queue only to reach showq and measure its file system: never written.
    readOnlyMounts: ["queue"],
    dependsOn: ["postfix", "rspamd", "valkey"],
    config: { files: s => renderMetricsFiles(metricsSpec(s)) },
    healthcheck: COMMON_HEALTHCHECK,
    reload: "the exporters are started again with the new generation's settings (a second or two without metrics)",
};
