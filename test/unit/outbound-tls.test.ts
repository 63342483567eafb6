// MailServer outboundTls: its validation at preview, and what it renders (main.cf's outbound TLS,
// unbound.conf) and runs (the resolver and MTA-STS services, each service's nameserver).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MailServerArgs, RelayhostArgs } from "../../components/args";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateRelayhost } from "../../components/options/relayhost";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import { MailServerSettings } from "../../components/model/settings";
import { Validator } from "../../components/model/validator";
import { renderMainCf } from "../../components/render/postfix";
import { renderUnboundConf } from "../../components/render/resolver";
import { MAIL_SERVER_SERVICES } from "../../components/services";
import { outboundTlsDefaults, parseMainCf } from "./fixtures";

const vd = (domain: string) => ({
    spec: validateDomain(new Validator(`VirtualDomain ${domain}`), {
        domain,
        mailboxes: [{ address: "alice", password: "a-long-enough-password" }],
    }),
});
const server = (args: Partial<MailServerArgs>): MailServerSettings =>
    validateMailServer(new Validator("MailServer mx"), "mx", {
        hostname: "mail.example.com",
        domains: [vd("example.com")],
        ...args,
    } as MailServerArgs);
const relay = (args: RelayhostArgs) => ({ spec: validateRelayhost(new Validator("Relayhost r"), args) }) as any;
const main = (s: MailServerSettings) => parseMainCf(renderMainCf(s.postfix)).values;
const running = (s: MailServerSettings) => MAIL_SERVER_SERVICES.filter(d => d.runs?.(s) ?? true).map(d => d.name);
const filesOf = (s: MailServerSettings, name: string) =>
    MAIL_SERVER_SERVICES.find(d => d.name === name)!.config!.files!(s);
const dnsOf = (s: MailServerSettings, name: string) => MAIL_SERVER_SERVICES.find(d => d.name === name)!.dns?.(s);
const ANCHOR = "dane.test. DS 2371 13 2 1F987CC6583E92DF0890718C42A3A4A2FA2F6C6AB8D2F6E1E1C3C1E2C2C3C4C5";

describe("outboundTls: defaults", () => {
    test("DANE and MTA-STS on, the stack's resolver off (it needs host mode and outbound DNS)", () => {
        const s = server({});
        assert.deepEqual(s.outboundTls, outboundTlsDefaults());
        assert.equal(s.outboundTls.resolver, false);
        assert.ok(running(s).includes("mtasts"));
        assert.ok(!running(s).includes("resolver"));
        // No resolver: every service keeps Docker's (the host's) nameservers.
        assert.equal(dnsOf(s, "postfix"), undefined);
    });
});

describe("outboundTls: main.cf", () => {
    test("direct deliveries: DANE with DNSSEC lookups, then the MTA-STS socketmap, the public CAs", () => {
        const m = main(server({}));
        assert.equal(m.get("smtp_tls_security_level"), "dane");
        assert.equal(m.get("smtp_dns_support_level"), "dnssec");
        assert.equal(m.get("smtp_tls_policy_maps"), "socketmap:unix:/run/mta-sts/policy.sock:postfix");
        assert.equal(m.get("smtp_tls_CAfile"), "/etc/ssl/certs/ca-certificates.crt");
    });

    test("dane false: opportunistic TLS, no DNSSEC lookups; mtaSts false: no policy map", () => {
        const noDane = main(server({ outboundTls: { dane: false } }));
        assert.equal(noDane.get("smtp_tls_security_level"), "may");
        assert.equal(noDane.has("smtp_dns_support_level"), false);
        const s = server({ outboundTls: { mtaSts: false } });
        assert.equal(main(s).has("smtp_tls_policy_maps"), false);
        // The container still runs for TLS-RPT (host mode); with neither, not at all.
        const host = { networkMode: "host" as const, inetInterfaces: ["127.0.0.1"] };
        assert.ok(running(server({ ...host, outboundTls: { mtaSts: false } })).includes("mtasts"));
        assert.ok(
            !running(server({ ...host, outboundTls: { mtaSts: false }, reports: { tls: false } })).includes("mtasts"),
        );
        // Bridge mode sends no TLS-RPT reports (their mail would come from the Docker network).
        assert.ok(!running(s).includes("mtasts"));
    });

    test("TLS-RPT: Postfix sends its TLS results to the collector; tlsrpt.cfg names the reporter and Postfix's port 25", () => {
        const s = server({
            networkMode: "host",
            inetInterfaces: ["127.0.0.1"],
            ports: { smtp: 2525 },
            reports: { organization: "Example 100% Corp", address: "alice@example.com" },
        });
        const m = main(s);
        assert.equal(m.get("smtp_tlsrpt_enable"), "yes");
        assert.equal(m.get("smtp_tlsrpt_socket_name"), "/run/mta-sts/tlsrpt.sock");
        const cfg = filesOf(s, "mtasts").find(f => f.path === "tlsrpt.cfg")!.content;
        assert.match(cfg, /^socketname = \/run\/mta-sts\/tlsrpt\.sock$/m);
        // configparser's "%" is doubled.
        assert.match(cfg, /^organization_name = Example 100%% Corp$/m);
        assert.match(cfg, /^sender_address = alice@example\.com$/m);
        assert.match(cfg, /^sendmail_script = \/usr\/local\/lib\/mail\/send-report 127\.0\.0\.1:2525$/m);
        // Defaults: the host name, noreply-reports@ the first domain; off: no TLSRPT lines, no tlsrpt.cfg.
        const hostMode = { networkMode: "host" as const, inetInterfaces: ["127.0.0.1"] };
        const d = filesOf(server(hostMode), "mtasts").find(f => f.path === "tlsrpt.cfg")!.content;
        assert.match(d, /^organization_name = mail\.example\.com$/m);
        assert.match(d, /^sender_address = noreply-reports@example\.com$/m);
        const off = server({ reports: { tls: false } });
        assert.equal(main(off).has("smtp_tlsrpt_enable"), false);
        assert.equal(
            filesOf(off, "mtasts").find(f => f.path === "tlsrpt.cfg"),
            undefined,
        );
    });

    test("a relayhost for everything: its tlsPolicy, and no MTA-STS daemon (no direct deliveries)", () => {
        const s = server({ relayhosts: [relay({ host: "smtp.provider.example", tlsPolicy: "verify" })] });
        const m = main(s);
        assert.equal(m.get("smtp_tls_security_level"), "verify");
        assert.equal(m.has("smtp_dns_support_level"), false);
        assert.ok(!(m.get("smtp_tls_policy_maps") ?? "").includes("socketmap"));
        assert.ok(!running(s).includes("mtasts"));
    });

    test("trustedCaPem: Postfix verifies with it and the public CAs (CApath); the file is in its generation", () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        const s = server({ outboundTls: { trustedCaPem: pem } });
        const m = main(s);
        assert.equal(m.get("smtp_tls_CAfile"), "/config/current/outbound-ca.pem");
        assert.equal(m.get("smtp_tls_CApath"), "/etc/ssl/certs");
        assert.equal(filesOf(s, "postfix").find(f => f.path === "outbound-ca.pem")?.content, pem);
        assert.equal(filesOf(s, "mtasts").find(f => f.path === "trusted-ca.pem")?.content, pem);
    });
});

describe("outboundTls: the resolver", () => {
    const hostMode = { networkMode: "host" as const, inetInterfaces: ["127.0.0.1"] };

    test("host mode: unbound runs, and Postfix, rspamd and the MTA-STS daemon name it as their nameserver", () => {
        const s = server({ ...hostMode, outboundTls: { resolver: true, resolverAddress: "127.0.0.60" } });
        assert.ok(running(s).includes("resolver"));
        for (const name of ["postfix", "rspamd", "mtasts"]) assert.deepEqual(dnsOf(s, name), ["127.0.0.60"], name);
        // Services that ask no DNS of their own keep the platform's.
        assert.equal(dnsOf(s, "clamav"), undefined);
    });

    test("unbound.conf: loopback only, the root's anchor and the given ones, stub zones let through", () => {
        const conf = renderUnboundConf({
            address: "127.0.0.60",
            stubZones: [{ zone: "dane.test", servers: ["127.0.0.61@49053"] }],
            trustAnchors: [ANCHOR],
        });
        assert.match(conf, /^ {2}interface: 127\.0\.0\.60$/m);
        assert.match(conf, /^ {2}access-control: 0\.0\.0\.0\/0 refuse$/m);
        assert.match(conf, /^ {2}access-control: 127\.0\.0\.0\/8 allow$/m);
        assert.match(conf, /^ {2}auto-trust-anchor-file: "\/var\/lib\/unbound\/anchor\/root\.key"$/m);
        assert.ok(conf.includes(`  trust-anchor: "${ANCHOR}"\n`));
        assert.match(conf, /^ {2}do-not-query-localhost: no$/m);
        assert.match(conf, /^ {2}local-zone: "test\." nodefault$/m);
        assert.match(conf, /^stub-zone:\n {2}name: "dane\.test\."\n {2}stub-addr: 127\.0\.0\.61@49053$/m);
        // Without loopback stub servers unbound keeps refusing to query this host.
        assert.doesNotMatch(
            renderUnboundConf({ address: "127.0.0.60", stubZones: [], trustAnchors: [] }),
            /do-not-query-localhost/,
        );
    });

    const refused: Array<[string, Partial<MailServerArgs>, RegExp]> = [
        [
            "bridge mode",
            { networkMode: "bridge", outboundTls: { resolver: true } },
            /MailServer mx: outboundTls\.resolver = true is not accepted; expected false with networkMode "bridge", or networkMode "host": Postfix reads its resolver from \/etc\/resolv\.conf/,
        ],
        [
            'dns "none"',
            { ...hostMode, dns: "none", outboundTls: { resolver: true } },
            /outboundTls\.resolver = true is not accepted; expected false with dns "none"/,
        ],
        [
            "a public resolver address",
            { ...hostMode, outboundTls: { resolver: true, resolverAddress: "192.0.2.53" } },
            /outboundTls\.resolverAddress = "192\.0\.2\.53" is not accepted; expected a loopback address such as 127\.0\.0\.153/,
        ],
        [
            "stub zones without the resolver",
            { outboundTls: { stubZones: [{ zone: "corp.example", servers: ["192.0.2.1"] }] } },
            /outboundTls\.stubZones = \["corp\.example"\] is not accepted; expected none without outboundTls\.resolver/,
        ],
        [
            "a stub zone server that is no address",
            {
                ...hostMode,
                outboundTls: { resolver: true, stubZones: [{ zone: "corp.example", servers: ["ns1.corp.example"] }] },
            },
            /outboundTls\.stubZones\[0\]\.servers\[0\] = "ns1\.corp\.example" is not accepted; expected an IP address, or "address@port"/,
        ],
        [
            "a stub zone without servers",
            { ...hostMode, outboundTls: { resolver: true, stubZones: [{ zone: "corp.example", servers: [] }] } },
            /outboundTls\.stubZones\[0\]\.servers = \[\] is not accepted; expected at least one server of the zone/,
        ],
        [
            "a trust anchor that is no DS or DNSKEY record",
            { ...hostMode, outboundTls: { resolver: true, trustAnchors: ["corp.example. A 192.0.2.1"] } },
            /outboundTls\.trustAnchors\[0\] = "corp\.example\. A 192\.0\.2\.1" is not accepted; expected a DS or DNSKEY record/,
        ],
        [
            "a reporting address of another domain",
            { reports: { address: "reports@elsewhere.example" } },
            /reports\.address = "reports@elsewhere\.example" is not accepted; expected an address of one of the server's domains \(example\.com\)/,
        ],
        [
            "an organisation of more than one line",
            { reports: { organization: "Example\nCorp" } },
            /reports\.organization = "Example\\nCorp" is not accepted; expected one line of text/,
        ],
        [
            "trustedCaPem that is no certificate",
            { outboundTls: { trustedCaPem: "not a certificate" } },
            /outboundTls\.trustedCaPem = "\(not a PEM certificate\)" is not accepted; expected one or more PEM certificates/,
        ],
    ];
    for (const [name, args, message] of refused)
        test(`refused at preview: ${name}`, () => assert.throws(() => server(args), message));
});
