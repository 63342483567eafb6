// Validates VirtualDomain arguments: the declarations (virtualDomain.ts) read and checked, then
// the rules that span them (addresses, Sieve, DKIM selectors, DNS), into the renderers' DomainSpec
// and what dnsRecords publishes.
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
import type { ClientPorts } from "../model/dns";
import { readOptions, Values } from "./declare";
import * as a1 from "./virtualDomainFields";
import * as a2 from "./virtualDomain";

/** The domain's validated settings: the renderers' DomainSpec and what dnsRecords publishes. */
export function validateVirtualDomain(v: Validator, args: unknown): a2.VirtualDomainSettings {
    if (typeof args !== "object" || args === null) v.fail("args", args, 'expected an object with at least "domain"');
    const o = readOptions(v, a2.VIRTUAL_DOMAIN_OPTIONS, args);
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
        return {
            address,
            quota: m.quota,
            aliases,
            ...(sieve ? { sieve } : {}),
            ...(m.shard !== undefined ? { shard: m.shard } : {}),
        };
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
        given: givenDkimKeys(v, o),
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

/** The DNS selectors of the signing keys (none when DKIM is off); given keys of other selectors sign too. */
export function dkimSelectors(dkim: a2.DkimSettings): DkimSelectorSpec[] {
    if (!dkim.enabled) return [];
    return [
        ...DKIM_ALGORITHMS.map(algorithm => ({ selector: `${dkim.selector}-${algorithm}`, algorithm })),
        ...dkim.given.filter(k => !k.own).map(k => ({ selector: k.selector, algorithm: k.algorithm })),
    ];
}

/** The selectors this domain makes keys for: signing, next and retired, each per algorithm. */
function ownSelectors(o: { dkimSelector: string; dkimNextSelector?: string; dkimRetiredSelectors: string[] }) {
    return [o.dkimSelector, ...(o.dkimNextSelector ? [o.dkimNextSelector] : []), ...o.dkimRetiredSelectors].flatMap(s =>
        DKIM_ALGORITHMS.map(algorithm => ({ selector: `${s}-${algorithm}`, algorithm })),
    );
}

/**
 * dkimKeys, checked where that needs no secret: DKIM on, each selector once, and a key for one of
 * the domain's own selectors of that selector's algorithm. The PEMs are checked when they resolve.
 */
function givenDkimKeys(v: Validator, o: Values<typeof a2.VIRTUAL_DOMAIN_OPTIONS>): a2.DkimSettings["given"] {
    if (o.dkimKeys.length > 0 && !o.dkim)
        v.fail("dkimKeys[0].selector", o.dkimKeys[0].selector, "expected no DKIM keys with dkim: false");
    const own = ownSelectors(o);
    return o.dkimKeys.map((k, i) => {
        if (o.dkimKeys.findIndex(x => x.selector === k.selector) !== i)
            v.fail(`dkimKeys[${i}].selector`, k.selector, "each selector may be given one key");
        const mine = own.find(x => x.selector === k.selector);
        if (mine && mine.algorithm !== k.algorithm)
            v.fail(
                `dkimKeys[${i}].algorithm`,
                k.algorithm,
                `expected ${mine.algorithm}: selector ${k.selector} is this domain's ${mine.algorithm} key`,
            );
        return { selector: k.selector, algorithm: k.algorithm, index: i, own: mine !== undefined };
    });
}

/** The renderers' DomainSpec alone (for tests and callers without DNS). */
export function validateDomain(v: Validator, args: unknown): DomainSpec {
    return validateVirtualDomain(v, args).spec;
}

export type Mailbox = Values<typeof a1.MAILBOX_OPTIONS>;

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
        if (bytes > a1.MAX_SIEVE_SCRIPT)
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
