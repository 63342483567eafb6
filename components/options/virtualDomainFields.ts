// What VirtualDomain's declarations are made of: the kinds of value its options take (addresses,
// selectors, SPF, plain text) and its nested option groups (mailboxes, vacation, filing rules,
// aliases, forwards, client ports).
import { Validator } from "../model/validator";
import { LOGIN_OPTIONS } from "./login";
import { canonicalAddress, notPublicReason } from "../model/net";
import type { Input } from "@pulumi/pulumi";
import { boolean, integer, list, object, oneOf, passthrough, required, text } from "./declare";

/** Same limit as Dovecot's sieve_max_script_size default. */
export const MAX_SIEVE_SCRIPT = 1024 * 1024;

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

export const localOrAddress = (doc: string) => text({ doc, accepted: "expected a local part or an address" });
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
    shard: integer({
        doc:
            "DovecotImap on Kubernetes with kubernetes.shards: the backend (0 .. shards-1) that holds this mailbox, " +
            "instead of the one a hash of its address picks; set it to move the mailbox (docs/kubernetes.md)",
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 0 && x < 64
                ? x
                : v.fail(f, x, "expected a shard number from 0 to 63 (below DovecotImap kubernetes.shards)"),
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

export const DMARC_POLICIES = ["none", "quarantine", "reject"] as const;
export const MTA_STS_MODES = ["none", "testing", "enforce"] as const;
/** "-ed25519" is appended to a selector; the result must be one DNS label (63 bytes). */
const MAX_SELECTOR = 63 - "-ed25519".length;

export function dkimSelector(v: Validator, f: string, x: string): string {
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
export function spfPolicy(v: Validator, f: string, x: string): string {
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

export function publicAddress(v: Validator, f: string, x: string): string {
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

/** A DNS selector as given whole (an imported key's), e.g. docker-mailserver's "mail": one DNS label. */
export function dnsSelector(v: Validator, f: string, x: string): string {
    if (typeof x !== "string" || x.length > 63 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(x))
        v.fail(f, x, "expected a selector of lower-case letters, digits and inner hyphens, at most 63 long");
    return x;
}

export const DKIM_KEY_ALGORITHMS = ["rsa", "ed25519"] as const;

/** A DKIM private key kept from another stack or imported from another server. */
export const DKIM_KEY_OPTIONS = {
    selector: required(
        text({
            doc:
                'The selector as published (`<selector>._domainkey`): one of this domain\'s own ("mail-rsa") replaces the key ' +
                'it would make; another ("mail" from docker-mailserver) signs too, and its record is in dnsRecords',
            check: dnsSelector,
        }),
    ),
    algorithm: required(
        oneOf("DkimKeyAlgorithm", DKIM_KEY_ALGORITHMS, {
            doc: "The key's algorithm: rsa (at least 1024 bits) or ed25519; checked against the key",
        }),
    ),
    privateKeyPem: required(
        passthrough<Input<string>, { doc: string }>(
            "pulumi.Input<string>",
            { type: "string", secret: true },
            { doc: "The private key (PEM, PKCS#1 or PKCS#8), a Pulumi secret" },
        ),
    ),
};
