// Live test of MailServer monitoring in bridge mode (prefix montestbr, port base 51000): the
// metrics container and Prometheus + Alertmanager on the stack's own Docker network, their ports
// published on 127.0.0.1 only. Prometheus (reached through its published port) reports every
// target up, Dovecot's on the stack's network included; the published ports (Dovecot's metrics
// port among them, for a Prometheus on the host) bind 127.0.0.1; an
// alert (the self-signed certificate's 365 days are under certificateDays 365) travels from the
// monitoring container to Postfix's port 25 over the stack's network, where it is not in
// mynetworks, and still lands in the admin's INBOX (read over IMAPS), not in Junk.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { caFile, docker, fetchBySubject, keepLogs } from "./clients";
import { BRIDGE_MODE, deploy, destroy, liveConfig, metricsPortsFrom, portsFrom, USERS } from "./stack";

const PREFIX = "montestbr";
const BASE = 51000;
const PORTS = portsFrom(BASE);
const M = metricsPortsFrom(BASE);
const started = Date.now();

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        const v = await probe().catch(() => undefined);
        if (v !== undefined) return v;
        await new Promise(r => setTimeout(r, 2000));
    }
    throw new Error(`${what}: not within ${seconds} s`);
}

let ca: string;

describe("monitoring in bridge mode, live", () => {
    before(() => {
        destroy(PREFIX);
        const r = deploy(
            liveConfig(
                {
                    ...BRIDGE_MODE,
                    "mailserver:monitoring": {
                        metrics: true,
                        alerts: true,
                        ports: M,
                        scrapeInterval: "5s",
                        evaluationInterval: "5s",
                        groupWait: "5s",
                        // The stack's self-signed certificate is valid for 365 days: under this, it fires.
                        thresholds: { certificateDays: 365, alertFor: "30s" },
                    },
                },
                PREFIX,
                BASE,
            ),
        );
        ca = caFile(r.outputs.certificatePem, PREFIX);
        process.stdout.write(`# deployed in ${Math.round((Date.now() - started) / 1000)} s\n`);
    });
    after(() => {
        keepLogs(PREFIX, ["metrics", "monitoring", "postfix", "rspamd"]);
        destroy(PREFIX);
        process.stdout.write(`# whole suite ${Math.round((Date.now() - started) / 1000)} s\n`);
    });

    test("every target is up over the stack's network; the endpoints are published on 127.0.0.1 only", async () => {
        const jobs = await until("every target up", 120, async () => {
            const r = await fetch(`http://127.0.0.1:${M.prometheus}/api/v1/targets`);
            const t = ((await r.json()) as any).data.activeTargets as Array<{
                labels: { job: string };
                health: string;
                scrapeUrl: string;
            }>;
            return t.length === 6 && t.every(x => x.health === "up") ? t.map(x => x.scrapeUrl).sort() : undefined;
        });
        // Scraped by container name on the stack's network, Dovecot's included.
        assert.ok(
            jobs.some(u => u.startsWith(`http://${PREFIX}-dovecot:${M.dovecot}/`)),
            jobs.join(" "),
        );
        assert.ok(
            jobs.some(u => u.startsWith(`http://${PREFIX}-metrics:${M.postfix}/`)),
            jobs.join(" "),
        );
        for (const c of ["metrics", "monitoring"]) {
            const bound = docker(["port", `${PREFIX}-${c}`])
                .split("\n")
                .filter(Boolean);
            assert.ok(bound.length >= 2 && bound.every(l => / -> 127\.0\.0\.1:\d+$/.test(l)), bound.join("; "));
        }
        // Dovecot's metrics port is published on monitoring.address too, for a Prometheus on the host.
        assert.match(
            docker(["port", `${PREFIX}-dovecot`]),
            new RegExp(`^${M.dovecot}/tcp -> 127\\.0\\.0\\.1:${M.dovecot}$`, "m"),
        );
        const dovecotMetrics = await fetch(`http://127.0.0.1:${M.dovecot}/metrics`);
        assert.equal(dovecotMetrics.status, 200);
        assert.match(await dovecotMetrics.text(), /^dovecot_auth_failures_total\b/m);
    });

    test("an alert mailed from the stack's network lands in the admin's INBOX, not Junk", async () => {
        const mail = await fetchBySubject(
            USERS.alice,
            "FIRING: CertificateExpiresSoon",
            "imaps",
            ca,
            "INBOX",
            150_000,
            PORTS,
        );
        assert.match(mail, /^Return-Path: <alertmanager@monitoring\.invalid>/m);
        assert.doesNotMatch(mail, /^X-Spam: Yes/im);
        process.stdout.write(`# alert mail in INBOX after ${Math.round((Date.now() - started) / 1000)} s\n`);
    });
});
