// Prometheus and Alertmanager (MailServer monitoring.alerts): the scrape configuration made from
// the stack's targets, the rules (monitoringRules.ts), and Alertmanager's routes: mail to the
// alert recipient through the stack's own Postfix, and optionally a webhook. Pure.
import { publicFile, RenderedFile } from "../model/spec";
import { renderAlertRules, RulesSpec } from "./monitoringRules";
import { ScrapeTarget } from "./metrics";

export interface MonitoringSpec {
    hostname: string;
    /** Where Prometheus and Alertmanager listen (host mode: monitoring.address; bridge: every address). */
    listen: string;
    prometheusPort: number;
    alertmanagerPort: number;
    scrapeInterval: string;
    retention: string;
    groupWait: string;
    targets: ScrapeTarget[];
    rules: RulesSpec;
    /** Postfix's port 25 as Alertmanager reaches it ("host:port"). */
    smarthost: string;
    recipient: string;
    webhookUrl: string | undefined;
}

/** Alert mail's sender: outside every domain of ours (a reserved name), so no sender-ownership rule applies. */
export const ALERT_SENDER = "alertmanager@monitoring.invalid";
/** Alert mail's body (an Alertmanager template): each alert's state, name, summary and description. */
const ALERT_TEXT =
    '{{ range .Alerts }}{{ .Status | toUpper }}: {{ .Labels.alertname }}{{ "\\n" }}{{ .Annotations.summary }}' +
    '{{ "\\n" }}{{ .Annotations.description }}{{ "\\n\\n" }}{{ end }}';

const HEADER = (file: string) =>
    `# Rendered by the mailserver package (components/render/${file}). Do not edit here.\n`;
const q = (s: string) => JSON.stringify(s);
const hostPort = (address: string, port: number) => `${address.includes(":") ? `[${address}]` : address}:${port}`;
const loopback = (address: string) => (address === "0.0.0.0" ? "127.0.0.1" : address === "::" ? "::1" : address);

/** prometheus.yml: one job per target, the rules file, and this container's Alertmanager. */
export function renderPrometheusConfig(s: MonitoringSpec): string {
    const jobs = [
        ...s.targets,
        { job: "prometheus", target: hostPort(loopback(s.listen), s.prometheusPort) },
        { job: "alertmanager", target: hostPort(loopback(s.listen), s.alertmanagerPort) },
    ];
    return (
        HEADER("monitoring.ts") +
        `global:
  scrape_interval: ${s.scrapeInterval}
  evaluation_interval: ${s.rules.evaluationInterval}
  external_labels:
    mailserver: ${q(s.hostname)}
rule_files:
  - /config/current/rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: [${q(hostPort(loopback(s.listen), s.alertmanagerPort))}]
scrape_configs:
` +
        jobs.map(j => `  - job_name: ${q(j.job)}\n    static_configs:\n      - targets: [${q(j.target)}]\n`).join("")
    );
}

/**
 * alertmanager.yml. Mail goes to Postfix's port 25 as ordinary inbound mail for a mailbox of this
 * server: no login to store and no relay permission granted to anything (the alert recipient must
 * be local, options/monitoring.ts checks it). Plain SMTP: the hop stays on the host or the stack's
 * network. The sender is ALERT_SENDER: an address of our own domains (the hostname's too, a
 * subdomain) is accepted on port 25 only from mynetworks, which a bridge-mode container never is.
 * Plain text only (ALERT_TEXT, no HTML part): rspamd scores Alertmanager's HTML-only default
 * template (MIME_MA_MISSING_TEXT, URI_COUNT_ODD) and a sender host without a dot; together they
 * filed a bridge-mode alert into Junk (7.99).
 */
export function renderAlertmanagerConfig(s: MonitoringSpec): string {
    const webhook = s.webhookUrl
        ? `    webhook_configs:\n      - url: ${q(s.webhookUrl)}\n        send_resolved: true\n`
        : "";
    return (
        HEADER("monitoring.ts") +
        `global:
  smtp_smarthost: ${q(s.smarthost)}
  smtp_from: ${q(ALERT_SENDER)}
  smtp_hello: ${q(s.hostname)}
  smtp_require_tls: false
route:
  receiver: admin
  group_by: ["alertname"]
  group_wait: ${s.groupWait}
  group_interval: 5m
  repeat_interval: 12h
receivers:
  - name: admin
    email_configs:
      - to: ${q(s.recipient)}
        send_resolved: true
        html: ""
        text: ${q(ALERT_TEXT)}
        headers:
          Subject: ${q(`[${s.hostname}] {{ .Status | toUpper }}: {{ .CommonLabels.alertname }}`)}
` +
        webhook
    );
}

/** The container's own settings, read by images/monitoring/run-monitoring (shell variables). */
export function renderMonitoringEnv(s: MonitoringSpec): string {
    return (
        HEADER("monitoring.ts") +
        `PROMETHEUS_LISTEN=${hostPort(s.listen, s.prometheusPort)}\n` +
        `ALERTMANAGER_LISTEN=${hostPort(s.listen, s.alertmanagerPort)}\n` +
        `RETENTION=${s.retention}\n`
    );
}

export function renderMonitoringFiles(s: MonitoringSpec): RenderedFile[] {
    return [
        publicFile("prometheus.yml", renderPrometheusConfig(s)),
        publicFile("rules.yml", renderAlertRules(s.rules)),
        publicFile("alertmanager.yml", renderAlertmanagerConfig(s)),
        publicFile("monitoring.env", renderMonitoringEnv(s)),
        publicFile("probe", "# no TCP probe: service_check asks Prometheus and Alertmanager whether they are ready\n"),
    ];
}
