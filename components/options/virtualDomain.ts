// VirtualDomain's options, declared once (their parts in virtualDomainFields.ts); the rules that span
// them are validateVirtualDomain's (validateVirtualDomain.ts).
import type { Input } from "@pulumi/pulumi";
import type { PasswordHashCache } from "../model/password";
import { DomainSpec } from "../model/spec";
import type { DnsSpec } from "../model/dns";
import { boolean, integer, list, object, oneOf, passthrough, required, text } from "./declare";
import {
    MAILBOX_OPTIONS,
    ALIAS_OPTIONS,
    localOrAddress,
    FORWARD_OPTIONS,
    spfPolicy,
    dkimSelector,
    DMARC_POLICIES,
    MTA_STS_MODES,
    CLIENT_PORT_OPTIONS,
    DKIM_KEY_OPTIONS,
    publicAddress,
} from "./virtualDomainFields";

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
    dkimKeys: list(object("DkimKeyArgs", DKIM_KEY_OPTIONS, { doc: "A DKIM key" }), {
        doc:
            "DKIM private keys to use instead of new ones (Pulumi secrets), so that the records already in DNS " +
            "stay valid: a former stack's (its dkimKeys output) or another server's",
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

export interface DkimSettings {
    enabled: boolean;
    /** The signing selector, before its "-rsa"/"-ed25519" suffix. */
    selector: string;
    retiredSelectors: string[];
    /** Published ahead of a rotation, not signing yet. */
    nextSelector?: string;
    /** Keys given as dkimKeys (their PEMs stay in the arguments, secrets): by full DNS selector. */
    given: Array<{ selector: string; algorithm: "rsa" | "ed25519"; index: number; own: boolean }>;
}

export interface VirtualDomainSettings {
    spec: DomainSpec;
    dkim: DkimSettings;
    /** What dnsRecords publishes, but the DKIM keys, which the component makes. */
    dns: Omit<DnsSpec, "dkimKeys">;
}
