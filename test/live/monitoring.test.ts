// Live test of MailServer monitoring: the metrics exporters and Prometheus + Alertmanager deployed
// by the real engine beside the mail services (host mode, 127.0.0.1, port base 50000, prefix
// montest), with short alert timings (monitoring options) so the whole run stays bounded.
// Prometheus reports every target up; a certificate issued with 10 days left (tls certPem/keyPem,
// made here with openssl) fires CertificateExpiresSoon; a message to a destination nothing answers
// for (a transport to a closed loopback port) stays deferred and fires MailQueueDeferred; a bounded
// run of failed SMTP AUTH logins from an outsider fires FailedLoginBurst. Each alert's mail is read
// back from the admin mailbox over IMAPS. The backup's result reaches the metrics. `npm run status`
// shows the deferred message, the certificate's days left and the last backup, as text and JSON.
// Each service reports its health and configuration generation; a stopped one fires ServiceUnhealthy.
// An Alertmanager silence outlives a restart of the monitoring container.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { docker, fetchBySubject, keepLogs, OUTSIDER, smtp, uniqueSubject } from "./clients";
import { ARTIFACTS, deploy, destroy, liveConfig, metricsPortsFrom, portsFrom, ROOT, USERS } from "./stack";

const PREFIX = "montest";
const BASE = 50000;
const PORTS = portsFrom(BASE);
const M = metricsPortsFrom(BASE);
const PROMETHEUS = `http://127.0.0.1:${M.prometheus}`;
const DAYS_LEFT = 10;
const alice = USERS.alice;
const started = Date.now();

/** A P-256 key and a certificate for mail.example.test that expires in DAYS_LEFT days. */
function issueCertificate(): { cert: string; key: string; file: string } {
    const dir = path.join(ARTIFACTS, PREFIX);
    fs.mkdirSync(dir, { recursive: true });
    const [certFile, keyFile] = [path.join(dir, "cert.pem"), path.join(dir, "key.pem")];
    const r = spawnSync("openssl", [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
        ...["-subj", "/CN=mail.example.test", "-addext", "subjectAltName=DNS:mail.example.test"],
        ...["-days", String(DAYS_LEFT), "-keyout", keyFile, "-out", certFile],
    ]);
    assert.equal(r.status, 0, String(r.stderr));
    return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8"), file: certFile };
}

function config(cert: { cert: string; key: string }) {
    return liveConfig(
        {
            "mailserver:tlsCertPem": cert.cert,
            "mailserver:tlsKeyPem": cert.key,
            // A backup to a volume of the stack: its first run starts with the container.
            "mailserver:backup": { enabled: true },
            "mailserver:backupSecrets": { password: "montest-Repository-Pass-1" },
            // A destination nothing answers for: its mail stays deferred (connection refused).
            "mailserver:transports": [{ domain: "unreachable.example", nexthop: `[127.0.0.1]:${BASE + 999}` }],
            "mailserver:monitoring": {
                metrics: true,
                alerts: true,
                address: "127.0.0.1",
                ports: M,
                scrapeInterval: "5s",
                evaluationInterval: "5s",
                groupWait: "5s",
                thresholds: {
                    deferredMessages: 1,
                    deferredFor: "15s",
                    // Long enough that the first alerts fire after Dovecot (deployed last) delivers mail:
                    // an alert mailed before that waits in the queue for Postfix's next run (minutes).
                    alertFor: "60s",
                    serviceDownFor: "60s",
                    failedLogins: 4,
                    failedLoginsWindow: "5m",
                },
            },
        },
        PREFIX,
        BASE,
    );
}

async function prometheus(pathAndQuery: string): Promise<any> {
    const r = await fetch(`${PROMETHEUS}${pathAndQuery}`);
    assert.equal(r.status, 200, `${pathAndQuery}: ${r.status}`);
    return ((await r.json()) as { data: unknown }).data;
}

/** The value of an instant query's first sample, or undefined. */
async function query(expr: string): Promise<number | undefined> {
    const data = await prometheus(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    return data.result.length > 0 ? Number(data.result[0].value[1]) : undefined;
}

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            const v = await probe();
            if (v !== undefined) return v;
        } catch (e) {
            last = e;
        }
        await new Promise(r => setTimeout(r, 2000));
    }
    throw new Error(`${what}: not within ${seconds} s${last ? ` (${String(last)})` : ""}`);
}

/** The alert's mail in alice's INBOX (the admin address), read over IMAPS. */
const alertMail = (alert: string, ca: string, seconds: number) =>
    fetchBySubject(alice, `FIRING: ${alert}`, "imaps", ca, "INBOX", seconds * 1000, PORTS);

function status(args: string[]) {
    return spawnSync(path.join(ROOT, "node_modules", ".bin", "tsx"), ["scripts/status.ts", ...args], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 60_000,
    });
}

let cert: { cert: string; key: string; file: string };
let outputs: Record<string, any>;

describe("monitoring (metrics, Prometheus, Alertmanager, status), live", () => {
    before(() => {
        destroy(PREFIX);
        cert = issueCertificate();
        outputs = deploy(config(cert)).outputs;
        process.stdout.write(`# deployed in ${Math.round((Date.now() - started) / 1000)} s\n`);
    });
    after(() => {
        keepLogs(PREFIX, ["metrics", "monitoring", "postfix", "dovecot", "backup"]);
        destroy(PREFIX);
        process.stdout.write(`# whole suite ${Math.round((Date.now() - started) / 1000)} s\n`);
    });

    test("Prometheus reports every target up, each exporter with its own metrics", async () => {
        const jobs = ["postfix", "valkey", "node", "dovecot", "prometheus", "alertmanager"];
        const up = await until("every target up", 90, async () => {
            const t = (await prometheus("/api/v1/targets")).activeTargets as Array<{
                labels: { job: string };
                health: string;
            }>;
            return t.length === jobs.length && t.every(x => x.health === "up")
                ? t.map(x => x.labels.job).sort()
                : undefined;
        });
        assert.deepEqual(up, [...jobs].sort());
        // Each exporter reaches what it reports on: showq, Valkey's socket, rspamd's controller, the TLS port.
        assert.equal(await until("postfix_up", 30, () => query("postfix_up")), 1);
        assert.equal(await until("redis_up", 30, () => query("redis_up")), 1);
        assert.equal(await until("mailserver_rspamd_up", 60, () => query("mailserver_rspamd_up")), 1);
        assert.ok((await until("rspamd's own metrics", 60, () => query('count({__name__=~"rspamd_.+"})'))) > 0);
        assert.ok((await query("dovecot_auth_failures_total")) !== undefined, "Dovecot exports auth_failures");
        assert.ok((await query(`node_filesystem_size_bytes{mountpoint="/var/spool/postfix"}`))! > 0);
        // Outputs for a Prometheus of one's own: the same targets and the rules.
        assert.match(outputs.metricsScrapeConfig, new RegExp(`127\\.0\\.0\\.1:${M.postfix}`));
        assert.match(outputs.alertRules, /alert: MailQueueDeferred/);
    });

    test("the backup's last result and success reach the metrics (the backup container's status)", async () => {
        const ok = await until("the backup's result", 180, () => query("mailserver_backup_last_result"));
        assert.equal(ok, 1);
        const age = await query("time() - mailserver_backup_last_success_timestamp_seconds");
        assert.ok(age !== undefined && age >= 0 && age < 600, `last success ${age} s ago`);
        assert.equal(await query(`count(ALERTS{alertname=~"Backup.*"})`), undefined);
    });

    test("a certificate with 10 days left fires CertificateExpiresSoon, mailed to the admin", async () => {
        const left = await until("the certificate's expiry", 90, () =>
            query("min(mailserver_certificate_expiry_timestamp_seconds) - time()"),
        );
        const days = left / 86400;
        assert.ok(days > DAYS_LEFT - 1 && days <= DAYS_LEFT, `days left: ${days}`);
        const mail = await alertMail("CertificateExpiresSoon", cert.file, 120);
        assert.match(mail, /mail\.example\.test/);
        // Plain text from a sender outside our domains (render/monitoring.ts says why).
        assert.match(mail, /^Return-Path: <alertmanager@monitoring\.invalid>/m);
        assert.doesNotMatch(mail, /text\/html/i);
        assert.match(mail, /FIRING: CertificateExpiresSoon\r?\nThe certificate served by postfix/);
        process.stdout.write(`# certificate alert mail after ${Math.round((Date.now() - started) / 1000)} s\n`);
    });

    test("a message to a destination that does not answer stays deferred and fires MailQueueDeferred", async () => {
        // Nothing deferred before: the alert below is this message's.
        assert.equal(await query(`sum(postfix_showq_message_age_seconds_count{queue="deferred"})`), 0);
        assert.equal(await query(`count(ALERTS{alertname="MailQueueDeferred"})`), undefined);
        const subject = uniqueSubject("monitoring deferred");
        const r = smtp({
            port: PORTS.smtp,
            from: alice.address,
            to: "someone@unreachable.example",
            subject,
            body: "x",
        });
        assert.equal(r.status, 0, r.transcript);
        const deferred = await until("a deferred message", 60, async () => {
            const v = await query(`sum(postfix_showq_message_age_seconds_count{queue="deferred"})`);
            return v !== undefined && v >= 1 ? v : undefined;
        });
        assert.ok(deferred >= 1);
        // The oldest deferred message's arrival, from the Postfix container's postqueue -j: this one's.
        const age = await until("the oldest deferred message's arrival", 60, () =>
            query("time() - (mailserver_postfix_deferred_oldest_arrival_timestamp_seconds > 0)"),
        );
        assert.ok(age >= 0 && age < 120, `oldest deferred ${age} s ago`);
        const mail = await alertMail("MailQueueDeferred", cert.file, 150);
        assert.match(mail, /deferred/);
    });

    test("a run of failed logins fires FailedLoginBurst", async () => {
        // Bounded: 6 failed SMTP AUTH attempts from an outsider (Dovecot answers each after its failure delay).
        for (let i = 0; i < 6; i++)
            smtp({
                port: PORTS.submission,
                source: OUTSIDER,
                tls: "starttls",
                auth: alice,
                password: "wrong-password-123",
                quitAfter: "AUTH",
            });
        const failures = await until("failed logins counted", 60, async () => {
            const v = await query("sum(dovecot_auth_failures_total)");
            return v !== undefined && v >= 5 ? v : undefined;
        });
        assert.ok(failures >= 5);
        const mail = await alertMail("FailedLoginBurst", cert.file, 120);
        assert.match(mail, /failed logins/);
    });

    test("npm run status shows the deferred message and the certificate's days left, also as JSON", () => {
        const text = status(["--prefix", PREFIX]);
        assert.equal(text.status, 0, text.stderr);
        process.stdout.write(text.stdout.replace(/^/gm, "# "));
        assert.match(text.stdout, /deferred\s+[1-9]/);
        assert.match(text.stdout, new RegExp(`mail\\.example\\.test.*\\b(${DAYS_LEFT - 1}|${DAYS_LEFT}) days`));
        const json = status(["--prefix", PREFIX, "--json"]);
        assert.equal(json.status, 0, json.stderr);
        const s = JSON.parse(json.stdout);
        assert.ok(s.queue.deferred >= 1, JSON.stringify(s.queue));
        const c = s.certificates.find((x: { service: string }) => x.service === "postfix");
        assert.ok(c.daysLeft === DAYS_LEFT - 1 || c.daysLeft === DAYS_LEFT, JSON.stringify(c));
        assert.ok(
            s.services.every((x: { health: string }) => x.health === "healthy"),
            JSON.stringify(s.services),
        );
        assert.equal(s.backup.result, "ok", JSON.stringify(s.backup));
        assert.ok(Date.now() - Date.parse(s.backup.lastSuccess) < 15 * 60_000, JSON.stringify(s.backup));
    });

    test("each service reports its health and the generation it runs; a stopped one fires ServiceUnhealthy", async () => {
        const services = ["postfix", "dovecot", "rspamd", "metrics", "monitoring", "backup"];
        for (const service of services) {
            const running = docker(["exec", `${PREFIX}-${service}`, "readlink", "/config/current"]).trim();
            const reported = await until(`${service}'s generation`, 60, async () => {
                const r = (
                    await prometheus(
                        `/api/v1/query?query=${encodeURIComponent(`mailserver_config_generation_info{service="${service}"}`)}`,
                    )
                ).result as Array<{ metric: { generation: string } }>;
                return r.length === 1 ? r[0].metric.generation : undefined;
            });
            assert.equal(`generations/${reported}`, running, service);
            assert.equal(await query(`mailserver_service_healthy{service="${service}"}`), 1, service);
        }
        assert.equal(await query(`count(ALERTS{alertname="ServiceUnhealthy",alertstate="firing"})`), undefined);
        // The backup container stops: its healthcheck no longer reports (60 s), then serviceDownFor (60 s).
        const stopped = Date.now();
        docker(["stop", `${PREFIX}-backup`]);
        try {
            await until("ServiceUnhealthy firing for the backup", 240, () =>
                query(`ALERTS{alertname="ServiceUnhealthy",service="backup",alertstate="firing"}`),
            );
            process.stdout.write(
                `# ServiceUnhealthy fired ${Math.round((Date.now() - stopped) / 1000)} s after the stop\n`,
            );
            const mail = await alertMail("ServiceUnhealthy", cert.file, 120);
            assert.match(mail, /backup is unhealthy or stopped/);
        } finally {
            docker(["start", `${PREFIX}-backup`]);
        }
    });

    test("a silence outlives a restart of the monitoring container (Alertmanager's data in its volume)", async () => {
        const alertmanager = `http://127.0.0.1:${M.alertmanager}/api/v2`;
        const now = Date.now();
        const created = await fetch(`${alertmanager}/silences`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
                matchers: [{ name: "alertname", value: "MailVolumeFull", isRegex: false, isEqual: true }],
                startsAt: new Date(now).toISOString(),
                endsAt: new Date(now + 3_600_000).toISOString(),
                createdBy: "monitoring.test",
                comment: "kept across a restart",
            }),
        });
        assert.equal(created.status, 200, await created.clone().text());
        const { silenceID } = (await created.json()) as { silenceID: string };
        docker(["restart", `${PREFIX}-monitoring`]);
        const kept = await until("the silence after the restart", 90, async () => {
            const r = await fetch(`${alertmanager}/silence/${silenceID}`);
            return r.status === 200 ? ((await r.json()) as { status: { state: string }; comment: string }) : undefined;
        });
        assert.equal(kept.status.state, "active");
        assert.equal(kept.comment, "kept across a restart");
    });
});
