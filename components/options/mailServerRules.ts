// MailServer's rules on its domains, relays, transports and logins: each checks one concern that
// spans options, and validateMailServer (validateMailServer.ts) calls them in turn.

import { relayImplicitTls, relayNexthop } from "../model/relay";
import { definedAddresses } from "../model/addresses";
import { DomainSpec, RelayhostSpec, TransportSpec } from "../model/spec";
import { isDomain, Validator } from "../model/validator";
import { isIPv4 } from "../model/net";
import type { TlsSettings } from "../model/settings";
import * as fields from "./mailServerFields";
import * as declarations from "./mailServer";

/** Sender domains belong to one relay; relays that share a next hop must agree on how to reach it. */
export function checkRelayhosts(v: Validator, relayhosts: RelayhostSpec[]): void {
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
        declarations.MAIL_SERVER_OPTIONS.transports.check(v, "transports", transports ?? []),
        transports,
        ownDomains,
    );
}

/** Relay users alone (for tests): their lower-cased logins. */
export function validateRelayUsers(v: Validator, mode: string, users: unknown): string[] {
    return checkRelayUsers(v, mode, declarations.MAIL_SERVER_OPTIONS.users.check(v, "users", users ?? []), users);
}

/** One transport per domain, never a domain this server delivers itself; next hops normalised. */
export function checkTransports(
    v: Validator,
    transports: declarations.MailServerOptions["transports"],
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
        const accepted = fields.NEXTHOP_ACCEPTED;
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
export function checkRelayUsers(
    v: Validator,
    mode: string,
    users: declarations.MailServerOptions["users"],
    raw: unknown,
): string[] {
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
export function checkAddressGraph(v: Validator, domains: DomainSpec[]): void {
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

/** Senders that enforce MTA-STS check the MX's certificate against the public CAs. */
export function checkMtaStsCertificate(
    v: Validator,
    tls: TlsSettings,
    domains: fields.DomainOfServer[],
    hostname: string,
): void {
    const selfSigned = tls.ca === undefined && tls.acme === undefined && tls.certPem === undefined;
    if (selfSigned || tls.ca !== undefined)
        domains.forEach((d, i) => {
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
}
