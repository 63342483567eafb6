// Table of invalid configurations: each must fail in the constructor (so at `pulumi preview`)
// with a message naming the component, the field, the bad value and what is accepted, and no
// resource may be registered for it.
import * as crypto from "node:crypto";
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
/** A real Ed25519 private key (made for the test), given where an RSA key is expected. */
const ED25519_PEM = crypto
    .generateKeyPairSync("ed25519")
    .privateKey.export({ format: "pem", type: "pkcs8" })
    .toString();

/** A CA of the test's own (openssl): what tls.ca takes. */
function selfSignedCa(): { certPem: string; keyPem: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ca-"));
    try {
        execFileSync(
            "openssl",
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
                .concat(["-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=Test CA"])
                .concat(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]),
            { cwd: dir, stdio: "pipe" },
        );
        return {
            certPem: fs.readFileSync(path.join(dir, "ca.crt"), "utf8"),
            keyPem: fs.readFileSync(path.join(dir, "ca.key"), "utf8"),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

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
    // A server behind a TCP load balancer, valid on its own: the PROXY rows change one thing each.
    const behindBalancer = {
        networkMode: "host" as const,
        inetInterfaces: ["10.0.0.5"],
        reports: { tls: false, dmarc: false },
        proxyProtocol: { listeners: ["smtp" as const], trustedNetworks: ["10.0.1.10/32"] },
    };
    // A domain served by the well-known endpoint, for the port clashes that only then matter.
    const served = domain("wk-example.com", { wellKnown: true });
    // A domain without DKIM keys, for a server without rspamd.
    const unsigned = domain("unsigned-example.com", { dkim: false });
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
    // Domains for the cross-option rows: each valid on its own, refused next to what MailServer has.
    const outsideCatchAll = domain("ca-example.com", { catchAll: "everything@elsewhere.example" });
    const enforced = domain("sts-example.com", { wellKnown: true, mtaStsMode: "enforce" });
    const ca = selfSignedCa();
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
            shown: `"172.17.0.0/16"`,
            accepted:
                /Docker allocates bridge networks.*clients can arrive from the Docker network's gateway.*open relay.*networkMode "host"/,
            construct: n =>
                server(n, { networkMode: "bridge", mynetworks: ["127.0.0.0/8", "[::1]/128", "172.17.0.0/16"] }),
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
            field: "tls.acme.dnsSettings.RFC2136_TSIG_ALGORITHM",
            shown: `"RFC2136_TSIG_ALGORITHM"`,
            accepted: /also in dnsCredentials/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            challenge: "dns-01" as const,
                            dnsProvider: "rfc2136",
                            dnsSettings: { RFC2136_TSIG_ALGORITHM: "hmac-sha256." },
                            dnsCredentials: { RFC2136_TSIG_ALGORITHM: PASSWORD },
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
        // ---- Relay surface (issue 19, item 2): one check with the policy pack (components/model/net.ts trustRisk)
        {
            what: "mynetworks 0.0.0.0/1 in bridge mode (half the Internet: an open relay)",
            label: "MailServer bad-75",
            field: "mynetworks[0]",
            shown: `"0.0.0.0/1"`,
            accepted:
                /public address space wider than a single host \(2,147,483,648 addresses\); clients in mynetworks relay without authentication, so trusting it makes an open relay; list loopback, single public hosts \(\/32, IPv6 \/128\) and private networks no wider than \/16 \(IPv6 \/48\)/,
            construct: n => server(n, { mynetworks: ["0.0.0.0/1"] }),
        },
        {
            what: "mynetworks 0.0.0.0/1 + 128.0.0.0/1 in host mode (the whole Internet in two halves)",
            label: "MailServer bad-76",
            field: "mynetworks[1]",
            shown: `"128.0.0.0/1"`,
            accepted: /public address space wider than a single host/,
            construct: n => server(n, { networkMode: "host", mynetworks: ["127.0.0.0/8", "128.0.0.0/1", "0.0.0.0/1"] }),
        },
        {
            what: "mynetworks: a public /24 (a whole provider's block)",
            label: "MailServer bad-77",
            field: "mynetworks[0]",
            shown: `"198.51.100.0/24"`,
            accepted: /public address space wider than a single host \(256 addresses\)/,
            construct: n => server(n, { networkMode: "host", mynetworks: ["198.51.100.0/24"] }),
        },
        {
            what: "mynetworks: private space wider than /16",
            label: "MailServer bad-78",
            field: "mynetworks[0]",
            shown: `"10.0.0.0/8"`,
            accepted: /private address space \(in 10\.0\.0\.0\/8\) wider than \/16 \(16,777,216 addresses\)/,
            construct: n => server(n, { networkMode: "host", mynetworks: ["10.0.0.0/8"] }),
        },
        {
            what: "mynetworks: a public IPv6 /64",
            label: "MailServer bad-79",
            field: "mynetworks[0]",
            shown: `"[2001:db8::]/64"`,
            accepted: /public address space wider than a single host \(a \/64\)/,
            construct: n => server(n, { networkMode: "host", mynetworks: ["[2001:db8::]/64"] }),
        },
        // ---- Addresses (item 6): only what RFC 5321 and the lookup tables carry safely
        {
            what: "adminAddress that is a pipe to a command",
            label: "MailServer bad-80",
            field: "adminAddress",
            shown: `"|touch\${IFS}/tmp/x@ext.example"`,
            accepted: /letters, digits and '\.', '_', '-', '\+', '='.*\|command, \/file/,
            construct: n => server(n, { adminAddress: "|touch${IFS}/tmp/x@ext.example" }),
        },
        {
            what: "a mailbox whose address starts with '#' (a comment line in the tables and passwd-file)",
            label: "VirtualDomain bad-81",
            field: "mailboxes[0].address",
            shown: `"#alice@example.com"`,
            accepted: /must start with a letter, digit or '_'/,
            construct: n => domain(n, { mailboxes: [{ address: "#alice", password: PASSWORD }] }),
        },
        {
            what: "an alias target with '$' (Postfix expansion)",
            label: "VirtualDomain bad-82",
            field: "aliases[0].targets[0]",
            shown: `"a$b@elsewhere.example"`,
            accepted: /letters, digits and '\.', '_', '-', '\+', '='/,
            construct: n => domain(n, { aliases: [{ address: "sales", targets: ["a$b@elsewhere.example"] }] }),
        },
        {
            what: "a mailbox with '/' (a file alias, a path for Sieve)",
            label: "VirtualDomain bad-83",
            field: "mailboxes[0].address",
            shown: `"a/b@example.com"`,
            accepted: /letters, digits and '\.', '_', '-', '\+', '='/,
            construct: n => domain(n, { mailboxes: [{ address: "a/b", password: PASSWORD }] }),
        },
        {
            what: "an alias with a quote",
            label: "VirtualDomain bad-84",
            field: "aliases[0].address",
            shown: `"o'neil@example.com"`,
            accepted: /letters, digits and '\.', '_', '-', '\+', '='/,
            construct: n => domain(n, { aliases: [{ address: "o'neil", targets: ["alice@example.com"] }] }),
        },
        {
            what: "a mailbox alias with braces and a backtick",
            label: "VirtualDomain bad-85",
            field: "mailboxes[0].aliases[0]",
            shown: '"{a}`b`@example.com"',
            accepted: /letters, digits and '\.', '_', '-', '\+', '='/,
            construct: n => domain(n, { mailboxes: [{ address: "alice", password: PASSWORD, aliases: ["{a}`b`"] }] }),
        },
        // ---- Relay credentials: one sasl_passwd line each
        {
            what: "a relay username with ':' (splits username:password)",
            label: "Relayhost bad-86",
            field: "username",
            shown: `"user:name"`,
            accepted: /without ':' or control characters \(sasl_passwd holds username:password on one line\)/,
            construct: n =>
                new c.Relayhost(n, { host: "smtp.relay.example", username: "user:name", password: PASSWORD }),
        },
        {
            what: "a relay username with a line break",
            label: "Relayhost bad-87",
            field: "username",
            shown: `"user\\n[other.example]:25 x:y"`,
            accepted: /without ':' or control characters/,
            construct: n =>
                new c.Relayhost(n, {
                    host: "smtp.relay.example",
                    username: "user\n[other.example]:25 x:y",
                    password: PASSWORD,
                }),
        },
        {
            what: "a relay password with a line break (an extra sasl_passwd entry), never shown",
            label: "Relayhost bad-88",
            field: "password",
            shown: `"(a secret, not shown)"`,
            accepted: /without control characters \(a line break would add an entry of its own to sasl_passwd\)/,
            construct: n =>
                new c.Relayhost(n, {
                    host: "smtp.relay.example",
                    username: "user",
                    password: `${PASSWORD}\n[evil.example]:25 me:pw`,
                }),
        },
        // ---- Careless inputs
        {
            what: "inetInterfaces 127.0.0.1 in bridge mode (unreachable, healthcheck green)",
            label: "MailServer bad-89",
            field: "inetInterfaces",
            shown: `["127.0.0.1"]`,
            accepted: /\["all"\] in bridge mode: .* listening on loopback or a host address makes it unreachable/,
            construct: n => server(n, { inetInterfaces: ["127.0.0.1"] }),
        },
        {
            what: "a catch-all forwarded to an outside address (all spam relayed out)",
            label: "MailServer bad-90",
            field: "domains[0] (example.com).catchAll",
            shown: `"everything@elsewhere.example"`,
            accepted:
                /a mailbox or alias of this server's domains \(example\.com\): a catch-all receives every spam .* forward named aliases instead/,
            construct: n => server(n, { domains: [outsideCatchAll] }),
        },
        {
            what: 'maximalQueueLifetime "0" (bounce at the first temporary failure)',
            label: "MailServer bad-91",
            field: "maximalQueueLifetime",
            shown: `"0"`,
            accepted: /at least "1h" .* bounces mail at its first temporary failure/,
            construct: n => server(n, { maximalQueueLifetime: "0" }),
        },
        {
            what: "bounceQueueLifetime of 30 minutes",
            label: "MailServer bad-92",
            field: "bounceQueueLifetime",
            shown: `"30m"`,
            accepted: /at least "1h"/,
            construct: n => server(n, { bounceQueueLifetime: "30m" }),
        },
        {
            what: "messageSizeLimit 10e9 (Postfix then temp-rejects all mail for want of queue space)",
            label: "MailServer bad-93",
            field: "messageSizeLimit",
            shown: "10000000000",
            accepted:
                /from 65536 \(64 KiB\) to 1073741824 \(1 GiB\).*1\.5 times the limit free.*452 Insufficient system storage/,
            construct: n => server(n, { messageSizeLimit: 10e9 }),
        },
        {
            what: "authRateLimit 100000 (no brake on password guessing)",
            label: "MailServer bad-94",
            field: "authRateLimit",
            shown: "100000",
            accepted: /from 1 to 1000: at 100000 a minute a password guesser is not slowed at all/,
            construct: n => server(n, { authRateLimit: 100000 }),
        },
        {
            what: 'restart "no" (down after a crash or reboot until the next up): refused',
            label: "MailServer bad-95",
            field: "restart",
            shown: `"no"`,
            accepted:
                /"unless-stopped" \(the default\), "always" or "on-failure": with "no" a crashed daemon or a reboot leaves the mail server down/,
            construct: n => server(n, { restart: "no" }),
        },
        {
            what: "spamFilter off while the domains publish DKIM keys (nothing signs)",
            label: "MailServer bad-96",
            field: "spamFilter.enabled",
            shown: "false",
            accepted: /true while domains publish DKIM keys \(example\.com\): rspamd is what signs.*set dkim: false/,
            construct: n => server(n, { spamFilter: { enabled: false } }),
        },
        {
            what: 'mtaStsMode "enforce" with the self-signed certificate (senders refuse to deliver)',
            label: "MailServer bad-97",
            field: "domains[0]",
            shown: `"example.com: mtaStsMode \\"enforce\\""`,
            accepted:
                /"testing" or "none" with a self-signed certificate: senders enforcing MTA-STS verify mail\.example\.com's certificate/,
            construct: n => server(n, { domains: [enforced] }),
        },
        {
            what: 'mtaStsMode "enforce" with a certificate of the user\'s own CA',
            label: "MailServer bad-98",
            field: "domains[0]",
            shown: `"example.com: mtaStsMode \\"enforce\\""`,
            accepted: /with a certificate of your own CA \(tls\.ca\)/,
            construct: n => server(n, { domains: [enforced], tls: { ca } }),
        },
        {
            what: "a DNS credential in tls.acme.dnsSettings (env, preview and state in plain text), never shown",
            label: "MailServer bad-99",
            field: 'tls.acme.dnsSettings["CLOUDFLARE_DNS_API_TOKEN"]',
            shown: `"(not shown: it looks like a credential)"`,
            accepted: /CLOUDFLARE_DNS_API_TOKEN is a credential.*give it in tls\.acme\.dnsCredentials/,
            construct: n =>
                server(n, {
                    tls: {
                        acme: {
                            email: "hostmaster@example.com",
                            challenge: "dns-01",
                            dnsProvider: "cloudflare",
                            dnsSettings: { CLOUDFLARE_DNS_API_TOKEN: PASSWORD },
                        },
                    },
                }),
        },
        {
            what: 'spf "v=spf1 +all" (the whole Internet may send as the domain)',
            label: "VirtualDomain bad-100",
            field: "spf",
            shown: `"v=spf1 +all"`,
            accepted:
                /ending in "-all" or "~all": "\+all" \(or a bare "all"\) lets every host of the Internet send as the domain/,
            construct: n => domain(n, { spf: "v=spf1 +all" }),
        },
        {
            what: 'spf "v=spf1 mx all" (a bare all is +all)',
            label: "VirtualDomain bad-101",
            field: "spf",
            shown: `"v=spf1 mx all"`,
            accepted: /"-all" or "~all"/,
            construct: n => domain(n, { spf: "v=spf1 mx all" }),
        },
        {
            what: "outboundAddress 0.0.0.0 (no address to send from)",
            label: "MailServer bad-102",
            field: "outboundAddress",
            shown: `"0.0.0.0"`,
            accepted: /an address of this host that reaches other mail servers, not the unspecified address/,
            construct: n => server(n, { networkMode: "host", outboundAddress: "0.0.0.0" }),
        },
        {
            what: "outboundAddress in bridge mode (the container has no host address to bind)",
            label: "MailServer bad-103",
            field: "outboundAddress",
            shown: `"192.0.2.25"`,
            accepted: /no outboundAddress in bridge mode/,
            construct: n => server(n, { outboundAddress: "192.0.2.25" }),
        },
        {
            what: "an MTA-STS mode without a served policy (no _mta-sts record: it would do nothing)",
            label: "VirtualDomain bad-104",
            field: "mtaStsMode",
            shown: `"enforce"`,
            accepted:
                /a served policy with it: without wellKnown .* or mtaStsPolicyServedElsewhere no _mta-sts record is published/,
            construct: n => domain(n, { mtaStsMode: "enforce" }),
        },
        {
            what: "the MTA-STS policy both served by wellKnown and said to be served elsewhere",
            label: "VirtualDomain bad-105",
            field: "mtaStsPolicyServedElsewhere",
            shown: "true",
            accepted: /false with wellKnown/,
            construct: n => domain(n, { wellKnown: true, mtaStsPolicyServedElsewhere: true }),
        },
        {
            what: "an unknown DNS mode",
            label: "MailServer bad-106",
            field: "dns",
            shown: `"off"`,
            accepted: /"available", "none"/,
            construct: n => server(n, { dns: "off" as never }),
        },
        {
            what: "client name lookups on a host without DNS",
            label: "MailServer bad-107",
            field: "peernameLookup",
            shown: "true",
            accepted: /expected false or nothing with dns "none"/,
            construct: n => server(n, { dns: "none", peernameLookup: true }),
        },
        {
            what: "DNS blocklists on a host without DNS",
            label: "MailServer bad-108",
            field: "spamFilter.dnsbl",
            shown: "true",
            accepted: /blocklists are DNS lookups/,
            construct: n => server(n, { dns: "none", spamFilter: { dnsbl: true } }),
        },
        {
            what: "an rspamd DNS timeout without a unit",
            label: "MailServer bad-109",
            field: "spamFilter.dnsTimeout",
            shown: `"2"`,
            accepted: /a time such as "500ms" or "2s"/,
            construct: n => server(n, { spamFilter: { dnsTimeout: "2" } }),
        },
        {
            what: "no DNS retransmits",
            label: "MailServer bad-110",
            field: "spamFilter.dnsRetransmits",
            shown: "0",
            accepted: /a whole number of retries > 0/,
            construct: n => server(n, { spamFilter: { dnsRetransmits: 0 } }),
        },
        {
            what: "the antivirus without rspamd, which is what asks ClamAV",
            label: "MailServer bad-111",
            field: "antivirus.enabled",
            shown: "true",
            accepted: /expected false with spamFilter\.enabled false: rspamd is what asks ClamAV/,
            construct: n =>
                server(n, { spamFilter: { enabled: false }, antivirus: { enabled: true }, domains: [unsigned] }),
        },
        {
            what: "an antivirus signature file without a ClamAV extension",
            label: "MailServer bad-112",
            field: "antivirus.signatures[0].name",
            shown: `"eicar.txt"`,
            accepted: /a ClamAV signature extension \(\.hdb, .*\), e\.g\. "local\.ndb"/,
            construct: n =>
                server(n, { antivirus: { enabled: true, signatures: [{ name: "eicar.txt", content: "E:0:*:41" }] } }),
        },
        {
            what: "two antivirus signature files of one name",
            label: "MailServer bad-113",
            field: "antivirus.signatures[1].name",
            shown: `"local.ndb"`,
            accepted: /a name no other signature file has/,
            construct: n =>
                server(n, {
                    antivirus: {
                        enabled: true,
                        signatures: [
                            { name: "local.ndb", content: "A:0:*:41" },
                            { name: "local.ndb", content: "B:0:*:42" },
                        ],
                    },
                }),
        },
        {
            what: "a kept DKIM key said to be of another algorithm than its selector's",
            label: "VirtualDomain bad-114",
            field: "dkimKeys[0].algorithm",
            shown: `"rsa"`,
            accepted: /expected ed25519: selector mail-ed25519 is this domain's ed25519 key/,
            construct: n =>
                domain(n, { dkimKeys: [{ selector: "mail-ed25519", algorithm: "rsa", privateKeyPem: ED25519_PEM }] }),
        },
        {
            what: "a DKIM key that is not of the algorithm it is given as (the key is never shown)",
            label: "VirtualDomain bad-115",
            field: "dkimKeys[0].privateKeyPem",
            shown: `"(a secret)"`,
            accepted: /expected an rsa key, got an ed25519 key/,
            construct: n =>
                domain(n, { dkimKeys: [{ selector: "mail", algorithm: "rsa", privateKeyPem: ED25519_PEM }] }),
        },
        {
            what: "DKIM keys given while DKIM is off",
            label: "VirtualDomain bad-116",
            field: "dkimKeys[0].selector",
            shown: `"mail"`,
            accepted: /no DKIM keys with dkim: false/,
            construct: n =>
                domain(n, {
                    dkim: false,
                    dkimKeys: [{ selector: "mail", algorithm: "ed25519", privateKeyPem: ED25519_PEM }],
                }),
        },
        {
            what: "a namePrefix other than the deployed stack's, which would leave its data volumes behind",
            label: "MailServer bad-117",
            field: "namePrefix",
            shown: `"bad-117"`,
            accepted:
                /expected "mail-old", the prefix of the deployed stack: its data volumes \(mail-old-queue, .*mail-old-mail.*\) are named by it.*allowNamePrefixChange: true/,
            construct: n => server(n, { previousNamePrefix: "mail-old" }),
        },
        {
            what: "a backup without the repository's password",
            label: "MailServer bad-118",
            field: "backup.password",
            shown: "(missing)",
            accepted: /the repository's password \(a Pulumi secret\) when backup\.enabled is true/,
            construct: n => server(n, { backup: { enabled: true } }),
        },
        {
            what: "a backup repository restic does not know",
            label: "MailServer bad-119",
            field: "backup.repository",
            shown: `"ftp://backup.example.net/mail"`,
            accepted:
                /"volume".*"sftp:user@host:\/path", "s3:https:\/\/host\/bucket\/path" or "rest:https:\/\/host:port\/path"/,
            construct: n =>
                server(n, {
                    backup: { enabled: true, repository: "ftp://backup.example.net/mail", password: PASSWORD },
                }),
        },
        {
            what: "credentials in the backup repository's URL, which previews would show",
            label: "MailServer bad-120",
            field: "backup.repository",
            shown: `"(not shown: it holds credentials)"`,
            accepted: /without user:password@: give them in backup\.restUsername\/restPassword/,
            construct: n =>
                server(n, {
                    backup: {
                        enabled: true,
                        repository: `rest:https://u:${PASSWORD}@backup.example.net/`,
                        password: PASSWORD,
                    },
                }),
        },
        {
            what: "an s3 backup repository without its keys",
            label: "MailServer bad-121",
            field: "backup.s3AccessKeyId",
            shown: "(missing)",
            accepted: /a value with a s3 repository \(s3:https:\/\/s3\.example\.net\/mail\)/,
            construct: n =>
                server(n, {
                    backup: { enabled: true, repository: "s3:https://s3.example.net/mail", password: PASSWORD },
                }),
        },
        {
            what: "a backup retention that keeps nothing",
            label: "MailServer bad-122",
            field: "backup.keep",
            shown: `{"last":0,"hourly":0,"daily":0,"weekly":0,"monthly":0,"yearly":0}`,
            accepted: /at least one snapshot kept by some rule/,
            construct: n =>
                server(n, { backup: { enabled: true, password: PASSWORD, keep: { daily: 0, weekly: 0, monthly: 0 } } }),
        },
        {
            what: "a password in an SFTP backup location, which previews would show (SFTP logs in with a key)",
            label: "MailServer bad-123",
            field: "backup.repository",
            shown: `"(not shown: it holds a password)"`,
            accepted: /expected sftp:user@host:\/path without a password: SFTP logs in with backup\.sftpPrivateKey/,
            construct: n =>
                server(n, {
                    backup: {
                        enabled: true,
                        repository: `sftp://mail:${PASSWORD}@backup.example.net:2222//srv/mail`,
                        password: PASSWORD,
                    },
                }),
        },
        {
            what: "alerts without the metrics they are made from",
            label: "MailServer bad-124",
            field: "monitoring.alerts",
            shown: "true",
            accepted: /expected false with monitoring.metrics false/,
            construct: n => server(n, { monitoring: { alerts: true } }),
        },
        {
            what: "an alert delay that is not a Prometheus duration",
            label: "MailServer bad-125",
            field: "monitoring.thresholds.deferredFor",
            shown: `"15 minutes"`,
            accepted: /expected a Prometheus duration/,
            construct: n => server(n, { monitoring: { metrics: true, thresholds: { deferredFor: "15 minutes" } } }),
        },
        {
            what: "a metrics port that Postfix already listens on",
            label: "MailServer bad-126",
            field: "monitoring.ports.node",
            shown: "25",
            accepted: /port 25 is already used by ports.smtp/,
            construct: n => server(n, { monitoring: { metrics: true, ports: { node: 25 } } }),
        },
        {
            what: "alert mail to an address this server does not receive for",
            label: "MailServer bad-127",
            field: "monitoring.alertRecipient",
            shown: `"ops@elsewhere.example"`,
            accepted: /expected a mailbox or alias of this server's domains/,
            construct: n =>
                server(n, { monitoring: { metrics: true, alerts: true, alertRecipient: "ops@elsewhere.example" } }),
        },
        {
            what: "a metrics address that is a name, not an address",
            label: "MailServer bad-128",
            field: "monitoring.address",
            shown: `"localhost"`,
            accepted: /expected an IPv4 or IPv6 address/,
            construct: n => server(n, { monitoring: { metrics: true, address: "localhost" } }),
        },
        {
            what: "a full-volume threshold of 100 %, which can never be exceeded",
            label: "MailServer bad-129",
            field: "monitoring.thresholds.volumeFullPercent",
            shown: "100",
            accepted: /expected a whole number from 1 to 99/,
            construct: n => server(n, { monitoring: { metrics: true, thresholds: { volumeFullPercent: 100 } } }),
        },
        {
            what: "PROXY listeners trusting the whole Internet as the balancer",
            label: "MailServer bad-130",
            field: "proxyProtocol.trustedNetworks[0]",
            shown: `"0.0.0.0/0"`,
            accepted: /whole IPv4 Internet.*list the balancer's own addresses/,
            construct: n =>
                server(n, {
                    ...behindBalancer,
                    proxyProtocol: { listeners: ["smtp"], trustedNetworks: ["0.0.0.0/0"] },
                }),
        },
        {
            what: "PROXY listeners while Postfix listens on every address",
            label: "MailServer bad-131",
            field: "inetInterfaces[0]",
            shown: `"all"`,
            accepted: /expected loopback or private addresses only while proxyProtocol.listeners is set/,
            construct: n => server(n, { ...behindBalancer, inetInterfaces: ["all"] }),
        },
        {
            what: "a Dovecot PROXY listener that is off",
            label: "DovecotImap bad-132",
            field: "proxyProtocol.listeners[0]",
            shown: `"pop3s"`,
            accepted: /expected a listener that is on: ports.pop3s is 0/,
            construct: n =>
                new c.DovecotImap(n, {
                    mailServer: server(`mx-for-${n}`, behindBalancer),
                    proxyProtocol: { listeners: ["pop3s"] },
                }),
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
