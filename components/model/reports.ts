// The reports other mail servers expect of us (MailServer reports): TLS-RPT (RFC 8460) about our
// outbound TLS, DMARC aggregate reports (RFC 7489) about the mail we received. Both are sent once
// a day, by mail, from one reporting address of our own domains (so they are DKIM-signed).

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
