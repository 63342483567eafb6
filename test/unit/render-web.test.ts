// The well-known endpoint's renderer (components/render/web.ts), the DNS records a served domain
// gets (components/render/dns.ts) and MailServer's wellKnown settings: what nginx serves for
// which host name, the autoconfig file's servers, and the names that need records.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateVirtualDomain } from "../../components/options/validateVirtualDomain";
import { renderDnsRecords, renderDnsZone, renderMtaStsPolicy } from "../../components/render/dns";
import { certificateSpec } from "../../components/model/certificate";
import { WebDomain } from "../../components/model/dns";
import { renderAutoconfig, renderNginxConf, renderWebFiles, WebSpec } from "../../components/render/web";
import { Validator } from "../../components/model/validator";

const DOMAIN: WebDomain = {
    domain: "example.com",
    mxHosts: ["mail.example.com", "mx2.example.com"],
    mtaSts: { mode: "testing", maxAge: 604800 },
    clientHost: "imap.example.com",
    clientPorts: { submission: 587, submissions: 465, imaps: 993, imap: 143, pop3: 0, pop3s: 995 },
};
const SPEC: WebSpec = { port: 443, certificate: certificateSpec(false), domains: [DOMAIN] };

/** The servers of an autoconfig file, as [tag, type, hostname, port, socketType, username]. */
function servers(xml: string): string[][] {
    return [...xml.matchAll(/<(incomingServer|outgoingServer) type="(\w+)">([\s\S]*?)<\/\1>/g)].map(m => {
        const field = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(m[3])![1];
        return [m[1], m[2], field("hostname"), field("port"), field("socketType"), field("username")];
    });
}

describe("autoconfig", () => {
    test("lists the domain's client ports, implicit TLS first, a port of 0 left out, the address as login", () => {
        const xml = renderAutoconfig(DOMAIN);
        assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<clientConfig version="1.1">/);
        assert.match(xml, /<emailProvider id="example.com">\s*<domain>example.com<\/domain>/);
        assert.deepEqual(servers(xml), [
            ["incomingServer", "imap", "imap.example.com", "993", "SSL", "%EMAILADDRESS%"],
            ["incomingServer", "imap", "imap.example.com", "143", "STARTTLS", "%EMAILADDRESS%"],
            ["incomingServer", "pop3", "imap.example.com", "995", "SSL", "%EMAILADDRESS%"],
            ["outgoingServer", "smtp", "imap.example.com", "465", "SSL", "%EMAILADDRESS%"],
            ["outgoingServer", "smtp", "imap.example.com", "587", "STARTTLS", "%EMAILADDRESS%"],
        ]);
        assert.equal((xml.match(/password-cleartext/g) ?? []).length, 5);
    });

    test("VirtualDomain's defaults: IMAPS 993, submissions 465 and submission 587, no POP3", () => {
        const { dns } = validateVirtualDomain(new Validator("VirtualDomain t"), { domain: "example.org" });
        const xml = renderAutoconfig({ ...dns, domain: dns.domain });
        assert.deepEqual(
            servers(xml).map(s => `${s[1]} ${s[2]}:${s[3]} ${s[4]}`),
            ["imap mail.example.org:993 SSL", "smtp mail.example.org:465 SSL", "smtp mail.example.org:587 STARTTLS"],
        );
    });
});

describe("nginx.conf and the served files", () => {
    test("per domain: the policy for mta-sts.<domain> as text/plain, autoconfig at both paths, 404 otherwise", () => {
        const conf = renderNginxConf(SPEC);
        const server = (name: string) => {
            const m = new RegExp(
                `    server \\{\\n((?:        .*\\n)*?)        server_name ${name};\\n((?:        .*\\n)*?)    \\}`,
            ).exec(conf);
            assert.ok(m, `a server block for ${name}`);
            return m[1] + m[2];
        };
        const mtaSts = server("mta-sts\\.example\\.com");
        assert.match(
            mtaSts,
            /location = \/\.well-known\/mta-sts\.txt \{\n\s+limit_except GET \{ deny all; \}\n\s+default_type text\/plain;\n\s+alias \/config\/current\/www\/example\.com\/mta-sts\.txt;/,
        );
        assert.match(mtaSts, /location \/ \{ return 404; \}/);
        const auto = server("autoconfig\\.example\\.com");
        for (const path of ["/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"])
            assert.ok(
                auto.includes(
                    `location = ${path} {\n            limit_except GET { deny all; }\n            default_type application/xml;\n            alias /config/current/www/example.com/config-v1.1.xml;`,
                ),
                path,
            );
        // Any other name: the default server's 404.
        assert.match(
            conf,
            /listen 443 ssl default_server;\n\s+listen \[::\]:443 ssl default_server;\n\s+server_name "";\n\s+return 404;/,
        );
        assert.match(conf, /types \{ \}\n\s+default_type application\/octet-stream;/);
    });

    test("TLS 1.2 and 1.3 only, with the certificate from its directory; workers as www-data", () => {
        const conf = renderNginxConf({ ...SPEC, certificate: certificateSpec(true) });
        assert.match(conf, /^\s+ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
        assert.match(conf, /^\s+ssl_certificate \/certs\/current\/cert\.pem;$/m);
        assert.match(conf, /^\s+ssl_certificate_key \/certs\/current\/key\.pem;$/m);
        assert.match(conf, /^user www-data;$/m);
        assert.match(conf, /^pid \/run\/nginx\/nginx\.pid;$/m);
    });

    test("an address binds that address only (IPv6 in brackets); none binds IPv4 and IPv6", () => {
        const listens = (s: WebSpec) => [
            ...new Set([...renderNginxConf(s).matchAll(/listen (\S+) ssl/g)].map(m => m[1])),
        ];
        assert.deepEqual(listens({ ...SPEC, port: 8443, address: "192.0.2.10" }), ["192.0.2.10:8443"]);
        assert.deepEqual(listens({ ...SPEC, port: 8443, address: "2001:db8::10" }), ["[2001:db8::10]:8443"]);
        assert.deepEqual(listens(SPEC), ["443", "[::]:443"]);
    });

    test("the files: nginx.conf, the probes, and per domain its policy (renderMtaStsPolicy) and autoconfig", () => {
        const files = renderWebFiles({
            ...SPEC,
            address: "127.0.0.1",
            port: 34443,
            domains: [DOMAIN, { ...DOMAIN, domain: "example.org" }],
        });
        assert.deepEqual(
            files.map(f => `${f.path} ${f.mode} ${f.owner}`),
            [
                "nginx.conf 0644 root",
                "probe 0644 root",
                "https-probe 0644 root",
                "www/example.com/mta-sts.txt 0644 root",
                "www/example.com/config-v1.1.xml 0644 root",
                "www/example.org/mta-sts.txt 0644 root",
                "www/example.org/config-v1.1.xml 0644 root",
            ],
        );
        const byPath = new Map(files.map(f => [f.path, f.content]));
        assert.equal(byPath.get("https-probe"), "address=127.0.0.1\nport=34443\n");
        assert.equal(
            byPath.get("www/example.com/mta-sts.txt"),
            "version: STSv1\nmode: testing\nmx: mail.example.com\nmx: mx2.example.com\nmax_age: 604800\n",
        );
        assert.equal(byPath.get("www/example.com/mta-sts.txt"), renderMtaStsPolicy("testing", DOMAIN.mxHosts, 604800));
        assert.match(byPath.get("www/example.org/config-v1.1.xml")!, /<domain>example.org<\/domain>/);
        // An all-addresses endpoint is probed on loopback.
        const all = renderWebFiles(SPEC).find(f => f.path === "https-probe")!;
        assert.equal(all.content, "address=127.0.0.1\nport=443\n");
    });
});

describe("DNS records of a served domain", () => {
    const records = (args: Record<string, unknown>) => {
        const { dns } = validateVirtualDomain(new Validator("VirtualDomain t"), { domain: "example.com", ...args });
        return renderDnsRecords({ ...dns, dkimKeys: [] });
    };
    const names = /^(mta-sts|autoconfig)\./;

    test("none without wellKnown (nothing would serve them)", () => {
        assert.deepEqual(
            records({}).filter(r => names.test(r.name)),
            [],
        );
    });

    test("a CNAME to the first MX host, or its addresses as A/AAAA when given", () => {
        const cname = records({ wellKnown: true, mxHosts: ["mx1.example.net", "mx2.example.net"] });
        assert.deepEqual(
            cname.filter(r => names.test(r.name)).map(r => `${r.name} ${r.type} ${r.value}`),
            ["mta-sts.example.com CNAME mx1.example.net.", "autoconfig.example.com CNAME mx1.example.net."],
        );
        const addressed = records({ wellKnown: true, mailHostAddresses: ["192.0.2.10", "2001:db8::10"] });
        assert.deepEqual(
            addressed.filter(r => names.test(r.name)).map(r => `${r.name} ${r.type} ${r.value}`),
            [
                "mta-sts.example.com A 192.0.2.10",
                "mta-sts.example.com AAAA 2001:db8::10",
                "autoconfig.example.com A 192.0.2.10",
                "autoconfig.example.com AAAA 2001:db8::10",
            ],
        );
        const zone = renderDnsZone("example.com", cname);
        assert.match(zone, /^mta-sts\.example\.com\. 3600 IN CNAME mx1\.example\.net\.$/m);
    });
});

describe("MailServer wellKnown", () => {
    const domain = (name: string, wellKnown: boolean) => {
        const s = validateVirtualDomain(new Validator("VirtualDomain t"), { domain: name, wellKnown });
        return { spec: s.spec, wellKnown: wellKnown ? { ...s.dns } : undefined };
    };
    const server = (args: Record<string, unknown>) =>
        validateMailServer(new Validator("MailServer t"), "t", {
            hostname: "mail.example.com",
            adminAddress: "root@example.net",
            ...args,
        });

    test("served domains in order, port 443 by default; without a served domain, no endpoint", () => {
        const s = server({
            domains: [domain("a.example", true), domain("b.example", false), domain("c.example", true)],
        });
        assert.equal(s.wellKnown?.httpsPort, 443);
        assert.equal(s.wellKnown?.address, undefined);
        assert.deepEqual(
            s.wellKnown?.domains.map(d => d.domain),
            ["a.example", "c.example"],
        );
        assert.equal(
            server({ domains: [domain("b.example", false)], wellKnown: { httpsPort: 8443 } }).wellKnown,
            undefined,
        );
    });

    test("a port of another service is refused only when the endpoint runs", () => {
        assert.doesNotThrow(() => server({ domains: [domain("b.example", false)], wellKnown: { httpsPort: 587 } }));
        assert.throws(
            () => server({ domains: [domain("a.example", true)], wellKnown: { httpsPort: 587 } }),
            /wellKnown\.httpsPort = 587 is not accepted; port 587 is already used by ports\.submission/,
        );
    });
});
