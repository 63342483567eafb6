// Postfix's lookup tables (the config job compiles them with postmap and postalias) and the relay
// passwords' table, from a PostfixSpec. Pure and deterministic.
import { definedAddresses, ROLE_LOCAL_PARTS, senderOwners } from "../model/addresses";
import { paths } from "../model/paths";
import { RelayCredentials, relayNexthop } from "../model/relay";
import { PostfixSpec } from "../model/spec";
import * as p2 from "./postfixShared";

function tableText(entries: Array<[string, string]>): string {
    return p2.HEADER + entries.map(([k, v]) => `${k}\t${v}`).join("\n") + "\n";
}

/** virtual_mailbox_maps: every mailbox address (the value is not used by LMTP delivery). */
export function renderVirtualMailboxes(spec: PostfixSpec): string {
    const entries: Array<[string, string]> = [];
    for (const d of spec.domains) for (const m of d.mailboxes) entries.push([m.address, "OK"]);
    return tableText(entries);
}

/**
 * virtual_alias_maps. Postfix consults it before virtual_mailbox_maps, so a catch-all
 * ("@domain") would swallow real mailboxes; each mailbox therefore maps to itself first.
 */
export function renderVirtualAliases(spec: PostfixSpec): string {
    const entries: Array<[string, string]> = [];
    const own = definedAddresses(spec.domains);
    for (const d of spec.domains) {
        const forwards = new Map(d.forwards.map(f => [f.address, f]));
        for (const m of d.mailboxes) {
            const f = forwards.get(m.address);
            if (f) entries.push([m.address, p2.list(f.keepCopy ? [m.address, ...f.targets] : f.targets)]);
            else entries.push([m.address, m.address]);
            for (const a of m.aliases) entries.push([a, m.address]);
        }
        for (const a of d.aliases) entries.push([a.address, p2.list(a.targets)]);
        for (const role of ROLE_LOCAL_PARTS) {
            const address = `${role}@${d.name}`;
            if (!own.has(address)) entries.push([address, spec.adminAddress]);
        }
        if (d.catchAll) entries.push([`@${d.name}`, d.catchAll]);
    }
    return tableText(entries);
}

/** alias_maps for the local domain (root@$myhostname and friends). */
export function renderSystemAliases(spec: PostfixSpec): string {
    const names = ["postmaster", "root", "abuse", "mailer-daemon", "hostmaster", "webmaster"];
    return p2.HEADER + names.map(n => `${n}: ${spec.adminAddress}`).join("\n") + "\n";
}

/**
 * smtpd_sender_login_maps: which SASL login may use which envelope sender (senderOwners, the
 * ownership rspamd's From-header rule reads too).
 */
export function renderSenderLogins(spec: PostfixSpec): string {
    return tableText(senderOwners(spec.domains).map(([address, logins]) => [address, p2.list(logins)]));
}

export function renderSenderRelays(spec: PostfixSpec): string {
    const entries: Array<[string, string]> = [];
    for (const r of spec.relayhosts) for (const d of r.senderDomains) entries.push([`@${d}`, relayNexthop(r)]);
    return tableText(entries);
}

export function renderRelayRecipients(spec: PostfixSpec): string {
    return tableText(spec.relayRecipients.map(r => [r, "OK"]));
}

/** sender_dependent_default_transport_maps: "@domain transport:[host]:port". */
export function renderSenderTransports(spec: PostfixSpec): string {
    return tableText(p2.senderTransportEntries(spec));
}

/** transport_maps: each MailServer transport, through the smtp client without relay credentials. */
export function renderTransports(spec: PostfixSpec): string {
    return tableText((spec.transports ?? []).map(t => [t.domain, `${p2.DIRECT_TRANSPORT}:${t.nexthop}`]));
}

/** smtp_tls_policy_maps: "[host]:port policy" for every relay. */
export function renderTlsPolicies(spec: PostfixSpec): string {
    const entries = new Map<string, string>();
    for (const r of spec.relayhosts) if (!entries.has(relayNexthop(r))) entries.set(relayNexthop(r), r.tlsPolicy);
    return tableText([...entries]);
}

/** check_sender_access: each of our domains, refused as a sender from outside (see spoofReject). */
export function renderOwnSenderDomains(spec: PostfixSpec): string {
    return tableText(spec.mode === "internet" ? spec.domains.map(d => [d.name, p2.spoofReject(d.name)]) : []);
}

/** check_sender_access on 587 and 465: the null sender (smtpd looks it up as "<>"). */
export function renderSubmissionSenders(spec: PostfixSpec): string {
    return tableText(spec.mode === "internet" ? [["<>", p2.NULL_SENDER_REJECT]] : []);
}

/**
 * header_checks of the submission cleanup: Postfix's own Received line for the submission (client
 * HELO name and address) and the client-identifying headers. Messages arrive from our users
 * without Received lines of their own, so every Received line is that one.
 */
export function renderSubmissionHeaderChecks(): string {
    return (
        p2.HEADER +
        ["Received", "User-Agent", "X-Mailer", "X-Originating-IP"].map(h => `/^${h}:/ IGNORE`).join("\n") +
        "\n"
    );
}

/** Cyrus SASL server config for smtpd: verify passwords through saslauthd's socket. */
export function renderSmtpdSaslConf(): string {
    return [
        "pwcheck_method: saslauthd",
        `saslauthd_path: ${paths.saslauthdDir}/mux`,
        "mech_list: PLAIN LOGIN",
        "",
    ].join("\n");
}

/** All of Postfix's files except the TLS key and the relay passwords (see the component). */
/**
 * smtp_sasl_password_maps. Postfix must present these passwords to the relay, so they cannot be
 * hashed: the component passes them as Pulumi secrets and the file is root-only (0600).
 */
export function renderSaslPasswords(entries: Array<{ nexthop: string; username: string; password: string }>): string {
    return p2.HEADER + entries.map(e => `${e.nexthop}\t${e.username}:${e.password}`).join("\n") + "\n";
}

/**
 * sasl_passwd entries: per-sender relays are looked up by sender address first ("@domain"), the
 * default relay by its next hop. Relays without credentials have none.
 */
export function relaySaslEntries(
    relays: RelayCredentials[],
): Array<{ nexthop: string; username: string; password: string }> {
    return relays.flatMap(({ spec, username, password }) => {
        if (!spec.hasCredentials || username === undefined || password === undefined) return [];
        const keys = spec.senderDomains.length > 0 ? spec.senderDomains.map(d => `@${d}`) : [relayNexthop(spec)];
        return keys.map(nexthop => ({ nexthop, username, password }));
    });
}
