// Renders Postfix's main.cf, master.cf, lookup tables and Cyrus SASL server config from a
// PostfixSpec. Pure and deterministic: the same spec always gives byte-identical files.
// main.cf and master.cf are written as the files read, with their values interpolated and their
// optional parts in when(...) blocks; the comments in them are rendered into the files.
import { definedAddresses, ROLE_LOCAL_PARTS, senderOwners } from "../model/addresses";
import { probeAddress, renderProbe } from "./probe";
import { RSPAMD_MILTER_SOCKET, SIEVE_MTA_TAG } from "./rspamd";
import { paths } from "../model/paths";
import { RelayCredentials, relayImplicitTls, relayNexthop } from "../model/relay";
import { LMTP_CONCURRENCY, PostfixSpec, RenderedFile } from "../model/spec";

const C = paths.config;
const HEADER =
    "# Rendered by the mailserver package (components/render/postfix.ts). Do not edit here:\n" +
    "# every deploy replaces this file. Change the component's arguments instead.\n";

/** Postfix lookup tables this package writes; the config job runs postmap/postalias on them. */
export const postfixTables = {
    virtualMailboxes: "vmailbox",
    virtualAliases: "virtual",
    systemAliases: "aliases",
    senderLogins: "sender_login",
    senderRelays: "sender_relay",
    relayRecipients: "relay_recipients",
    saslPasswords: "sasl_passwd",
    /** sender_dependent_default_transport_maps: per-sender relays whose SMTP client differs from the default one. */
    senderTransports: "sender_transport",
    /** transport_maps: recipient domains with a next hop of their own (MailServer transports). */
    transports: "transport",
    /** smtp_tls_policy_maps: each relay's next hop and its tlsPolicy. */
    tlsPolicies: "tls_policy",
    /** check_sender_access on port 25: our own domains, which only logins and mynetworks may use as sender. */
    ownSenderDomains: "own_sender_domains",
    /** check_sender_access on 587 and 465 (internet mode): the null sender, which no login owns. */
    submissionSenders: "submission_senders",
} as const;

/** header_checks (regexp) of the submission ports' cleanup service: what leaks a user's machine. */
export const SUBMISSION_HEADER_CHECKS = "submission_header_checks";
/** The cleanup service mail from 587 and 465 passes through (master.cf). */
export const SUBMISSION_CLEANUP = "submission-cleanup";
/**
 * The master.cf service of Dovecot's Sieve mail: Postfix names a unix service by its path under
 * the queue's public/ directory, and the image links public/reinject to paths.reinjectDir, a
 * directory of the LMTP volume (images/postfix/service.sh), so the socket is paths.reinjectSocket.
 */
export const REINJECT_SERVICE = "reinject/smtp";
/** What a login that sends with the null envelope sender hears (587 and 465, internet mode). */
export const NULL_SENDER_REJECT =
    "REJECT 5.7.1 The null sender <> is not owned by any login: send with your own address as envelope sender";
/** What a spoofed sender of one of our own domains hears (check_sender_access on port 25). */
export const spoofReject = (domain: string) =>
    `REJECT 5.7.1 Mail from ${domain} is accepted only from its authenticated users (submission, port 587 or 465)`;

const table = (name: string) => `lmdb:${C}/${name}`;

function list(values: string[]): string {
    return values.join(", ");
}

/** Which relayhost serves every sender (the one without sender domains), if any. */
function defaultRelay(spec: PostfixSpec) {
    return spec.relayhosts.find(r => r.senderDomains.length === 0);
}

/** master.cf smtp client for relays with implicit TLS (SMTPS, e.g. port 465). */
export const IMPLICIT_TLS_TRANSPORT = "relay-smtps";
/** master.cf smtp client for MailServer transports: never presents relay credentials. */
export const DIRECT_TRANSPORT = "direct";

/** The master.cf smtp client that talks to this relay. */
export function relayTransport(r: { port: number; implicitTls?: boolean }): string {
    return relayImplicitTls(r) ? IMPLICIT_TLS_TRANSPORT : "smtp";
}

/**
 * Per-sender relays that need another SMTP client than non-local mail gets by default (the
 * default relay's, or plain "smtp"), as sender_dependent_default_transport_maps entries.
 */
function senderTransportEntries(spec: PostfixSpec): Array<[string, string]> {
    const relay = defaultRelay(spec);
    const fallback = relay ? relayTransport(relay) : "smtp";
    const entries: Array<[string, string]> = [];
    for (const r of spec.relayhosts) {
        if (r.senderDomains.length === 0 || relayTransport(r) === fallback) continue;
        for (const d of r.senderDomains) entries.push([`@${d}`, `${relayTransport(r)}:${relayNexthop(r)}`]);
    }
    return entries;
}

/**
 * Tag for a config file written as its own text: `${value}` interpolates. A line that holds only
 * an interpolation rendering nothing (a `when` block whose condition is false) disappears, like a
 * template engine's `{% if %}` line, and a run of blank lines it leaves becomes one. Trailing
 * blanks go, so `key = ${""}` renders "key =".
 */
function cf(strings: TemplateStringsArray, ...values: Array<string | number>): string {
    let out = strings[0];
    values.forEach((value, i) => {
        const text = String(value);
        let next = strings[i + 1];
        if (text === "" && /(^|\n)$/.test(out) && /^(\n|$)/.test(next)) next = next.slice(1);
        out += text + next;
    });
    return out.replace(/[ \t]+$/gm, "").replace(/\n{3,}/g, "\n\n");
}

/**
 * A conditional block: when(cond)`...` is its lines if cond holds, else nothing. The newlines
 * right after the opening and before the closing backtick only frame the block.
 */
function when(cond: boolean) {
    return (strings: TemplateStringsArray, ...values: Array<string | number>): string =>
        cond
            ? cf(strings, ...values)
                  .replace(/^\n/, "")
                  .replace(/\n$/, "")
            : "";
}

const yesNo = (b: boolean) => (b ? "yes" : "no");

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
virtual_transport = lmtp:unix:${paths.lmtpSocket}
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
smtp_tls_security_level = ${relay ? relay.tlsPolicy : "may"}
${when(spec.relayhosts.length > 0)`
# Each relay gets its own tlsPolicy by next hop, whatever the global level (per-sender relays too).
smtp_tls_policy_maps = ${table(t.tlsPolicies)}
`}
${when(spec.outboundAddress !== undefined)`
# The address the domains' SPF records and the PTR name.
${spec.outboundAddress?.includes(":") ? "smtp_bind_address6" : "smtp_bind_address"} = ${spec.outboundAddress ?? ""}
`}
smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt
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
smtpd_sasl_path = ${paths.dovecotAuthSocket}`
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

/** A master.cf service name in its column (Postfix's own master.cf pads it to 10 characters). */
const service = (name: string | number) => `${name}`.padEnd(9) + " ";

/** The smtpd services: which port, and what is allowed on it. */
export function renderMasterCf(spec: PostfixSpec): string {
    const { smtp, submission, smtps } = spec.ports;
    const internet = spec.mode === "internet";
    // 587 and 465: nothing without AUTH, and a login sends only as its own addresses (internet mode;
    // relay mode's users may send as anyone): reject_sender_login_mismatch passes the null sender,
    // which submission_senders refuses. rspamd checks the From header against the same owners.
    const submissionOptions = (name: string) => cf`  -o syslog_name=postfix/${name}
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_restrictions=${internet ? `reject_sender_login_mismatch,check_sender_access,${table(postfixTables.submissionSenders)}` : ""}
  -o smtpd_recipient_restrictions=reject_non_fqdn_recipient,permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
  -o cleanup_service_name=${SUBMISSION_CLEANUP}`;
    return cf`${HEADER}
# chroot is "n" everywhere: the container is the jail, and paths stay the same inside and out.
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
# ==========================================================================

# --- SMTP: 25 for other servers; 587 (STARTTLS) and 465 (implicit TLS) for our users, with AUTH
${service(smtp)}inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/smtp
${service(submission)}inet  n       -       n       -       -       smtpd
${submissionOptions("submission")}
  -o smtpd_tls_security_level=encrypt
${service(smtps)}inet  n       -       n       -       -       smtpd
${submissionOptions("smtps")}
  -o smtpd_tls_wrappermode=yes
# Privacy for our users (587 and 465 only, never 25): their client's Received line (HELO name and
# address) and User-Agent, X-Mailer, X-Originating-IP are dropped; attached messages keep theirs.
${service(SUBMISSION_CLEANUP)}unix  n       -       n       -       0       cleanup
  -o syslog_name=postfix/${SUBMISSION_CLEANUP}
  -o header_checks=regexp:${C}/${SUBMISSION_HEADER_CHECKS}
  -o nested_header_checks=

${when(internet)`
# Mail from Dovecot's Sieve (vacation replies, redirects, rejections) re-enters Postfix here: a unix
# socket (${paths.reinjectSocket}) in the LMTP volume, which only the Postfix and Dovecot containers
# mount. No network client, other container or local user can reach it, so it relays without AUTH
# and rspamd signs what it tags. smtpd sees every unix-socket client as 127.0.0.1.
${service(REINJECT_SERVICE)}unix  n       -       n       -       -       smtpd
  -o syslog_name=postfix/reinject
  -o milter_macro_daemon_name=${SIEVE_MTA_TAG}
  -o mynetworks=127.0.0.1/32
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o smtpd_sasl_auth_enable=no
  -o smtpd_client_auth_rate_limit=0
`}

# --- Postfix's own services
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/relay
${when(spec.relayhosts.some(relayImplicitTls))`
# SMTP client for relays with implicit TLS (SMTPS, e.g. port 465).
${service(IMPLICIT_TLS_TRANSPORT)}unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/${IMPLICIT_TLS_TRANSPORT}
  -o smtp_tls_wrappermode=yes
  -o smtp_tls_security_level=encrypt
`}
${when((spec.transports ?? []).length > 0)`
# SMTP client for MailServer transports (transport_maps): never presents relay credentials.
${service(DIRECT_TRANSPORT)}unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/${DIRECT_TRANSPORT}
  -o smtp_sasl_auth_enable=no
`}
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;
}

function tableText(entries: Array<[string, string]>): string {
    return HEADER + entries.map(([k, v]) => `${k}\t${v}`).join("\n") + "\n";
}

/** virtual_mailbox_maps: every mailbox address (the value is not used by LMTP delivery). */
export function renderVirtualMailboxes(spec: PostfixSpec): string {
    const entries: Array<[string, string]> = [];
    for (const d of spec.domains) for (const m of d.mailboxes) entries.push([m.address, "OK"]);
    return tableText(entries);
}

/**
 * virtual_alias_maps. Postfix consults it before virtual_mailbox_maps, so a catch-all
 * ("@domain") would swallow real mailboxes; each mailbox therefore maps to itself first.
 */
export function renderVirtualAliases(spec: PostfixSpec): string {
    const entries: Array<[string, string]> = [];
    const own = definedAddresses(spec.domains);
    for (const d of spec.domains) {
        const forwards = new Map(d.forwards.map(f => [f.address, f]));
        for (const m of d.mailboxes) {
            const f = forwards.get(m.address);
            if (f) entries.push([m.address, list(f.keepCopy ? [m.address, ...f.targets] : f.targets)]);
            else entries.push([m.address, m.address]);
            for (const a of m.aliases) entries.push([a, m.address]);
        }
        for (const a of d.aliases) entries.push([a.address, list(a.targets)]);
        for (const role of ROLE_LOCAL_PARTS) {
            const address = `${role}@${d.name}`;
            if (!own.has(address)) entries.push([address, spec.adminAddress]);
        }
        if (d.catchAll) entries.push([`@${d.name}`, d.catchAll]);
    }
    return tableText(entries);
}

/** alias_maps for the local domain (root@$myhostname and friends). */
export function renderSystemAliases(spec: PostfixSpec): string {
    const names = ["postmaster", "root", "abuse", "mailer-daemon", "hostmaster", "webmaster"];
    return HEADER + names.map(n => `${n}: ${spec.adminAddress}`).join("\n") + "\n";
}

/**
 * smtpd_sender_login_maps: which SASL login may use which envelope sender (senderOwners, the
 * ownership rspamd's From-header rule reads too).
 */
export function renderSenderLogins(spec: PostfixSpec): string {
    return tableText(senderOwners(spec.domains).map(([address, logins]) => [address, list(logins)]));
}

export function renderSenderRelays(spec: PostfixSpec): string {
    const entries: Array<[string, string]> = [];
    for (const r of spec.relayhosts) for (const d of r.senderDomains) entries.push([`@${d}`, relayNexthop(r)]);
    return tableText(entries);
}

export function renderRelayRecipients(spec: PostfixSpec): string {
    return tableText(spec.relayRecipients.map(r => [r, "OK"]));
}

/** sender_dependent_default_transport_maps: "@domain transport:[host]:port". */
export function renderSenderTransports(spec: PostfixSpec): string {
    return tableText(senderTransportEntries(spec));
}

/** transport_maps: each MailServer transport, through the smtp client without relay credentials. */
export function renderTransports(spec: PostfixSpec): string {
    return tableText((spec.transports ?? []).map(t => [t.domain, `${DIRECT_TRANSPORT}:${t.nexthop}`]));
}

/** smtp_tls_policy_maps: "[host]:port policy" for every relay. */
export function renderTlsPolicies(spec: PostfixSpec): string {
    const entries = new Map<string, string>();
    for (const r of spec.relayhosts) if (!entries.has(relayNexthop(r))) entries.set(relayNexthop(r), r.tlsPolicy);
    return tableText([...entries]);
}

/** check_sender_access: each of our domains, refused as a sender from outside (see spoofReject). */
export function renderOwnSenderDomains(spec: PostfixSpec): string {
    return tableText(spec.mode === "internet" ? spec.domains.map(d => [d.name, spoofReject(d.name)]) : []);
}

/** check_sender_access on 587 and 465: the null sender (smtpd looks it up as "<>"). */
export function renderSubmissionSenders(spec: PostfixSpec): string {
    return tableText(spec.mode === "internet" ? [["<>", NULL_SENDER_REJECT]] : []);
}

/**
 * header_checks of the submission cleanup: Postfix's own Received line for the submission (client
 * HELO name and address) and the client-identifying headers. Messages arrive from our users
 * without Received lines of their own, so every Received line is that one.
 */
export function renderSubmissionHeaderChecks(): string {
    return (
        HEADER +
        ["Received", "User-Agent", "X-Mailer", "X-Originating-IP"].map(h => `/^${h}:/ IGNORE`).join("\n") +
        "\n"
    );
}

/** Cyrus SASL server config for smtpd: verify passwords through saslauthd's socket. */
export function renderSmtpdSaslConf(): string {
    return [
        "pwcheck_method: saslauthd",
        `saslauthd_path: ${paths.saslauthdDir}/mux`,
        "mech_list: PLAIN LOGIN",
        "",
    ].join("\n");
}

/** All of Postfix's files except the TLS key and the relay passwords (see the component). */
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

/**
 * smtp_sasl_password_maps. Postfix must present these passwords to the relay, so they cannot be
 * hashed: the component passes them as Pulumi secrets and the file is root-only (0600).
 */
export function renderSaslPasswords(entries: Array<{ nexthop: string; username: string; password: string }>): string {
    return HEADER + entries.map(e => `${e.nexthop}\t${e.username}:${e.password}`).join("\n") + "\n";
}

/**
 * sasl_passwd entries: per-sender relays are looked up by sender address first ("@domain"), the
 * default relay by its next hop. Relays without credentials have none.
 */
export function relaySaslEntries(
    relays: RelayCredentials[],
): Array<{ nexthop: string; username: string; password: string }> {
    return relays.flatMap(({ spec, username, password }) => {
        if (!spec.hasCredentials || username === undefined || password === undefined) return [];
        const keys = spec.senderDomains.length > 0 ? spec.senderDomains.map(d => `@${d}`) : [relayNexthop(spec)];
        return keys.map(nexthop => ({ nexthop, username, password }));
    });
}
