// MailServer's options, declared once, and the rules that span options (validateMailServer).

import type { Input } from "@pulumi/pulumi";
import type { PasswordHashCache } from "../model/password";
import { relayImplicitTls, relayNexthop } from "../model/relay";
import { definedAddresses } from "../model/addresses";
import { DomainSpec, RelayhostSpec, TransportSpec } from "../model/spec";
import { certificateSpec } from "../model/certificate";
import type { WebDomain } from "../model/dns";
import type { MailServerSettings, SpamFilterSettings, WellKnownOptionSettings } from "../model/settings";
import { durationSeconds, isDomain, Validator } from "../model/validator";
import { bridgeGatewayRisk, isIP, isIPv4, isLoopbackAddress, notPublicReason, parseNetwork } from "../model/net";
import {
    boolean,
    integer,
    list,
    object,
    oneOf,
    passthrough,
    Pinned,
    readOptions,
    required,
    SameType,
    text,
    Values,
} from "./declare";
import { LOGIN_OPTIONS } from "./login";
import { TLS_OPTIONS, validateTls } from "./tls";
import { IMAGE_OPTIONS } from "./images";

export const MAIL_SERVER_MODES = ["internet", "relay"] as const;
export const NETWORK_MODES = ["bridge", "host"] as const;
export const DNS_MODES = ["available", "none"] as const;
export const NOTIFY_CLASSES = [
    "bounce",
    "2bounce",
    "data",
    "delay",
    "policy",
    "protocol",
    "resource",
    "software",
] as const;

const domainName = (doc: string) => text({ doc, check: (v, f, x) => v.domain(f, x) });
const address = (doc: string) => text({ doc, check: (v, f, x) => v.address(f, x) });
const port = (doc: string, dflt: number) => integer({ doc, default: dflt, check: (v, f, x) => v.port(f, x) });
const postfixTime = (doc: string, dflt: string) =>
    text({ doc, default: dflt, check: (v, f, x) => v.postfixTime(f, x) });
/**
 * How long Postfix retries: "0" would bounce a message at its first temporary failure (a
 * greylisting or busy receiver, a DNS hiccup), which every sender is expected to retry for days.
 */
const queueLifetime = (doc: string, dflt: string) =>
    text({
        doc,
        default: dflt,
        check: (v, f, x) => {
            const seconds = durationSeconds(v.postfixTime(f, x), { unitRequired: false })!;
            if (seconds < MIN_QUEUE_LIFETIME)
                v.fail(
                    f,
                    x,
                    'expected at least "1h" (RFC 5321 asks for 4-5 days, the default "5d"): a shorter lifetime bounces mail at ' +
                        "its first temporary failure (a greylisting or busy receiver), which senders are expected to retry",
                );
            return x;
        },
    });
const MIN_QUEUE_LIFETIME = 3600;
/** Largest accepted messageSizeLimit: Postfix wants 1.5 times it free in the queue, or it refuses all mail. */
export const MAX_MESSAGE_SIZE = 1024 ** 3;
export const MIN_MESSAGE_SIZE = 64 * 1024;
/** Above this many AUTH commands a minute per client, anvil no longer slows a password guesser. */
export const MAX_AUTH_RATE = 1000;
const ipAddress = (doc: string, accepted: string, dflt: string) =>
    text({ doc, accepted, default: dflt, check: (v, f, x) => (isIP(x) ? x : v.fail(f, x, accepted)) });

export const MAIL_SERVER_PORT_OPTIONS = {
    smtp: port("MTA-to-MTA SMTP with optional STARTTLS, no AUTH", 25),
    submission: port("Submission with mandatory STARTTLS and AUTH", 587),
    smtps: port("Submission over implicit TLS", 465),
    reinject: integer({
        doc:
            "Obsolete and ignored (a warning says so): Dovecot's Sieve hands its mail to Postfix over a unix socket " +
            "now, which no network client can reach; remove it",
        check: (v, f, x) => v.port(f, x),
    }),
};

/** What MailServer says when a stack still sets ports.reinject (a port Postfix no longer opens). */
export function obsoleteReinjectWarning(name: string, port: number): string {
    return (
        `MailServer ${name}: ports.reinject (${port}) is obsolete and ignored: Dovecot's Sieve now hands vacation ` +
        "replies, redirects and rejections to Postfix over a unix socket in the volume only the two share, and " +
        "nothing listens on that port any more. Remove ports.reinject from your arguments or stack config."
    );
}

/** A loopback outboundAddress reaches only mail servers on this host's loopback. */
export function loopbackOutboundWarning(name: string, address: string): string {
    return (
        `MailServer ${name}: outboundAddress ${address} is a loopback address: Postfix can then deliver only to ` +
        "mail servers listening on this host's loopback (stacks side by side on one host, tests); every delivery " +
        "to another host fails to connect. Give an address of this host that other mail servers reach."
    );
}

const NEXTHOP_ACCEPTED =
    'expected "[host]:port", "[host]", "host:port" or "host": a fully qualified host name, ' +
    "or an IPv4 address in brackets, and a TCP port 1-65535";

export const TRANSPORT_OPTIONS = {
    domain: required(domainName("A recipient domain of another server")),
    nexthop: required(
        text({
            accepted: NEXTHOP_ACCEPTED,
            doc:
                '"[host]:port", "[host]", "host:port" or "host" (the last two look up MX records); host is a fully ' +
                "qualified name or, in brackets, an IPv4 address",
        }),
    ),
};

export const RELAY_USER_OPTIONS = {
    address: required(address('The login, e.g. "app@example.com" (lower-cased)')),
    ...LOGIN_OPTIONS,
};

const score = (doc: string, dflt: number) =>
    integer({
        doc,
        default: dflt,
        check: (v, f, x) => v.positiveInteger(f, x, "expected a whole rspamd score > 0, e.g. 6"),
    });

const perHour = (doc: string, dflt: number) =>
    integer({
        doc,
        default: dflt,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 1_000_000
                ? x
                : v.fail(f, x, "expected a whole number from 0 (no limit) to 1000000"),
    });

export const SPAM_FILTER_OPTIONS = {
    enabled: boolean({
        doc:
            "rspamd as Postfix's milter (DKIM and ARC signing; SPF, DKIM, DMARC and ARC checks; spam scoring), " +
            "with Valkey for its state",
        default: true,
    }),
    rejectScore: score("Score at which a message is refused at SMTP time (5xx)", 15),
    outboundRejectScore: score(
        "Score at which mail from our own senders (SMTP AUTH logins, mynetworks) is refused (5xx) instead of " +
            "signed and sent, e.g. a phished account's spam",
        10,
    ),
    messagesPerHour: perHour(
        "Messages one SMTP AUTH login may send per hour (a leaky bucket: that many at once, then one every " +
            "hour/limit); the next is deferred (451 4.7.1); 0: no limit",
        100,
    ),
    recipientsPerHour: perHour(
        "Recipients one SMTP AUTH login may send to per hour, counted over all its messages; the message " +
            "that would pass the limit is deferred (451 4.7.1); 0: no limit",
        300,
    ),
    addHeaderScore: score('Score at which a message gets "X-Spam: Yes" and is filed into Junk', 6),
    greylisting: boolean({
        doc: "Greylisting: unknown senders scoring greylistScore or more are told to retry later",
        default: false,
    }),
    greylistScore: score("Score at which greylisting applies (when greylisting is on)", 4),
    dnsbl: boolean({
        doc:
            "DNS blocklists (Spamhaus and others); they refuse queries that come through public resolvers, " +
            "so give nameservers a resolver of your own",
        default: false,
    }),
    nameservers: list(
        text({
            doc: '"address" or "address:port" of a DNS resolver',
            check: (v, f, x) => v.nameserver(f, x),
        }),
        {
            doc: "DNS resolvers rspamd asks (SPF, DKIM, DMARC, DNSBLs); none: the container's /etc/resolv.conf",
            default: [],
        },
    ),
    dnsTimeout: text({
        doc: "How long rspamd waits for one DNS answer before it asks again (rspamd's dns.timeout)",
        default: "1s",
        accepted: 'expected a time such as "500ms" or "2s" (a whole number and ms or s)',
        check: (v, f, x) =>
            /^[1-9]\d*(ms|s)$/.test(x)
                ? x
                : v.fail(f, x, 'expected a time such as "500ms" or "2s" (a whole number and ms or s)'),
    }),
    dnsRetransmits: integer({
        doc: "How often rspamd asks again before a lookup fails (rspamd's dns.retransmits); a lookup waits up to dnsTimeout times this",
        default: 5,
        check: (v, f, x) => v.positiveInteger(f, x, "expected a whole number of retries > 0, e.g. 2"),
    }),
};

export const WELL_KNOWN_OPTIONS = {
    httpsPort: port(
        "Port of the HTTPS endpoint (MTA-STS senders and mail clients always ask 443: forward it here if not 443)",
        443,
    ),
    address: text({
        doc: "Host address of the endpoint (host mode: bound; bridge mode: published on); default: all (publishAddress)",
        accepted: "expected an IP address",
        check: (v, f, x) => (isIP(x) ? x : v.fail(f, x, "expected an IP address such as 0.0.0.0 or 192.0.2.10")),
    }),
};

/** What MailServer reads of a VirtualDomain. */
interface DomainOfServer {
    spec: DomainSpec;
    wellKnown?: WebDomain;
    mtaSts?: { mode: string; mxHosts: string[]; published: boolean };
}

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
    spamFilter: object("SpamFilterArgs", SPAM_FILTER_OPTIONS, {
        doc: "rspamd: signing, inbound checks and spam scoring",
        default: {},
    }),
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
    restart: {
        ...oneOf("RestartPolicy", ["no", "on-failure", "always", "unless-stopped"], {
            doc: 'Docker restart policy of the services ("no" is refused: a mail server must come back by itself)',
            default: "unless-stopped",
        }),
        check: (v: Validator, f: string, x: unknown) => {
            const policy = v.oneOf(f, x, ["no", "on-failure", "always", "unless-stopped"] as const);
            if (policy === "no")
                v.fail(
                    f,
                    x,
                    'expected "unless-stopped" (the default), "always" or "on-failure": with "no" a crashed daemon or a reboot ' +
                        "leaves the mail server down until the next pulumi up, while senders give up and bounce their mail",
                );
            return policy;
        },
    },
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

/** Validates MailServer arguments, including every rule that spans options and domains. */
export function validateMailServer(v: Validator, name: string, args: unknown): MailServerSettings {
    if (typeof args !== "object" || args === null) v.fail("args", args, 'expected an object with at least "hostname"');
    const o = readOptions(v, MAIL_SERVER_OPTIONS, args);
    // Errors show values as given, before lower-casing.
    const raw = args as Record<string, any>;
    const { mode, hostname } = o;
    const domains: DomainSpec[] = o.domains.map(d => d.spec);
    if (mode === "internet" && domains.length === 0)
        v.fail("domains", raw.domains, 'internet mode needs at least one VirtualDomain (or use mode "relay")');
    // Relay mode receives for nobody: its VirtualDomains only sign (DKIM) and publish their records.
    if (mode === "relay")
        domains.forEach((d, i) => {
            const defined = [
                ...d.mailboxes.map(m => m.address),
                ...d.aliases.map(a => a.address),
                ...d.forwards.map(f => f.address),
                ...(d.catchAll ? [d.catchAll] : []),
            ];
            if (defined.length > 0)
                v.fail(
                    `domains[${i}]`,
                    `${d.name} (${defined.join(", ")})`,
                    'relay mode has no mailboxes: a VirtualDomain here only signs its mail (DKIM) and publishes its records; leave its mailboxes, aliases, forwards and catchAll empty, or use mode "internet"',
                );
        });
    const names = new Set<string>();
    domains.forEach((d, i) => {
        if (names.has(d.name)) v.fail(`domains[${i}]`, d.name, "each domain may be given once");
        names.add(d.name);
    });
    checkAddressGraph(v, domains);

    const mydomain = hostname.split(".").slice(1).join(".");
    if (!mydomain.includes("."))
        v.fail("hostname", raw.hostname, "expected a host name inside a domain, such as mail.example.com");
    const mydestination = o.mydestination.map((d, i) => {
        // $myhostname/$mydomain stand for names that must not be virtual domains either.
        const meaning = d === "$myhostname" ? hostname : d === "$mydomain" ? mydomain : undefined;
        if (meaning !== undefined && names.has(meaning)) {
            v.fail(
                `mydestination[${i}]`,
                d,
                `${d} is ${meaning}, a virtual domain, which must not also be in mydestination (choose another hostname, or leave ${d} out of mydestination)`,
            );
        }
        if (meaning !== undefined || d === "localhost") return d;
        const domain = v.domain(`mydestination[${i}]`, d);
        if (names.has(domain))
            v.fail(
                `mydestination[${i}]`,
                d,
                "a virtual domain must not also be in mydestination; it is delivered through Dovecot",
            );
        return domain;
    });
    const local = mydestination.map(m => (m === "$myhostname" ? hostname : m === "$mydomain" ? mydomain : m));
    o.relayDomains.forEach((domain, i) => {
        if (names.has(domain))
            v.fail(
                `relayDomains[${i}]`,
                raw.relayDomains[i],
                `expected another server's domain (backup MX): ${domain} is a VirtualDomain of this server, delivered to its mailboxes`,
            );
        if (local.includes(domain))
            v.fail(
                `relayDomains[${i}]`,
                raw.relayDomains[i],
                `expected a domain that is not delivered here: ${domain} is in mydestination, and a domain is either local or relayed`,
            );
    });
    o.relayRecipients.forEach((r, i) => {
        if (!o.relayDomains.some(d => r.endsWith(`@${d}`)))
            v.fail(
                `relayRecipients[${i}]`,
                raw.relayRecipients[i],
                `expected an address of relayDomains (${o.relayDomains.join(", ") || "none given"})`,
            );
    });
    if (o.networkMode === "bridge") {
        o.mynetworks.forEach((entry, i) => {
            const risk = bridgeGatewayRisk(parseNetwork(entry)!);
            if (risk) v.fail(`mynetworks[${i}]`, raw.mynetworks[i], risk);
        });
        // In its own network namespace Postfix has loopback and the Docker network's address, to
        // which Docker forwards the published ports: any other choice is unreachable.
        if (o.inetInterfaces.length !== 1 || o.inetInterfaces[0] !== "all")
            v.fail(
                "inetInterfaces",
                raw.inetInterfaces,
                'expected ["all"] in bridge mode: Postfix runs in a network namespace of its own, where Docker forwards the published ' +
                    "ports to the container's own address, so listening on loopback or a host address makes it unreachable; choose " +
                    'the host address with publishAddress, or use networkMode "host"',
            );
        if (o.outboundAddress !== undefined)
            v.fail(
                "outboundAddress",
                o.outboundAddress,
                "expected no outboundAddress in bridge mode: the container has only its Docker network's address (Docker's NAT " +
                    'picks the host address), so binding a host address fails every delivery; use networkMode "host"',
            );
    }
    const { reinject: obsoleteReinject, ...ports } = o.ports;
    const seen = new Map<number, string>();
    for (const [k, p] of Object.entries(ports)) {
        if (seen.has(p))
            v.fail(
                `ports.${k}`,
                p,
                `port ${p} is already used by ports.${seen.get(p)}; each service needs its own port`,
            );
        seen.set(p, k);
    }

    const relayhosts = o.relayhosts.map(r => r.spec);
    if (relayhosts.filter(r => r.senderDomains.length === 0).length > 1)
        v.fail(
            "relayhosts",
            relayhosts.map(r => r.host),
            "at most one relayhost may serve all senders (no senderDomains)",
        );
    if (mode === "relay" && !relayhosts.some(r => r.senderDomains.length === 0)) {
        v.fail(
            "relayhosts",
            relayhosts.map(r => r.host),
            "relay mode needs a relayhost without senderDomains: every message leaves through it",
        );
    }
    checkRelayhosts(v, relayhosts);
    const transports = checkTransports(v, o.transports, raw.transports, names);
    const users = checkRelayUsers(v, mode, o.users, raw.users);

    let adminAddress: string;
    if (o.adminAddress !== undefined) {
        adminAddress = o.adminAddress;
        const domain = adminAddress.split("@")[1];
        if (names.has(domain) && !definedAddresses(domains).has(adminAddress))
            v.fail("adminAddress", raw.adminAddress, `expected an existing mailbox or alias of ${domain}`);
    } else if (mode === "internet") {
        const first = domains.flatMap(d => d.mailboxes.map(m => m.address))[0];
        if (first === undefined)
            v.fail(
                "adminAddress",
                undefined,
                "give adminAddress, or define at least one mailbox to receive postmaster and abuse mail",
            );
        adminAddress = first;
    } else {
        adminAddress = `postmaster@${mydomain}`;
    }
    const tls = validateTls(v, raw.tls);
    const spam = o.spamFilter;
    const dnsless = o.dns === "none";
    if (dnsless && o.peernameLookup === true)
        v.fail(
            "peernameLookup",
            true,
            'expected false or nothing with dns "none": there is no DNS to look client names up in',
        );
    if (dnsless && spam.enabled && spam.dnsbl)
        v.fail("spamFilter.dnsbl", true, 'expected false with dns "none": blocklists are DNS lookups');
    if (dnsless && spam.enabled && spam.nameservers.length > 0)
        v.fail(
            "spamFilter.nameservers",
            spam.nameservers,
            'expected none with dns "none" (set dns "available" to have rspamd ask these resolvers)',
        );
    if (spam.enabled && spam.addHeaderScore >= spam.rejectScore)
        v.fail(
            "spamFilter.addHeaderScore",
            spam.addHeaderScore,
            `expected a score below spamFilter.rejectScore (${spam.rejectScore}): mail is filed into Junk before it is refused`,
        );
    if (spam.enabled && spam.greylisting && spam.greylistScore >= spam.addHeaderScore)
        v.fail(
            "spamFilter.greylistScore",
            spam.greylistScore,
            `expected a score below spamFilter.addHeaderScore (${spam.addHeaderScore})`,
        );

    // rspamd is what signs: without it a domain would publish DKIM keys for mail nobody signs.
    if (!spam.enabled) {
        const signed = domains.filter(d => d.dkimSelectors.length > 0).map(d => d.name);
        if (signed.length > 0)
            v.fail(
                "spamFilter.enabled",
                false,
                `expected true while domains publish DKIM keys (${signed.join(", ")}): rspamd is what signs, so their mail would ` +
                    "leave unsigned while DNS says it is signed (DMARC then rests on SPF alone); set dkim: false on those " +
                    "VirtualDomains, or keep spamFilter.enabled",
            );
    }
    // Senders that enforce MTA-STS check the MX's certificate against the public CAs.
    const selfSigned = tls.ca === undefined && tls.acme === undefined && tls.certPem === undefined;
    if (selfSigned || tls.ca !== undefined)
        o.domains.forEach((d, i) => {
            const sts = d.mtaSts;
            if (sts?.published && sts.mode === "enforce" && sts.mxHosts.includes(hostname))
                v.fail(
                    `domains[${i}]`,
                    `${d.spec.name}: mtaStsMode "enforce"`,
                    `expected mtaStsMode "testing" or "none" with a ${selfSigned ? "self-signed certificate" : "certificate of your own CA (tls.ca)"}: ` +
                        `senders enforcing MTA-STS verify ${hostname}'s certificate against the public CAs and would refuse to ` +
                        "deliver any mail; use tls.acme or a publicly trusted tls.certPem first",
                );
        });

    const served = o.domains.flatMap(d => (d.wellKnown ? [d.wellKnown] : []));
    if (served.length > 0) {
        const p = o.wellKnown.httpsPort;
        const taken = [
            ...Object.entries(ports).map(([k, x]) => [`ports.${k}`, x] as const),
            ...(tls.acme ? [["tls.acme.httpPort", tls.acme.httpPort] as const] : []),
        ].find(([, x]) => x === p);
        if (taken)
            v.fail(
                "wellKnown.httpsPort",
                p,
                `port ${p} is already used by ${taken[0]}; the HTTPS endpoint needs its own port`,
            );
    }

    const certificate = certificateSpec(tls.acme !== undefined);
    const prefix = o.namePrefix ?? name;
    if (o.namePrefix === undefined) MAIL_SERVER_OPTIONS.namePrefix.check(v, "namePrefix", prefix);
    return {
        prefix,
        restart: o.restart,
        users,
        tls,
        certificate,
        spamFilter: spam,
        dns: o.dns,
        ...(served.length > 0 ? { wellKnown: { ...o.wellKnown, domains: served } } : {}),
        placement: { networkMode: o.networkMode, publishAddress: o.publishAddress },
        postfix: {
            mode,
            hostname,
            mydomain,
            myorigin: o.myorigin ?? (mode === "internet" ? domains[0]?.name : undefined) ?? mydomain,
            mydestination,
            mynetworks: o.mynetworks,
            inetInterfaces: o.inetInterfaces,
            inetProtocols: o.inetProtocols,
            relayDomains: o.relayDomains,
            relayRecipients: o.relayRecipients,
            messageSizeLimit: o.messageSizeLimit,
            maximalQueueLifetime: o.maximalQueueLifetime,
            bounceQueueLifetime: o.bounceQueueLifetime,
            delayWarningTime: o.delayWarningTime,
            masqueradeDomains: o.masqueradeDomains,
            disableVrfy: o.disableVrfy,
            peernameLookup: o.peernameLookup ?? !dnsless,
            recipientDelimiter: o.recipientDelimiter,
            adminAddress,
            notifyClasses: o.notifyClasses,
            authRateLimit: o.authRateLimit,
            ports,
            domains,
            relayhosts,
            transports,
            milter: spam.enabled,
            outboundAddress: o.outboundAddress,
            certificate,
        },
        warnings: [
            ...(obsoleteReinject === undefined ? [] : [obsoleteReinjectWarning(name, obsoleteReinject)]),
            ...(o.outboundAddress !== undefined && isLoopbackAddress(o.outboundAddress)
                ? [loopbackOutboundWarning(name, o.outboundAddress)]
                : []),
        ],
    };
}

/** Sender domains belong to one relay; relays that share a next hop must agree on how to reach it. */
function checkRelayhosts(v: Validator, relayhosts: RelayhostSpec[]): void {
    const bySender = new Map<string, string>();
    const byNexthop = new Map<string, RelayhostSpec>();
    relayhosts.forEach((r, i) => {
        for (const d of r.senderDomains) {
            const other = bySender.get(d);
            if (other)
                v.fail(
                    `relayhosts[${i}].senderDomains`,
                    d,
                    `expected one relayhost per sender domain (each sender domain may have one relay): ${d} already uses ${other}`,
                );
            bySender.set(d, relayNexthop(r));
        }
        const same = byNexthop.get(relayNexthop(r));
        if (same && (same.tlsPolicy !== r.tlsPolicy || relayImplicitTls(same) !== relayImplicitTls(r))) {
            v.fail(
                `relayhosts[${i}]`,
                relayNexthop(r),
                "expected the same tlsPolicy and implicitTls for relayhosts with the same host and port",
            );
        }
        byNexthop.set(relayNexthop(r), r);
    });
}

const NEXTHOP = /^(?:\[([^\]]+)\]|([^[\]:]+))(?::(\d+))?$/;

/** MailServer transports alone (for tests): checked as validateMailServer checks them. */
export function validateTransports(v: Validator, transports: unknown, ownDomains: Set<string>): TransportSpec[] {
    return checkTransports(
        v,
        MAIL_SERVER_OPTIONS.transports.check(v, "transports", transports ?? []),
        transports,
        ownDomains,
    );
}

/** Relay users alone (for tests): their lower-cased logins. */
export function validateRelayUsers(v: Validator, mode: string, users: unknown): string[] {
    return checkRelayUsers(v, mode, MAIL_SERVER_OPTIONS.users.check(v, "users", users ?? []), users);
}

/** One transport per domain, never a domain this server delivers itself; next hops normalised. */
function checkTransports(
    v: Validator,
    transports: MailServerOptions["transports"],
    raw: unknown,
    ownDomains: Set<string>,
): TransportSpec[] {
    // Errors show the value as given, before lower-casing.
    const given = (i: number) => (raw as Array<{ domain?: unknown }>)[i].domain;
    const seen = new Set<string>();
    return transports.map((t, i) => {
        const domain = t.domain;
        if (ownDomains.has(domain))
            v.fail(
                `transports[${i}].domain`,
                given(i),
                `expected a domain of another server: ${domain} is one of this server's own domains, delivered to its mailboxes`,
            );
        if (seen.has(domain)) v.fail(`transports[${i}].domain`, given(i), "expected one transport per domain");
        seen.add(domain);
        const accepted = NEXTHOP_ACCEPTED;
        const m = NEXTHOP.exec(t.nexthop);
        if (!m) v.fail(`transports[${i}].nexthop`, t.nexthop, accepted);
        const bracketed = m[1] !== undefined;
        const host = (m[1] ?? m[2]).toLowerCase();
        if (!(bracketed && isIPv4(host)) && !isDomain(host)) v.fail(`transports[${i}].nexthop`, t.nexthop, accepted);
        const port = m[3] === undefined ? undefined : Number(m[3]);
        if (port !== undefined && (port < 1 || port > 65535 || m[3] !== String(port)))
            v.fail(`transports[${i}].nexthop`, t.nexthop, accepted);
        return { domain, nexthop: `${bracketed ? `[${host}]` : host}${port === undefined ? "" : `:${port}`}` };
    });
}

/** Relay-mode SMTP AUTH logins: unique, only in relay mode, passwords long enough where known now. */
function checkRelayUsers(v: Validator, mode: string, users: MailServerOptions["users"], raw: unknown): string[] {
    if (users.length > 0 && mode !== "relay") {
        v.fail(
            "users",
            users.map(u => u.address),
            "expected no users in internet mode, where the mailboxes log in; users are the SMTP AUTH logins of a relay-mode server",
        );
    }
    const seen = new Set<string>();
    return users.map((u, i) => {
        if (seen.has(u.address))
            v.fail(`users[${i}].address`, (raw as Array<{ address?: unknown }>)[i].address, "expected each user once");
        seen.add(u.address);
        v.login(`users[${i}]`, u, "expected a password for every user (a Pulumi secret) or a passwordHash");
        return u.address;
    });
}

/** Local alias targets must exist, and aliases must not loop. */
function checkAddressGraph(v: Validator, domains: DomainSpec[]): void {
    const byName = new Map(domains.map(d => [d.name, d]));
    const local = definedAddresses(domains, { withRoleAddresses: true });
    const edges = new Map<string, string[]>();
    domains.forEach((d, i) => {
        const check = (field: string, target: string) => {
            const domain = byName.get(target.split("@")[1]);
            if (domain && !local.has(target) && !domain.catchAll)
                v.fail(field, target, `expected an existing mailbox or alias of ${domain.name}`);
        };
        d.aliases.forEach((a, j) => {
            a.targets.forEach((t, k) => check(`domains[${i}] (${d.name}).aliases[${j}].targets[${k}]`, t));
            edges.set(a.address, a.targets);
        });
        d.forwards.forEach((f, j) =>
            f.targets.forEach((t, k) => check(`domains[${i}] (${d.name}).forwards[${j}].targets[${k}]`, t)),
        );
        // A catch-all receives every dictionary and spam run against the domain: forwarded to another
        // server, that spam leaves under this server's name (and its reputation).
        if (d.catchAll && !byName.has(d.catchAll.split("@")[1]))
            v.fail(
                `domains[${i}] (${d.name}).catchAll`,
                d.catchAll,
                `expected a mailbox or alias of this server's domains (${[...byName.keys()].join(", ")}): a catch-all receives ` +
                    "every spam sent to made-up addresses of the domain, and forwarding that to another server relays it " +
                    "under this server's name, harming its reputation; forward named aliases instead",
            );
        // A catch-all must point at something real: pointing it at itself would accept every
        // address and bounce it later, to forged senders.
        if (d.catchAll && byName.has(d.catchAll.split("@")[1]) && !local.has(d.catchAll)) {
            v.fail(
                `domains[${i}] (${d.name}).catchAll`,
                d.catchAll,
                `expected an existing mailbox or alias of ${d.catchAll.split("@")[1]}`,
            );
        }
        d.forwards.forEach(f =>
            edges.set(
                f.address,
                f.targets.filter(t => t !== f.address),
            ),
        );
        // A mailbox alias delivers into its mailbox, so it is an edge of the graph too.
        d.mailboxes.forEach(m => m.aliases.forEach(a => edges.set(a, [m.address])));
    });
    const state = new Map<string, number>();
    const visit = (node: string, trail: string[]) => {
        if (state.get(node) === 2) return;
        if (state.get(node) === 1)
            v.fail(
                "aliases",
                [...trail.slice(trail.indexOf(node)), node].join(" -> "),
                "aliases and forwards must not form a loop",
            );
        state.set(node, 1);
        for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
        state.set(node, 2);
    };
    for (const node of edges.keys()) visit(node, []);
}
