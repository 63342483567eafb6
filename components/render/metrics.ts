// The metrics endpoints: the targets a Prometheus scrapes (the stack's own, or the user's), the
// metrics container's files (which exporters run, where they listen, which certificates to probe),
// and Dovecot's built-in OpenMetrics endpoint. Pure: a spec in, text out.
import { publicFile, RenderedFile } from "../model/spec";
import { MonitoringPorts } from "../model/monitoring";

/** What the metrics renderers need from MailServer's settings (services/metrics.ts builds it). */
export interface MetricsSpec {
    prefix: string;
    hostname: string;
    networkMode: "bridge" | "host";
    /** monitoring.address */
    address: string;
    ports: MonitoringPorts;
    /** Valkey runs (spamFilter): its exporter and rspamd's metrics too. */
    spamFilter: boolean;
    /** Internet mode: a DovecotImap serves its metrics. */
    dovecot: boolean;
    /** Where the served certificate is read from: one line per TLS endpoint. */
    tlsEndpoints: TlsEndpoint[];
    /** A backup service shares its status file (model/monitoring.ts BACKUP_STATUS_DIR). */
    backup: boolean;
    /**
     * The services whose healthcheck reports its result and configuration generation
     * (SERVICE_STATUS_DIR): one missing or silent is unhealthy (ServiceUnhealthy).
     */
    reportingServices: string[];
}

export interface TlsEndpoint {
    service: string;
    host: string;
    port: number;
    /** "smtp": STARTTLS first (openssl s_client -starttls smtp); "": TLS at once. */
    starttls: "smtp" | "";
}

export interface ScrapeTarget {
    job: string;
    target: string;
}

const HEADER = "# Rendered by the mailserver package (components/render/metrics.ts). Do not edit here.\n";

/** An address a client can connect to: a wildcard means the loopback. */
function reachable(address: string): string {
    if (address === "0.0.0.0") return "127.0.0.1";
    if (address === "::") return "[::1]";
    return address.includes(":") ? `[${address}]` : address;
}

/** Where an endpoint of the metrics container listens: its address in host mode, every address in bridge mode. */
export const metricsListen = (s: Pick<MetricsSpec, "networkMode" | "address">) =>
    s.networkMode === "host" ? s.address : "0.0.0.0";

/**
 * Every metrics target, as a Prometheus on the stack's network (bridge mode: by container name) or
 * on the host (host mode: the address) reaches it. `external`: as a Prometheus of the user's on the
 * host reaches it (bridge mode: the published address, Dovecot's included).
 */
export function scrapeTargets(s: MetricsSpec, external = false): ScrapeTarget[] {
    const host = (container: string) =>
        s.networkMode === "host" || external ? reachable(s.address) : `${s.prefix}-${container}`;
    return [
        { job: "postfix", target: `${host("metrics")}:${s.ports.postfix}` },
        ...(s.spamFilter ? [{ job: "valkey", target: `${host("metrics")}:${s.ports.valkey}` }] : []),
        { job: "node", target: `${host("metrics")}:${s.ports.node}` },
        // Dovecot serves its own endpoint (published on the same address in bridge mode).
        ...(s.dovecot ? [{ job: "dovecot", target: `${host("dovecot")}:${s.ports.dovecot}` }] : []),
    ];
}

/** Prometheus scrape_configs for these targets, one job each (for a Prometheus of the user's). */
export function renderScrapeConfigs(targets: ScrapeTarget[]): string {
    return (
        "scrape_configs:\n" +
        targets
            .map(
                t =>
                    `  - job_name: ${JSON.stringify(t.job)}\n    static_configs:\n      - targets: [${JSON.stringify(t.target)}]\n`,
            )
            .join("")
    );
}

/** The metrics container's settings, read by images/metrics/run-exporters (shell variables). */
export function renderMetricsEnv(s: MetricsSpec): string {
    const lines = [
        `LISTEN=${metricsListen(s).includes(":") ? `[${metricsListen(s)}]` : metricsListen(s)}`,
        `POSTFIX_PORT=${s.ports.postfix}`,
        `NODE_PORT=${s.ports.node}`,
        `VALKEY_PORT=${s.spamFilter ? s.ports.valkey : ""}`,
        `RSPAMD=${s.spamFilter ? "yes" : "no"}`,
        `BACKUP=${s.backup ? "yes" : "no"}`,
        `HOSTNAME_SERVED=${s.hostname}`,
        `SERVICES="${s.reportingServices.join(" ")}"`,
    ];
    return HEADER + lines.join("\n") + "\n";
}

/** The TLS endpoints whose certificate's expiry the facts loop reads: "service host port starttls". */
export function renderTlsEndpoints(s: MetricsSpec): string {
    return HEADER + s.tlsEndpoints.map(e => `${e.service} ${e.host} ${e.port} ${e.starttls || "-"}`).join("\n") + "\n";
}

export function renderMetricsFiles(s: MetricsSpec): RenderedFile[] {
    return [
        publicFile("metrics.env", renderMetricsEnv(s)),
        publicFile("tls-endpoints", renderTlsEndpoints(s)),
        // No TCP greeting to probe (HTTP): service_check asks each exporter for its metrics instead.
        publicFile("probe", "# no TCP probe: service_check scrapes each exporter\n"),
    ];
}

/** Dovecot's metrics: where its stats service serves them, and what it counts. */
export interface DovecotMetricsSpec {
    listen: string;
    port: number;
}

/**
 * dovecot.conf's metrics section (Dovecot 2.4: `metric` blocks, exported by the stats service's
 * `http` listener as dovecot_<name>_total). Login failures are what FailedLoginBurst counts.
 */
export function renderDovecotMetrics(m: DovecotMetricsSpec): string {
    return `
# --- metrics (MailServer monitoring.metrics): OpenMetrics at http://${m.listen}:${m.port}/metrics
metric auth_successes {
  filter = event=auth_request_finished AND success=yes
}
metric auth_failures {
  filter = event=auth_request_finished AND NOT success=yes
}
metric imap_commands {
  filter = event=imap_command_finished
}
metric mail_deliveries {
  filter = event=mail_delivery_finished
}
service stats {
  inet_listener http {
    listen = ${m.listen}
    port = ${m.port}
  }
}
`;
}
