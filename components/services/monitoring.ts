// Prometheus + Alertmanager (MailServer monitoring.alerts), Debian's packages in images/monitoring:
// scrapes the metrics endpoints, evaluates the rules and mails alerts through the stack's Postfix.
import { PROMETHEUS_DATA_DIR } from "../model/monitoring";
import type { MailServerSettings } from "../model/settings";
import { MonitoringSpec, renderMonitoringFiles } from "../render/monitoring";
import { scrapeTargets } from "../render/metrics";
import { probeAddress } from "../render/probe";
import { COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";
import { metricsSpec } from "./metrics";

/** With backups: when the last good one is too old (when the backup container turns unhealthy too). */
export const backupOverdueSeconds = (s: MailServerSettings) =>
    s.backup.enabled ? s.backup.intervalMinutes * s.backup.staleAfterIntervals * 60 : undefined;

/** Prometheus's and Alertmanager's spec from MailServer's settings. */
export function monitoringSpec(s: MailServerSettings): MonitoringSpec {
    const m = s.monitoring;
    const host = s.placement.networkMode === "host";
    return {
        hostname: s.postfix.hostname,
        listen: host ? m.address : "0.0.0.0",
        prometheusPort: m.ports.prometheus,
        alertmanagerPort: m.ports.alertmanager,
        scrapeInterval: m.scrapeInterval,
        retention: m.retention,
        groupWait: m.groupWait,
        targets: scrapeTargets(metricsSpec(s)),
        rules: {
            thresholds: m.thresholds,
            evaluationInterval: m.evaluationInterval,
            dovecot: s.postfix.mode === "internet",
            backupOverdueSeconds: backupOverdueSeconds(s),
        },
        smarthost: `${host ? probeAddress(s.postfix.inetInterfaces) : `${s.prefix}-postfix`}:${s.postfix.ports.smtp}`,
        recipient: m.alertRecipient ?? s.postfix.adminAddress,
        webhookUrl: m.webhookUrl,
    };
}

export const monitoring: MailServerService = {
    name: "monitoring",
    component: "MailServer",
    image: "A prebuilt Prometheus + Alertmanager image to use instead of building images/monitoring (monitoring.alerts)",
    runs: s => s.monitoring.alerts,
    security: {
        user: "root",
        // The entrypoint gives the data volume to prometheus, then both daemons run as prometheus (setpriv).
        // KILL: to reload (HUP) and stop them, which root without it cannot do to prometheus's processes.
        capabilities: ["CAP_CHOWN", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"],
        tmpfs: ["/run/mail", "/tmp"],
    },
    network: "stack",
    ports: s => [s.monitoring.ports.prometheus, s.monitoring.ports.alertmanager],
    publishAddress: s => s.monitoring.address,
    volumes: [{ name: "monitoring-data", path: PROMETHEUS_DATA_DIR, kind: "data" }],
    mounts: [CONFIG, "monitoring-data", SERVICE_STATUS],
    dependsOn: ["metrics"],
    config: { files: s => renderMonitoringFiles(monitoringSpec(s)) },
    healthcheck: COMMON_HEALTHCHECK,
    reload: "a HUP to Prometheus and Alertmanager: both read their files again",
};
