// Monitoring: the metrics targets and files (components/render/metrics.ts), Prometheus's,
// Alertmanager's and the rules' files (render/monitoring.ts, monitoringRules.ts), the option's
// defaults, and the status view's pure parts (scripts/lib/statusView.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readOptions } from "../../components/options/declare";
import { MONITORING_OPTIONS } from "../../components/options/monitoring";
import { Validator } from "../../components/model/validator";
import { MetricsSpec, renderDovecotMetrics, renderMetricsEnv, scrapeTargets } from "../../components/render/metrics";
import { renderAlertmanagerConfig, renderPrometheusConfig, MonitoringSpec } from "../../components/render/monitoring";
import { alertRules, renderAlertRules } from "../../components/render/monitoringRules";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateRelayhost } from "../../components/options/relayhost";
import { exampleCom } from "./fixtures";
import { validateVirtualDomain } from "../../components/options/validateVirtualDomain";
import { COMMON_HEALTHCHECK } from "../../components/services/definition";
import { SERVICES } from "../../components/services/index";
import { reportingServices } from "../../components/services/metrics";
import { countLastHour, countQueue, postfixEvent, sparkline } from "../../scripts/lib/statusView";

const defaults = () => readOptions(new Validator("MailServer mx"), MONITORING_OPTIONS, {});

const METRICS: MetricsSpec = {
    prefix: "mx",
    hostname: "mail.example.com",
    networkMode: "bridge",
    address: "127.0.0.1",
    ports: defaults().ports,
    spamFilter: true,
    dovecot: true,
    tlsEndpoints: [{ service: "postfix", host: "mx-postfix", port: 465, starttls: "" }],
    backup: false,
    reportingServices: ["postfix", "dovecot", "rspamd", "metrics"],
};

describe("monitoring option", () => {
    test("off by default, on loopback, with the documented thresholds", () => {
        const d = defaults();
        assert.equal(d.metrics, false);
        assert.equal(d.alerts, false);
        assert.equal(d.address, "127.0.0.1");
        assert.deepEqual(d.ports, {
            postfix: 9154,
            valkey: 9121,
            node: 9100,
            dovecot: 9900,
            prometheus: 9090,
            alertmanager: 9093,
        });
        assert.equal(d.thresholds.certificateDays, 14);
        assert.equal(d.thresholds.volumeFullPercent, 85);
        assert.equal(d.thresholds.deferredFor, "15m");
    });
});

describe("metrics targets", () => {
    test("bridge mode: a Prometheus on the stack's network reaches the containers by name; one on the host, the address", () => {
        assert.deepEqual(scrapeTargets(METRICS), [
            { job: "postfix", target: "mx-metrics:9154" },
            { job: "valkey", target: "mx-metrics:9121" },
            { job: "node", target: "mx-metrics:9100" },
            { job: "dovecot", target: "mx-dovecot:9900" },
        ]);
        // A Prometheus on the host reaches every endpoint, Dovecot's too, on the published address.
        assert.deepEqual(
            scrapeTargets(METRICS, true).map(t => t.target),
            ["127.0.0.1:9154", "127.0.0.1:9121", "127.0.0.1:9100", "127.0.0.1:9900"],
        );
    });

    test("host mode: every exporter listens on the address itself; no Valkey without rspamd; no Dovecot in relay mode", () => {
        const host = { ...METRICS, networkMode: "host" as const, address: "::1", spamFilter: false, dovecot: false };
        assert.deepEqual(scrapeTargets(host), [
            { job: "postfix", target: "[::1]:9154" },
            { job: "node", target: "[::1]:9100" },
        ]);
        assert.match(renderMetricsEnv(host), /^LISTEN=\[::1\]$/m);
        assert.match(renderMetricsEnv(host), /^VALKEY_PORT=$/m);
        assert.match(renderMetricsEnv(METRICS), /^LISTEN=0\.0\.0\.0$/m);
    });

    test("Dovecot's section counts failed logins and serves them on the stats listener", () => {
        const conf = renderDovecotMetrics({ listen: "127.0.0.1", port: 9900 });
        assert.match(conf, /metric auth_failures \{\n {2}filter = event=auth_request_finished AND NOT success=yes\n\}/);
        assert.match(conf, /service stats \{\n {2}inet_listener http \{\n {4}listen = 127\.0\.0\.1\n {4}port = 9900/);
    });
});

describe("Prometheus, Alertmanager and the rules", () => {
    const m = defaults();
    const SPEC: MonitoringSpec = {
        hostname: "mail.example.com",
        listen: "0.0.0.0",
        prometheusPort: 9090,
        alertmanagerPort: 9093,
        scrapeInterval: "30s",
        retention: "15d",
        groupWait: "30s",
        targets: scrapeTargets(METRICS),
        rules: { thresholds: m.thresholds, evaluationInterval: "30s", dovecot: true, backupOverdueSeconds: undefined },
        smarthost: "mx-postfix:25",
        recipient: "postmaster@example.com",
        webhookUrl: undefined,
    };

    test("every target is a job; Alertmanager is this container's", () => {
        const p = renderPrometheusConfig(SPEC);
        for (const t of [...SPEC.targets.map(x => x.target), "127.0.0.1:9090", "127.0.0.1:9093"])
            assert.ok(p.includes(`targets: ["${t}"]`), t);
        assert.match(p, /alertmanagers:\n {4}- static_configs:\n {8}- targets: \["127\.0\.0\.1:9093"\]/);
    });

    test("alerts are mailed through the stack's Postfix on port 25, without TLS or login; a webhook only when given", () => {
        const a = renderAlertmanagerConfig(SPEC);
        assert.match(a, /smtp_smarthost: "mx-postfix:25"/);
        assert.match(a, /smtp_require_tls: false/);
        // Outside our domains: port 25 takes our own senders only from mynetworks (bridge mode never is).
        assert.match(a, /smtp_from: "alertmanager@monitoring\.invalid"/);
        // Plain text only: no HTML part for rspamd to score.
        assert.match(a, /html: ""\n {8}text: "\{\{ range \.Alerts \}\}/);
        assert.doesNotMatch(a, /smtp_auth/);
        assert.match(a, /- to: "postmaster@example\.com"/);
        assert.doesNotMatch(a, /webhook_configs/);
        assert.match(
            renderAlertmanagerConfig({ ...SPEC, webhookUrl: "https://hooks.example/x" }),
            /url: "https:\/\/hooks\.example\/x"/,
        );
    });

    test("the rules carry the thresholds; failed logins are Dovecot's, or Postfix's in relay mode; backups only with a backup", () => {
        const names = alertRules(SPEC.rules).map(r => r.alert);
        assert.deepEqual(names, [
            "MailQueueDeferred",
            "MailQueueGrowing",
            "CertificateExpiresSoon",
            "ServiceDown",
            "ServiceUnhealthy",
            "MailVolumeFull",
            "FailedLoginBurst",
            "DeliveryFailureRate",
        ]);
        const text = renderAlertRules({
            ...SPEC.rules,
            thresholds: { ...m.thresholds, certificateDays: 21, deferredFor: "1h" },
        });
        assert.match(text, /< 21 \* 86400/);
        // deferredFor is the oldest deferred message's age, in seconds (an hour here).
        assert.match(
            text,
            /alert: MailQueueDeferred\n.*_oldest_arrival_timestamp_seconds > 0\) >= 3600 and on\(\) .* >= 1"\n {8}for: 0s/,
        );
        assert.match(text, /dovecot_auth_failures_total\[10m\]/);
        assert.match(
            renderAlertRules({ ...SPEC.rules, dovecot: false }),
            /postfix_smtpd_sasl_authentication_failures_total/,
        );
        assert.deepEqual(
            alertRules({ ...SPEC.rules, backupOverdueSeconds: 172800 })
                .map(r => r.alert)
                .slice(-2),
            ["BackupFailed", "BackupOverdue"],
        );
    });
});

describe("status view", () => {
    const now = new Date("2026-12-07T10:00:00Z");
    test("Postfix's log lines: received at cleanup, each delivery's outcome", () => {
        assert.equal(postfixEvent("Dec  7 09:59:00 mail postfix/cleanup[12]: 4AbC9: message-id=<x@y>"), "received");
        assert.equal(
            postfixEvent("mail postfix/lmtp[3]: 4AbC9: to=<a@b>, relay=x, delay=1, status=sent (250 ok)"),
            "delivered",
        );
        assert.equal(
            postfixEvent("mail postfix/smtp[3]: 4AbC9: to=<a@b>, relay=none, status=deferred (refused)"),
            "deferred",
        );
        assert.equal(postfixEvent("mail postfix/smtp[3]: 4AbC9: to=<a@b>, status=bounced (550 no)"), "bounced");
        assert.equal(postfixEvent("mail postfix/smtpd[3]: connect from x[1.2.3.4]"), undefined);
    });

    test("the last hour in twelve 5-minute buckets; older lines are left out", () => {
        const lines = [
            "2026-12-07T09:59:30.000000000Z mail postfix/cleanup[1]: A1: message-id=<1@x>",
            "2026-12-07T09:01:00.000000000Z mail postfix/smtp[1]: A1: to=<a@b>, status=deferred (x)",
            "2026-12-07T08:30:00.000000000Z mail postfix/cleanup[1]: A0: message-id=<0@x>",
        ];
        const c = countLastHour(lines, now);
        assert.equal(c.totals.received, 1);
        assert.equal(c.totals.deferred, 1);
        assert.equal(c.buckets.received[11], 1);
        assert.equal(c.buckets.deferred[0], 1);
    });

    test("the sparkline scales to the largest value; postqueue -j is counted by queue", () => {
        assert.equal(sparkline([0, 0, 0]), "▁▁▁");
        assert.equal(sparkline([0, 4, 8]), "▁▄█");
        const q = countQueue('{"queue_name": "deferred"}\n{"queue_name": "active"}\n{"queue_name": "deferred"}\n');
        assert.deepEqual(q, { incoming: 0, active: 1, deferred: 2, hold: 0, maildrop: 0, total: 3 });
    });
});

describe("service reports (images/common/healthcheck -> images/metrics/facts)", () => {
    const domain = (wellKnown: boolean) => {
        const d = validateVirtualDomain(new Validator("VirtualDomain t"), { domain: "example.com", wellKnown });
        return { spec: { ...exampleCom(), name: d.spec.name }, wellKnown: wellKnown ? { ...d.dns } : undefined };
    };
    const settings = (args: Record<string, unknown>) =>
        validateMailServer(new Validator("MailServer t"), "t", {
            hostname: "mail.example.com",
            adminAddress: "alice@example.com",
            domains: [domain(false)],
            monitoring: { metrics: true },
            ...args,
        });
    // What the registry says: the services built on images/common that run with these settings
    // (DovecotImap's: Dovecot in internet mode, the backup with MailServer backup).
    const fromRegistry = (s: ReturnType<typeof settings>) =>
        SERVICES.filter(d => d.healthcheck === COMMON_HEALTHCHECK)
            .filter(d =>
                d.component === "MailServer"
                    ? (d.runs?.(s as never) ?? true)
                    : d.name === "dovecot"
                      ? s.postfix.mode === "internet"
                      : (d.runs?.({ server: s } as never) ?? true),
            )
            .map(d => d.name)
            .sort();

    for (const [name, args] of Object.entries({
        "internet mode, defaults": {},
        "relay mode": {
            mode: "relay",
            domains: [],
            adminAddress: "root@example.net",
            relayhosts: [{ spec: validateRelayhost(new Validator("Relayhost r"), { host: "smtp.provider.example" }) }],
        },
        "everything on": {
            antivirus: { enabled: true },
            monitoring: { metrics: true, alerts: true },
            backup: { enabled: true, password: "a-long-repository-pass" },
            domains: [domain(true)],
        },
    }))
        test(`the expected reports are the registry's services that run: ${name}`, () => {
            const s = settings(args);
            assert.deepEqual([...reportingServices(s)].sort(), fromRegistry(s));
        });

    test("the metrics container learns which services to expect", () => {
        assert.match(renderMetricsEnv(METRICS), /^SERVICES="postfix dovecot rspamd metrics"$/m);
    });

    test("ServiceUnhealthy: a failed healthcheck, or a report older than 60 s, for serviceDownFor", () => {
        const rule = alertRules({
            thresholds: { ...defaults().thresholds, serviceDownFor: "3m" },
            evaluationInterval: "30s",
            dovecot: true,
            backupOverdueSeconds: undefined,
        }).find(r => r.alert === "ServiceUnhealthy")!;
        assert.equal(
            rule.expr,
            "mailserver_service_healthy == 0 or time() - mailserver_service_checked_timestamp_seconds > 60",
        );
        assert.equal(rule.for, "3m");
    });
});
