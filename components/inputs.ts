// What each component registers as its own inputs: its validated settings, named as in its args,
// and (components/services, fileInputs) the text of the files it deploys. Component inputs are
// what `pulumi preview --diff` shows of a component (a multi-line string line by line) and what
// policies read before any container exists; the config jobs' uploads cannot serve either
// purpose, as one secret file makes the whole list "[secret]". Pure: the components add the
// password hashes themselves, as Pulumi secrets. test/components/inputs.test.ts checks that every
// declared option reaches them.
import type { BackupSettings } from "./model/backup";
import type { DnsSpec } from "./model/dns";
import { relayImplicitTls } from "./model/relay";
import type { MailServerSettings, TlsSettings } from "./model/settings";
import { DomainSpec, DovecotSpec, RelayhostSpec } from "./model/spec";
import { DEFAULT_VALIDITY_HOURS } from "./options/tls";
import type { DkimSettings } from "./options/virtualDomain";

/**
 * The certificate settings as MailServer registers them: the way the certificate is obtained,
 * with defaults applied, and the (public) certificates given; never a private key.
 */
export function tlsSettings(tls: TlsSettings) {
    if (tls.certPem !== undefined) return { certPem: tls.certPem };
    if (tls.acme) {
        // dns-01 fields only with dns-01; of the credentials only their names, never a value.
        const { dnsProvider, dnsSettings, dnsCredentials, dnsResolvers, dnsCheckAllNameservers, ...acme } = tls.acme;
        if (acme.challenge !== "dns-01") return { acme };
        const { httpPort: _port, httpAddress: _address, ...common } = acme;
        return {
            acme: {
                ...common,
                dnsProvider,
                dnsSettings: dnsSettings ?? {},
                dnsCredentialNames: Object.keys(dnsCredentials ?? {}).sort(),
                dnsResolvers: dnsResolvers ?? [],
                dnsCheckAllNameservers: dnsCheckAllNameservers ?? true,
            },
        };
    }
    if (tls.ca)
        return { ca: { certPem: tls.ca.certPem, validityHours: tls.ca.validityHours }, keyAlgorithm: tls.keyAlgorithm };
    return {
        selfSigned: { validityHours: tls.selfSigned?.validityHours ?? DEFAULT_VALIDITY_HOURS },
        keyAlgorithm: tls.keyAlgorithm,
    };
}

/** A relay as MailServer and Relayhost register it: never its credentials, only whether it has some. */
export function relayhostSettings(r: RelayhostSpec) {
    return {
        host: r.host,
        port: r.port,
        implicitTls: relayImplicitTls(r),
        tlsPolicy: r.tlsPolicy,
        senderDomains: r.senderDomains,
        hasCredentials: r.hasCredentials,
    };
}

/** MailServer's settings after validation, defaults applied, named as in MailServerArgs. */
export function mailServerSettings(d: MailServerSettings) {
    const p = d.postfix;
    return {
        mode: p.mode,
        hostname: p.hostname,
        // Each VirtualDomain registers its own mailboxes and aliases.
        domains: p.domains.map(x => x.name),
        relayhosts: p.relayhosts.map(relayhostSettings),
        adminAddress: p.adminAddress,
        myorigin: p.myorigin,
        mydestination: p.mydestination,
        mynetworks: p.mynetworks,
        inetInterfaces: p.inetInterfaces,
        inetProtocols: p.inetProtocols,
        relayDomains: p.relayDomains,
        relayRecipients: p.relayRecipients,
        transports: p.transports ?? [],
        users: d.users,
        messageSizeLimit: p.messageSizeLimit,
        maximalQueueLifetime: p.maximalQueueLifetime,
        bounceQueueLifetime: p.bounceQueueLifetime,
        delayWarningTime: p.delayWarningTime,
        masqueradeDomains: p.masqueradeDomains,
        notifyClasses: p.notifyClasses,
        authRateLimit: p.authRateLimit,
        disableVrfy: p.disableVrfy,
        dns: d.dns,
        peernameLookup: p.peernameLookup,
        recipientDelimiter: p.recipientDelimiter,
        ports: p.ports,
        networkMode: d.placement.networkMode,
        publishAddress: d.placement.publishAddress,
        namePrefix: d.prefix,
        restart: d.restart,
        tls: tlsSettings(d.tls),
        spamFilter: d.spamFilter,
        // trustedCaPem only when given, as an undefined value is none a Struct can hold.
        outboundTls: (({ trustedCaPem, ...rest }) => ({ ...rest, ...(trustedCaPem ? { trustedCaPem } : {}) }))(
            d.outboundTls,
        ),
        // organization and address only when given.
        reports: Object.fromEntries(Object.entries(d.reports).filter(([, x]) => x !== undefined)),
        // Only when set (a stack on Docker registers what it did before); storageClassName only when given.
        ...(d.kubernetes
            ? { kubernetes: Object.fromEntries(Object.entries(d.kubernetes).filter(([, x]) => x !== undefined)) }
            : {}),
        // Only when on, so that servers without it register what they did before.
        ...(d.antivirus.enabled ? { antivirus: d.antivirus } : {}),
        ...(d.monitoring.metrics ? { monitoring: d.monitoring } : {}),
        ...(d.proxyProtocol.listeners.length > 0 || d.proxyProtocol.trustedNetworks.length > 0
            ? { proxyProtocol: d.proxyProtocol }
            : {}),
        // Only when on; of the secrets only which are given, never a value.
        ...(d.backup.enabled ? { backup: backupSettings(d.backup) } : {}),
        // Only when a domain is served, so that servers without the endpoint register what they did before.
        ...(d.wellKnown
            ? {
                  wellKnown: {
                      httpsPort: d.wellKnown.httpsPort,
                      ...(d.wellKnown.address !== undefined ? { address: d.wellKnown.address } : {}),
                  },
              }
            : {}),
        // Only when given, as an undefined value is none a Struct can hold.
        ...(p.outboundAddress !== undefined ? { outboundAddress: p.outboundAddress } : {}),
    };
}

/** The backup as MailServer registers it: its schedule, retention and location; never a secret's value. */
export function backupSettings(b: BackupSettings) {
    const { password, s3AccessKeyId, s3SecretAccessKey, restUsername, restPassword, sftpPrivateKey, ...shown } = b;
    const given = { password, s3AccessKeyId, s3SecretAccessKey, restUsername, restPassword, sftpPrivateKey };
    return {
        ...shown,
        sftpKnownHosts: b.sftpKnownHosts ?? "",
        secretsGiven: Object.entries(given)
            .filter(([, x]) => x !== undefined)
            .map(([k]) => k),
    };
}

/** DovecotImap's settings after validation, defaults applied. */
export function dovecotSettings(spec: DovecotSpec) {
    return {
        ports: spec.ports,
        listen: spec.listen,
        publishAddress: spec.publishAddress,
        vacation: spec.vacation,
        bruteForce: spec.bruteForce ? { enabled: true, ...spec.bruteForce } : { enabled: false },
        // Only when on, so that stores without it register what they did before.
        ...(spec.proxyProtocol ? { proxyProtocol: spec.proxyProtocol } : {}),
    };
}

/** VirtualDomain's settings after validation (addresses qualified and lower-cased), without passwords or keys. */
export function domainSettings(spec: DomainSpec, dns: Omit<DnsSpec, "dkimKeys">, dkim: DkimSettings) {
    return {
        domain: spec.name,
        mailboxes: spec.mailboxes.map(m => ({
            address: m.address,
            ...(m.quota !== undefined ? { quota: m.quota } : {}),
            ...(m.shard !== undefined ? { shard: m.shard } : {}),
            aliases: m.aliases,
            ...(m.sieve?.script !== undefined ? { sieveScript: m.sieve.script } : {}),
            ...(m.sieve?.vacation
                ? {
                      vacation: {
                          subject: m.sieve.vacation.subject,
                          body: m.sieve.vacation.body,
                          ...(m.sieve.vacation.days !== undefined ? { days: m.sieve.vacation.days } : {}),
                      },
                  }
                : {}),
            ...(m.sieve && m.sieve.fileInto.length > 0 ? { fileInto: m.sieve.fileInto } : {}),
        })),
        aliases: spec.aliases,
        ...(spec.catchAll !== undefined ? { catchAll: spec.catchAll } : {}),
        forwards: spec.forwards,
        mxHosts: dns.mxHosts,
        spf: dns.spf,
        dkim: dkim.enabled,
        dkimSelector: dkim.selector,
        dkimRetiredSelectors: dkim.retiredSelectors,
        // Which selectors use a given key (never the key); only when some do, as before otherwise.
        ...(dkim.given.length > 0
            ? { dkimKeys: dkim.given.map(k => ({ selector: k.selector, algorithm: k.algorithm })) }
            : {}),
        dmarcPolicy: dns.dmarc.policy,
        dmarcPercent: dns.dmarc.percent,
        ...(dns.dmarc.reportAddress !== undefined ? { dmarcReportAddress: dns.dmarc.reportAddress } : {}),
        mtaStsMode: dns.mtaSts.mode,
        mtaStsMaxAge: dns.mtaSts.maxAge,
        mtaStsPublished: dns.mtaSts.published,
        ...(dns.tlsReportAddress !== undefined ? { tlsReportAddress: dns.tlsReportAddress } : {}),
        clientHost: dns.clientHost,
        clientPorts: dns.clientPorts,
        mailHostAddresses: dns.mailHostAddresses,
        // Only when set, so that domains without it register what they did before.
        ...(dns.wellKnown ? { wellKnown: true } : {}),
    };
}
