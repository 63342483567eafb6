// MailServer monitoring, declared once: the metrics exporters (off by default), the optional
// Prometheus + Alertmanager with its thresholds, and the rules that tie them to other options.
import { definedAddresses } from "../model/addresses";
import type { DomainSpec } from "../model/spec";
import { isAddress, Validator } from "../model/validator";
import { AlertThresholds, MonitoringSettings, PROMETHEUS_DURATION } from "../model/monitoring";
import { boolean, object, Pinned, readOptions, SameType, text, Values, wholeNumber } from "./declare";
import { ipAddress, port } from "./mailServerFields";

const DURATION_ACCEPTED =
    'expected a Prometheus duration: a whole number and one unit (ms, s, m, h, d, w, y), e.g. "5m"';
const duration = (doc: string, dflt: string) =>
    text({
        doc,
        default: dflt,
        accepted: DURATION_ACCEPTED,
        check: (v, f, x) => (PROMETHEUS_DURATION.test(x) ? x : v.fail(f, x, DURATION_ACCEPTED)),
    });
const count = (doc: string, dflt: number, max: number) => wholeNumber({ doc, default: dflt, min: 1, max });

export const MONITORING_PORT_OPTIONS = {
    postfix: port("The Postfix exporter (queue from showq, delivery counts from Postfix's log)", 9154),
    valkey: port("The Valkey exporter (INFO over Valkey's unix socket)", 9121),
    node: port(
        "node-exporter: the mail volume's file system and the stack's own facts (certificate expiry, rspamd, backups)",
        9100,
    ),
    dovecot: port("Dovecot's built-in OpenMetrics endpoint (DovecotImap)", 9900),
    prometheus: port("Prometheus's web UI and API (alerts on)", 9090),
    alertmanager: port("Alertmanager's web UI and API (alerts on)", 9093),
};

export const ALERT_THRESHOLD_OPTIONS = {
    deferredMessages: count("Deferred messages that raise MailQueueDeferred", 1, 1_000_000),
    deferredFor: duration("How long the oldest deferred message must have waited before MailQueueDeferred", "15m"),
    queuedMessages: count("Messages in all queues together that raise MailQueueGrowing", 500, 10_000_000),
    certificateDays: count("Days before the served certificate expires that raise CertificateExpiresSoon", 14, 365),
    volumeFullPercent: count("Per cent of the mail volume's file system in use that raises MailVolumeFull", 85, 99),
    failedLogins: count(
        "Failed logins (IMAP, POP3, SMTP AUTH) within failedLoginsWindow that raise FailedLoginBurst",
        20,
        1_000_000,
    ),
    failedLoginsWindow: duration("The window failedLogins are counted in", "10m"),
    bounceRatePercent: count(
        "Per cent of the last hour's delivery attempts that bounced, raising DeliveryFailureRate",
        10,
        100,
    ),
    serviceDownFor: duration(
        "How long a metrics target must be down, or a service's healthcheck fail, before ServiceDown or ServiceUnhealthy",
        "2m",
    ),
    alertFor: duration("How long any other condition must hold before its alert fires", "5m"),
};

export const MONITORING_OPTIONS = {
    metrics: boolean({
        doc:
            "Metrics endpoints: the exporters for Postfix, Valkey and the stack's own facts (a container of their own, " +
            "<prefix>-metrics) and Dovecot's built-in one, on `address` only",
        default: false,
    }),
    address: ipAddress(
        "The address every metrics endpoint listens on (host mode) or is published on (bridge mode); never public by default",
        "expected an IPv4 or IPv6 address, e.g. 127.0.0.1",
        "127.0.0.1",
    ),
    ports: object("MonitoringPorts", MONITORING_PORT_OPTIONS, { doc: "The port of each endpoint", default: {} }),
    alerts: boolean({
        doc:
            "Prometheus and Alertmanager (a container of their own, <prefix>-monitoring) scrape the metrics and mail " +
            "alerts to alertRecipient through the stack's own Postfix; needs metrics",
        default: false,
    }),
    alertRecipient: text({
        doc: "Who receives alert mail (a mailbox or alias of this server's domains)",
        defaultText: "the adminAddress",
        accepted: "expected an email address",
        check: (v, f, x) => (isAddress(x) ? x.toLowerCase() : v.fail(f, x, "expected an email address")),
    }),
    webhookUrl: text({
        doc: "Alertmanager also posts every alert to this URL (Alertmanager's webhook format)",
        accepted: "expected an http:// or https:// URL",
        check: (v, f, x) =>
            /^https?:\/\/[^\s"'\\]+$/.test(x) ? x : v.fail(f, x, "expected an http:// or https:// URL"),
    }),
    scrapeInterval: duration("How often Prometheus scrapes every target", "30s"),
    evaluationInterval: duration("How often Prometheus evaluates the alert rules", "30s"),
    groupWait: duration("How long Alertmanager waits to group new alerts before it mails them", "30s"),
    retention: duration("How long Prometheus keeps samples (its volume <prefix>-monitoring-data)", "15d"),
    thresholds: object("AlertThresholds", ALERT_THRESHOLD_OPTIONS, {
        doc: "When each alert fires: see the README's monitoring section for the rules",
        default: {},
    }),
};

/** MailServer's `monitoring` group. */
export const MONITORING_GROUP = object("MonitoringArgs", MONITORING_OPTIONS, {
    doc: "Metrics endpoints and, optionally, Prometheus + Alertmanager mailing alerts; off by default",
    default: {},
});

// The model's settings types are the declarations' values (a compile error otherwise).
export type _MonitoringPinned = Pinned<SameType<MonitoringSettings, Values<typeof MONITORING_OPTIONS>>>;
export type _ThresholdsPinned = Pinned<SameType<AlertThresholds, Values<typeof ALERT_THRESHOLD_OPTIONS>>>;

/** Monitoring with every default (off), as a stack without the option has it. */
export const monitoringDefaults = (): MonitoringSettings =>
    readOptions(new Validator("MailServer"), MONITORING_OPTIONS, {});

/** The monitoring's rules on other options (validateMailServer calls it). */
export function checkMonitoring(
    v: Validator,
    m: MonitoringSettings,
    other: {
        mode: string;
        ports: Record<string, number | undefined>;
        adminAddress: string;
        domains: DomainSpec[];
    },
): string[] {
    if (m.alerts && !m.metrics)
        v.fail(
            "monitoring.alerts",
            true,
            "expected false with monitoring.metrics false: Prometheus scrapes those endpoints",
        );
    if (!m.metrics) return [];
    const seen = new Map<number, string>();
    const mine = Object.entries(m.ports).filter(([k]) => m.alerts || (k !== "prometheus" && k !== "alertmanager"));
    for (const [k, p] of mine) {
        const taken = seen.get(p) ?? Object.entries(other.ports).find(([, x]) => x === p)?.[0];
        if (taken !== undefined)
            v.fail(
                `monitoring.ports.${k}`,
                p,
                `port ${p} is already used by ${seen.has(p) ? "monitoring.ports." : "ports."}${taken}`,
            );
        seen.set(p, k);
    }
    const to = m.alertRecipient ?? other.adminAddress;
    const local = definedAddresses(other.domains, { withRoleAddresses: true });
    if (m.alerts && other.mode === "internet" && !local.has(to))
        v.fail(
            m.alertRecipient === undefined ? "adminAddress" : "monitoring.alertRecipient",
            to,
            other.domains.some(d => d.name === to.split("@")[1])
                ? `expected an existing mailbox or alias of ${to.split("@")[1]}`
                : "expected a mailbox or alias of this server's domains: alert mail reaches Postfix as inbound mail " +
                      "(port 25, no relay permission), so it can only be delivered here",
        );
    return m.alerts && other.mode === "relay"
        ? [
              `${v.component}: monitoring.alerts in relay mode: alert mail to ${to} reaches Postfix on port 25 and is ` +
                  "relayed only when the monitoring container's address is in mynetworks (host mode with loopback " +
                  "mynetworks); otherwise use monitoring.webhookUrl",
          ]
        : [];
}
