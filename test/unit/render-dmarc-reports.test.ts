// DMARC aggregate reports (MailServer reports): when rspamd collects and sends them, what its
// local.d/dmarc.conf says (rspamd 3.12's dmarc { reporting { } } options) and where the reports
// enter Postfix, so that they leave DKIM-signed by the reporting address's domain.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { renderRspamdFiles } from "../../components/render/rspamd";
import { rspamdSpec } from "../../components/services/rspamd";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import { validateRelayhost } from "../../components/options/relayhost";
import { Validator } from "../../components/model/validator";
import { dkimCondition } from "../../components/render/rspamdConditions";

const domain = (name: string) => ({
    spec: validateDomain(new Validator("VirtualDomain t"), {
        domain: name,
        mailboxes: [{ address: "alice", password: "a-long-enough-password" }],
    }),
});

function settings(args: Record<string, unknown> = {}) {
    return validateMailServer(new Validator("MailServer t"), "t", {
        hostname: "mail.example.com",
        networkMode: "host",
        domains: [domain("example.com"), domain("example.org")],
        ...args,
    });
}

const dmarcConf = (args: Record<string, unknown> = {}) =>
    renderRspamdFiles(rspamdSpec(settings(args))).find(f => f.path === "local.d/dmarc.conf")!.content as string;

describe("DMARC aggregate reports: rspamd's reporting settings", () => {
    test("on by default: from noreply-reports@ the first domain, in the host name's name, via Postfix's port 25", () => {
        const conf = dmarcConf();
        assert.match(
            conf,
            new RegExp(
                [
                    "reporting \\{",
                    "  enabled = true;",
                    '  email = "noreply-reports@example.com";',
                    '  domain = "example.com";',
                    '  org_name = "mail.example.com";',
                    '  from_name = "mail.example.com";',
                    ".*",
                    '  smtp = "127.0.0.1";',
                    "  smtp_port = 25;",
                    '  helo = "mail.example.com";',
                    '  msgid_from = "mail.example.com";',
                    "\\}",
                ].join("\\n"),
                "s",
            ),
        );
        // The checks and policy actions stay as they were.
        assert.match(conf, /^check_local = true;$/m);
        assert.match(conf, /actions \{\n {2}quarantine = "add header";\n {2}reject = "reject";\n\}/);
    });

    test("the configured organisation and address; Postfix's own listen address and SMTP port", () => {
        const conf = dmarcConf({
            reports: { organization: 'Example "Mail" Ltd', address: "dmarc-reports@example.org" },
            inetInterfaces: ["192.0.2.25"],
            mynetworks: ["127.0.0.0/8", "192.0.2.25/32"],
            ports: { smtp: 2525 },
        });
        assert.match(conf, /^ {2}email = "dmarc-reports@example\.org";$/m);
        assert.match(conf, /^ {2}domain = "example\.org";$/m);
        // UCL strings quoted as JSON: a quote in the name cannot end the string.
        assert.match(conf, /^ {2}org_name = "Example \\"Mail\\" Ltd";$/m);
        assert.match(conf, /^ {2}smtp = "192\.0\.2\.25";$/m);
        assert.match(conf, /^ {2}smtp_port = 2525;$/m);
    });

    test("a warning at preview when the reports would reach Postfix from outside mynetworks", () => {
        const outside = settings({ inetInterfaces: ["192.0.2.25"], mynetworks: ["127.0.0.0/8"] });
        assert.deepEqual(
            outside.warnings.filter(w => w.includes("reports.dmarc")),
            [
                "MailServer t: reports.dmarc: the reports reach Postfix from 192.0.2.25 (inetInterfaces), which " +
                    "mynetworks does not list: Postfix would refuse to relay them and rspamd would not sign them; add " +
                    "192.0.2.25/32 to mynetworks, or set reports.dmarc false",
            ],
        );
        // TLS-RPT's reports take the same way in.
        assert.equal(outside.warnings.filter(w => w.includes("reports.tls: the reports reach Postfix")).length, 1);
        const listed = settings({ inetInterfaces: ["10.0.0.25"], mynetworks: ["127.0.0.0/8", "10.0.0.0/24"] });
        assert.deepEqual(
            listed.warnings.filter(w => w.includes("reports.dmarc")),
            [],
        );
        // Off, nothing is sent: nothing to warn about.
        const off = settings({
            inetInterfaces: ["192.0.2.25"],
            mynetworks: ["127.0.0.0/8"],
            reports: { dmarc: false, tls: false },
        });
        assert.deepEqual(off.warnings, []);
        assert.deepEqual(settings().warnings, []);
    });

    test("off: reports.dmarc false, relay mode or bridge mode: no reporting block, the file as before", () => {
        const relay = validateMailServer(new Validator("MailServer r"), "r", {
            hostname: "mail.example.com",
            mode: "relay",
            networkMode: "host",
            domains: [],
            relayhosts: [{ spec: validateRelayhost(new Validator("Relayhost r"), { host: "smtp.provider.example" }) }],
        });
        const offs = [
            rspamdSpec(settings({ reports: { dmarc: false } })),
            rspamdSpec(relay),
            rspamdSpec(settings({ networkMode: "bridge", inetInterfaces: undefined, mynetworks: undefined })),
        ];
        for (const spec of offs) {
            assert.equal(spec.dmarcReporting, undefined);
            const conf = renderRspamdFiles(spec).find(f => f.path === "local.d/dmarc.conf")!.content as string;
            assert.doesNotMatch(conf, /reporting/);
            assert.match(conf, /reject = "reject";\n\}\n$/);
        }
    });

    test("the reports enter Postfix from its own address, which is trusted: the DKIM condition signs them", () => {
        const spec = rspamdSpec(settings());
        const reporting = spec.dmarcReporting!;
        // Mail from mynetworks is signed for its From domain (the reporting address's) when the
        // envelope agrees; rspamadm sends with both set to the reporting address.
        assert.ok(spec.trustedNetworks.some(n => n === "127.0.0.0/8" || n === `${reporting.smtpHost}/32`));
        const condition = dkimCondition({ ...spec, signing: spec.signing.filter(d => d.keys.length > 0) });
        assert.match(condition, /elseif not trusted\(task:get_from_ip\(\)\) then\n\s+return false/);
        assert.match(condition, /if edom == nil or edom == hdom then domain = hdom end/);
        assert.match(condition, new RegExp(`\\["${reporting.domain.replace(/\./g, "\\.")}"\\] = \\{`));
    });
});
