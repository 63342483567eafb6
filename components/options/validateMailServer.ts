// Validates MailServer arguments: the declarations (mailServer.ts) read and checked, then every
// rule that spans options and domains (mailServerRules.ts, spamFilter.ts), into the settings the
// service definitions and renderers read (model/settings.ts).

import { definedAddresses } from "../model/addresses";
import { DomainSpec } from "../model/spec";
import { certificateSpec } from "../model/certificate";
import type { MailServerSettings } from "../model/settings";
import { Validator } from "../model/validator";
import { bridgeGatewayRisk, isLoopbackAddress, parseNetwork } from "../model/net";
import { checkAntivirus } from "./antivirus";
import { checkMonitoring } from "./monitoring";
import { checkBackup } from "./backup";
import { checkOutboundTls, postfixOutboundTls } from "./outboundTls";
import { checkReports } from "./reports";
import { checkProxyProtocol } from "./proxyProtocol";
import { reportsSent } from "../model/reports";
import { readOptions } from "./declare";
import { validateTls } from "./tls";
import * as fields from "./mailServerFields";
import * as declarations from "./mailServer";
import * as rules from "./mailServerRules";

/** Validates MailServer arguments, including every rule that spans options and domains. */
export function validateMailServer(v: Validator, name: string, args: unknown): MailServerSettings {
    if (typeof args !== "object" || args === null) v.fail("args", args, 'expected an object with at least "hostname"');
    const o = readOptions(v, declarations.MAIL_SERVER_OPTIONS, args);
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
    rules.checkAddressGraph(v, domains);

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
    rules.checkRelayhosts(v, relayhosts);
    const transports = rules.checkTransports(v, o.transports, raw.transports, names);
    const users = rules.checkRelayUsers(v, mode, o.users, raw.users);

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
    rules.checkMtaStsCertificate(v, tls, o.domains, hostname);
    const antivirusWarnings = checkAntivirus(v, o.antivirus, spam.enabled);
    const monitoringWarnings = checkMonitoring(v, o.monitoring, { mode, ports, adminAddress, domains });
    checkBackup(v, o.backup);
    checkOutboundTls(v, o.outboundTls, { networkMode: o.networkMode, dns: o.dns });
    const relayForAll = relayhosts.some(r => r.senderDomains.length === 0);
    const sent = reportsSent(o.reports, { ...o, mode, spamFilter: spam.enabled, relayForAll });
    const reportsWarnings = checkReports(v, o.reports, domains, { ...o, sent });
    checkProxyProtocol(v, o.proxyProtocol, { ...o, ports, reportsSent: sent, kubernetes: o.kubernetes != null });
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
    if (o.namePrefix === undefined) declarations.MAIL_SERVER_OPTIONS.namePrefix.check(v, "namePrefix", prefix);
    return {
        prefix,
        restart: o.restart,
        users,
        tls,
        certificate,
        spamFilter: spam,
        antivirus: o.antivirus,
        monitoring: o.monitoring,
        backup: o.backup,
        outboundTls: o.outboundTls,
        reports: o.reports,
        proxyProtocol: o.proxyProtocol,
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
            ...(o.proxyProtocol.listeners.length > 0 ? { proxyListeners: o.proxyProtocol.listeners } : {}),
            domains,
            relayhosts,
            transports,
            milter: spam.enabled,
            outboundAddress: o.outboundAddress,
            certificate,
            outboundTls: postfixOutboundTls(o.outboundTls, sent.tls),
        },
        warnings: [
            ...antivirusWarnings,
            ...monitoringWarnings,
            ...reportsWarnings,
            ...(obsoleteReinject === undefined ? [] : [fields.obsoleteReinjectWarning(name, obsoleteReinject)]),
            ...(o.outboundAddress !== undefined && isLoopbackAddress(o.outboundAddress)
                ? [fields.loopbackOutboundWarning(name, o.outboundAddress)]
                : []),
        ],
    };
}
