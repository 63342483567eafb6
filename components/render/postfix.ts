// Renders Postfix's main.cf from a PostfixSpec, and the list of every Postfix file (master.cf in
// postfixMaster.ts, the lookup tables and Cyrus SASL server config in postfixTables.ts). Pure and
// deterministic: the same spec always gives byte-identical files.
// main.cf and master.cf are written as the files read, with their values interpolated and their
// optional parts in when(...) blocks; the comments in them are rendered into the files.
import { probeAddress, renderProbe } from "./probe";
import { RSPAMD_MILTER_SOCKET } from "./rspamdShared";
import { paths } from "../model/paths";
import { relayImplicitTls, relayNexthop } from "../model/relay";
import { LMTP_CONCURRENCY, PostfixSpec, RenderedFile } from "../model/spec";
import { renderMasterCf } from "./postfixMaster";
import {
    table,
    defaultRelay,
    postfixTables,
    cf,
    HEADER,
    list,
    when,
    yesNo,
    IMPLICIT_TLS_TRANSPORT,
    senderTransportEntries,
    C,
    SUBMISSION_HEADER_CHECKS,
} from "./postfixShared";
import { renderOutboundTls } from "./postfixOutbound";
import {
    renderVirtualMailboxes,
    renderVirtualAliases,
    renderSystemAliases,
    renderSenderLogins,
    renderSenderRelays,
    renderRelayRecipients,
    renderSenderTransports,
    renderTransports,
    renderTlsPolicies,
    renderOwnSenderDomains,
    renderSubmissionSenders,
    renderSubmissionHeaderChecks,
    renderSmtpdSaslConf,
} from "./postfixTables";

export function renderMainCf(spec: PostfixSpec): string {
    const internet = spec.mode === "internet";
    const relay = defaultRelay(spec);
    const perSender = spec.relayhosts.some(r => r.senderDomains.length > 0);
    const relayAuth = spec.relayhosts.some(r => r.hasCredentials);
    const t = postfixTables;
    const tlsDir = spec.certificate.dir;
    return cf`${HEADER}
# --- identity
compatibility_level = 3.10
myhostname = ${spec.hostname}
mydomain = ${spec.mydomain}
myorigin = ${spec.myorigin}
mydestination = ${list(spec.mydestination)}
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no
readme_directory = no

# --- network: who may connect and who is trusted
inet_interfaces = ${list(spec.inetInterfaces)}
inet_protocols = ${spec.inetProtocols}
mynetworks = ${list(spec.mynetworks)}
mynetworks_style = host
${when(!spec.peernameLookup)`
# Clients are known by address only ("unknown" name): no DNS lookup before the greeting.
smtpd_peername_lookup = no
`}

# --- logging: to the container's stdout, through postlogd
maillog_file = /dev/stdout

# --- limits and timers
message_size_limit = ${spec.messageSizeLimit}
mailbox_size_limit = 0
maximal_queue_lifetime = ${spec.maximalQueueLifetime}
bounce_queue_lifetime = ${spec.bounceQueueLifetime}
delay_warning_time = ${spec.delayWarningTime}
recipient_delimiter = ${spec.recipientDelimiter}
disable_vrfy_command = ${yesNo(spec.disableVrfy)}
masquerade_domains = ${list(spec.masqueradeDomains)}
# Rewrite (masquerade) headers of mail from our own clients too, not only of local submissions.
local_header_rewrite_clients = permit_inet_interfaces, permit_mynetworks, permit_sasl_authenticated

# --- what the admin (postmaster) hears about
notify_classes = ${list(spec.notifyClasses)}
bounce_notice_recipient = ${spec.adminAddress}
2bounce_notice_recipient = ${spec.adminAddress}
delay_notice_recipient = ${spec.adminAddress}
error_notice_recipient = ${spec.adminAddress}

# --- local delivery: only the system aliases (root, postmaster, ...), which point at mailboxes
alias_maps = ${table(t.systemAliases)}
alias_database = ${table(t.systemAliases)}
local_recipient_maps = proxy:unix:passwd.byname $alias_maps

${when(internet)`
# --- virtual domains, delivered to Dovecot over LMTP
virtual_mailbox_domains = ${list(spec.domains.map(d => d.name))}
virtual_mailbox_maps = ${table(t.virtualMailboxes)}
virtual_alias_maps = ${table(t.virtualAliases)}
${
    spec.dovecotTcp === undefined
        ? `virtual_transport = lmtp:unix:${paths.lmtpSocket}`
        : `# Dovecot is another pod: LMTP over TCP to its Service, whose name /etc/hosts (not DNS) knows.
virtual_transport = lmtp:inet:[${spec.dovecotTcp.host}]:${spec.dovecotTcp.lmtpPort}
lmtp_host_lookup = native`
}
lmtp_destination_concurrency_limit = ${LMTP_CONCURRENCY}
# A Dovecot reload closes idle LMTP connections ("421 Server shutting down"): a cached connection
# would defer its next message for minutes. A new one per delivery is cheap on a unix socket.
lmtp_connection_cache_on_demand = no
`}
${when(!internet)`
# --- relay mode: no mailboxes here
virtual_mailbox_domains =
virtual_alias_maps =
`}
relay_domains = ${list(spec.relayDomains)}
relay_recipient_maps = ${spec.relayRecipients.length > 0 ? table(t.relayRecipients) : ""}

# --- outbound
relayhost = ${relay ? relayNexthop(relay) : ""}
${when(perSender)`sender_dependent_relayhost_maps = ${table(t.senderRelays)}`}
${when(relay !== undefined && relayImplicitTls(relay))`
# The relay speaks implicit TLS: its own smtp client (master.cf); the next hop stays as above.
default_transport = ${IMPLICIT_TLS_TRANSPORT}
relay_transport = ${IMPLICIT_TLS_TRANSPORT}
`}
${when(senderTransportEntries(spec).length > 0)`
sender_dependent_default_transport_maps = ${table(t.senderTransports)}
`}
${when((spec.transports ?? []).length > 0)`
# Overrides all of the above for its recipient domains.
transport_maps = ${table(t.transports)}
`}
${renderOutboundTls(spec)}
${when(spec.outboundAddress !== undefined)`
# The address the domains' SPF records and the PTR name.
${spec.outboundAddress?.includes(":") ? "smtp_bind_address6" : "smtp_bind_address"} = ${spec.outboundAddress ?? ""}
`}
smtp_tls_loglevel = 1
smtp_tls_mandatory_protocols = >=TLSv1.2
smtp_tls_protocols = >=TLSv1.2
${when(relayAuth)`
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = ${table(t.saslPasswords)}
smtp_sasl_security_options = noanonymous
smtp_sasl_tls_security_options = noanonymous
${when(perSender)`smtp_sender_dependent_authentication = yes`}
# A relay that refuses our credentials must not bounce mail: keep it queued until fixed.
smtp_sasl_auth_soft_bounce = yes
`}

# --- TLS for clients (STARTTLS on 25 and 587, implicit on 465)
${
    !spec.certificate.acme
        ? `smtpd_tls_chain_files = ${tlsDir}/key.pem, ${tlsDir}/cert.pem`
        : `# tls.acme: key and chain in one file, read in one open(), so an smtpd starting while the
# ACME container switches /certs/current never pairs the old key with the new certificate.
smtpd_tls_chain_files = ${tlsDir}/chain.pem`
}
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_mandatory_ciphers = high
smtpd_tls_ciphers = high
tls_high_cipherlist = ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20
tls_preempt_cipherlist = no
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_session_cache_database =

${
    internet
        ? cf`# --- SMTP AUTH through Dovecot's auth service, which sees the client's address and bans brute force for
# SMTP, IMAP, POP3 and ManageSieve alike (DovecotImap bruteForce); enabled per port in master.cf (587 and 465 only)
smtpd_sasl_auth_enable = no
smtpd_sasl_type = dovecot
smtpd_sasl_path = ${spec.dovecotTcp ? `inet:${spec.dovecotTcp.host}:${spec.dovecotTcp.authPort}` : paths.dovecotAuthSocket}`
        : cf`# --- SMTP AUTH through saslauthd; enabled per port in master.cf (587 and 465 only)
smtpd_sasl_auth_enable = no
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = ${C}/sasl`
}
smtpd_sasl_security_options = noanonymous, noplaintext
smtpd_sasl_tls_security_options = noanonymous
smtpd_sasl_authenticated_header = no
broken_sasl_auth_clients = no
smtpd_sender_login_maps = ${internet ? table(t.senderLogins) : ""}
# Brute force: anvil refuses more AUTH commands than this per client per minute (mynetworks exempt).
smtpd_client_auth_rate_limit = ${spec.authRateLimit}
anvil_rate_time_unit = 60s

${when(spec.milter)`
# --- milter: rspamd signs (DKIM, ARC) and checks (SPF, DKIM, DMARC, spam) every message
smtpd_milters = unix:${RSPAMD_MILTER_SOCKET}
non_smtpd_milters = $smtpd_milters
milter_protocol = 6
# {auth_authen}: the login, whose From header rspamd checks before it signs. {daemon_name} (sent at
# connect) names the listener: the reinject socket's mail comes from Dovecot's Sieve and is signed.
milter_mail_macros = i {mail_addr} {client_addr} {client_name} {auth_authen}
# rspamd unreachable: mail waits (4xx, retried) rather than passing unsigned and unchecked.
milter_default_action = tempfail
`}

# --- restrictions: never an open relay
smtpd_helo_required = yes
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
${when(internet)`
# Spoofing: an envelope sender of one of our own domains comes from a login or mynetworks, whatever
# DNS (SPF) says. The null sender (bounces) has no domain and passes; Sieve's reinject socket
# (master.cf) is reachable by Dovecot only and trusts its clients as its mynetworks.
smtpd_sender_restrictions = permit_mynetworks, permit_sasl_authenticated, check_sender_access ${table(t.ownSenderDomains)}
`}
smtpd_recipient_restrictions = reject_non_fqdn_recipient, reject_unlisted_recipient
smtpd_reject_unlisted_recipient = yes
smtpd_reject_unlisted_sender = no
allow_percent_hack = no
swap_bangpath = no
strict_rfc821_envelopes = yes
`;
}

export function renderPostfixFiles(spec: PostfixSpec): RenderedFile[] {
    const file = (path: string, content: string, mode = "0644"): RenderedFile => ({
        path,
        content,
        mode,
        owner: "root",
        group: "root",
    });
    return [
        file("main.cf", renderMainCf(spec)),
        file("master.cf", renderMasterCf(spec)),
        renderProbe(
            spec.ports.smtp > 0
                ? {
                      address: probeAddress(spec.inetInterfaces),
                      port: spec.ports.smtp,
                      greeting: "220 ",
                      goodbye: "QUIT",
                      ...(spec.proxyListeners?.includes("smtp") ? { proxyHeader: true } : {}),
                  }
                : undefined,
        ),
        file(postfixTables.virtualMailboxes, renderVirtualMailboxes(spec)),
        file(postfixTables.virtualAliases, renderVirtualAliases(spec)),
        file(postfixTables.systemAliases, renderSystemAliases(spec)),
        file(postfixTables.senderLogins, renderSenderLogins(spec)),
        file(postfixTables.senderRelays, renderSenderRelays(spec)),
        file(postfixTables.relayRecipients, renderRelayRecipients(spec)),
        file(postfixTables.senderTransports, renderSenderTransports(spec)),
        file(postfixTables.transports, renderTransports(spec)),
        file(postfixTables.tlsPolicies, renderTlsPolicies(spec)),
        file(postfixTables.ownSenderDomains, renderOwnSenderDomains(spec)),
        file(postfixTables.submissionSenders, renderSubmissionSenders(spec)),
        file(SUBMISSION_HEADER_CHECKS, renderSubmissionHeaderChecks()),
        // Relay mode only: internet mode's smtpd asks Dovecot.
        ...(spec.mode === "relay" ? [file("sasl/smtpd.conf", renderSmtpdSaslConf())] : []),
    ];
}
