// Outbound TLS policies and reports (MailServer outboundTls.mtaSts, reports.tls): Debian's
// postfix-mta-sts-resolver fetches, caches and answers the MTA-STS policies destinations publish,
// behind a socketmap of the image's own (images/mtasts/tls-policy) that leaves a destination with
// DNSSEC-signed TLSA records to DANE; tlsrpt-reporter collects Postfix's TLS results and mails the
// daily TLS-RPT reports. Postfix reaches both over unix sockets in a volume only the two mount.
// Its files: render/mtaSts.ts; its image: images/mtasts.
import { MTA_STS_CACHE_DIR, MTA_STS_SOCKET_DIR } from "../model/outboundTls";
import { renderMtaStsFiles } from "../render/mtaSts";
import { reportSender, reportsSmtp } from "../model/reports";
import type { MailServerSettings } from "../model/settings";
import { mtaStsActive, tlsReportsActive } from "../render/postfixShared";
import { COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";
import { resolverDns } from "./resolver";

/** Postfix's port 25 as this container (on the host's network: TLS-RPT runs in host mode only) reaches it. */
function reportSmtp(s: MailServerSettings): string {
    const { host, port } = reportsSmtp(s.postfix);
    return `${host}:${port}`;
}

export const mtasts: MailServerService = {
    name: "mtasts",
    component: "MailServer",
    image: "A prebuilt image to use instead of building images/mtasts (outboundTls.mtaSts)",
    runs: s => mtaStsActive(s.postfix) || tlsReportsActive(s.postfix),
    security: {
        user: "root",
        // The entrypoint (root) makes the socket and cache directories the daemon's, then runs the
        // daemons as _mta-sts (setpriv).
        capabilities: ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID"],
        tmpfs: ["/run/mail", "/run/mta-sts-daemon", "/tmp"],
    },
    // It fetches policies over HTTPS and asks DNS.
    network: "stack",
    dns: resolverDns,
    volumes: [
        // Cached policies outlive the container: RFC 8461 wants a known policy kept until it expires.
        { name: "mtasts-cache", path: MTA_STS_CACHE_DIR, kind: "data" },
        { name: "mtasts-run", path: MTA_STS_SOCKET_DIR, kind: "socket" },
    ],
    mounts: [CONFIG, "mtasts-cache", "mtasts-run", SERVICE_STATUS],
    dependsOn: ["resolver"],
    config: {
        files: s =>
            renderMtaStsFiles({
                trustedCaPem: s.outboundTls.trustedCaPem,
                ...(tlsReportsActive(s.postfix)
                    ? { tlsReports: { ...reportSender(s.reports, s.postfix), smtp: reportSmtp(s) } }
                    : {}),
            }),
    },
    healthcheck: COMMON_HEALTHCHECK,
    reload: "postfix-mta-sts-resolver starts again with the new trusted CAs (its policy cache stays)",
};
