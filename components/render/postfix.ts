// Renders Postfix's main.cf, master.cf, lookup tables and Cyrus SASL client config from a
// PostfixSpec. Pure and deterministic: the same spec always gives byte-identical files.
import { probeAddress, renderProbe } from "./probe";
import { LMTP_CONCURRENCY, paths, PostfixSpec, RelayhostSpec, RenderedFile } from "./spec";

const C = paths.config;
const HEADER = "# Rendered by the mailserver package (components/render/postfix.ts). Do not edit here:\n" +
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
} as const;

const table = (name: string) => `lmdb:${C}/${name}`;

function list(values: string[]): string {
    return values.join(", ");
}

/** Which relayhost serves every sender (the one without sender domains), if any. */
function defaultRelay(spec: PostfixSpec) {
    return spec.relayhosts.find(r => r.senderDomains.length === 0);
}

export function relayNexthop(r: { host: string; port: number }): string {
    return `[${r.host}]:${r.port}`;
}

/** master.cf smtp client for relays with implicit TLS (SMTPS, e.g. port 465). */
export const IMPLICIT_TLS_TRANSPORT = "relay-smtps";
/** master.cf smtp client for MailServer transports: never presents relay credentials. */
export const DIRECT_TRANSPORT = "direct";

/** Implicit TLS unless said otherwise: on port 465 only. */
export function relayImplicitTls(r: { port: number; implicitTls?: boolean }): boolean {
    return r.implicitTls ?? r.port === 465;
}

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

export function renderMainCf(spec: PostfixSpec): string {
    const internet = spec.mode === "internet";
    const relay = defaultRelay(spec);
    const perSender = spec.relayhosts.some(r => r.senderDomains.length > 0);
    const anyRelayAuth = spec.relayhosts.some(r => r.hasCredentials);
    const relayTls = relay ? relay.tlsPolicy : "may";
    const lines: string[] = [HEADER];
    const section = (title: string) => lines.push("", `# --- ${title}`);
    const set = (key: string, value: string | number) => lines.push(`${key} = ${value}`.trimEnd());

    section("identity");
    set("compatibility_level", "3.10");
    set("myhostname", spec.hostname);
    set("mydomain", spec.mydomain);
    set("myorigin", spec.myorigin);
    set("mydestination", list(spec.mydestination));
    set("smtpd_banner", "$myhostname ESMTP");
    set("biff", "no");
    set("append_dot_mydomain", "no");
    set("readme_directory", "no");

    section("network: who may connect and who is trusted");
    set("inet_interfaces", list(spec.inetInterfaces));
    set("inet_protocols", spec.inetProtocols);
    set("mynetworks", list(spec.mynetworks));
    set("mynetworks_style", "host");

    section("logging: to the container's stdout, through postlogd");
    set("maillog_file", "/dev/stdout");

    section("limits and timers");
    set("message_size_limit", spec.messageSizeLimit);
    set("mailbox_size_limit", 0);
    set("maximal_queue_lifetime", spec.maximalQueueLifetime);
    set("bounce_queue_lifetime", spec.bounceQueueLifetime);
    set("delay_warning_time", spec.delayWarningTime);
    set("recipient_delimiter", spec.recipientDelimiter);
    set("disable_vrfy_command", spec.disableVrfy ? "yes" : "no");
    set("masquerade_domains", list(spec.masqueradeDomains));
    // Rewrite (masquerade) headers of mail from our own clients too, not only of local submissions.
    set("local_header_rewrite_clients", "permit_inet_interfaces, permit_mynetworks, permit_sasl_authenticated");

    section("what the admin (postmaster) hears about");
    set("notify_classes", list(spec.notifyClasses));
    set("bounce_notice_recipient", spec.adminAddress);
    set("2bounce_notice_recipient", spec.adminAddress);
    set("delay_notice_recipient", spec.adminAddress);
    set("error_notice_recipient", spec.adminAddress);

    section("local delivery: only the system aliases (root, postmaster, ...), which point at mailboxes");
    set("alias_maps", table(postfixTables.systemAliases));
    set("alias_database", table(postfixTables.systemAliases));
    set("local_recipient_maps", "proxy:unix:passwd.byname $alias_maps");

    if (internet) {
        section("virtual domains, delivered to Dovecot over LMTP");
        set("virtual_mailbox_domains", list(spec.domains.map(d => d.name)));
        set("virtual_mailbox_maps", table(postfixTables.virtualMailboxes));
        set("virtual_alias_maps", table(postfixTables.virtualAliases));
        set("virtual_transport", `lmtp:unix:${paths.lmtpSocket}`);
        set("lmtp_destination_concurrency_limit", String(LMTP_CONCURRENCY));
        // A Dovecot reload closes idle LMTP connections ("421 Server shutting down"): a cached
        // connection would defer its next message for minutes. A new one per delivery is cheap
        // on a unix socket.
        set("lmtp_connection_cache_on_demand", "no");
    } else {
        section("relay mode: no mailboxes here");
        set("virtual_mailbox_domains", "");
        set("virtual_alias_maps", "");
    }
    set("relay_domains", list(spec.relayDomains));
    set("relay_recipient_maps", spec.relayRecipients.length > 0 ? table(postfixTables.relayRecipients) : "");

    section("outbound");
    set("relayhost", relay ? relayNexthop(relay) : "");
    if (perSender) set("sender_dependent_relayhost_maps", table(postfixTables.senderRelays));
    // A relay with implicit TLS needs its own smtp client (master.cf); the next hop stays as above.
    if (relay && relayImplicitTls(relay)) {
        set("default_transport", IMPLICIT_TLS_TRANSPORT);
        set("relay_transport", IMPLICIT_TLS_TRANSPORT);
    }
    if (senderTransportEntries(spec).length > 0) set("sender_dependent_default_transport_maps", table(postfixTables.senderTransports));
    // Overrides all of the above for its recipient domains.
    if ((spec.transports ?? []).length > 0) set("transport_maps", table(postfixTables.transports));
    set("smtp_tls_security_level", relayTls);
    // Each relay gets its own tlsPolicy by next hop, whatever the global level (per-sender relays too).
    if (spec.relayhosts.length > 0) set("smtp_tls_policy_maps", table(postfixTables.tlsPolicies));
    set("smtp_tls_CAfile", "/etc/ssl/certs/ca-certificates.crt");
    set("smtp_tls_loglevel", 1);
    set("smtp_tls_mandatory_protocols", ">=TLSv1.2");
    set("smtp_tls_protocols", ">=TLSv1.2");
    if (anyRelayAuth) {
        set("smtp_sasl_auth_enable", "yes");
        set("smtp_sasl_password_maps", table(postfixTables.saslPasswords));
        set("smtp_sasl_security_options", "noanonymous");
        set("smtp_sasl_tls_security_options", "noanonymous");
        if (perSender) set("smtp_sender_dependent_authentication", "yes");
        // A relay that refuses our credentials must not bounce mail: keep it queued until fixed.
        set("smtp_sasl_auth_soft_bounce", "yes");
    }

    section("TLS for clients (STARTTLS on 25 and 587, implicit on 465)");
    set("smtpd_tls_chain_files", `${C}/tls/key.pem, ${C}/tls/cert.pem`);
    set("smtpd_tls_security_level", "may");
    set("smtpd_tls_auth_only", "yes");
    set("smtpd_tls_protocols", ">=TLSv1.2");
    set("smtpd_tls_mandatory_protocols", ">=TLSv1.2");
    set("smtpd_tls_mandatory_ciphers", "high");
    set("smtpd_tls_ciphers", "high");
    set("tls_high_cipherlist", "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20");
    set("tls_preempt_cipherlist", "no");
    set("smtpd_tls_loglevel", 1);
    set("smtpd_tls_received_header", "yes");
    set("smtpd_tls_session_cache_database", "");

    section("SMTP AUTH through saslauthd; enabled per port in master.cf (587 and 465 only)");
    set("smtpd_sasl_auth_enable", "no");
    set("smtpd_sasl_type", "cyrus");
    set("smtpd_sasl_path", "smtpd");
    set("cyrus_sasl_config_path", `${C}/sasl`);
    set("smtpd_sasl_security_options", "noanonymous, noplaintext");
    set("smtpd_sasl_tls_security_options", "noanonymous");
    set("smtpd_sasl_authenticated_header", "no");
    set("broken_sasl_auth_clients", "no");
    set("smtpd_sender_login_maps", internet ? table(postfixTables.senderLogins) : "");
    // Brute force: anvil refuses more AUTH commands than this per client per minute (mynetworks exempt).
    set("smtpd_client_auth_rate_limit", spec.authRateLimit);
    set("anvil_rate_time_unit", "60s");

    section("restrictions: never an open relay");
    set("smtpd_helo_required", "yes");
    set("smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination");
    set("smtpd_recipient_restrictions", "reject_non_fqdn_recipient, reject_unlisted_recipient");
    set("smtpd_reject_unlisted_recipient", "yes");
    set("smtpd_reject_unlisted_sender", "no");
    set("allow_percent_hack", "no");
    set("swap_bangpath", "no");
    set("strict_rfc821_envelopes", "yes");
    lines.push("");
    return lines.join("\n");
}

/** The smtpd services: which port, and what is allowed on it. */
export function renderMasterCf(spec: PostfixSpec): string {
    const { smtp, submission, smtps } = spec.ports;
    const submissionOptions = (name: string) => [
        `  -o syslog_name=postfix/${name}`,
        "  -o smtpd_sasl_auth_enable=yes",
        "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject",
        "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
        spec.mode === "internet"
            ? "  -o smtpd_sender_restrictions=reject_sender_login_mismatch"
            : "  -o smtpd_sender_restrictions=",
        "  -o smtpd_recipient_restrictions=reject_non_fqdn_recipient,permit_sasl_authenticated,reject",
        "  -o milter_macro_daemon_name=ORIGINATING",
    ];
    // chroot is "n" everywhere: the container is the jail, and paths stay the same inside and out.
    return [
        HEADER,
        "# service  type  private unpriv  chroot  wakeup  maxproc command + args",
        `${smtp}      inet  n       -       n       -       -       smtpd`,
        "  -o syslog_name=postfix/smtp",
        `${submission}      inet  n       -       n       -       -       smtpd`,
        ...submissionOptions("submission"),
        "  -o smtpd_tls_security_level=encrypt",
        `${smtps}      inet  n       -       n       -       -       smtpd`,
        ...submissionOptions("smtps"),
        "  -o smtpd_tls_wrappermode=yes",
        ...reinjectService(spec),
        "pickup    unix  n       -       n       60      1       pickup",
        "cleanup   unix  n       -       n       -       0       cleanup",
        "qmgr      unix  n       -       n       300     1       qmgr",
        "tlsmgr    unix  -       -       n       1000?   1       tlsmgr",
        "rewrite   unix  -       -       n       -       -       trivial-rewrite",
        "bounce    unix  -       -       n       -       0       bounce",
        "defer     unix  -       -       n       -       0       bounce",
        "trace     unix  -       -       n       -       0       bounce",
        "verify    unix  -       -       n       -       1       verify",
        "flush     unix  n       -       n       1000?   0       flush",
        "proxymap  unix  -       -       n       -       -       proxymap",
        "proxywrite unix -       -       n       -       1       proxymap",
        "smtp      unix  -       -       n       -       -       smtp",
        "relay     unix  -       -       n       -       -       smtp",
        "  -o syslog_name=postfix/relay",
        ...(spec.relayhosts.some(relayImplicitTls) ? [
            `${IMPLICIT_TLS_TRANSPORT} unix -      -       n       -       -       smtp`,
            `  -o syslog_name=postfix/${IMPLICIT_TLS_TRANSPORT}`,
            "  -o smtp_tls_wrappermode=yes",
            "  -o smtp_tls_security_level=encrypt",
        ] : []),
        ...((spec.transports ?? []).length > 0 ? [
            `${DIRECT_TRANSPORT}    unix  -       -       n       -       -       smtp`,
            `  -o syslog_name=postfix/${DIRECT_TRANSPORT}`,
            "  -o smtp_sasl_auth_enable=no",
        ] : []),
        "showq     unix  n       -       n       -       -       showq",
        "error     unix  -       -       n       -       -       error",
        "retry     unix  -       -       n       -       -       error",
        "discard   unix  -       -       n       -       -       discard",
        "local     unix  -       n       n       -       -       local",
        "virtual   unix  -       n       n       -       -       virtual",
        "lmtp      unix  -       -       n       -       -       lmtp",
        "anvil     unix  -       -       n       -       1       anvil",
        "scache    unix  -       -       n       -       1       scache",
        "postlog   unix-dgram n  -       n       -       1       postlogd",
        "",
    ].join("\n");
}

/**
 * Mail from Dovecot's Sieve re-enters Postfix here: never published, it trusts only the
 * network Dovecot lives on, so vacation replies and redirects may leave for any domain
 * without widening mynetworks for the public ports.
 */
function reinjectService(spec: PostfixSpec): string[] {
    const r = spec.reinject;
    if (spec.mode !== "internet") return [];
    const trusted = r.trusted.length > 0 ? r.trusted.join(",") : "127.0.0.1/32";
    return [
        `${r.address}:${r.port}      inet  n       -       n       -       -       smtpd`,
        "  -o syslog_name=postfix/reinject",
        `  -o mynetworks=${trusted}`,
        "  -o smtpd_client_restrictions=permit_mynetworks,reject",
        "  -o smtpd_relay_restrictions=permit_mynetworks,reject",
        "  -o smtpd_recipient_restrictions=permit_mynetworks,reject",
        "  -o smtpd_sasl_auth_enable=no",
        "  -o smtpd_client_auth_rate_limit=0",
    ];
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

/** The mailbox or alias addresses a domain defines itself. */
function ownAddresses(spec: PostfixSpec): Set<string> {
    const own = new Set<string>();
    for (const d of spec.domains) {
        for (const m of d.mailboxes) { own.add(m.address); m.aliases.forEach(a => own.add(a)); }
        d.aliases.forEach(a => own.add(a.address));
    }
    return own;
}

/**
 * virtual_alias_maps. Postfix consults it before virtual_mailbox_maps, so a catch-all
 * ("@domain") would swallow real mailboxes; each mailbox therefore maps to itself first.
 */
export function renderVirtualAliases(spec: PostfixSpec): string {
    const entries: Array<[string, string]> = [];
    const own = ownAddresses(spec);
    for (const d of spec.domains) {
        const forwards = new Map(d.forwards.map(f => [f.address, f]));
        for (const m of d.mailboxes) {
            const f = forwards.get(m.address);
            if (f) entries.push([m.address, list(f.keepCopy ? [m.address, ...f.targets] : f.targets)]);
            else entries.push([m.address, m.address]);
            for (const a of m.aliases) entries.push([a, m.address]);
        }
        for (const a of d.aliases) entries.push([a.address, list(a.targets)]);
        for (const role of ["postmaster", "abuse"]) {
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
 * smtpd_sender_login_maps: which SASL login may use which envelope sender. A mailbox owns its
 * address and its aliases; an alias of the domain belongs to the mailboxes it delivers to.
 */
export function renderSenderLogins(spec: PostfixSpec): string {
    const owners = new Map<string, Set<string>>();
    const add = (address: string, login: string) => {
        if (!owners.has(address)) owners.set(address, new Set());
        owners.get(address)!.add(login);
    };
    const mailboxes = new Set(spec.domains.flatMap(d => d.mailboxes.map(m => m.address)));
    for (const d of spec.domains) {
        for (const m of d.mailboxes) { add(m.address, m.address); m.aliases.forEach(a => add(a, m.address)); }
        for (const a of d.aliases) for (const t of a.targets) if (mailboxes.has(t)) add(a.address, t);
    }
    const entries: Array<[string, string]> = [...owners].map(([a, logins]) => [a, list([...logins])]);
    return tableText(entries);
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
    const file = (path: string, content: string, mode = "0644"): RenderedFile =>
        ({ path, content, mode, owner: "root", group: "root" });
    return [
        file("main.cf", renderMainCf(spec)),
        file("master.cf", renderMasterCf(spec)),
        renderProbe(spec.ports.smtp > 0 ? { address: probeAddress(spec.inetInterfaces), port: spec.ports.smtp, greeting: "220 ", goodbye: "QUIT" } : undefined),
        file(postfixTables.virtualMailboxes, renderVirtualMailboxes(spec)),
        file(postfixTables.virtualAliases, renderVirtualAliases(spec)),
        file(postfixTables.systemAliases, renderSystemAliases(spec)),
        file(postfixTables.senderLogins, renderSenderLogins(spec)),
        file(postfixTables.senderRelays, renderSenderRelays(spec)),
        file(postfixTables.relayRecipients, renderRelayRecipients(spec)),
        file(postfixTables.senderTransports, renderSenderTransports(spec)),
        file(postfixTables.transports, renderTransports(spec)),
        file(postfixTables.tlsPolicies, renderTlsPolicies(spec)),
        file("sasl/smtpd.conf", renderSmtpdSaslConf()),
    ];
}

/**
 * smtp_sasl_password_maps. Postfix must present these passwords to the relay, so they cannot be
 * hashed: the component passes them as Pulumi secrets and the file is root-only (0600).
 */
export function renderSaslPasswords(entries: Array<{ nexthop: string; username: string; password: string }>): string {
    return HEADER + entries.map(e => `${e.nexthop}\t${e.username}:${e.password}`).join("\n") + "\n";
}

/** A relay's SASL credentials as resolved from its (secret) inputs. */
export interface RelayCredentials {
    spec: RelayhostSpec;
    username?: string;
    password?: string;
}

/**
 * sasl_passwd entries: per-sender relays are looked up by sender address first ("@domain"), the
 * default relay by its next hop. Relays without credentials have none.
 */
export function relaySaslEntries(relays: RelayCredentials[]): Array<{ nexthop: string; username: string; password: string }> {
    return relays.flatMap(({ spec, username, password }) => {
        if (!spec.hasCredentials || username === undefined || password === undefined) return [];
        const keys = spec.senderDomains.length > 0 ? spec.senderDomains.map(d => `@${d}`) : [relayNexthop(spec)];
        return keys.map(nexthop => ({ nexthop, username, password }));
    });
}

/** The spec with the reinject listener trusting `subnet` (bridge mode: the stack's Docker network). */
export function trustingReinjectFrom(spec: PostfixSpec, subnet: string | undefined): PostfixSpec {
    return { ...spec, reinject: { ...spec.reinject, trusted: subnet ? [subnet] : [] } };
}
