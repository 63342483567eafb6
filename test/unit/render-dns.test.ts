// The DNS renderer (components/render/dns.ts) and the VirtualDomain options it depends on: which
// records a domain gets, their values (DKIM keys as RFC 6376/8463 publish them), where reports go,
// and the zone text (absolute names, 255-byte TXT strings, records of other zones as comments).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { notPublicReason, reverseDnsName } from "../../components/model/net";
import { validateVirtualDomain } from "../../components/options/validateVirtualDomain";
import { DkimPublicKey } from "../../components/model/dns";
import {
    dkimTxtValue,
    mtaStsId,
    renderDnsRecords,
    renderDnsZone,
    renderMtaStsPolicy,
    zoneTxtData,
} from "../../components/render/dns";
import { MailConfigError, Validator } from "../../components/model/validator";
import { MOCK_PUBLIC_KEY_PEM } from "../components/mock-keys";

const PASSWORD = "a-long-enough-password";

function settings(args: Record<string, unknown>) {
    return validateVirtualDomain(new Validator("VirtualDomain t"), {
        domain: "example.com",
        mailboxes: [{ address: "alice", password: PASSWORD }],
        ...args,
    });
}

const KEYS: DkimPublicKey[] = [
    { selector: "mail-rsa", algorithm: "rsa", publicKeyPem: MOCK_PUBLIC_KEY_PEM.RSA, retired: false },
    { selector: "mail-ed25519", algorithm: "ed25519", publicKeyPem: MOCK_PUBLIC_KEY_PEM.ED25519, retired: false },
];

function records(args: Record<string, unknown> = {}, keys = KEYS) {
    return renderDnsRecords({ ...settings(args).dns, dkimKeys: keys });
}

const value = (rs: ReturnType<typeof records>, name: string) => rs.find(r => r.name === name)?.value;

describe("DKIM", () => {
    test("RSA publishes the DER SubjectPublicKeyInfo, Ed25519 the raw 32-byte key (RFC 8463)", () => {
        const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
        const rsaTxt = dkimTxtValue("rsa", rsa.export({ type: "spki", format: "pem" }).toString());
        assert.equal(rsaTxt, `v=DKIM1; k=rsa; p=${rsa.export({ type: "spki", format: "der" }).toString("base64")}`);
        const ed = generateKeyPairSync("ed25519").publicKey;
        const edTxt = dkimTxtValue("ed25519", ed.export({ type: "spki", format: "pem" }).toString());
        const p = Buffer.from(edTxt.replace(/^v=DKIM1; k=ed25519; p=/, ""), "base64");
        assert.equal(p.length, 32);
        assert.deepEqual(p, ed.export({ type: "spki", format: "der" }).subarray(12));
        assert.throws(
            () => dkimTxtValue("ed25519", MOCK_PUBLIC_KEY_PEM.RSA),
            /expected an ed25519 public key, got rsa/,
        );
    });

    test("the signing selector lists both algorithms; retired selectors keep their records, not their signing", () => {
        const s = settings({ dkimSelector: "s2", dkimRetiredSelectors: ["s1"] });
        assert.deepEqual(s.spec.dkimSelectors, [
            { selector: "s2-rsa", algorithm: "rsa" },
            { selector: "s2-ed25519", algorithm: "ed25519" },
        ]);
        assert.deepEqual(s.dkim, {
            enabled: true,
            selector: "s2",
            retiredSelectors: ["s1"],
            nextSelector: undefined,
            given: [],
        });
        const rs = renderDnsRecords({
            ...s.dns,
            dkimKeys: [
                { ...KEYS[0], selector: "s2-rsa" },
                { ...KEYS[0], selector: "s1-rsa", retired: true },
            ],
        });
        assert.match(rs.find(r => r.name === "s1-rsa._domainkey.example.com")!.purpose, /retired selector/);
        assert.match(rs.find(r => r.name === "s2-rsa._domainkey.example.com")!.purpose, /verifies the domain's/);
    });

    test("the next selector is published ahead and does not sign; it may be neither the signing nor a retired one", () => {
        const s = settings({ dkimSelector: "s1", dkimNextSelector: "s2" });
        assert.deepEqual(
            s.spec.dkimSelectors.map(k => k.selector),
            ["s1-rsa", "s1-ed25519"],
        );
        const rs = renderDnsRecords({
            ...s.dns,
            dkimKeys: [
                { ...KEYS[0], selector: "s1-rsa" },
                { ...KEYS[0], selector: "s2-rsa", next: true },
            ],
        });
        assert.match(rs.find(r => r.name === "s2-rsa._domainkey.example.com")!.purpose, /next selector/);
        assert.throws(
            () => settings({ dkimSelector: "s1", dkimNextSelector: "s1" }),
            /dkimNextSelector.*not the signing one/,
        );
        assert.throws(
            () => settings({ dkimNextSelector: "s0", dkimRetiredSelectors: ["s0"] }),
            /dkimNextSelector.*not a retired one/,
        );
    });

    test("dkim: false signs with nothing", () => {
        const s = settings({ dkim: false });
        assert.deepEqual(s.spec.dkimSelectors, []);
        assert.equal(s.dkim.enabled, false);
        assert.ok(!renderDnsRecords({ ...s.dns, dkimKeys: [] }).some(r => r.name.includes("_domainkey")));
    });

    test("selectors must be DNS labels that leave room for -ed25519, each listed once", () => {
        for (const bad of ["Mail", "a_b", "-a", "a-", "a.b", "x".repeat(56)])
            assert.throws(() => settings({ dkimSelector: bad }), MailConfigError, bad);
        settings({ dkimSelector: "x".repeat(55) });
        assert.throws(() => settings({ dkimRetiredSelectors: ["a", "a"] }), /dkimRetiredSelectors\[1\].*listed once/);
    });
});

describe("records", () => {
    test("defaults: MX, SPF, DKIM, DMARC p=none, SRV for 465/587/993; no MTA-STS without a served policy, no TLS-RPT without postmaster", () => {
        const rs = records();
        assert.deepEqual(
            rs.map(
                r =>
                    `${r.name} ${r.type} ${r.priority ?? "-"} ${r.value.replace(/; p=[A-Za-z0-9+/=]{20,}$/, "; p=...")}`,
            ),
            [
                "example.com MX 10 mail.example.com.",
                "example.com TXT - v=spf1 mx -all",
                "mail-rsa._domainkey.example.com TXT - v=DKIM1; k=rsa; p=...",
                "mail-ed25519._domainkey.example.com TXT - v=DKIM1; k=ed25519; p=...",
                "_dmarc.example.com TXT - v=DMARC1; p=none",
                "_submissions._tcp.example.com SRV 0 1 465 mail.example.com.",
                "_submission._tcp.example.com SRV 10 1 587 mail.example.com.",
                "_imaps._tcp.example.com SRV 0 1 993 mail.example.com.",
                "_imap._tcp.example.com SRV 0 0 0 .",
                "_pop3s._tcp.example.com SRV 0 0 0 .",
                "_pop3._tcp.example.com SRV 0 0 0 .",
            ],
        );
        for (const r of rs) assert.ok(r.purpose.length > 5, `${r.name} has a purpose`);
    });

    test("report addresses: postmaster@ when the domain defines it (mailbox, alias or catch-all), else none", () => {
        const withPostmaster = records({ aliases: [{ address: "postmaster", targets: ["alice@example.com"] }] });
        assert.equal(
            value(withPostmaster, "_dmarc.example.com"),
            "v=DMARC1; p=none; rua=mailto:postmaster@example.com",
        );
        assert.equal(value(withPostmaster, "_smtp._tls.example.com"), "v=TLSRPTv1; rua=mailto:postmaster@example.com");
        const catchAll = records({ catchAll: "alice" });
        assert.equal(value(catchAll, "_dmarc.example.com"), "v=DMARC1; p=none; rua=mailto:postmaster@example.com");
        const none = records();
        assert.equal(value(none, "_dmarc.example.com"), "v=DMARC1; p=none");
        assert.equal(value(none, "_smtp._tls.example.com"), undefined);
        // Another domain's address is taken as given (that domain must authorise it, RFC 7489 section 7.1).
        const external = records({
            dmarcReportAddress: "dmarc@reports.example.net",
            tlsReportAddress: "alice@example.com",
        });
        assert.equal(value(external, "_dmarc.example.com"), "v=DMARC1; p=none; rua=mailto:dmarc@reports.example.net");
        assert.equal(value(external, "_smtp._tls.example.com"), "v=TLSRPTv1; rua=mailto:alice@example.com");
        assert.throws(
            () => settings({ dmarcReportAddress: "dmarc@example.com" }),
            /dmarcReportAddress = "dmarc@example.com" is not accepted; expected an address this domain defines/,
        );
    });

    test("DMARC: pct only below 100 and only with quarantine or reject", () => {
        assert.equal(
            value(records({ dmarcPolicy: "quarantine", dmarcPercent: 10 }), "_dmarc.example.com"),
            "v=DMARC1; p=quarantine; pct=10",
        );
        assert.equal(
            value(records({ dmarcPolicy: "none", dmarcPercent: 10 }), "_dmarc.example.com"),
            "v=DMARC1; p=none",
        );
        assert.equal(value(records({ dmarcPolicy: "reject" }), "_dmarc.example.com"), "v=DMARC1; p=reject");
        assert.throws(
            () => settings({ dmarcPercent: 0 }),
            /dmarcPercent = 0 is not accepted; expected a whole percentage 1-100/,
        );
    });

    test("MTA-STS: the policy lists every MX host; its id changes exactly when the policy does", () => {
        const policy = renderMtaStsPolicy("enforce", ["mx1.example.com", "mx2.example.com"], 86400);
        assert.equal(
            policy,
            "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 86400\n",
        );
        assert.match(mtaStsId(policy), /^[0-9a-f]{20}$/);
        assert.equal(
            mtaStsId(policy),
            mtaStsId(renderMtaStsPolicy("enforce", ["mx1.example.com", "mx2.example.com"], 86400)),
        );
        assert.notEqual(
            mtaStsId(policy),
            mtaStsId(renderMtaStsPolicy("testing", ["mx1.example.com", "mx2.example.com"], 86400)),
        );
    });

    test("MTA-STS: _mta-sts only when a policy is served (wellKnown, or mtaStsPolicyServedElsewhere)", () => {
        const id = mtaStsId(renderMtaStsPolicy("testing", ["mail.example.com"], 604800));
        assert.equal(value(records(), "_mta-sts.example.com"), undefined, "nothing serves the policy");
        assert.equal(value(records({ wellKnown: true }), "_mta-sts.example.com"), `v=STSv1; id=${id}`);
        assert.equal(
            value(records({ mtaStsPolicyServedElsewhere: true }), "_mta-sts.example.com"),
            `v=STSv1; id=${id}`,
        );
        // Served elsewhere: no mta-sts.<domain> host record of ours (the user's web server has it).
        assert.equal(value(records({ mtaStsPolicyServedElsewhere: true }), "mta-sts.example.com"), undefined);
        assert.throws(
            () => settings({ mtaStsMode: "enforce" }),
            /VirtualDomain t: mtaStsMode = "enforce" is not accepted; expected a served policy with it: without wellKnown .* or mtaStsPolicyServedElsewhere no _mta-sts record is published/,
        );
        assert.throws(
            () => settings({ wellKnown: true, mtaStsPolicyServedElsewhere: true }),
            /mtaStsPolicyServedElsewhere = true is not accepted; expected false with wellKnown/,
        );
    });

    test("SRV: clientPorts and clientHost; 0 publishes the service as not offered", () => {
        const rs = records({ clientHost: "imap.example.com", clientPorts: { imap: 143, submission: 0, pop3s: 995 } });
        const srv = Object.fromEntries(
            rs.filter(r => r.type === "SRV").map(r => [r.name.split(".")[0], `${r.priority} ${r.value}`]),
        );
        assert.deepEqual(srv, {
            _submissions: "0 1 465 imap.example.com.",
            _submission: "0 0 0 .",
            _imaps: "0 1 993 imap.example.com.",
            _imap: "10 1 143 imap.example.com.",
            _pop3s: "0 1 995 imap.example.com.",
            _pop3: "0 0 0 .",
        });
    });

    test("A/AAAA of the first MX host and a PTR per address; addresses canonical, public, listed once", () => {
        const rs = records({
            mxHosts: ["mx.example.com", "mx2.example.com"],
            mailHostAddresses: ["192.0.2.10", "2001:DB8:0::10"],
        });
        assert.deepEqual(
            rs.filter(r => ["A", "AAAA", "PTR"].includes(r.type)).map(r => `${r.name} ${r.type} ${r.value}`),
            [
                "mx.example.com A 192.0.2.10",
                "mx.example.com AAAA 2001:db8::10",
                "10.2.0.192.in-addr.arpa PTR mx.example.com.",
                `0.1.0.0.${"0.0.0.0.".repeat(5)}8.b.d.0.1.0.0.2.ip6.arpa PTR mx.example.com.`,
            ],
        );
        assert.throws(() => settings({ mailHostAddresses: ["192.0.2.1", "192.0.2.1"] }), /listed once/);
        assert.throws(() => settings({ mailHostAddresses: ["mail.example.com"] }), /expected an IPv4 or IPv6 address/);
        assert.throws(() => settings({ mailHostAddresses: ["::ffff:192.0.2.1"] }), /IPv4-mapped/);
        assert.equal(notPublicReason("192.0.2.1"), undefined);
        assert.equal(reverseDnsName("2001:db8::1").split(".").length, 34);
    });
});

describe("zone text", () => {
    test("absolute names, one TTL, MX and SRV priorities, quoted TXT; other zones' records as comments", () => {
        const zone = renderDnsZone(
            "example.com",
            records({ mxHosts: ["mail.example.net"], mailHostAddresses: ["192.0.2.10"] }),
        );
        const lines = zone.split("\n");
        assert.equal(lines[1], "$ORIGIN example.com.");
        assert.equal(lines[2], "$TTL 3600");
        assert.ok(lines.includes("example.com. 3600 IN MX 10 mail.example.net."));
        assert.ok(lines.includes('_dmarc.example.com. 3600 IN TXT "v=DMARC1; p=none"'));
        assert.ok(lines.includes("_submission._tcp.example.com. 3600 IN SRV 10 1 587 mail.example.net."));
        assert.ok(lines.includes("; mail.example.net. 3600 IN A 192.0.2.10"));
        assert.ok(lines.includes("; 10.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.net."));
        for (const l of lines.filter(x => x !== "" && !x.startsWith(";") && !x.startsWith("$")))
            assert.match(l, /^\S+\.example\.com\. 3600 IN |^example\.com\. 3600 IN /, l);
        assert.ok(zone.endsWith("\n"));
    });

    test("TXT data: strings of at most 255 bytes that join back to the value; quotes, backslashes and non-ASCII escaped", () => {
        const long = "v=spf1 " + "ip4:198.51.100.1 ".repeat(30) + "-all";
        const data = zoneTxtData(long);
        const strings = [...data.matchAll(/"([^"]*)"/g)].map(m => m[1]);
        assert.equal(strings.length, 3);
        assert.ok(strings.every(s => s.length <= 255));
        assert.equal(strings.join(""), long);
        assert.equal(zoneTxtData('a"b\\c'), '"a\\"b\\\\c"');
        assert.equal(zoneTxtData("é"), '"\\195\\169"');
        assert.equal(zoneTxtData(""), '""');
    });

    test("deterministic: the same records give the same text", () => {
        assert.equal(renderDnsZone("example.com", records()), renderDnsZone("example.com", records()));
        assert.equal(createPublicKey(MOCK_PUBLIC_KEY_PEM.ED25519).asymmetricKeyType, "ed25519");
    });
});
