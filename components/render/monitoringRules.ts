// The alert rules Prometheus evaluates (MailServer monitoring.alerts), also an output for users
// who run their own Prometheus. Thresholds and timings come from monitoring.thresholds.
import { AlertThresholds, METRICS_QUEUE_MOUNT, prometheusSeconds } from "../model/monitoring";

export interface RulesSpec {
    thresholds: AlertThresholds;
    evaluationInterval: string;
    /** Internet mode: failed logins are Dovecot's (IMAP, POP3 and SMTP AUTH); relay mode: Postfix's. */
    dovecot: boolean;
    /**
     * With MailServer backup: how old the last successful backup may be (its interval times
     * staleAfterIntervals, when its own container turns unhealthy); BackupFailed and BackupOverdue.
     */
    backupOverdueSeconds: number | undefined;
}

interface Rule {
    alert: string;
    expr: string;
    for: string;
    summary: string;
    description: string;
}

const q = (s: string) => JSON.stringify(s);
/**
 * A healthcheck runs every 10 s and the metrics container reads its report every 10 s: a report
 * older than this means the service's container no longer runs its healthcheck.
 */
const SERVICE_REPORT_STALE_SECONDS = 60;
/** Postfix's received mail and delivery outcomes, counted from its log (images/postfix/log-copy). */
const COUNTED = "mailserver_postfix_messages_total";

/** Each rule: what it watches and why it matters, in words the alert mail carries. */
export function alertRules(s: RulesSpec): Rule[] {
    const t = s.thresholds;
    const failures = s.dovecot
        ? `sum(increase(dovecot_auth_failures_total[${t.failedLoginsWindow}]))`
        : `sum(increase(postfix_smtpd_sasl_authentication_failures_total[${t.failedLoginsWindow}]))`;
    return [
        {
            // The oldest deferred message's arrival comes from Postfix's queue itself (postqueue -j):
            // the exporter's age histogram has fixed buckets (10 s, 100 s, 1000 s, ...).
            alert: "MailQueueDeferred",
            expr:
                `time() - max(mailserver_postfix_deferred_oldest_arrival_timestamp_seconds > 0) >= ${prometheusSeconds(t.deferredFor)} ` +
                `and on() sum(postfix_showq_message_age_seconds_count{queue="deferred"}) >= ${t.deferredMessages}`,
            for: "0s",
            summary: "A message has waited in the deferred queue for {{ $value | humanizeDuration }}",
            description:
                `At least ${t.deferredMessages} messages are deferred, the oldest for over ${t.deferredFor}: ` +
                "a destination or the relayhost does not accept mail. `npm run queue -- list` shows why.",
        },
        {
            alert: "MailQueueGrowing",
            expr: `sum(postfix_showq_message_age_seconds_count) >= ${t.queuedMessages}`,
            for: t.alertFor,
            summary: "{{ $value }} messages in the mail queue",
            description: `More than ${t.queuedMessages} messages wait in Postfix's queues.`,
        },
        {
            alert: "CertificateExpiresSoon",
            expr:
                `(min by (service, endpoint, subject) (mailserver_certificate_expiry_timestamp_seconds) - time()) ` +
                `< ${t.certificateDays} * 86400`,
            for: t.alertFor,
            summary:
                "The certificate served by {{ $labels.service }} ({{ $labels.subject }}) expires in " +
                "{{ $value | humanizeDuration }}",
            description: `A certificate the stack serves expires in less than ${t.certificateDays} days.`,
        },
        {
            alert: "ServiceDown",
            expr:
                "up == 0 or postfix_up == 0 or redis_up == 0 or mailserver_rspamd_up == 0 " +
                "or mailserver_certificate_probe_success == 0",
            for: t.serviceDownFor,
            summary: "{{ $labels.job }} {{ $labels.service }} is down",
            description: `A service (or its exporter) has not answered for ${t.serviceDownFor}.`,
        },
        {
            alert: "ServiceUnhealthy",
            expr:
                "mailserver_service_healthy == 0 or " +
                `time() - mailserver_service_checked_timestamp_seconds > ${SERVICE_REPORT_STALE_SECONDS}`,
            for: t.serviceDownFor,
            summary: "{{ $labels.service }} is unhealthy or stopped",
            description:
                `A service's healthcheck has failed, or not reported for over ${SERVICE_REPORT_STALE_SECONDS} s ` +
                `(its container stopped), for ${t.serviceDownFor}. \`npm run status\` shows its health.`,
        },
        {
            alert: "MailVolumeFull",
            expr:
                `100 * (1 - node_filesystem_avail_bytes{mountpoint="${METRICS_QUEUE_MOUNT}"} / ` +
                `node_filesystem_size_bytes{mountpoint="${METRICS_QUEUE_MOUNT}"}) > ${t.volumeFullPercent}`,
            for: t.alertFor,
            summary: 'The mail volumes\' file system is {{ $value | printf "%.0f" }} % full',
            description: `Over ${t.volumeFullPercent} % of the file system holding the queue and mail volumes is used.`,
        },
        {
            alert: "FailedLoginBurst",
            expr: `${failures} > ${t.failedLogins}`,
            for: "0s",
            summary: '{{ $value | printf "%.0f" }} failed logins in ' + t.failedLoginsWindow,
            description: `More than ${t.failedLogins} failed logins in ${t.failedLoginsWindow}: someone may be guessing passwords.`,
        },
        {
            alert: "DeliveryFailureRate",
            expr:
                `100 * sum(increase(${COUNTED}{event="bounced"}[1h])) / ` +
                `sum(increase(${COUNTED}{event=~"sent|deferred|bounced"}[1h])) > ${t.bounceRatePercent}`,
            for: t.alertFor,
            summary: '{{ $value | printf "%.0f" }} % of the last hour\'s delivery attempts bounced',
            description: `Over ${t.bounceRatePercent} % of the last hour's delivery attempts bounced.`,
        },
        ...(s.backupOverdueSeconds !== undefined
            ? [
                  {
                      alert: "BackupFailed",
                      expr: "mailserver_backup_last_result == 0",
                      for: "0s",
                      summary: "The last backup failed",
                      description: "The backup service reported a failure (its log says why).",
                  },
                  {
                      alert: "BackupOverdue",
                      expr: `time() - mailserver_backup_last_success_timestamp_seconds > ${s.backupOverdueSeconds}`,
                      for: t.alertFor,
                      summary: "No successful backup for {{ $value | humanizeDuration }}",
                      description:
                          `No backup has succeeded for ${s.backupOverdueSeconds} s ` +
                          "(backup.intervalMinutes times backup.staleAfterIntervals).",
                  },
              ]
            : []),
    ];
}

/** rules.yml (Prometheus's rule file format). */
export function renderAlertRules(s: RulesSpec): string {
    const rules = alertRules(s).map(r =>
        [
            `      - alert: ${r.alert}`,
            `        expr: ${q(r.expr)}`,
            `        for: ${r.for}`,
            `        labels:`,
            `          severity: ${["ServiceDown", "ServiceUnhealthy", "BackupFailed"].includes(r.alert) ? "critical" : "warning"}`,
            `        annotations:`,
            `          summary: ${q(r.summary)}`,
            `          description: ${q(r.description)}`,
        ].join("\n"),
    );
    return (
        "# Rendered by the mailserver package (components/render/monitoringRules.ts). Do not edit here.\n" +
        `groups:\n  - name: mailserver\n    interval: ${s.evaluationInterval}\n    rules:\n${rules.join("\n")}\n`
    );
}
