// Renders the outbound TLS container's config generation (MailServer outboundTls.mtaSts and
// reports.tls): the CAs trusted besides the public ones when an MTA-STS policy is fetched, and
// TLS-RPT's settings (tlsrpt-reporter's collector, fetcher and report daemon). The MTA-STS
// daemon's own settings are part of the image (images/mtasts/mta-sts-daemon.yml).
import { MTA_STS_CACHE_DIR, MTA_STS_SOCKET_DIR } from "../model/outboundTls";
import { publicFile, RenderedFile } from "../model/spec";
import { renderProbe } from "./probe";

/** Where Postfix's TLSRPT support sends each TLS result (a datagram socket in the shared volume). */
export const TLSRPT_SOCKET = `${MTA_STS_SOCKET_DIR}/tlsrpt.sock`;
const TLSRPT_DIR = `${MTA_STS_CACHE_DIR}/tlsrpt`;

export interface MtaStsSpec {
    trustedCaPem: string | undefined;
    /** reports.tls: who the daily reports come from, and Postfix's port 25 as "host:port". */
    tlsReports?: { organization: string; address: string; smtp: string };
}

/** configparser reads "%" as interpolation. */
const ini = (value: string) => value.replace(/%/g, "%%");

/** tlsrpt-reporter's settings, one section per daemon. */
export function renderTlsrptCfg(r: { organization: string; address: string; smtp: string }): string {
    const storage = `sqlite://${TLSRPT_DIR}/collectd.sqlite`;
    return `# Rendered by the mailserver package (components/render/mtaSts.ts). Do not edit here:
# every deploy replaces this file. Change the component's arguments instead.
[tlsrpt_collectd]
storage = ${storage}
socketname = ${TLSRPT_SOCKET}
# Postfix's smtp processes (another user of another image) write to it; only the two containers
# mount its volume.
socketmode = 0666
log_level = info

[tlsrpt_fetcher]
storage = ${storage}
log_level = warning

[tlsrpt_reportd]
organization_name = ${ini(r.organization)}
contact_info = ${ini(r.address)}
sender_address = ${ini(r.address)}
dbname = ${TLSRPT_DIR}/reportd.sqlite
fetchers = tlsrpt-fetcher --config_file /config/current/tlsrpt.cfg
# Mailed through Postfix (images/mtasts/send-report), which DKIM-signs them through rspamd.
sendmail_script = /usr/local/lib/mail/send-report ${r.smtp}
# After midnight UTC the day's reports go out spread over four hours, not all at once.
spread_out_delivery = 14400
log_level = info
`;
}

/** The container's files: trusted-ca.pem (empty: the public CAs only), tlsrpt.cfg with reports.tls, the probe. */
export function renderMtaStsFiles(s: MtaStsSpec): RenderedFile[] {
    return [
        publicFile("trusted-ca.pem", s.trustedCaPem ?? ""),
        ...(s.tlsReports ? [publicFile("tlsrpt.cfg", renderTlsrptCfg(s.tlsReports))] : []),
        renderProbe(undefined),
    ];
}
