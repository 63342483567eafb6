// Renders main.cf's outbound TLS: how much TLS each next hop gets (a relay's tlsPolicy; for direct
// deliveries DANE, then MTA-STS, then opportunistic TLS), the CAs certificates are verified
// against, and TLS-RPT. Pure and deterministic, part of renderMainCf (postfix.ts).
import { MTA_STS_SOCKET, OUTBOUND_CA_FILE } from "../model/outboundTls";
import { PostfixSpec } from "../model/spec";
import { TLSRPT_SOCKET } from "./mtaSts";
import { C, cf, defaultRelay, list, mtaStsActive, postfixTables, table, tlsReportsActive, when } from "./postfixShared";

export function renderOutboundTls(spec: PostfixSpec): string {
    const relay = defaultRelay(spec);
    const t = postfixTables;
    const dane = spec.outboundTls.dane;
    const mtaSts = mtaStsActive(spec);
    const directTls = [
        ...(dane ? ["DANE where the destination publishes DNSSEC-signed TLSA records (verified or not sent)"] : []),
        ...(mtaSts ? ["its MTA-STS policy where it publishes one"] : []),
        "opportunistic TLS otherwise",
    ]
        .map(line => `#   ${line}`)
        .join("\n");
    const policyMaps = [
        ...(spec.relayhosts.length > 0 ? [table(t.tlsPolicies)] : []),
        ...(mtaSts ? [`socketmap:unix:${MTA_STS_SOCKET}:postfix`] : []),
    ];
    return cf`${when(relay !== undefined)`smtp_tls_security_level = ${relay?.tlsPolicy ?? ""}`}
${when(relay === undefined)`
# Direct deliveries, the first that applies:
${directTls}
smtp_tls_security_level = ${dane ? "dane" : "may"}
`}
${when(relay === undefined && dane)`
# TLSA records count only when the resolver validated them (DNSSEC: the AD bit of its answers).
smtp_dns_support_level = dnssec
`}
${when(spec.relayhosts.length > 0)`
# Each relay gets its own tlsPolicy by next hop, whatever the global level (per-sender relays too).
`}
${when(mtaSts)`
# MTA-STS: the policy daemon answers "secure" (with the policy's MX names) for each domain whose
# policy is enforced, and leaves a domain with TLSA records to DANE. Not answering: mail waits.
`}
${when(policyMaps.length > 0)`smtp_tls_policy_maps = ${list(policyMaps)}`}
${when(tlsReportsActive(spec))`
# TLS-RPT (RFC 8460): each TLS result of a destination that publishes a reporting address goes to
# the collector, which mails the daily reports (reports.tls).
smtp_tlsrpt_enable = yes
smtp_tlsrpt_socket_name = ${TLSRPT_SOCKET}
`}
${
    spec.outboundTls.trustedCa
        ? `# The public CAs (CApath) and outboundTls.trustedCaPem's.
smtp_tls_CAfile = ${C}/${OUTBOUND_CA_FILE}
smtp_tls_CApath = /etc/ssl/certs`
        : "smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt"
}`;
}
