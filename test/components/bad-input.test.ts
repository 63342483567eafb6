// Table of invalid configurations: each must fail in the constructor (so at `pulumi preview`)
// with a message naming the component, the field, the bad value and what is accepted, and no
// resource may be registered for it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import { installMocks, MockEnv } from "./mocks";

let env: MockEnv;
let c: typeof import("../../components");
let pulumi: typeof import("@pulumi/pulumi");

before(async () => {
    env = await installMocks();
    c = await import("../../components");
    pulumi = await import("@pulumi/pulumi");
});

/** A secret output, as config.requireSecretObject gives one. */
const secretOutput = <T>(x: T) => pulumi.secret(x);

const PASSWORD = "a-Valid-Password-2026";

function mismatchedPair(): { certPem: string; keyPem: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pair-"));
    try {
        const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
        run(
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "a.key",
            "-out",
            "a.crt",
            "-days",
            "1",
            "-subj",
            "/CN=mail.example.com",
        );
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "b.key");
        return {
            certPem: fs.readFileSync(path.join(dir, "a.crt"), "utf8"),
            keyPem: fs.readFileSync(path.join(dir, "b.key"), "utf8"),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

interface Case {
    /** What is wrong, for the report. */
    what: string;
    /** The component label the message must start with ("MailServer bad-7"). */
    label: string;
    field: string;
    /** How the bad value appears in the message (never a password). */
    shown: string;
    /** What the message must say is accepted. */
    accepted: RegExp;
    construct: (name: string) => unknown;
}

test("at least 25 invalid configurations are refused before any resource is registered", async () => {
    const domain = (name: string, args: Partial<import("../../components").VirtualDomainArgs> = {}) =>
        new c.VirtualDomain(name, {
            domain: "example.com",
            mailboxes: [{ address: "alice", password: PASSWORD }],
            ...args,
        });
    // A valid domain to put into servers; made once, outside the cases.
    const good = domain("good-example.com");
    const server = (name: string, args: Partial<import("../../components").MailServerArgs> = {}) =>
        new c.MailServer(name, { hostname: "mail.example.com", domains: [good], namePrefix: name, ...args });
    const pair = mismatchedPair();
    // A domain served by the well-known endpoint, for the port clashes that only then matter.
    const served = domain("wk-example.com", { wellKnown: true });
    const loopDomain = () =>
        new c.VirtualDomain("loop-dom", {
            domain: "example.com",
            mailboxes: [{ address: "alice", password: PASSWORD }],
            aliases: [
                { address: "a", targets: ["b@example.com"] },
                { address: "b", targets: ["a@example.com"] },
            ],
        });
    const danglingDomain = () =>
        new c.VirtualDomain("dangling-dom", {
            domain: "example.com",
            mailboxes: [{ address: "alice", password: PASSWORD }],
            aliases: [{ address: "sales", targets: ["nobody@example.com"] }],
        });
    await env.settle();

    const cases: Case[] = [
        {
            what: "invalid domain",
            label: "VirtualDomain bad-1",
            field: "domain",
            shown: `"exa mple.com"`,
            accepted: /fully qualified domain name/,
            construct: n => domain(n, { domain: "exa mple.com" }),
        },
        {
            what: "domain without a dot",
            label: "VirtualDomain bad-2",
            field: "domain",
            shown: `"localdomain"`,
            accepted: /fully qualified domain name/,
            construct: n => domain(n, { domain: "localdomain" }),
        },
        {
            what: "invalid address",
            label: "VirtualDomain bad-3",
            field: "mailboxes[0].address",
            shown: `"al ice@example.com"`,
            accepted: /e-mail address/,
            construct: n => domain(n, { mailboxes: [{ address: "al ice", password: PASSWORD }] }),
        },
        {
            what: "percent in address",
            label: "VirtualDomain bad-4",
            field: "aliases[0].targets[0]",
            shown: `"x%y@example.com"`,
            accepted: /e-mail address/,
            construct: n => domain(n, { aliases: [{ address: "s", targets: ["x%y@example.com"] }] }),
        },
        {
            what: "the same mailbox twice",
            label: "VirtualDomain bad-5",
            field: "mailboxes[1].address",
            shown: `"alice@example.com"`,
            accepted: /defined once/,
            construct: n =>
                domain(n, {
                    mailboxes: [
                        { address: "alice", password: PASSWORD },
                        { address: "Alice", password: PASSWORD },
                    ],
                }),
        },
        {
            what: "an alias to itself",
            label: "VirtualDomain bad-6",
            field: "aliases[0].targets",
            shown: `["sales@example.com"]`,
            accepted: /may not point at itself/,
            construct: n => domain(n, { aliases: [{ address: "sales", targets: ["sales@example.com"] }] }),
        },
        {
            what: "an alias loop",
            label: "MailServer bad-7",
            field: "aliases",
            shown: `"a@example.com -> b@example.com -> a@example.com"`,
            accepted: /loop/,
            construct: n => new c.MailServer(n, { hostname: "mail.example.com", domains: [loopDomain()] }),
        },
        {
            what: "an alias to a local address that does not exist",
            label: "MailServer bad-8",
            field: "domains[0] (example.com).aliases[0].targets[0]",
            shown: `"nobody@example.com"`,
            accepted: /existing mailbox or alias/,
            construct: n => new c.MailServer(n, { hostname: "mail.example.com", domains: [danglingDomain()] }),
        },
        {
            what: "a catch-all written for another domain",
            label: "VirtualDomain bad-9",
            field: "catchAll",
            shown: `"@example.org"`,
            accepted: /e-mail address/,
            construct: n => domain(n, { catchAll: "@example.org" }),
        },
        {
            what: "mynetworks 0.0.0.0/0",
            label: "MailServer bad-10",
            field: "mynetworks[0]",
            shown: `"0.0.0.0/0"`,
            accepted: /open relay/,
            construct: n => server(n, { mynetworks: ["0.0.0.0/0"] }),
        },
        {
            what: "mynetworks ::/0",
            label: "MailServer bad-11",
            field: "mynetworks[0]",
            shown: `"[::]/0"`,
            accepted: /open relay/,
            construct: n => server(n, { mynetworks: ["[::]/0"] }),
        },
        {
            what: "relay credentials with TLS off",
            label: "Relayhost bad-12",
            field: "tlsPolicy",
            shown: `"none"`,
            accepted: /must use TLS/,
            construct: n =>
                new c.Relayhost(n, {
                    host: "smtp.relay.example",
                    username: "u",
                    password: PASSWORD,
                    tlsPolicy: "none",
                }),
        },
        {
            what: "message size limit of zero",
            label: "MailServer bad-13",
            field: "messageSizeLimit",
            shown: "0",
            accepted: /whole number of bytes/,
            construct: n => server(n, { messageSizeLimit: 0 }),
        },
        {
            what: "negative message size limit",
            label: "MailServer bad-14",
            field: "messageSizeLimit",
            shown: "-5",
            accepted: /whole number of bytes/,
            construct: n => server(n, { messageSizeLimit: -5 }),
        },
        {
            what: "message size limit not a number",
            label: "MailServer bad-15",
            field: "messageSizeLimit",
            shown: `"10MB"`,
            accepted: /whole number of bytes/,
            construct: n => server(n, { messageSizeLimit: "10MB" as any }),
        },
        {
            what: "queue lifetime 3x",
            label: "MailServer bad-16",
            field: "maximalQueueLifetime",
            shown: `"3x"`,
            accepted: /Postfix time/,
            construct: n => server(n, { maximalQueueLifetime: "3x" }),
        },
        {
            what: "empty password",
            label: "VirtualDomain bad-17",
            field: "mailboxes[0].password",
            shown: `"(a secret of 0 characters)"`,
            accepted: /at least 12 characters/,
            construct: n => domain(n, { mailboxes: [{ address: "alice", password: "" }] }),
        },
        {
            what: "too-short password",
            label: "VirtualDomain bad-18",
            field: "mailboxes[0].password",
            shown: `"(a secret of 5 characters)"`,
            accepted: /at least 12 characters/,
            construct: n => domain(n, { mailboxes: [{ address: "alice", password: "hunt2" }] }),
        },
        {
            what: "hostname not fully qualified",
            label: "MailServer bad-19",
            field: "hostname",
            shown: `"localhost"`,
            accepted: /fully qualified host name/,
            construct: n => server(n, { hostname: "localhost" }),
        },
        {
            what: "certificate that does not match its key",
            label: "MailServer bad-20",
            field: "tls.keyPem",
            shown: `"(a key that does not match)"`,
            accepted: /private key of the certificate/,
            construct: n => server(n, { tls: pair }),
        },
        {
            what: "two services on one port",
            label: "MailServer bad-21",
            field: "ports.submission",
            shown: "2525",
            accepted: /already used by ports\.smtp/,
            construct: n => server(n, { ports: { smtp: 2525, submission: 2525 } }),
        },
        {
            what: "IMAP on the SMTP port",
            label: "DovecotImap bad-22",
            field: "ports.imap",
            shown: "25",
            accepted: /already used by MailServer ports\.smtp/,
            construct: n => new c.DovecotImap(n, { mailServer: server(`mx-for-${n}`), ports: { imap: 25 } }),
        },
        {
            what: "quota that does not parse",
            label: "VirtualDomain bad-23",
            field: "mailboxes[0].quota",
            shown: `"lots"`,
            accepted: /size such as/,
            construct: n => domain(n, { mailboxes: [{ address: "alice", password: PASSWORD, quota: "lots" }] }),
        },
        {
            what: "decimal quota",
            label: "VirtualDomain bad-24",
            field: "mailboxes[0].quota",
            shown: `"1.5G"`,
            accepted: /no decimals/,
            construct: n => domain(n, { mailboxes: [{ address: "alice", password: PASSWORD, quota: "1.5G" }] }),
        },
        {
            what: "unknown mode",
            label: "MailServer bad-25",
            field: "mode",
            shown: `"mailhub"`,
            accepted: /"internet", "relay"/,
            construct: n => server(n, { mode: "mailhub" as any }),
        },
        {
            what: "unknown network mode",
            label: "MailServer bad-26",
            field: "networkMode",
            shown: `"overlay"`,
            accepted: /"bridge", "host"/,
            construct: n => server(n, { networkMode: "overlay" as any }),
        },
        {
            what: "odd recipient delimiter",
            label: "MailServer bad-27",
            field: "recipientDelimiter",
            shown: `"#"`,
            accepted: /one of/,
            construct: n => server(n, { recipientDelimiter: "#" }),
        },
        {
            what: "delay warning time that does not parse",
            label: "MailServer bad-28",
            field: "delayWarningTime",
            shown: `"soon"`,
            accepted: /Postfix time/,
            construct: n => server(n, { delayWarningTime: "soon" }),
        },
        {
            what: "relay recipient outside relay domains",
            label: "MailServer bad-29",
            field: "relayRecipients[0]",
            shown: `"x@other.example"`,
            accepted: /address of relayDomains/,
            construct: n => server(n, { relayDomains: ["backup.example"], relayRecipients: ["x@other.example"] }),
        },
        {
            what: "forward of something that is not a mailbox",
            label: "VirtualDomain bad-30",
            field: "forwards[0].address",
            shown: `"nobody"`,
            accepted: /mailboxes/,
            construct: n => domain(n, { forwards: [{ address: "nobody", targets: ["x@elsewhere.example"] }] }),
        },
        {
            what: "unknown key algorithm",
            label: "MailServer bad-31",
            field: "tls.keyAlgorithm",
            shown: `"DSA"`,
            accepted: /"ECDSA", "RSA"/,
            construct: n => server(n, { tls: { keyAlgorithm: "DSA" as any } }),
        },
        {
            what: "admin address that does not exist",
            label: "MailServer bad-32",
            field: "adminAddress",
            shown: `"root@example.com"`,
            accepted: /existing mailbox or alias/,
            construct: n => server(n, { adminAddress: "root@example.com" }),
        },
        {
            what: "AUTH rate limit of zero",
            label: "MailServer bad-33",
            field: "authRateLimit",
            shown: "0",
            accepted: /AUTH commands per minute/,
            construct: n => server(n, { authRateLimit: 0 }),
        },
        {
            what: "a virtual domain in mydestination",
            label: "MailServer bad-34",
            field: "mydestination[2]",
            shown: `"example.com"`,
            accepted: /must not also be in mydestination/,
            construct: n => server(n, { mydestination: ["$myhostname", "localhost", "example.com"] }),
        },
        {
            what: "relay mode without a relayhost",
            label: "MailServer bad-35",
            field: "relayhosts",
            shown: "[]",
            accepted: /relay mode needs a relayhost/,
            construct: n => new c.MailServer(n, { mode: "relay", hostname: "relay.example.com" }),
        },
        {
            what: "DMARC reports to an address the domain does not define",
            label: "VirtualDomain bad-36",
            field: "dmarcReportAddress",
            shown: `"reports@example.com"`,
            accepted: /an address this domain defines .*: alice@example\.com; reports to it would bounce/,
            construct: n => domain(n, { dmarcReportAddress: "reports@example.com" }),
        },
        {
            what: "TLS reports to an address the domain does not define",
            label: "VirtualDomain bad-37",
            field: "tlsReportAddress",
            shown: `"tls@example.com"`,
            accepted: /an address this domain defines/,
            construct: n => domain(n, { tlsReportAddress: "tls@example.com" }),
        },
        {
            what: "an unknown DMARC policy",
            label: "VirtualDomain bad-38",
            field: "dmarcPolicy",
            shown: `"strict"`,
            accepted: /"none", "quarantine", "reject"/,
            construct: n => domain(n, { dmarcPolicy: "strict" as never }),
        },
        {
            what: "the signing DKIM selector also retired",
            label: "VirtualDomain bad-39",
            field: "dkimRetiredSelectors[0]",
            shown: `"mail"`,
            accepted: /a former selector, not the signing one/,
            construct: n => domain(n, { dkimRetiredSelectors: ["mail"] }),
        },
        {
            what: "a DKIM selector that is not a DNS label",
            label: "VirtualDomain bad-40",
            field: "dkimSelector",
            shown: `"2026_01"`,
            accepted: /lower-case letters, digits and inner hyphens/,
            construct: n => domain(n, { dkimSelector: "2026_01" }),
        },
        {
            what: "a link-local address as the mail host's public address",
            label: "VirtualDomain bad-41",
            field: "mailHostAddresses[0]",
            shown: `"169.254.0.7"`,
            accepted: /expected a public address of this server, not a link-local address/,
            construct: n => domain(n, { mailHostAddresses: ["169.254.0.7"] }),
        },
        {
            what: "an SRV port out of range",
            label: "VirtualDomain bad-42",
            field: "clientPorts.imaps",
            shown: "70000",
            accepted: /TCP port 1-65535, or 0 to turn it off/,
            construct: n => domain(n, { clientPorts: { imaps: 70000 } }),
        },
        {
            what: "bridge mode trusting a Docker address pool (the gateway: every client)",
            label: "MailServer bad-43",
            field: "mynetworks[2]",
            shown: `"172.16.0.0/12"`,
            accepted:
                /Docker allocates bridge networks.*clients can arrive from the Docker network's gateway.*open relay.*networkMode "host"/,
            construct: n =>
                server(n, { networkMode: "bridge", mynetworks: ["127.0.0.0/8", "[::1]/128", "172.16.0.0/12"] }),
        },
        {
            what: "a spam header score that is not below the reject score",
            label: "MailServer bad-44",
            field: "spamFilter.addHeaderScore",
            shown: "15",
            accepted: /a score below spamFilter\.rejectScore \(15\): mail is filed into Junk before it is refused/,
            construct: n => server(n, { spamFilter: { addHeaderScore: 15 } }),
        },
        {
            what: "greylisting from a score that is not below the spam header score",
            label: "MailServer bad-45",
            field: "spamFilter.greylistScore",
            shown: "7",
            accepted: /a score below spamFilter\.addHeaderScore \(6\)/,
            construct: n => server(n, { spamFilter: { greylisting: true, greylistScore: 7 } }),
        },
        {
            what: "a reject score of zero",
            label: "MailServer bad-46",
            field: "spamFilter.rejectScore",
            shown: "0",
            accepted: /a whole rspamd score > 0/,
            construct: n => server(n, { spamFilter: { rejectScore: 0 } }),
        },
        {
            what: "a fractional spam header score",
            label: "MailServer bad-47",
            field: "spamFilter.addHeaderScore",
            shown: "5.5",
            accepted: /a whole rspamd score > 0/,
            construct: n => server(n, { spamFilter: { addHeaderScore: 5.5 } }),
        },
        {
            what: "a nameserver given by name",
            label: "MailServer bad-48",
            field: "spamFilter.nameservers[1]",
            shown: `"dns.example.com"`,
            accepted: /"address", "address:port" or "\[IPv6 address\]:port"/,
            construct: n => server(n, { spamFilter: { nameservers: ["192.0.2.53", "dns.example.com"] } }),
        },
        {
            what: "an outbound address that is a host name",
            label: "MailServer bad-49",
            field: "outboundAddress",
            shown: `"mail.example.com"`,
            accepted: /an IPv4 or IPv6 address of this host/,
            construct: n => server(n, { outboundAddress: "mail.example.com" }),
        },
        {
            what: "an unknown spamFilter field (a misspelt score)",
            label: "MailServer bad-50",
            field: "spamFilter.rejectscore",
            shown: "10",
            accepted:
                /one of the known fields: enabled, rejectScore, outboundRejectScore, messagesPerHour, recipientsPerHour, addHeaderScore, greylisting, greylistScore, dnsbl, nameservers/,
            construct: n => server(n, { spamFilter: { rejectscore: 10 } as never }),
        },
        {
            what: "the next DKIM selector the same as the signing one",
            label: "VirtualDomain bad-51",
            field: "dkimNextSelector",
            shown: `"mail"`,
            accepted: /the selector the domain rotates to, not the signing one/,
            construct: n => domain(n, { dkimNextSelector: "mail" }),
        },
        {
            what: "ACME without an account e-mail",
            label: "MailServer bad-52",
            field: "tls.acme.email",
            shown: "(missing)",
            accepted: /ACME account's e-mail address/,
            construct: n => server(n, { tls: { acme: {} as any } }),
        },
        {
            what: "ACME name that is not a FQDN",
            label: "MailServer bad-53",
            field: "tls.acme.names[0]",
            shown: `"imap"`,
            accepted: /fully qualified host name/,
            construct: n => server(n, { tls: { acme: { email: "hostmaster@example.com", names: ["imap"] } } }),
        },
        {
            what: "unknown ACME challenge",
            label: "MailServer bad-54",
            field: "tls.acme.challenge",
            shown: `"tls-alpn-01"`,
            accepted: /"http-01", "dns-01"/,
            construct: n =>
                server(n, { tls: { acme: { email: "hostmaster@example.com", challenge: "tls-alpn-01" as any } } }),
        },
        {
            what: "ACME dns-01 without a DNS provider",
            label: "MailServer bad-55",
            field: "tls.acme.dnsProvider",
            shown: "(missing)",
            accepted: /lego's DNS provider code with challenge "dns-01", e\.g\. "rfc2136"/,
            construct: n => server(n, { tls: { acme: { email: "hostmaster@example.com", challenge: "dns-01" } } }),
        },
        {
            what: "ACME renewal days out of range",
            label: "MailServer bad-56",
            field: "tls.acme.renewDaysBefore",
            shown: "90",
            accepted: /from 1 to 60/,
            construct: n => server(n, { tls: { acme: { email: "hostmaster@example.com", renewDaysBefore: 90 } } }),
        },
        {
            what: "ACME next to a self-signed certificate",
            label: "MailServer bad-57",
            field: "tls",
            shown: `["selfSigned","acme"]`,
            accepted: /choose one of .*tls\.acme/,
            construct: n => server(n, { tls: { selfSigned: {}, acme: { email: "hostmaster@example.com" } } }),
        },
        {
            what: "ACME DNS provider lego does not have",
            label: "MailServer bad-58",
            field: "tls.acme.dnsProvider",
            shown: `"bind9"`,
            accepted: /a DNS provider code of the image's lego .*"rfc2136".*all: acme-dns, .*route53/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: { email: "hostmaster@example.com", challenge: "dns-01" as const, dnsProvider: "bind9" },
                    },
                }),
        },
        {
            what: "ACME DNS provider that needs a terminal",
            label: "MailServer bad-59",
            field: "tls.acme.dnsProvider",
            shown: `"manual"`,
            accepted: /"manual" and "exec" cannot work in a container/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: { email: "hostmaster@example.com", challenge: "dns-01" as const, dnsProvider: "manual" },
                    },
                }),
        },
        {
            what: "ACME DNS credentials with http-01",
            label: "MailServer bad-60",
            field: "tls.acme.dnsCredentials",
            shown: `"(secret)"`,
            accepted: /used only with challenge "dns-01"/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            dnsCredentials: { CLOUDFLARE_DNS_API_TOKEN: PASSWORD },
                        },
                    },
                }),
        },
        {
            what: "ACME DNS provider with the default challenge (http-01)",
            label: "MailServer bad-61",
            field: "tls.acme.dnsProvider",
            shown: `"cloudflare"`,
            accepted: /used only with challenge "dns-01"; set tls\.acme\.challenge to "dns-01"/,
            construct: n =>
                server(n, { tls: { acme: { email: "hostmaster@example.com", dnsProvider: "cloudflare" } } }),
        },
        {
            what: "ACME HTTP-01 port with dns-01",
            label: "MailServer bad-62",
            field: "tls.acme.httpPort",
            shown: "8080",
            accepted: /not used with challenge "dns-01"/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            challenge: "dns-01" as const,
                            dnsProvider: "rfc2136",
                            httpPort: 8080,
                        },
                    },
                }),
        },
        {
            what: "ACME DNS setting that is not a lego variable name",
            label: "MailServer bad-63",
            field: "tls.acme.dnsSettings.rfc2136_nameserver",
            shown: `"rfc2136_nameserver"`,
            accepted: /a lego environment variable name \(A-Z, 0-9, _\)/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            challenge: "dns-01" as const,
                            dnsProvider: "rfc2136",
                            dnsSettings: { rfc2136_nameserver: "192.0.2.53" },
                        },
                    },
                }),
        },
        {
            what: "ACME DNS credential named *_FILE",
            label: "MailServer bad-64",
            field: "tls.acme.dnsCredentials.RFC2136_TSIG_SECRET_FILE",
            shown: `"RFC2136_TSIG_SECRET_FILE"`,
            accepted: /\*_FILE is set for each dnsCredentials entry/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            challenge: "dns-01" as const,
                            dnsProvider: "rfc2136",
                            dnsCredentials: { RFC2136_TSIG_SECRET_FILE: PASSWORD },
                        },
                    },
                }),
        },
        {
            what: "ACME DNS variable both a setting and a credential",
            label: "MailServer bad-65",
            field: "tls.acme.dnsSettings.RFC2136_TSIG_SECRET",
            shown: `"RFC2136_TSIG_SECRET"`,
            accepted: /also in dnsCredentials/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            challenge: "dns-01" as const,
                            dnsProvider: "rfc2136",
                            dnsSettings: { RFC2136_TSIG_SECRET: "shown" },
                            dnsCredentials: { RFC2136_TSIG_SECRET: PASSWORD },
                        },
                    },
                }),
        },
        {
            what: "ACME DNS resolver given by name",
            label: "MailServer bad-66",
            field: "tls.acme.dnsResolvers[0]",
            shown: `"ns1.example.com"`,
            accepted: /"address", "address:port" or "\[IPv6 address\]:port"/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            challenge: "dns-01" as const,
                            dnsProvider: "rfc2136",
                            dnsResolvers: ["ns1.example.com"],
                        },
                    },
                }),
        },
        {
            what: "ACME DNS credentials as one output (names unknown at preview)",
            label: "MailServer bad-67",
            field: "tls.acme.dnsCredentials",
            shown: `"(an output)"`,
            accepted: /a plain map whose values may be secrets/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            challenge: "dns-01",
                            dnsProvider: "cloudflare",
                            dnsCredentials: secretOutput({ CLOUDFLARE_DNS_API_TOKEN: PASSWORD }) as any,
                        },
                    },
                }),
        },
        {
            what: "HTTPS endpoint on port 0",
            label: "MailServer bad-68",
            field: "wellKnown.httpsPort",
            shown: "0",
            accepted: /expected a TCP port 1-65535/,
            construct: n => server(n, { wellKnown: { httpsPort: 0 } }),
        },
        {
            what: "HTTPS endpoint on a port above 65535",
            label: "MailServer bad-69",
            field: "wellKnown.httpsPort",
            shown: "70000",
            accepted: /expected a TCP port 1-65535/,
            construct: n => server(n, { wellKnown: { httpsPort: 70000 } }),
        },
        {
            what: "HTTPS endpoint address not an IP address",
            label: "MailServer bad-70",
            field: "wellKnown.address",
            shown: `"mail.example.com"`,
            accepted: /expected an IP address/,
            construct: n => server(n, { wellKnown: { address: "mail.example.com" } }),
        },
        {
            what: "HTTPS endpoint on the SMTP port",
            label: "MailServer bad-71",
            field: "wellKnown.httpsPort",
            shown: "25",
            accepted: /already used by ports\.smtp/,
            construct: n => server(n, { domains: [served], wellKnown: { httpsPort: 25 } }),
        },
        {
            what: "HTTPS endpoint on the ACME HTTP-01 port",
            label: "MailServer bad-72",
            field: "wellKnown.httpsPort",
            shown: "80",
            accepted: /already used by tls\.acme\.httpPort/,
            construct: n =>
                server(n, {
                    domains: [served],
                    wellKnown: { httpsPort: 80 },
                    tls: { acme: { email: "hostmaster@example.com" } },
                }),
        },
        {
            what: "misspelt HTTPS endpoint option",
            label: "MailServer bad-73",
            field: "wellKnown.port",
            shown: "8443",
            accepted: /known fields: httpsPort, address/,
            construct: n => server(n, { wellKnown: { port: 8443 } as any }),
        },
        {
            what: "wellKnown not a boolean",
            label: "VirtualDomain bad-74",
            field: "wellKnown",
            shown: `"yes"`,
            accepted: /expected true or false/,
            construct: n => domain(n, { wellKnown: "yes" as any }),
        },
        {
            what: "an unknown DNS mode",
            label: "MailServer bad-75",
            field: "dns",
            shown: `"off"`,
            accepted: /"available", "none"/,
            construct: n => server(n, { dns: "off" as never }),
        },
        {
            what: "client name lookups on a host without DNS",
            label: "MailServer bad-76",
            field: "peernameLookup",
            shown: "true",
            accepted: /expected false or nothing with dns "none"/,
            construct: n => server(n, { dns: "none", peernameLookup: true }),
        },
        {
            what: "DNS blocklists on a host without DNS",
            label: "MailServer bad-77",
            field: "spamFilter.dnsbl",
            shown: "true",
            accepted: /blocklists are DNS lookups/,
            construct: n => server(n, { dns: "none", spamFilter: { dnsbl: true } }),
        },
        {
            what: "an rspamd DNS timeout without a unit",
            label: "MailServer bad-78",
            field: "spamFilter.dnsTimeout",
            shown: `"2"`,
            accepted: /a time such as "500ms" or "2s"/,
            construct: n => server(n, { spamFilter: { dnsTimeout: "2" } }),
        },
        {
            what: "no DNS retransmits",
            label: "MailServer bad-79",
            field: "spamFilter.dnsRetransmits",
            shown: "0",
            accepted: /a whole number of retries > 0/,
            construct: n => server(n, { spamFilter: { dnsRetransmits: 0 } }),
        },
    ];
    assert.ok(cases.length >= 25);
    const lines: string[] = [];
    for (const [i, k] of cases.entries()) {
        const name = k.label.split(" ")[1];
        assert.equal(name, `bad-${i + 1}`, "labels follow the table order");
        const count = env.records.length;
        let error: unknown;
        try {
            k.construct(name);
        } catch (e) {
            error = e;
        }
        assert.ok(error instanceof c.MailConfigError, `${k.what}: expected a MailConfigError, got ${error}`);
        const message = (error as Error).message;
        assert.ok(message.startsWith(`${k.label}: ${k.field} = ${k.shown} is not accepted; `), `${k.what}: ${message}`);
        assert.match(message, k.accepted, `${k.what}: ${message}`);
        assert.doesNotMatch(message, new RegExp(PASSWORD), "a password in an error message");
        await env.settle();
        const registered = env.records.slice(count).filter(r => r.name === name || r.name.startsWith(`${name}-`));
        assert.deepEqual(
            registered.map(r => `${r.type} ${r.name}`),
            [],
            `${k.what}: registered before refusing`,
        );
        lines.push(`${k.what}: ${message}`);
    }
    process.stdout.write(`# bad inputs tried: ${cases.length}, all refused before registration\n`);
    for (const l of lines) process.stdout.write(`#   ${l}\n`);
});
