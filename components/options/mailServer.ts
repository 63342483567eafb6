// MailServer's options, declared once (parts in mailServerFields.ts, a file per feature); rules: validateMailServer.ts

import type { Input } from "@pulumi/pulumi";
import type { PasswordHashCache } from "../model/password";
import { RelayhostSpec } from "../model/spec";
import type { MailServerSettings, SpamFilterSettings, WellKnownOptionSettings } from "../model/settings";
import { isIP, notPublicReason } from "../model/net";
import {
    boolean,
    integer,
    list,
    object,
    oneOf,
    passthrough,
    Pinned,
    required,
    SameType,
    text,
    Values,
} from "./declare";
import { TLS_OPTIONS } from "./tls";
import { IMAGE_OPTIONS } from "./images";
import { NAME_PREFIX_GUARD_OPTIONS } from "./namePrefix";
import {
    MAIL_SERVER_MODES,
    DomainOfServer,
    address,
    domainName,
    TRANSPORT_OPTIONS,
    RELAY_USER_OPTIONS,
    MIN_MESSAGE_SIZE,
    MAX_MESSAGE_SIZE,
    queueLifetime,
    postfixTime,
    NOTIFY_CLASSES,
    MAX_AUTH_RATE,
    DNS_MODES,
    MAIL_SERVER_PORT_OPTIONS,
    WELL_KNOWN_OPTIONS,
    NETWORK_MODES,
    ipAddress,
    RESTART_POLICY,
} from "./mailServerFields";
import { ANTIVIRUS_OPTIONS } from "./antivirus";
import { MONITORING_GROUP } from "./monitoring";
import { BACKUP_GROUP } from "./backup";
import { OUTBOUND_TLS_GROUP } from "./outboundTls";
import { REPORTS_GROUP } from "./reports";
import { SPAM_FILTER_OPTIONS } from "./spamFilter";
import { PROXY_PROTOCOL_GROUP } from "./proxyProtocol";
import { KUBERNETES_GROUP } from "./kubernetes";

export const MAIL_SERVER_OPTIONS = {
    mode: oneOf("MailServerMode", MAIL_SERVER_MODES, {
        doc: '"internet": receives mail for its domains and sends out; "relay": no mailboxes, everything leaves via the relayhost',
        default: "internet",
    }),
    hostname: required(
        text({
            doc: "Postfix myhostname: the server's fully qualified name, also the certificate's name",
            check: (v, f, x) => v.hostname(f, x),
        }),
    ),
    domains: passthrough<Array<DomainOfServer>, { doc: string; default: [] }>(
        "VirtualDomain[]",
        { type: "array", items: { type: "object" } },
        {
            doc:
                "The VirtualDomains this server receives for (internet mode needs at least one); in relay mode, " +
                "domains without mailboxes whose mail it signs (DKIM)",
            default: [],
        },
    ),
    relayhosts: passthrough<Array<{ spec: RelayhostSpec }>, { doc: string; default: [] }>(
        "Relayhost[]",
        { type: "array", items: { type: "object" } },
        {
            doc: "Outbound smarthosts: one without senderDomains serves everything; others serve their sender domains",
            default: [],
        },
    ),
    adminAddress: {
        ...address("Receives mail for root, postmaster, abuse, MAILER-DAEMON and every domain's postmaster@/abuse@"),
        defaultText: "the first mailbox",
    },
    myorigin: {
        ...domainName("Postfix myorigin: the domain appended to bare local names"),
        defaultText: "the first domain",
    },
    mydestination: list(text({ doc: 'A local (non-virtual) domain, "$myhostname", "$mydomain" or "localhost"' }), {
        doc: "Postfix mydestination: local (non-virtual) domains; never list a virtual domain",
        default: ["$myhostname", "localhost"],
    }),
    mynetworks: list(text({ doc: "A network in CIDR form", check: (v, f, x) => v.network(f, x) }), {
        doc:
            "Trusted clients that may relay without AUTH (and send as our domains on port 25); a /0 is refused, and in " +
            "bridge mode so is any network overlapping Docker's address pools (clients may arrive from the Docker gateway)",
        default: ["127.0.0.0/8", "[::1]/128"],
    }),
    inetInterfaces: list(
        text({
            doc: '"all", "loopback-only" or an IP address',
            check: (v, f, x) =>
                ["all", "loopback-only"].includes(x) || isIP(x)
                    ? x
                    : v.fail(f, x, 'expected "all", "loopback-only" or an IP address'),
        }),
        {
            doc: "Postfix inet_interfaces: the addresses Postfix listens on",
            default: ["all"],
            nonEmpty: 'expected ["all"], ["loopback-only"] or a list of addresses',
        },
    ),
    inetProtocols: oneOf("InetProtocols", ["all", "ipv4", "ipv6"], { doc: "Postfix inet_protocols", default: "all" }),
    relayDomains: list(domainName("A domain of another server"), {
        doc: "Backup MX: domains accepted for relaying to their own MX",
        default: [],
    }),
    relayRecipients: list(address("An address of relayDomains"), {
        doc: "With relayDomains: the recipients to accept (relay_recipient_maps); none given: every address of those domains",
        default: [],
    }),
    transports: list(object("TransportArgs", TRANSPORT_OPTIONS, { doc: "A domain and its next hop" }), {
        doc:
            "Recipient domains delivered to a fixed next hop (transport_maps), e.g. a backup MX's primary " +
            "`[mx1.example.com]:25`; relay credentials are never offered there",
        default: [],
    }),
    users: list(object("RelayUserArgs", RELAY_USER_OPTIONS, { doc: "An SMTP AUTH login" }), {
        doc: "Relay mode only: SMTP AUTH logins that may relay from anywhere on the submission ports, with any sender",
        default: [],
    }),
    messageSizeLimit: integer({
        doc: "Largest message in bytes, for SMTP and LMTP alike (25 MiB by default; 64 KiB to 1 GiB), counting the headers this server adds (about 3 KB); larger ones get 552",
        default: 26214400,
        check: (v, f, x) => {
            const accepted = `expected a whole number of bytes from ${MIN_MESSAGE_SIZE} (64 KiB) to ${MAX_MESSAGE_SIZE} (1 GiB), e.g. 26214400 for 25 MiB`;
            const bytes = v.positiveInteger(f, x, accepted);
            if (bytes > MAX_MESSAGE_SIZE)
                v.fail(
                    f,
                    x,
                    `${accepted}: Postfix accepts mail only while its queue has 1.5 times the limit free, and answers ` +
                        '"452 Insufficient system storage" to every message otherwise (no other server sends messages that large)',
                );
            if (bytes < MIN_MESSAGE_SIZE)
                v.fail(
                    f,
                    x,
                    `${accepted}: the headers of a message alone take several KB, so ordinary mail would bounce`,
                );
            return bytes;
        },
    }),
    maximalQueueLifetime: queueLifetime("How long to retry before bouncing (at least 1h)", "5d"),
    bounceQueueLifetime: queueLifetime("How long to retry a bounce (at least 1h)", "5d"),
    delayWarningTime: postfixTime('When the sender hears "still trying" ("0h": never)', "4h"),
    masqueradeDomains: list(domainName("A domain"), {
        doc: "Rewrite user@host.example.com to user@example.com for these domains",
        default: [],
    }),
    // Not "bounce" by default: it also mails the admin a transcript of every rejected SMTP session.
    notifyClasses: list(oneOf("NotifyClass", NOTIFY_CLASSES, { doc: "A Postfix notify class" }), {
        doc: 'Which problems adminAddress gets a copy of; "bounce" also sends transcripts of rejected SMTP sessions',
        default: ["2bounce", "delay", "resource", "software"],
    }),
    authRateLimit: integer({
        doc: `AUTH commands one client outside mynetworks may send per minute before Postfix answers 450 (at most ${MAX_AUTH_RATE})`,
        default: 20,
        check: (v, f, x) => {
            const accepted = `expected a whole number of AUTH commands per minute from 1 to ${MAX_AUTH_RATE}`;
            const rate = v.positiveInteger(f, x, accepted);
            if (rate > MAX_AUTH_RATE)
                v.fail(
                    f,
                    x,
                    `${accepted}: at ${rate} a minute a password guesser is not slowed at all (the default, 20, lets a person mistype)`,
                );
            return rate;
        },
    }),
    disableVrfy: boolean({ doc: "Answer VRFY with 502 so addresses cannot be harvested", default: true }),
    dns: oneOf("DnsMode", DNS_MODES, {
        doc:
            '"available": the services look names up (client names, SPF, DKIM, DMARC, ARC, blocklists); "none": the host ' +
            "has no DNS, so inbound checks look nothing up instead of waiting for lookups to time out: clients are known " +
            "by address only and rspamd skips SPF, DKIM and ARC verification, DMARC, blocklists and hostname checks " +
            "(signing and scoring stay); outbound mail still needs DNS or a relayhost given by address",
        default: "available",
    }),
    peernameLookup: {
        ...boolean({
            doc:
                "Postfix smtpd_peername_lookup: look each SMTP client's name up (PTR, confirmed by A/AAAA) for logs, " +
                'Received headers and spam checks; false: every client is "unknown", and no connection waits for DNS',
        }),
        defaultText: 'true; false with dns "none"',
    },
    recipientDelimiter: text({
        doc: 'user+tag@domain delivers to user@domain; "" turns sub-addressing off',
        default: "+",
        accepted: 'expected one of "+", "-", "_", ".", "=" or "" (off)',
        check: (v, f, x) =>
            /^[+\-_.=]?$/.test(x) ? x : v.fail(f, x, 'expected one of "+", "-", "_", ".", "=" or "" (off)'),
    }),
    passwordHashCache: passthrough<Input<PasswordHashCache>, { doc: string }>(
        "pulumi.Input<{ [address: string]: PasswordHashCacheEntry }>",
        { type: "object", secret: true },
        { doc: "The previous deployment's passwordHashCache output (a secret), for the relay users' hashes" },
    ),
    ports: object("MailServerPorts", MAIL_SERVER_PORT_OPTIONS, { doc: "Where each smtpd listens", default: {} }),
    proxyProtocol: PROXY_PROTOCOL_GROUP,
    spamFilter: object("SpamFilterArgs", SPAM_FILTER_OPTIONS, {
        doc: "rspamd: signing, inbound checks and spam scoring",
        default: {},
    }),
    antivirus: object("AntivirusArgs", ANTIVIRUS_OPTIONS, {
        doc: "Virus scanning with ClamAV, off by default",
        default: {},
    }),
    monitoring: MONITORING_GROUP,
    backup: BACKUP_GROUP,
    outboundTls: OUTBOUND_TLS_GROUP,
    reports: REPORTS_GROUP,
    wellKnown: object("WellKnownArgs", WELL_KNOWN_OPTIONS, {
        doc:
            "The HTTPS endpoint (nginx, a container of its own) serving the MTA-STS policy and Thunderbird autoconfig " +
            "file of each VirtualDomain with wellKnown set; it runs only when one has it",
        default: {},
    }),
    outboundAddress: text({
        doc:
            "Address Postfix's SMTP client sends from (smtp_bind_address, or smtp_bind_address6 for IPv6); " +
            "it must be in the domains' SPF records and have a PTR",
        check: (v, f, x) => {
            if (!isIP(x)) v.fail(f, x, "expected an IPv4 or IPv6 address of this host");
            // A loopback address is legitimate between stacks on one host (a warning says so).
            const why = notPublicReason(x);
            if (why !== undefined)
                v.fail(
                    f,
                    x,
                    `expected an address of this host that reaches other mail servers, not ${why}: every delivery would fail to connect`,
                );
            return x;
        },
    }),
    networkMode: oneOf("NetworkMode", NETWORK_MODES, {
        doc: '"bridge": a Docker network of its own, ports published; "host": daemons bind the host\'s addresses (keeps real client IPs)',
        default: "bridge",
    }),
    publishAddress: ipAddress(
        "Host address the published ports bind to in bridge mode",
        "expected an IP address such as 0.0.0.0 or 192.0.2.10",
        "0.0.0.0",
    ),
    tls: object("TlsArgs", TLS_OPTIONS, {
        doc: "Exactly one way to get the server certificate: selfSigned, ca, acme, or certPem + keyPem",
        defaultText: "self-signed",
    }),
    images: object("ImageArgs", IMAGE_OPTIONS, {
        doc: "Prebuilt images, or settings of the builds from images/",
        defaultText: "built from `images/`",
    }),
    namePrefix: {
        ...text({
            doc: "Prefix of container, volume and network names",
            check: (v, f, x) =>
                /^[a-z0-9][a-z0-9_.-]*$/i.test(x)
                    ? x
                    : v.fail(f, x, "expected letters, digits, '.', '_' or '-' (a Docker name)"),
        }),
        defaultText: "the component's name",
    },
    ...NAME_PREFIX_GUARD_OPTIONS,
    restart: RESTART_POLICY,
    kubernetes: KUBERNETES_GROUP,
};

export type MailServerOptions = Values<typeof MAIL_SERVER_OPTIONS>;

/** Marks MailServer instances (set on its prototype), so validation needs no Pulumi import. */
export const MAIL_SERVER_BRAND = Symbol.for("mailserver:index:MailServer");

// The model's settings types are the declarations' values (a compile error otherwise).
export type _SpamFilterPinned = Pinned<SameType<SpamFilterSettings, Values<typeof SPAM_FILTER_OPTIONS>>>;
export type _WellKnownPinned = Pinned<SameType<WellKnownOptionSettings, Values<typeof WELL_KNOWN_OPTIONS>>>;
export type _DnsModePinned = Pinned<SameType<MailServerSettings["dns"], (typeof DNS_MODES)[number]>>;
export type _NetworkModePinned = Pinned<
    SameType<MailServerSettings["placement"]["networkMode"], (typeof NETWORK_MODES)[number]>
>;
