// VirtualDomain's options, declared once, and the rules that span them (validateVirtualDomain).
import type { Input } from "@pulumi/pulumi";
import type { PasswordHashCache } from "../model/password";
import { SIEVE_EXTENSIONS, sieveRequires } from "../model/sieve";
import {
    AliasSpec,
    DkimSelectorSpec,
    DomainSpec,
    FileIntoSpec,
    ForwardSpec,
    MailboxSpec,
    SieveSpec,
} from "../model/spec";
import { Validator } from "../model/validator";
import { LOGIN_OPTIONS } from "./login";
import { canonicalAddress, notPublicReason } from "../model/net";
import type { ClientPorts, DnsSpec } from "../model/dns";
import { boolean, integer, list, object, oneOf, passthrough, readOptions, required, text, Values } from "./declare";

/** Same limit as Dovecot's sieve_max_script_size default. */
const MAX_SIEVE_SCRIPT = 1024 * 1024;

/** Text that reaches a Sieve script or a header: never empty, never control characters. */
function plainText(singleLine: boolean) {
    return (v: Validator, f: string, value: string): string => {
        if (value.trim() === "") v.fail(f, value, "expected a non-empty string");
        if (singleLine && /[\r\n]/.test(value)) v.fail(f, value, "expected a single line (no line breaks)");
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value))
            v.fail(f, value, "expected text without control characters");
        return value;
    };
}

const localOrAddress = (doc: string) => text({ doc, accepted: "expected a local part or an address" });
const addressList = (doc: string) =>
    list(text({ doc: "An address", check: (v, f, x) => v.address(f, x) }), {
        doc,
        nonEmpty: "expected one or more target addresses",
    });

export const VACATION_OPTIONS = {
    subject: required(
        text({ doc: "Subject of the reply", accepted: "expected a non-empty string", check: plainText(true) }),
    ),
    body: required(
        text({ doc: "Plain-text body of the reply", accepted: "expected a non-empty string", check: plainText(false) }),
    ),
    days: {
        ...integer({
            doc: "Days before the same sender is answered again",
            check: (v, f, x) => v.positiveInteger(f, x, "expected a whole number of days > 0, e.g. 7"),
        }),
        defaultText: "DovecotImap's `vacation.defaultPeriod`",
    },
};

export const FILE_INTO_OPTIONS = {
    header: required(
        text({
            doc: 'Header to look at, e.g. "Subject", "From" or "List-Id"',
            accepted: 'expected a header name such as "Subject", "From" or "List-Id"',
            check: (v, f, x) =>
                /^[!-9;-~]+$/.test(x)
                    ? x
                    : v.fail(f, x, 'expected a header name such as "Subject", "From" or "List-Id"'),
        }),
    ),
    contains: required(
        text({ doc: "Text the header must contain (ASCII letters match case-insensitively)", check: plainText(true) }),
    ),
    folder: required(
        text({
            doc: 'Folder that receives the message, e.g. "Lists/dev"; created and subscribed when missing',
            accepted: "expected a non-empty string",
            check: (v, f, x) => {
                const folder = plainText(true)(v, f, x);
                if (folder.startsWith("/") || folder.endsWith("/") || folder.includes("//")) {
                    v.fail(f, x, 'expected a folder such as "Lists" or "Lists/dev" ("/" only between names)');
                }
                return folder;
            },
        }),
    ),
};

export const MAILBOX_OPTIONS = {
    address: required(localOrAddress('"alice" or "alice@example.com" (the domain must be this one)')),
    ...LOGIN_OPTIONS,
    quota: text({
        doc: 'Storage quota such as "2G"; over quota, delivery is refused (552 5.2.2) and the sender hears why',
        check: (v, f, x) => v.quota(f, x),
    }),
    aliases: list(localOrAddress("An alias of this domain"), {
        doc: "More addresses of this domain delivered into this mailbox (and usable as its sender)",
        default: [],
    }),
    sieveScript: text({
        doc:
            "A Sieve script run on every delivery, before the owner's ManageSieve script; compiled at deploy. " +
            "Instead of vacation and fileInto",
        accepted: "expected the text of a Sieve script (RFC 5228)",
    }),
    vacation: object("VacationArgs", VACATION_OPTIONS, {
        doc: "An automatic reply: once per sender per period, never to lists, bounces or MAILER-DAEMON",
    }),
    fileInto: list(object("FileIntoArgs", FILE_INTO_OPTIONS, { doc: "A filing rule" }), {
        doc: "File matching messages into folders; the first matching rule wins, the rest go to INBOX",
    }),
};

export const ALIAS_OPTIONS = {
    address: required(localOrAddress('"sales" or "sales@example.com"')),
    targets: required(addressList("One or more addresses, local or external")),
};

export const FORWARD_OPTIONS = {
    address: required(localOrAddress("A mailbox of this domain")),
    targets: required(addressList("Where copies go")),
    keepCopy: boolean({ doc: "Keep a copy in the mailbox too", default: true }),
};

const DMARC_POLICIES = ["none", "quarantine", "reject"] as const;
const MTA_STS_MODES = ["none", "testing", "enforce"] as const;
/** "-ed25519" is appended to a selector; the result must be one DNS label (63 bytes). */
const MAX_SELECTOR = 63 - "-ed25519".length;

function dkimSelector(v: Validator, f: string, x: string): string {
    if (typeof x !== "string" || x.length > MAX_SELECTOR || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(x))
        v.fail(
            f,
            x,
            `expected a selector of lower-case letters, digits and inner hyphens, at most ${MAX_SELECTOR} long`,
        );
    return x;
}

/**
 * An SPF policy: "v=spf1" and terms. "+all" (or a bare "all", whose qualifier is "+") lets every
 * host of the Internet send as the domain, which SPF and DMARC receivers then accept.
 */
function spfPolicy(v: Validator, f: string, x: string): string {
    if (!/^v=spf1( |$)/.test(x)) v.fail(f, x, 'expected an SPF policy starting with "v=spf1"');
    if (x.split(/\s+/).some(term => /^\+?all$/i.test(term)))
        v.fail(
            f,
            x,
            'expected a policy ending in "-all" or "~all": "+all" (or a bare "all") lets every host of the Internet send as the domain, ' +
                "and receivers checking SPF and DMARC would accept its forgeries",
        );
    return x;
}

function publicAddress(v: Validator, f: string, x: string): string {
    const address = canonicalAddress(x);
    if (address === undefined) v.fail(f, x, "expected an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10");
    const why = notPublicReason(address);
    if (why !== undefined) v.fail(f, x, `expected a public address of this server, not ${why}`);
    return address;
}

const clientPort = (doc: string, port: number) =>
    integer({ doc, default: port, check: (v, f, x) => v.port(f, x, true) });

export const CLIENT_PORT_OPTIONS = {
    submission: clientPort("Submission with STARTTLS (_submission._tcp)", 587),
    submissions: clientPort("Submission over implicit TLS (_submissions._tcp)", 465),
    imaps: clientPort("IMAP over implicit TLS (_imaps._tcp)", 993),
    imap: clientPort("IMAP with STARTTLS (_imap._tcp)", 0),
    pop3s: clientPort("POP3 over implicit TLS (_pop3s._tcp)", 0),
    pop3: clientPort("POP3 with STARTTLS (_pop3._tcp)", 0),
};

export const VIRTUAL_DOMAIN_OPTIONS = {
    domain: required(text({ doc: 'The domain, e.g. "example.com"', check: (v, f, x) => v.domain(f, x) })),
    mailboxes: list(object("MailboxArgs", MAILBOX_OPTIONS, { doc: "A mailbox" }), {
        doc: "The domain's mailboxes",
        default: [],
    }),
    aliases: list(object("AliasArgs", ALIAS_OPTIONS, { doc: "An alias" }), {
        doc: "Addresses that deliver to one or more targets, local or external",
        default: [],
    }),
    catchAll: localOrAddress(
        "Where mail to any other address of the domain goes (never takes existing mailboxes or aliases)",
    ),
    forwards: list(object("ForwardArgs", FORWARD_OPTIONS, { doc: "A forward" }), {
        doc: "Mailboxes whose mail is also (or only) sent elsewhere",
        default: [],
    }),
    mxHosts: {
        ...list(text({ doc: "A host name", check: (v, f, x) => v.hostname(f, x) }), {
            doc: "MX hosts dnsRecords publishes, most preferred first",
        }),
        defaultText: '`["mail.<domain>"]`',
    },
    passwordHashCache: passthrough<Input<PasswordHashCache>, { doc: string }>(
        "pulumi.Input<{ [address: string]: PasswordHashCacheEntry }>",
        { type: "object", secret: true },
        {
            doc:
                "The previous deployment's passwordHashCache output (a secret): a hash is computed again only when " +
                "its password changed",
        },
    ),
    spf: text({
        doc: "SPF policy dnsRecords publishes as TXT",
        default: "v=spf1 mx -all",
        check: spfPolicy,
    }),
    dkim: boolean({
        doc: "DKIM: an RSA 2048 and an Ed25519 key (RFC 8463) sign the domain's mail, their TXT records are published; false: no keys, no DKIM records",
        default: true,
    }),
    dkimSelector: text({
        doc: "The signing selector; published as `<selector>-rsa._domainkey` and `<selector>-ed25519._domainkey`",
        default: "mail",
        check: dkimSelector,
    }),
    dkimNextSelector: text({
        doc:
            "The selector of the next rotation: its keys are made and published now, and sign once it becomes " +
            "dkimSelector, so its records are already in DNS when they are needed",
        check: dkimSelector,
    }),
    dkimRetiredSelectors: list(text({ doc: "A former selector", check: dkimSelector }), {
        doc: "Former selectors: their keys and TXT records stay, they no longer sign (rotation: remove them a week later)",
        default: [],
    }),
    dmarcPolicy: oneOf("DmarcPolicy", DMARC_POLICIES, {
        doc: "DMARC policy for mail failing SPF and DKIM alignment: start with none, read the reports, then quarantine, then reject",
        default: "none",
    }),
    dmarcPercent: integer({
        doc: "Share of failing mail (in %) the quarantine or reject policy applies to (DMARC pct), for a gradual start",
        default: 100,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 100
                ? x
                : v.fail(f, x, "expected a whole percentage 1-100"),
    }),
    dmarcReportAddress: {
        ...text({
            doc: "Where DMARC aggregate reports go (rua); an address of this domain must be defined in it",
            check: (v, f, x) => v.address(f, x),
        }),
        defaultText: "`postmaster@<domain>` if this domain defines it, else none",
    },
    mtaStsMode: oneOf("MtaStsMode", MTA_STS_MODES, {
        doc: "MTA-STS mode published in the policy (mtaStsPolicy): testing only reports, enforce refuses to send without valid TLS to the mxHosts",
        default: "testing",
    }),
    mtaStsPolicyServedElsewhere: boolean({
        doc:
            "The MTA-STS policy (the mtaStsPolicy output) is served by a web server of yours at " +
            "https://mta-sts.<domain>/.well-known/mta-sts.txt: dnsRecords publishes _mta-sts without wellKnown " +
            "(without either, no _mta-sts record: senders would look for a policy nothing serves)",
        default: false,
    }),
    mtaStsMaxAge: integer({
        doc: "Seconds senders cache the MTA-STS policy (max_age)",
        default: 604800,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 86400 && x <= 31557600
                ? x
                : v.fail(f, x, "expected whole seconds from 86400 (a day) to 31557600 (a year)"),
    }),
    tlsReportAddress: {
        ...text({
            doc: "Where TLS reports (TLS-RPT) go; an address of this domain must be defined in it",
            check: (v, f, x) => v.address(f, x),
        }),
        defaultText: "`postmaster@<domain>` if this domain defines it, else none",
    },
    wellKnown: boolean({
        doc:
            "Served by the MailServer's HTTPS endpoint (MailServer wellKnown): the MTA-STS policy at " +
            "https://mta-sts.<domain>/.well-known/mta-sts.txt and Thunderbird's autoconfig file at " +
            "https://autoconfig.<domain>/mail/config-v1.1.xml; dnsRecords then has records for both names",
        default: false,
    }),
    clientHost: {
        ...text({ doc: "The host mail clients connect to (SRV targets)", check: (v, f, x) => v.hostname(f, x) }),
        defaultText: "the first of `mxHosts`",
    },
    clientPorts: object("ClientPortsArgs", CLIENT_PORT_OPTIONS, {
        doc: "Ports the SRV records tell mail clients (RFC 6186, RFC 8314); 0 publishes the service as not offered",
        default: {},
    }),
    mailHostAddresses: list(
        text({
            doc: "A public IPv4 or IPv6 address",
            accepted: "expected an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10",
            check: publicAddress,
        }),
        {
            doc: "Public addresses of this server: A/AAAA records of the first MX host and the PTR each address needs",
            default: [],
        },
    ),
};

export type VirtualDomainOptions = Values<typeof VIRTUAL_DOMAIN_OPTIONS>;

export interface DkimSettings {
    enabled: boolean;
    /** The signing selector, before its "-rsa"/"-ed25519" suffix. */
    selector: string;
    retiredSelectors: string[];
    /** Published ahead of a rotation, not signing yet. */
    nextSelector?: string;
}

export interface VirtualDomainSettings {
    spec: DomainSpec;
    dkim: DkimSettings;
    /** What dnsRecords publishes, but the DKIM keys, which the component makes. */
    dns: Omit<DnsSpec, "dkimKeys">;
}

/** The domain's validated settings: the renderers' DomainSpec and what dnsRecords publishes. */
export function validateVirtualDomain(v: Validator, args: unknown): VirtualDomainSettings {
    if (typeof args !== "object" || args === null) v.fail("args", args, 'expected an object with at least "domain"');
    const o = readOptions(v, VIRTUAL_DOMAIN_OPTIONS, args);
    const domain = o.domain;
    const qualify = (field: string, value: string): string => {
        const address = v.address(field, value.includes("@") ? value : `${value}@${domain}`);
        if (!address.endsWith(`@${domain}`)) v.fail(field, value, `expected an address of this domain (…@${domain})`);
        return address;
    };
    const taken = new Map<string, string>();
    const claim = (field: string, address: string) => {
        const previous = taken.get(address);
        if (previous)
            v.fail(field, address, `this address is already defined by ${previous}; each address may be defined once`);
        taken.set(address, field);
    };

    const mailboxes: MailboxSpec[] = o.mailboxes.map((m, i) => {
        const address = qualify(`mailboxes[${i}].address`, m.address);
        claim(`mailboxes[${i}].address`, address);
        const aliases = m.aliases.map((a, j) => {
            const alias = qualify(`mailboxes[${i}].aliases[${j}]`, a);
            claim(`mailboxes[${i}].aliases[${j}]`, alias);
            return alias;
        });
        v.login(`mailboxes[${i}]`, m, "every mailbox needs a password (a Pulumi secret) or a passwordHash");
        const sieve = sieveSpec(v, `mailboxes[${i}]`, m, address, aliases);
        return { address, quota: m.quota, aliases, ...(sieve ? { sieve } : {}) };
    });
    const mailboxSet = new Set(mailboxes.map(m => m.address));

    const aliases: AliasSpec[] = o.aliases.map((a, i) => {
        const address = qualify(`aliases[${i}].address`, a.address);
        claim(`aliases[${i}].address`, address);
        // Errors show the targets as given.
        const given = (args as { aliases: Array<{ targets: unknown }> }).aliases[i].targets;
        if (a.targets.includes(address))
            v.fail(`aliases[${i}].targets`, given, `an alias may not point at itself (${address})`);
        return { address, targets: [...new Set(a.targets)] };
    });

    const forwarded = new Set<string>();
    const forwards: ForwardSpec[] = o.forwards.map((f, i) => {
        const address = qualify(`forwards[${i}].address`, f.address);
        if (!mailboxSet.has(address))
            v.fail(
                `forwards[${i}].address`,
                f.address,
                `expected one of this domain's mailboxes (${[...mailboxSet].join(", ") || "none defined"})`,
            );
        return { address, targets: f.targets, keepCopy: f.keepCopy };
    });
    forwards.forEach((f, i) => {
        if (forwarded.has(f.address))
            v.fail(`forwards[${i}].address`, f.address, "each mailbox may have one forward entry");
        forwarded.add(f.address);
    });

    const catchAll =
        o.catchAll === undefined
            ? undefined
            : v.address("catchAll", o.catchAll.includes("@") ? o.catchAll : `${o.catchAll}@${domain}`);
    // An address receives mail here when a mailbox, a mailbox's alias or an alias defines it, or a catch-all takes it.
    const defined = (address: string) => taken.has(address) || catchAll !== undefined;
    const reportAddress = (field: "dmarcReportAddress" | "tlsReportAddress"): string | undefined => {
        const given = o[field];
        if (given === undefined) return defined(`postmaster@${domain}`) ? `postmaster@${domain}` : undefined;
        if (given.endsWith(`@${domain}`) && !defined(given))
            v.fail(
                field,
                given,
                `expected an address this domain defines (a mailbox, an alias or a catch-all): ${[...taken.keys()].join(", ") || "none defined"}; reports to it would bounce`,
            );
        return given;
    };

    if (o.dkimRetiredSelectors.includes(o.dkimSelector))
        v.fail(
            `dkimRetiredSelectors[${o.dkimRetiredSelectors.indexOf(o.dkimSelector)}]`,
            o.dkimSelector,
            "expected a former selector, not the signing one (dkimSelector)",
        );
    o.dkimRetiredSelectors.forEach((s, i) => {
        if (o.dkimRetiredSelectors.indexOf(s) !== i)
            v.fail(`dkimRetiredSelectors[${i}]`, s, "each selector may be listed once");
    });
    o.mailHostAddresses.forEach((a, i) => {
        if (o.mailHostAddresses.indexOf(a) !== i)
            v.fail(`mailHostAddresses[${i}]`, a, "each address may be listed once");
    });
    if (o.dkimNextSelector !== undefined) {
        if (o.dkimNextSelector === o.dkimSelector)
            v.fail(
                "dkimNextSelector",
                o.dkimNextSelector,
                "expected the selector the domain rotates to, not the signing one (dkimSelector)",
            );
        if (o.dkimRetiredSelectors.includes(o.dkimNextSelector))
            v.fail(
                "dkimNextSelector",
                o.dkimNextSelector,
                "expected a new selector, not a retired one (dkimRetiredSelectors)",
            );
    }
    const dkim = {
        enabled: o.dkim,
        selector: o.dkimSelector,
        retiredSelectors: o.dkimRetiredSelectors,
        nextSelector: o.dkimNextSelector,
    };
    const published = o.wellKnown || o.mtaStsPolicyServedElsewhere;
    const given = args as { mtaStsMode?: unknown };
    if (!published && given.mtaStsMode !== undefined)
        v.fail(
            "mtaStsMode",
            given.mtaStsMode,
            "expected a served policy with it: without wellKnown (the MailServer's HTTPS endpoint) or mtaStsPolicyServedElsewhere " +
                "no _mta-sts record is published, so the mode would do nothing; set one of them, or leave mtaStsMode out",
        );
    if (o.wellKnown && o.mtaStsPolicyServedElsewhere)
        v.fail(
            "mtaStsPolicyServedElsewhere",
            true,
            "expected false with wellKnown: the MailServer's HTTPS endpoint serves the policy (one server answers for mta-sts.<domain>)",
        );
    const mxHosts = o.mxHosts ?? [`mail.${domain}`];
    if (mxHosts.length === 0) v.fail("mxHosts", mxHosts, "expected at least one host name");
    return {
        spec: { name: domain, mailboxes, aliases, catchAll, forwards, dkimSelectors: dkimSelectors(dkim) },
        dkim,
        dns: {
            domain,
            mxHosts,
            spf: o.spf,
            dmarc: {
                policy: o.dmarcPolicy,
                percent: o.dmarcPercent,
                reportAddress: reportAddress("dmarcReportAddress"),
            },
            mtaSts: { mode: o.mtaStsMode, maxAge: o.mtaStsMaxAge, published },
            tlsReportAddress: reportAddress("tlsReportAddress"),
            clientHost: o.clientHost ?? mxHosts[0],
            clientPorts: o.clientPorts as ClientPorts,
            mailHostAddresses: o.mailHostAddresses,
            wellKnown: o.wellKnown,
        },
    };
}

/** The keys of a selector: one per algorithm, each published under its own DNS selector. */
export const DKIM_ALGORITHMS = ["rsa", "ed25519"] as const;

/** The DNS selectors of the signing keys (none when DKIM is off). */
export function dkimSelectors(dkim: DkimSettings): DkimSelectorSpec[] {
    if (!dkim.enabled) return [];
    return DKIM_ALGORITHMS.map(algorithm => ({ selector: `${dkim.selector}-${algorithm}`, algorithm }));
}

/** The renderers' DomainSpec alone (for tests and callers without DNS). */
export function validateDomain(v: Validator, args: unknown): DomainSpec {
    return validateVirtualDomain(v, args).spec;
}

type Mailbox = Values<typeof MAILBOX_OPTIONS>;

function sieveSpec(v: Validator, field: string, m: Mailbox, address: string, aliases: string[]): SieveSpec | undefined {
    if (m.sieveScript === undefined && m.vacation === undefined && m.fileInto === undefined) return undefined;
    // Dovecot finds the script by the address (sieve/<address>.sieve); a "/" would leave that folder.
    if (address.includes("/"))
        v.fail(`${field}.address`, address, 'a mailbox with Sieve rules needs an address without "/"');
    if (m.sieveScript !== undefined) {
        if (m.vacation !== undefined || m.fileInto !== undefined) {
            v.fail(
                `${field}.sieveScript`,
                "(a script)",
                "give either sieveScript or the typed options vacation and fileInto, not both; a script can do both itself",
            );
        }
        const script = m.sieveScript;
        if (script.trim() === "")
            v.fail(`${field}.sieveScript`, script, "expected the text of a Sieve script (RFC 5228)");
        const bytes = Buffer.byteLength(script, "utf8");
        if (bytes > MAX_SIEVE_SCRIPT)
            v.fail(`${field}.sieveScript`, `(${bytes} bytes)`, "expected a script of at most 1 MiB");
        for (const ext of sieveRequires(script)) {
            if (!SIEVE_EXTENSIONS.includes(ext)) {
                v.fail(
                    `${field}.sieveScript`,
                    `require "${ext}"`,
                    `expected only extensions Dovecot's Sieve (Pigeonhole 2.4) supports here: ${SIEVE_EXTENSIONS.join(", ")}`,
                );
            }
        }
        return { script, fileInto: [] };
    }
    const vacation = m.vacation && {
        subject: m.vacation.subject,
        body: m.vacation.body,
        ...(m.vacation.days !== undefined ? { days: m.vacation.days } : {}),
        addresses: aliases,
    };
    const fileInto: FileIntoSpec[] = (m.fileInto ?? []).map(r => ({
        header: r.header,
        contains: r.contains,
        folder: r.folder,
    }));
    return { ...(vacation ? { vacation } : {}), fileInto };
}
