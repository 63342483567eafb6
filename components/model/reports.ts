// The reports other mail servers expect of us (MailServer reports): TLS-RPT (RFC 8460) about our
// outbound TLS, DMARC aggregate reports (RFC 7489) about the mail we received. Both are sent once
// a day, by mail, from one reporting address of our own domains (so they are DKIM-signed).
import { probeAddress } from "./net";

/** MailServer reports after validation. */
export interface ReportsSettings {
    tls: boolean;
    dmarc: boolean;
    organization: string | undefined;
    address: string | undefined;
}

/** Who the reports say they are from: the options, else the host name and noreply-reports@<first domain>. */
export function reportSender(
    reports: ReportsSettings,
    server: { hostname: string; domains: Array<{ name: string }>; myorigin: string },
): { organization: string; address: string } {
    return {
        organization: reports.organization ?? server.hostname,
        address: reports.address ?? `noreply-reports@${server.domains[0]?.name ?? server.myorigin}`,
    };
}

/**
 * Which reports are mailed, through Postfix's port 25 from the host's own address (mynetworks):
 * host mode only (in bridge mode the mail would come from the Docker network, which may not
 * relay); DMARC's from rspamd for the mail an internet-mode server receives, TLS-RPT's for direct
 * deliveries (none when a relayhost takes everything).
 */
export function reportsSent(
    reports: ReportsSettings,
    server: { mode: string; networkMode: string; spamFilter: boolean; relayForAll: boolean },
): { dmarc: boolean; tls: boolean } {
    const host = server.networkMode === "host";
    return {
        dmarc: reports.dmarc && server.spamFilter && server.mode === "internet" && host,
        tls: reports.tls && host && !server.relayForAll,
    };
}

/** Where the report mail enters Postfix: its port 25 on the host address it listens on. */
export function reportsSmtp(postfix: { inetInterfaces: string[]; ports: { smtp: number } }) {
    return { host: probeAddress(postfix.inetInterfaces), port: postfix.ports.smtp };
}
