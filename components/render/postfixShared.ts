// What Postfix's renderers (postfix.ts, postfixMaster.ts, postfixTables.ts) share: the file header,
// the tables' names, the transports, and the tagged template main.cf and master.cf are written in.
import { paths } from "../model/paths";
import { relayImplicitTls, relayNexthop } from "../model/relay";
import { PostfixSpec } from "../model/spec";

export const C = paths.config;
export const HEADER =
    "# Rendered by the mailserver package (components/render/postfix.ts). Do not edit here:\n" +
    "# every deploy replaces this file. Change the component's arguments instead.\n";

/** Postfix lookup tables this package writes; the config job runs postmap/postalias on them. */
export const postfixTables = {
    virtualMailboxes: "vmailbox",
    virtualAliases: "virtual",
    systemAliases: "aliases",
    senderLogins: "sender_login",
    senderRelays: "sender_relay",
    relayRecipients: "relay_recipients",
    saslPasswords: "sasl_passwd",
    /** sender_dependent_default_transport_maps: per-sender relays whose SMTP client differs from the default one. */
    senderTransports: "sender_transport",
    /** transport_maps: recipient domains with a next hop of their own (MailServer transports). */
    transports: "transport",
    /** smtp_tls_policy_maps: each relay's next hop and its tlsPolicy. */
    tlsPolicies: "tls_policy",
    /** check_sender_access on port 25: our own domains, which only logins and mynetworks may use as sender. */
    ownSenderDomains: "own_sender_domains",
    /** check_sender_access on 587 and 465 (internet mode): the null sender, which no login owns. */
    submissionSenders: "submission_senders",
} as const;

/** header_checks (regexp) of the submission ports' cleanup service: what leaks a user's machine. */
export const SUBMISSION_HEADER_CHECKS = "submission_header_checks";
/** The cleanup service mail from 587 and 465 passes through (master.cf). */
export const SUBMISSION_CLEANUP = "submission-cleanup";
/**
 * The master.cf service of Dovecot's Sieve mail: Postfix names a unix service by its path under
 * the queue's public/ directory, and the image links public/reinject to paths.reinjectDir, a
 * directory of the LMTP volume (images/postfix/service.sh), so the socket is paths.reinjectSocket.
 */
export const REINJECT_SERVICE = "reinject/smtp";
/** What a login that sends with the null envelope sender hears (587 and 465, internet mode). */
export const NULL_SENDER_REJECT =
    "REJECT 5.7.1 The null sender <> is not owned by any login: send with your own address as envelope sender";
/** What a spoofed sender of one of our own domains hears (check_sender_access on port 25). */
export const spoofReject = (domain: string) =>
    `REJECT 5.7.1 Mail from ${domain} is accepted only from its authenticated users (submission, port 587 or 465)`;

export const table = (name: string) => `lmdb:${C}/${name}`;

export function list(values: string[]): string {
    return values.join(", ");
}

/** Which relayhost serves every sender (the one without sender domains), if any. */
export function defaultRelay(spec: PostfixSpec) {
    return spec.relayhosts.find(r => r.senderDomains.length === 0);
}

/** master.cf smtp client for relays with implicit TLS (SMTPS, e.g. port 465). */
export const IMPLICIT_TLS_TRANSPORT = "relay-smtps";
/** master.cf smtp client for MailServer transports: never presents relay credentials. */
export const DIRECT_TRANSPORT = "direct";

/** The master.cf smtp client that talks to this relay. */
export function relayTransport(r: { port: number; implicitTls?: boolean }): string {
    return relayImplicitTls(r) ? IMPLICIT_TLS_TRANSPORT : "smtp";
}

/**
 * Per-sender relays that need another SMTP client than non-local mail gets by default (the
 * default relay's, or plain "smtp"), as sender_dependent_default_transport_maps entries.
 */
export function senderTransportEntries(spec: PostfixSpec): Array<[string, string]> {
    const relay = defaultRelay(spec);
    const fallback = relay ? relayTransport(relay) : "smtp";
    const entries: Array<[string, string]> = [];
    for (const r of spec.relayhosts) {
        if (r.senderDomains.length === 0 || relayTransport(r) === fallback) continue;
        for (const d of r.senderDomains) entries.push([`@${d}`, `${relayTransport(r)}:${relayNexthop(r)}`]);
    }
    return entries;
}

/**
 * Tag for a config file written as its own text: `${value}` interpolates. A line that holds only
 * an interpolation rendering nothing (a `when` block whose condition is false) disappears, like a
 * template engine's `{% if %}` line, and a run of blank lines it leaves becomes one. Trailing
 * blanks go, so `key = ${""}` renders "key =".
 */
export function cf(strings: TemplateStringsArray, ...values: Array<string | number>): string {
    let out = strings[0];
    values.forEach((value, i) => {
        const text = String(value);
        let next = strings[i + 1];
        if (text === "" && /(^|\n)$/.test(out) && /^(\n|$)/.test(next)) next = next.slice(1);
        out += text + next;
    });
    return out.replace(/[ \t]+$/gm, "").replace(/\n{3,}/g, "\n\n");
}

/**
 * A conditional block: when(cond)`...` is its lines if cond holds, else nothing. The newlines
 * right after the opening and before the closing backtick only frame the block.
 */
export function when(cond: boolean) {
    return (strings: TemplateStringsArray, ...values: Array<string | number>): string =>
        cond
            ? cf(strings, ...values)
                  .replace(/^\n/, "")
                  .replace(/\n$/, "")
            : "";
}

export const yesNo = (b: boolean) => (b ? "yes" : "no");

/** The MTA-STS policy daemon serves Postfix's direct deliveries; with a relayhost for everything there are none. */
export function mtaStsActive(spec: PostfixSpec): boolean {
    return spec.outboundTls.mtaSts && defaultRelay(spec) === undefined;
}

/** TLS-RPT: Postfix reports its direct deliveries' TLS results to the collector (reports.tls). */
export function tlsReportsActive(spec: PostfixSpec): boolean {
    return spec.outboundTls.tlsReports && defaultRelay(spec) === undefined;
}
