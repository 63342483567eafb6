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
