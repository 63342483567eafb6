// The PROXY protocol: what master.cf, main.cf, dovecot.conf and the probes say with it on and off,
// and the preview rules (options/proxyProtocol.ts) that keep a PROXY listener behind its balancer.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { DovecotImapArgs, MailServerArgs } from "../../components/args";
import { validateDovecot } from "../../components/options/dovecotImap";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import type { MailServerSettings } from "../../components/model/settings";
import { Validator } from "../../components/model/validator";
import { renderDovecotConf, renderDovecotFiles } from "../../components/render/dovecot";
import { renderMainCf, renderPostfixFiles } from "../../components/render/postfix";
import { renderMasterCf } from "../../components/render/postfixMaster";
import { dovecotSpec, fakeMailServer, internetSpec, parseMasterCf, refused } from "./fixtures";

const SERVER_LABEL = "MailServer mx";
const DOVECOT_LABEL = "DovecotImap store";

const domain = validateDomain(new Validator("VirtualDomain corp"), {
    domain: "example.com",
    mailboxes: [{ address: "alice", password: "a-long-enough-password" }],
});
/** A server behind a balancer at 10.0.1.10, valid as it is; each case changes what it tests. */
const BEHIND_BALANCER = {
    hostname: "mail.example.com",
    domains: [{ spec: domain }],
    networkMode: "host",
    inetInterfaces: ["10.0.0.5"],
    reports: { tls: false, dmarc: false },
    proxyProtocol: { listeners: ["smtp", "submission", "smtps"], trustedNetworks: ["10.0.1.10/32"] },
};
const server = (args: Record<string, unknown> = {}): MailServerSettings =>
    validateMailServer(new Validator(SERVER_LABEL), "mx", { ...BEHIND_BALANCER, ...args } as unknown as MailServerArgs);
const dovecot = (args: Record<string, unknown>, settings = server()) =>
    validateDovecot(new Validator(DOVECOT_LABEL), {
        mailServer: fakeMailServer(settings),
        ...args,
    } as unknown as DovecotImapArgs);

describe("PROXY protocol: rendering", () => {
    test("master.cf: exactly the listed smtpd services read the header; main.cf sets nothing globally", () => {
        const spec = { ...internetSpec(), proxyListeners: ["smtp" as const, "smtps" as const] };
        const master = renderMasterCf(spec);
        const services = parseMasterCf(master);
        const proxied = (port: number) =>
            services.find(s => s.name === String(port))!.options.get("smtpd_upstream_proxy_protocol") === "haproxy";
        assert.equal(proxied(spec.ports.smtp), true);
        assert.equal(proxied(spec.ports.smtps), true);
        assert.equal(proxied(spec.ports.submission), false);
        // 465's TLS starts after the header: both options on the one service.
        const smtps = services.find(s => s.name === String(spec.ports.smtps))!;
        assert.equal(smtps.options.get("smtpd_tls_wrappermode"), "yes");
        assert.doesNotMatch(renderMainCf(spec), /proxy_protocol/);
    });

    test("without PROXY listeners nothing mentions the protocol, and the probe sends no header", () => {
        const files = renderPostfixFiles(internetSpec());
        for (const f of files) assert.doesNotMatch(f.content, /proxy_protocol|^proxy=/m, f.path);
        assert.doesNotMatch(renderDovecotConf(dovecotSpec()), /haproxy/);
    });

    test("the Postfix probe sends PROXY UNKNOWN when port 25 reads a header, and only then", () => {
        const probe = (listeners: Array<"smtp" | "submission">) =>
            renderPostfixFiles({ ...internetSpec(), proxyListeners: listeners }).find(f => f.path === "probe")!.content;
        assert.match(probe(["smtp"]), /^proxy=v1$/m);
        assert.doesNotMatch(probe(["submission"]), /^proxy=/m);
    });

    test("dovecot.conf: haproxy = yes on exactly the listed listeners, haproxy_trusted_networks as given", () => {
        const conf = renderDovecotConf({
            ...dovecotSpec(),
            proxyProtocol: {
                listeners: ["imaps", "managesieve"],
                trustedNetworks: ["10.0.1.10/32", "2001:db8::5/128"],
            },
        });
        const listener = (name: string) => new RegExp(`inet_listener ${name} \\{[^}]*\\}`).exec(conf)![0];
        assert.match(listener("imaps"), /haproxy = yes/);
        assert.match(listener("sieve"), /haproxy = yes/);
        assert.doesNotMatch(listener("imap"), /haproxy/);
        assert.doesNotMatch(listener("pop3s"), /haproxy/);
        assert.match(conf, /^haproxy_trusted_networks = 10\.0\.1\.10\/32 2001:db8::5\/128$/m);
    });

    test("Dovecot's probe of a PROXY imap port sends a header only from a trusted address, else there is none", () => {
        const probe = (trustedNetworks: string[]) =>
            renderDovecotFiles({
                ...dovecotSpec(),
                listen: ["10.0.0.5"],
                proxyProtocol: { listeners: ["imap"], trustedNetworks },
            }).find(f => f.path === "probe")!.content;
        assert.match(probe(["10.0.0.0/24"]), /^address=10\.0\.0\.5$[\s\S]*^proxy=v1$/m);
        assert.match(probe(["10.0.1.10/32"]), /^# no TCP probe/);
    });
});

describe("PROXY protocol: preview rules", () => {
    test("a server behind a balancer: the listeners reach Postfix's spec, Dovecot trusts the server's networks", () => {
        const s = server();
        assert.deepEqual(s.postfix.proxyListeners, ["smtp", "submission", "smtps"]);
        const d = dovecot({ proxyProtocol: { listeners: ["imaps"] } }, s);
        assert.deepEqual(d.proxyProtocol, { listeners: ["imaps"], trustedNetworks: ["10.0.1.10/32"] });
        assert.equal(dovecot({}, s).proxyProtocol, undefined);
        assert.equal(server({ proxyProtocol: undefined }).postfix.proxyListeners, undefined);
    });

    const trusted = (trustedNetworks: string[]) => ({ proxyProtocol: { listeners: ["smtp"], trustedNetworks } });
    for (const [network, accepted] of [
        ["0.0.0.0/0", /whole IPv4 Internet/],
        ["10.0.0.0/8", /private address space .* wider than \/16/],
        ["203.0.113.0/24", /public address space wider than a single host/],
        ["balancer.example.com", /expected a network such as/],
    ] as const)
        test(`a trusted network ${network} is refused`, () => {
            refused(
                () => server(trusted([network])),
                SERVER_LABEL,
                "proxyProtocol.trustedNetworks[0]",
                JSON.stringify(network),
                accepted,
            );
        });

    test("PROXY listeners without trusted networks are refused; trusted networks alone are allowed", () => {
        refused(() => server(trusted([])), SERVER_LABEL, "proxyProtocol.trustedNetworks", "[]", /at least one/);
        assert.equal(
            server({ proxyProtocol: { trustedNetworks: ["10.0.1.10/32"] } }).postfix.proxyListeners,
            undefined,
        );
    });

    test("Postfix must not listen on a public address or on all addresses; loopback and private ones pass", () => {
        for (const a of ["all", "203.0.113.10"])
            refused(
                () => server({ inetInterfaces: [a] }),
                SERVER_LABEL,
                "inetInterfaces[0]",
                JSON.stringify(a),
                /loopback or private addresses only .* any client claim any address/,
            );
        for (const a of ["loopback-only", "127.0.0.100", "192.168.10.2"])
            assert.ok(server({ inetInterfaces: [a] }).postfix.proxyListeners);
    });

    test("the balancer must not be in mynetworks: its own connections would relay without AUTH", () => {
        refused(
            () => server({ mynetworks: ["127.0.0.1/32", "10.0.1.0/24"] }),
            SERVER_LABEL,
            "proxyProtocol.trustedNetworks[0]",
            '"10.0.1.10/32"',
            /no overlap with mynetworks \(10\.0\.1\.0\/24\)/,
        );
    });

    test("bridge mode is refused for both components", () => {
        refused(
            () => server({ networkMode: "bridge", inetInterfaces: undefined, publishAddress: "10.0.0.5" }),
            SERVER_LABEL,
            "proxyProtocol.listeners",
            '["smtp","submission","smtps"]',
            /networkMode "host"/,
        );
        const bridged = server({ networkMode: "bridge", inetInterfaces: undefined, proxyProtocol: undefined });
        refused(
            () => dovecot({ proxyProtocol: { listeners: ["imaps"], trustedNetworks: ["10.0.1.10/32"] } }, bridged),
            DOVECOT_LABEL,
            "proxyProtocol.listeners",
            '["imaps"]',
            /networkMode "host"/,
        );
    });

    test("the stack's own clients of a PROXY port are refused: reports and alerts on port 25, the certificate check", () => {
        refused(
            () => server({ reports: undefined }),
            SERVER_LABEL,
            "reports",
            "true",
            /reports\.tls and reports\.dmarc false/,
        );
        // Without smtp among the listeners the reports still reach port 25 directly.
        assert.ok(
            server({
                reports: undefined,
                proxyProtocol: { listeners: ["submission"], trustedNetworks: ["10.0.1.10/32"] },
            }),
        );
        refused(
            () => server({ monitoring: { metrics: true, alerts: true, address: "10.0.0.5" } }),
            SERVER_LABEL,
            "monitoring.alerts",
            "true",
            /Alertmanager mails through ports\.smtp/,
        );
        refused(
            () => server({ monitoring: { metrics: true, address: "10.0.0.5" } }),
            SERVER_LABEL,
            "monitoring.metrics",
            "true",
            /while smtps is a PROXY listener: the certificate check/,
        );
    });

    test("Dovecot: an unknown listener, one that is off, and no trusted networks anywhere are refused", () => {
        refused(
            () => dovecot({ proxyProtocol: { listeners: ["lmtp"] } }),
            DOVECOT_LABEL,
            "proxyProtocol.listeners[0]",
            '"lmtp"',
            /imap.*imaps.*pop3.*pop3s.*managesieve/,
        );
        refused(
            () => dovecot({ proxyProtocol: { listeners: ["pop3"] } }),
            DOVECOT_LABEL,
            "proxyProtocol.listeners[0]",
            '"pop3"',
            /ports\.pop3 is 0/,
        );
        const noNetworks = server({ proxyProtocol: { listeners: ["smtp"], trustedNetworks: ["10.0.1.10/32"] } });
        const bare = { ...noNetworks, proxyProtocol: { listeners: [], trustedNetworks: [] } };
        refused(
            () => dovecot({ proxyProtocol: { listeners: ["imaps"] } }, bare),
            DOVECOT_LABEL,
            "proxyProtocol.trustedNetworks",
            "(missing)",
            /refuses every connection/,
        );
        refused(
            () => dovecot({ proxyProtocol: { listeners: ["imaps"], trustedNetworks: ["::/0"] } }),
            DOVECOT_LABEL,
            "proxyProtocol.trustedNetworks[0]",
            '"::/0"',
            /whole IPv6 Internet/,
        );
    });
});
