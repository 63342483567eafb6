// MailServer monitoring after validation: the metrics exporters (a container of their own, plus
// Dovecot's built-in endpoint), and the optional Prometheus + Alertmanager that watches them
// (options/monitoring.ts declares it; render/metrics.ts and render/monitoring*.ts render it).

/** Where each metrics endpoint listens (host mode) or is published (bridge mode), on monitoring.address. */
export interface MonitoringPorts {
    /** The Postfix exporter (queue from showq, counts from Postfix's log). */
    postfix: number;
    /** The Valkey exporter (INFO over Valkey's unix socket). */
    valkey: number;
    /** node-exporter: the mail volume's file system, and the stack's own facts (certificates, rspamd, backups). */
    node: number;
    /** Dovecot's built-in OpenMetrics endpoint (service stats, inet_listener http). */
    dovecot: number;
    /** Prometheus (alerts on). */
    prometheus: number;
    /** Alertmanager (alerts on). */
    alertmanager: number;
}

/** Alert thresholds and timings, each with its documented default (options/monitoring.ts). */
export interface AlertThresholds {
    /** Messages in the deferred queue that raise MailQueueDeferred once they stay deferredFor. */
    deferredMessages: number;
    deferredFor: string;
    /** Messages in all queues together that raise MailQueueGrowing (after alertFor). */
    queuedMessages: number;
    /** Days before the served certificate's expiry that raise CertificateExpiresSoon. */
    certificateDays: number;
    /** Per cent of the mail volume's file system in use that raises MailVolumeFull. */
    volumeFullPercent: number;
    /** Failed logins within failedLoginsWindow that raise FailedLoginBurst. */
    failedLogins: number;
    failedLoginsWindow: string;
    /** Per cent of delivery attempts in the last hour that bounced, raising DeliveryFailureRate. */
    bounceRatePercent: number;
    /** How long a target must be down, or a service's healthcheck fail, before ServiceDown or ServiceUnhealthy. */
    serviceDownFor: string;
    /** How long any other condition must hold before its alert fires. */
    alertFor: string;
}

/** MailServer monitoring, defaults applied (pinned to its declaration in options/monitoring.ts). */
export interface MonitoringSettings {
    /** The exporters run (container <prefix>-metrics) and Dovecot serves its metrics. */
    metrics: boolean;
    /** The address every metrics endpoint listens on (host mode) or is published on (bridge mode). */
    address: string;
    ports: MonitoringPorts;
    /** Prometheus + Alertmanager run (container <prefix>-monitoring); needs metrics. */
    alerts: boolean;
    /** Who receives alert mail: the adminAddress when not given. */
    alertRecipient: string | undefined;
    /** Alertmanager also posts every alert to this URL (its webhook format). */
    webhookUrl: string | undefined;
    scrapeInterval: string;
    evaluationInterval: string;
    /** How long Alertmanager waits to group alerts before the first notification. */
    groupWait: string;
    /** How long Prometheus keeps samples. */
    retention: string;
    thresholds: AlertThresholds;
}

/** Prometheus's duration syntax (a number and one unit). */
export const PROMETHEUS_DURATION = /^[0-9]+(ms|s|m|h|d|w|y)$/;
const PROMETHEUS_UNIT_SECONDS: Record<string, number> = {
    ms: 0.001,
    s: 1,
    m: 60,
    h: 3600,
    d: 86400,
    w: 604800,
    y: 31536000,
};
/** A Prometheus duration (one already checked against PROMETHEUS_DURATION) in seconds. */
export function prometheusSeconds(duration: string): number {
    const m = /^([0-9]+)(ms|s|m|h|d|w|y)$/.exec(duration);
    if (!m) throw new Error(`not a Prometheus duration: ${duration}`);
    return Number(m[1]) * PROMETHEUS_UNIT_SECONDS[m[2]];
}

/** The volume of the mail queue, as the metrics container mounts it (read-only): its file system's use. */
export const METRICS_QUEUE_MOUNT = "/var/spool/postfix";
/** The copy of Postfix's log the Postfix exporter reads (the volume postfix-log). */
export const POSTFIX_LOG_DIR = "/var/log/postfix-copy";
export const POSTFIX_LOG_FILE = `${POSTFIX_LOG_DIR}/postfix.log`;
/** rspamd's controller socket for its /metrics, in a volume only rspamd and the metrics container mount. */
export const RSPAMD_METRICS_DIR = "/run/rspamd-metrics";
export const RSPAMD_METRICS_SOCKET = `${RSPAMD_METRICS_DIR}/controller.sock`;
/** Prometheus's samples (a data volume). */
export const PROMETHEUS_DATA_DIR = "/var/lib/prometheus/metrics2";
/** Where the backup service (MailServer backup) copies its status file for the metrics container. */
export const BACKUP_STATUS_DIR = "/run/backup-status";
/**
 * Where each service's healthcheck (images/common/healthcheck) leaves its last result and the
 * configuration generation its daemon runs, for the metrics container (the volume service-status).
 */
export const SERVICE_STATUS_DIR = "/run/mail-status";
