// rspamd: Postfix's milter (DKIM and ARC signing; SPF, DKIM, DMARC and ARC checks; spam scoring;
// the logins' rate limits and From-header ownership), its state in Valkey.
import { senderOwners } from "../model/addresses";
import { reportSender, reportsSent, reportsSmtp } from "../model/reports";
import { defaultRelay } from "../render/postfixShared";
import type { MailServerSettings } from "../model/settings";
import {
    dkimKeyPath,
    DmarcReportingSpec,
    RSPAMD_DB_DIR,
    RSPAMD_MILTER_DIR,
    rspamdDkimKey,
    RspamdSpec,
} from "../render/rspamdShared";
import { renderRspamdFiles } from "../render/rspamd";
import { clamavSpec } from "./clamav";
import { RSPAMD_METRICS_SOCKET } from "../model/monitoring";
import { kubernetesPeers, VALKEY_PORT } from "../model/kubernetes";
import { COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";
import { resolverDns } from "./resolver";

/** rspamd's settings from MailServer's: mynetworks without Postfix's brackets, one entry per signing domain. */
export function rspamdSpec(settings: MailServerSettings): RspamdSpec {
    const f = settings.spamFilter;
    return {
        trustedNetworks: settings.postfix.mynetworks.map(n => n.replace(/^\[([^\]]+)\]/, "$1")),
        nameservers: f.nameservers,
        dnsTimeout: f.dnsTimeout,
        dnsRetransmits: f.dnsRetransmits,
        scanProcesses: f.scanProcesses,
        dnsLookups: settings.dns !== "none",
        rejectScore: f.rejectScore,
        addHeaderScore: f.addHeaderScore,
        outboundRejectScore: f.outboundRejectScore,
        messagesPerHour: f.messagesPerHour,
        recipientsPerHour: f.recipientsPerHour,
        greylisting: f.greylisting,
        greylistScore: f.greylistScore,
        dnsbl: f.dnsbl,
        signing: settings.postfix.domains.map(d => ({ domain: d.name, keys: d.dkimSelectors })),
        // Internet mode: a login's From header is checked against the owners Postfix checks its
        // envelope sender against. Relay mode: its users may send as any sender (documented).
        ...(settings.postfix.mode === "internet" ? { senderOwners: senderOwners(settings.postfix.domains) } : {}),
        recipientDelimiter: settings.postfix.recipientDelimiter,
        ...(settings.antivirus.enabled ? { antivirus: clamavSpec(settings.antivirus) } : {}),
        ...(settings.monitoring.metrics ? { metricsSocket: RSPAMD_METRICS_SOCKET } : {}),
        ...dmarcReporting(settings),
        // Kubernetes: every rspamd replica shares one Valkey, through its Service.
        ...(settings.kubernetes ? { valkeyServer: `${kubernetesPeers(settings.prefix).valkey}:${VALKEY_PORT}` } : {}),
    };
}

/**
 * reports.dmarc: internet mode on the host's network only. Relay mode receives no mail from other
 * domains, so there is nothing to report. In bridge mode rspamd's container reaches Postfix from an
 * address of the stack's network, which mynetworks never covers (it may not overlap Docker's pools):
 * Postfix would refuse to relay the reports to other domains, and rspamd would not sign them.
 */
function dmarcReporting(settings: MailServerSettings): { dmarcReporting?: DmarcReportingSpec } {
    const p = settings.postfix;
    const sent = reportsSent(settings.reports, {
        mode: p.mode,
        networkMode: settings.placement.networkMode,
        spamFilter: settings.spamFilter.enabled,
        relayForAll: defaultRelay(p) !== undefined,
    });
    if (!sent.dmarc) return {};
    const sender = reportSender(settings.reports, p);
    const smtp = reportsSmtp(p);
    return {
        dmarcReporting: {
            email: sender.address,
            domain: sender.address.split("@")[1],
            orgName: sender.organization,
            fromName: sender.organization,
            // Postfix's own address, from which mail is local (mynetworks) and so signed and relayed.
            smtpHost: smtp.host,
            smtpPort: smtp.port,
            helo: p.hostname,
        },
    };
}

export const rspamd: MailServerService = {
    name: "rspamd",
    component: "MailServer",
    image: "A prebuilt rspamd image to use instead of building images/rspamd",
    runs: s => s.spamFilter.enabled,
    security: {
        user: "root",
        // The main process (root) prepares its directories, binds the sockets, runs its workers as
        // _rspamd and signals them on reload, and reads and writes the caches in their directory
        // (hyperscan databases, the symbols cache).
        capabilities: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"],
        tmpfs: ["/run/mail", "/run/rspamd", "/tmp"],
    },
    // It asks DNS (SPF, DKIM, DMARC): the stack's network, or the host's.
    network: "stack",
    volumes: [
        { name: "rspamd-data", path: RSPAMD_DB_DIR, kind: "data" },
        // Postfix's milter socket: shared by the two containers only.
        { name: "rspamd-milter", path: RSPAMD_MILTER_DIR, kind: "socket" },
    ],
    // With antivirus: clamd's socket (mounted while clamav runs).
    // With monitoring.metrics: the second controller socket's volume, shared with the metrics container.
    mounts: [CONFIG, "rspamd-data", "valkey-run", "rspamd-milter", "clamav-run", "rspamd-metrics", SERVICE_STATUS],
    dependsOn: ["valkey", "resolver"],
    // Its SPF, DKIM, DMARC and blocklist lookups: the stack's resolver when it runs (spamFilter.nameservers first).
    dns: resolverDns,
    config: {
        files: s => renderRspamdFiles(rspamdSpec(s)),
        // Registered as {} without rspamd, as it always was.
        inputWhenOff: true,
        // Each signing key, readable by rspamd's workers (group _rspamd) and nobody else.
        secretFiles: (s, secrets) =>
            s.postfix.domains.flatMap(d =>
                d.dkimSelectors.map(k => ({
                    path: dkimKeyPath(d.name, k.selector),
                    mode: "0640",
                    owner: "root",
                    group: "_rspamd",
                    content: secrets.dkimSigningKeys[d.name].apply(keys => {
                        const key = keys.find(x => x.selector === k.selector);
                        if (!key) throw new Error(`${d.name}: no private key for DKIM selector ${k.selector}`);
                        return rspamdDkimKey(key.privateKeyPem, k.algorithm);
                    }),
                })),
            ),
    },
    healthcheck: COMMON_HEALTHCHECK,
    reload: "a HUP: the main process reads the configuration again and replaces its workers",
};
