// Live test: DMARC aggregate reports (MailServer reports.dmarc), on the real engine. A fake internet
// (outbound-world.ts) of its own: DNSSEC-signed zones on Knot (127.0.0.62@49153) and receiving SMTP
// servers in a network namespace (198.18.53.0/24), beside the outbound TLS test's world. The stack's
// resolver (127.0.0.64) asks Knot for those zones, so rspamd sees the sender domain's DMARC record
// and SPF. An outsider sends from sender.example.com; the operator command sends today's report at
// once; it must reach the domain's rua (dmarc@reports.example.net), DKIM-signed by the stack's
// reporting domain, with an attachment valid under RFC 7489's schema that counts the message.
// The world's domains are under RFC 2606's example.com and example.net, not test.: rspamadm
// dmarc_report parses each rua as a URL, and its parser refuses a host outside the public suffix
// list ("invalid rua url"), which test. is not.
// Stack "dmarcrpt", port base 49000.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import type { DnsRecord } from "../../components/model/dns";
import { docker, dockerLogs, keepLogs, OUTSIDER, smtp, uniqueSubject } from "./clients";
import { describeDkim, dkimVerify } from "./dkim";
import { DestinationSpec, OutboundWorld, ReceivedMessage, startOutboundWorld, worldResolver } from "./outbound-world";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom, ROOT, stackContainers, USERS } from "./stack";

const PREFIX = "dmarcrpt";
const PORTS = portsFrom(49000);
const RESOLVER = "127.0.0.64";
const WORK = path.join(ARTIFACTS, "dmarc-reports");
const SCHEMA = path.join(ROOT, "test", "tools", "dmarc-rfc7489.xsd");
const ORGANIZATION = "Example Test Mail";
const REPORT_ADDRESS = "dmarc-reports@example.test";
const SENDER_DOMAIN = "sender.example.com";
const REPORTS_DOMAIN = "reports.example.net";
const RUA = `dmarc@${REPORTS_DOMAIN}`;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The sender domain publishes a DMARC record whose rua is in another domain, which agrees to receive it. */
const DESTINATIONS: DestinationSpec[] = [
    {
        domain: SENDER_DOMAIN,
        mxAddress: "198.18.53.10",
        starttls: "ca",
        records: [`_dmarc TXT "v=DMARC1; p=none; rua=mailto:${RUA}"`, `@ TXT "v=spf1 ip4:${OUTSIDER} -all"`],
    },
    {
        domain: REPORTS_DOMAIN,
        mxAddress: "198.18.53.11",
        starttls: "ca",
        // RFC 7489 7.1: a rua outside the sender's domain must say it takes that domain's reports.
        records: [`${SENDER_DOMAIN}._report._dmarc TXT "v=DMARC1"`],
    },
];

/** The operator command, as docs/operations.md gives it. */
const sendReports = (day: string) =>
    spawnSync("docker", ["exec", `${PREFIX}-rspamd`, "/usr/local/lib/mail/send-dmarc-reports", day], {
        encoding: "utf8",
    });

const utcDay = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, "");

/** The decompressed XML of the report's attachment (application/gzip or zip, base64). */
function reportXml(message: string): string {
    const boundary = message.match(/boundary="([^"]+)"/)?.[1];
    assert.ok(boundary, "a multipart report");
    const part = message.split(`--${boundary}`).find(p => /^Content-Type:\s*application\/(gzip|x-gzip|zip)/im.test(p));
    assert.ok(part, `an attachment of the report:\n${message.slice(0, 3000)}`);
    const body = part
        .split(/\r?\n\r?\n/)
        .slice(1)
        .join("")
        .replace(/\s+/g, "");
    return gunzipSync(Buffer.from(body, "base64")).toString("utf8");
}

/** The text of each element `name` in `xml`, in order (the report has no nesting of a name in itself). */
const elements = (xml: string, name: string) =>
    [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map(m => m[1].trim());

describe("DMARC aggregate reports: what we received, reported to the sender domain's rua", () => {
    let world: OutboundWorld;
    let records: DnsRecord[];

    before(async () => {
        destroy(PREFIX);
        fs.mkdirSync(WORK, { recursive: true });
        world = await startOutboundWorld({
            work: WORK,
            label: PREFIX,
            destinations: DESTINATIONS,
            subnet: "198.18.53",
            authAddress: "127.0.0.62",
            authPort: 49153,
        });
        records = deploy(
            liveConfig(
                {
                    "mailserver:outboundTls": worldResolver(world, RESOLVER),
                    "mailserver:reports": { organization: ORGANIZATION, address: REPORT_ADDRESS },
                },
                PREFIX,
                49000,
            ),
        ).outputs.dnsRecords;
    });

    after(async () => {
        keepLogs(PREFIX, ["postfix", "rspamd", "resolver"]);
        destroy(PREFIX);
        await world?.stop();
        assert.deepEqual(stackContainers(PREFIX), [], "containers left behind");
    });

    let report: ReceivedMessage;
    let xml: string;

    test("received mail from the sender domain is reported to its rua by the operator command, through Postfix", async () => {
        const subject = uniqueSubject("dmarcrpt");
        const sent = smtp({
            port: PORTS.smtp,
            source: OUTSIDER,
            from: `someone@${SENDER_DOMAIN}`,
            to: USERS.alice.address,
            subject,
        });
        assert.equal(sent.status, 0, sent.transcript);
        // rspamd's scan left the day's row in Valkey: the day's index names the sender domain's report.
        const today = utcDay(new Date());
        const index = () =>
            docker([
                "exec",
                `${PREFIX}-valkey`,
                "valkey-cli",
                "-s",
                "/run/valkey/valkey.sock",
                "smembers",
                `dmarc_idx;${today}`,
            ]);
        for (let i = 0; i < 30 && !index().includes(SENDER_DOMAIN); i++) await sleep(1000);
        assert.match(index(), new RegExp(`dmarc_rpt;${SENDER_DOMAIN};mailto:${RUA};${today}`));

        const send = sendReports(today);
        const out = `${send.stdout}${send.stderr}`;
        fs.writeFileSync(path.join(WORK, "send-dmarc-reports.out"), out);
        assert.equal(send.status, 0, out);
        let got: ReceivedMessage[] = [];
        for (let i = 0; i < 90 && got.length === 0; i++) {
            got = world.received(REPORTS_DOMAIN);
            if (got.length === 0) await sleep(1000);
        }
        assert.equal(got.length, 1, `one report at ${REPORTS_DOMAIN}; send-dmarc-reports said:\n${out}`);
        report = got[0];
        fs.writeFileSync(path.join(WORK, "report.eml"), report.data);
        assert.equal(report.from, REPORT_ADDRESS);
        assert.deepEqual(report.to, [RUA]);
        assert.match(report.data, new RegExp(`^From: "${ORGANIZATION}" <${REPORT_ADDRESS}>\\r?$`, "m"));
        assert.match(report.data, new RegExp(`^Subject: Report Domain: ${SENDER_DOMAIN}\\r?$`, "m"));
        assert.match(report.data, /^\s+Submitter: example\.test\r?$/m);
    });

    test("the report is DKIM-signed by the reporting domain and verifies with the stack's published keys", () => {
        assert.ok(report, "a report arrived");
        const results = dkimVerify(report.data, records);
        const ours = results.filter(r => r.domain === "example.test");
        assert.ok(ours.length > 0, `signed for example.test: ${describeDkim(results)}`);
        assert.ok(
            results.every(r => r.valid),
            `every signature verifies: ${describeDkim(results)}`,
        );
    });

    test("its attachment is XML valid under RFC 7489 Appendix C's schema", () => {
        assert.ok(report, "a report arrived");
        xml = reportXml(report.data);
        const file = path.join(WORK, "report.xml");
        fs.writeFileSync(file, xml);
        const lint = spawnSync("xmllint", ["--noout", "--schema", SCHEMA, file], { encoding: "utf8" });
        assert.equal(lint.status, 0, `xmllint: ${lint.stderr}\n${xml}`);
        assert.match(lint.stderr, /validates/);
    });

    test("the report names our organisation and address, and counts the message from the sender domain", () => {
        assert.ok(xml, "the report's XML");
        const [metadata] = elements(xml, "report_metadata");
        assert.deepEqual(elements(metadata, "org_name"), [ORGANIZATION]);
        assert.deepEqual(elements(metadata, "email"), [REPORT_ADDRESS]);
        const [policy] = elements(xml, "policy_published");
        assert.deepEqual(elements(policy, "domain"), [SENDER_DOMAIN]);
        assert.deepEqual(elements(policy, "p"), ["none"]);
        const rows = elements(xml, "record").filter(r => elements(r, "header_from")[0] === SENDER_DOMAIN);
        assert.equal(rows.length, 1, xml);
        const row = rows[0];
        assert.deepEqual(elements(row, "count"), ["1"]);
        assert.deepEqual(elements(row, "source_ip"), [OUTSIDER]);
        assert.deepEqual(elements(row, "envelope_from"), [SENDER_DOMAIN]);
        // SPF passed for the outsider's address, aligned with the From domain: DMARC passed.
        const [evaluated] = elements(row, "policy_evaluated");
        assert.deepEqual(elements(evaluated, "spf"), ["pass"]);
        assert.deepEqual(elements(evaluated, "disposition"), ["none"]);
    });

    test("sent once: the day's rows left Valkey; the daily run keeps the last day it sent", () => {
        const again = sendReports(utcDay(new Date()));
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stdout + again.stderr, /No reports for \d{8}/);
        const bad = sendReports("today");
        assert.equal(bad.status, 2);
        assert.match(bad.stderr, /today: expected a day as YYYYMMDD/);
        // The daily run (service.sh) sends yesterday's reports once the hour has come (01:00 UTC).
        const now = new Date();
        if (now.getUTCHours() >= 1) {
            const yesterday = utcDay(new Date(now.getTime() - 86_400_000));
            const state = docker(["exec", `${PREFIX}-rspamd`, "cat", "/var/lib/rspamd/dmarc-reports-sent"]).trim();
            assert.equal(state, yesterday);
            assert.match(
                dockerLogs(`${PREFIX}-rspamd`),
                new RegExp(`sending the DMARC aggregate reports of ${yesterday}`),
            );
        }
        assert.equal(world.received(REPORTS_DOMAIN).length, 1, "no second report");
    });
});
