// Live test: outbound TLS that cannot be downgraded (MailServer outboundTls), on the real engine.
// A fake internet (outbound-world.ts): DNSSEC-signed zones on Knot (127.0.0.61@49053), receiving
// SMTP servers and MTA-STS policy servers in a network namespace of their own (198.51.100.0/24).
// The stack's own resolver (unbound, 127.0.0.60) asks Knot for those zones and trusts their keys;
// Postfix sends alice's mail to each destination: verified TLS where the TLSA record matches, and
// deferred, never sent in clear, where TLSA or an enforced MTA-STS policy is not met.
// Stack "obtls", port base 48000.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "node:child_process";
import * as path from "path";
import { gunzipSync } from "node:zlib";
import { dockerLogs, docker, keepLogs, smtp, uniqueSubject } from "./clients";
import { DESTINATIONS, OutboundWorld, startOutboundWorld, worldResolver } from "./outbound-world";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom, stackContainers, USERS } from "./stack";

const PREFIX = "obtls";
const PORTS = portsFrom(48000);
const RESOLVER = "127.0.0.60";
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe("outbound TLS: DANE and MTA-STS through the stack's validating resolver", () => {
    let world: OutboundWorld;

    before(async () => {
        destroy(PREFIX);
        world = await startOutboundWorld({
            work: path.join(ARTIFACTS, "outbound-tls"),
            label: PREFIX,
            destinations: DESTINATIONS,
        });
        deploy(
            liveConfig(
                {
                    "mailserver:outboundTls": {
                        ...worldResolver(world, RESOLVER),
                        // The MTA-STS policy servers' certificates are the world's CA's.
                        trustedCaPem: world.caPem,
                    },
                },
                PREFIX,
                48000,
            ),
        );
    });

    after(async () => {
        keepLogs(PREFIX, ["postfix", "mtasts", "resolver", "rspamd"]);
        destroy(PREFIX);
        await world?.stop();
        assert.deepEqual(stackContainers(PREFIX), [], "containers left behind");
    });

    const postfixLog = () => dockerLogs(`${PREFIX}-postfix`);

    /** alice sends one message to `to` through submission; returns its subject. */
    function send(to: string): string {
        const subject = uniqueSubject("obtls");
        const r = smtp({
            port: PORTS.submission,
            tls: "starttls",
            auth: USERS.alice,
            from: USERS.alice.address,
            to,
            subject,
        });
        assert.equal(r.status, 0, r.transcript);
        return subject;
    }

    /** Waits for a Postfix log line about `to` that matches `pattern`. */
    async function logLine(to: string, pattern: RegExp, seconds = 90): Promise<string> {
        for (let i = 0; i < seconds; i++) {
            const line = postfixLog()
                .split("\n")
                .find(l => l.includes(`to=<${to}>`) && pattern.test(l));
            if (line) return line;
            await sleep(1000);
        }
        assert.fail(`no Postfix log line for ${to} matching ${pattern} in ${seconds} s:\n${postfixLog().slice(-4000)}`);
    }

    const delivered = (domain: string, subject: string) =>
        world.received(domain).filter(m => m.data.includes(`Subject: ${subject}`));

    test("a destination whose TLSA record matches its certificate gets the mail over verified TLS", async () => {
        const to = "someone@dane-ok.test";
        const subject = send(to);
        const line = await logLine(to, /status=sent/);
        assert.match(line, /relay=mx\.dane-ok\.test\[198\.51\.100\.10\]:25/);
        // Postfix checked the certificate against the DNSSEC-validated TLSA record.
        assert.match(postfixLog(), /Verified TLS connection established to mx\.dane-ok\.test\[198\.51\.100\.10\]:25/);
        const got = delivered("dane-ok.test", subject);
        assert.equal(got.length, 1, "one message received");
        assert.equal(got[0].secure, true, "received over TLS");
        // The MTA-STS daemon's socketmap left the domain to DANE.
        assert.match(dockerLogs(`${PREFIX}-mtasts`), /tls-policy: dane-ok\.test: DANE/);
    });

    test("a destination whose TLSA record does not match: deferred with the reason, never sent in clear", async () => {
        const to = "someone@dane-bad.test";
        const subject = send(to);
        const line = await logLine(to, /status=deferred/);
        assert.match(line, /mx\.dane-bad\.test\[198\.51\.100\.11\]:25/);
        assert.match(
            postfixLog(),
            /mx\.dane-bad\.test\[198\.51\.100\.11\]:25: (untrusted|Untrusted) TLS connection|certificate verification failed|TLSA/,
        );
        assert.deepEqual(delivered("dane-bad.test", subject), [], "nothing reached the destination");
        assert.deepEqual(world.received("dane-bad.test"), [], "not even a session without TLS");
    });

    test("an enforced MTA-STS policy and a certificate that does not verify: deferred, nothing sent", async () => {
        const to = "someone@sts-badcert.test";
        const subject = send(to);
        const line = await logLine(to, /status=deferred/);
        assert.match(line, /Server certificate not verified|certificate verification failed/i);
        // The policy was fetched over HTTPS from mta-sts.<domain> (the daemon trusts the world's CA).
        assert.ok(
            world.policyRequests("sts-badcert.test").some(r => r.status === 200),
            "policy fetched",
        );
        assert.match(
            dockerLogs(`${PREFIX}-mtasts`),
            /tls-policy: sts-badcert\.test: MTA-STS OK secure match=mx\.sts-badcert\.test/,
        );
        assert.deepEqual(delivered("sts-badcert.test", subject), []);
    });

    test("an enforced MTA-STS policy and a server that offers no STARTTLS: deferred, never sent in clear", async () => {
        const to = "someone@sts-notls.test";
        const subject = send(to);
        const line = await logLine(to, /status=deferred/);
        assert.match(line, /TLS is required, but was not offered/);
        assert.deepEqual(delivered("sts-notls.test", subject), []);
        assert.deepEqual(world.received("sts-notls.test"), [], "no message in clear");
    });

    test("a destination without TLSA or MTA-STS still gets its mail (opportunistic TLS)", async () => {
        const to = "someone@plain.test";
        const subject = send(to);
        await logLine(to, /status=sent/);
        const got = delivered("plain.test", subject);
        assert.equal(got.length, 1);
        assert.equal(got[0].secure, true, "TLS offered, so TLS used");
    });

    test("TLS-RPT: the day's report, sent early, reaches the destination's rua as RFC 8460 JSON with the failure counted", async () => {
        // sts-badcert.test publishes "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test"; its enforced
        // policy failed above (a certificate that does not verify).
        const sent = spawnSync("docker", ["exec", `${PREFIX}-mtasts`, "/usr/local/lib/mail/send-tls-reports"], {
            encoding: "utf8",
            timeout: 150_000,
        });
        assert.equal(sent.status, 0, `send-tls-reports: ${sent.stdout}${sent.stderr}`);
        let mail: string | undefined;
        for (let i = 0; i < 60 && !mail; i++) {
            mail = world
                .received("reports.test")
                .find(m => /^TLS-Report-Domain: sts-badcert\.test\r?$/im.test(m.data))?.data;
            if (!mail) await sleep(1000);
        }
        assert.ok(mail, "no TLS report for sts-badcert.test reached reports.test");
        // RFC 8460 section 5.3: a multipart/report whose report part is application/tlsrpt+gzip.
        assert.match(mail, /^Content-Type: multipart\/report;[\s\S]*report-type="?tlsrpt"?/im);
        assert.match(mail, /^DKIM-Signature: .*d=example\.test/im);
        const part =
            /Content-Type: application\/tlsrpt\+gzip[\s\S]*?\r?\n\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n(\r?\n|--)/i.exec(
                mail,
            );
        assert.ok(part, "no application/tlsrpt+gzip part");
        const report = JSON.parse(gunzipSync(Buffer.from(part[1].replace(/\s+/g, ""), "base64")).toString("utf8"));
        for (const field of ["organization-name", "date-range", "contact-info", "report-id", "policies"])
            assert.ok(field in report, `report without ${field}`);
        assert.equal(report["contact-info"], "noreply-reports@example.test");
        assert.ok(!Number.isNaN(Date.parse(report["date-range"]["start-datetime"])));
        assert.ok(!Number.isNaN(Date.parse(report["date-range"]["end-datetime"])));
        const sts = report.policies.find((p: any) => p.policy["policy-domain"] === "sts-badcert.test");
        assert.ok(sts, `no policy for sts-badcert.test in ${JSON.stringify(report.policies)}`);
        assert.equal(sts.policy["policy-type"], "sts");
        assert.ok(sts.summary["total-failure-session-count"] >= 1, JSON.stringify(sts.summary));
        assert.ok(
            sts["failure-details"].some(
                (f: any) => f["failed-session-count"] >= 1 && typeof f["result-type"] === "string",
            ),
            JSON.stringify(sts["failure-details"]),
        );
    });

    test("the deferred messages wait in the queue; the resolver answers only loopback clients", async () => {
        const queue = docker(["exec", `${PREFIX}-postfix`, "postqueue", "-j"]);
        const queued = queue
            .split("\n")
            .filter(Boolean)
            .flatMap(l => (JSON.parse(l).recipients as Array<{ address: string }>).map(r => r.address));
        for (const to of ["someone@dane-bad.test", "someone@sts-badcert.test", "someone@sts-notls.test"])
            assert.ok(queued.includes(to), `${to} still queued`);
        assert.match(
            docker(["exec", `${PREFIX}-resolver`, "cat", "/config/current/unbound.conf"]),
            /access-control: 0\.0\.0\.0\/0 refuse/,
        );
    });

    test("the resolver's cache survives a restart: dumped at stop, loaded at start", async () => {
        docker(["restart", "-t", "30", `${PREFIX}-resolver`]);
        for (let i = 0; i < 60 && !/cache loaded/.test(dockerLogs(`${PREFIX}-resolver`)); i++) await sleep(1000);
        assert.match(dockerLogs(`${PREFIX}-resolver`), /entrypoint\[resolver\]: cache loaded/);
        // Postfix still reaches a destination through it after the restart.
        const to = "again@plain.test";
        const subject = send(to);
        await logLine(to, /status=sent/);
        assert.equal(delivered("plain.test", subject).length, 1);
    });
});
