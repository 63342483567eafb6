// The addresses a set of domains defines: one definition for validation and the renderers.
import { DomainSpec } from "./spec";

/** Every role address each domain answers for even when nobody defined it (RFC 5321, RFC 2142). */
export const ROLE_LOCAL_PARTS = ["postmaster", "abuse"] as const;

/**
 * Mailboxes, their aliases and the domains' aliases (not catch-alls); with withRoleAddresses,
 * also postmaster@ and abuse@ of every domain, which exist automatically (they go to adminAddress).
 */
export function definedAddresses(domains: DomainSpec[], opts: { withRoleAddresses?: boolean } = {}): Set<string> {
    const set = new Set<string>();
    for (const d of domains) {
        d.mailboxes.forEach(m => {
            set.add(m.address);
            m.aliases.forEach(a => set.add(a));
        });
        d.aliases.forEach(a => set.add(a.address));
        if (opts.withRoleAddresses) ROLE_LOCAL_PARTS.forEach(role => set.add(`${role}@${d.name}`));
    }
    return set;
}

/**
 * Which logins own which sender address: a mailbox owns its address and its aliases, and an alias
 * of a domain belongs to each mailbox it delivers to (catch-alls and external targets own
 * nothing). One definition for both enforcers: Postfix's smtpd_sender_login_maps (the envelope
 * sender, renderSenderLogins) and rspamd's From-header rule (renderRspamdFiles), so they never
 * disagree. In the order the domains define them.
 */
export function senderOwners(domains: DomainSpec[]): Array<[string, string[]]> {
    const owners = new Map<string, Set<string>>();
    const add = (address: string, login: string) => {
        if (!owners.has(address)) owners.set(address, new Set());
        owners.get(address)!.add(login);
    };
    const mailboxes = new Set(domains.flatMap(d => d.mailboxes.map(m => m.address)));
    for (const d of domains) {
        for (const m of d.mailboxes) {
            add(m.address, m.address);
            m.aliases.forEach(a => add(a, m.address));
        }
        for (const a of d.aliases) for (const t of a.targets) if (mailboxes.has(t)) add(a.address, t);
    }
    return [...owners].map(([address, logins]) => [address, [...logins]]);
}
