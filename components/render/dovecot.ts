// Renders dovecot.conf (Dovecot 2.4 syntax) and its passwd-file from a DovecotSpec.
// Pure and deterministic.
import { DovecotMetricsSpec, renderDovecotMetrics } from "./metrics";
import { dovecotScheme } from "../model/password";
import { renderProbe } from "./probe";
import { imapProbe, renderDovecotListeners } from "./dovecotListeners";
import { renderSieveFiles } from "./sieve";
import {
    Credential,
    DomainSpec,
    DovecotSpec,
    LMTP_CONCURRENCY,
    LMTP_USER_CONCURRENCY,
    publicFile,
    RenderedFile,
} from "../model/spec";
import { paths } from "../model/paths";
import { renderAuthPolicy } from "./dovecotAuthPolicy";

/** The SMTP client Dovecot runs as its sendmail_path (Debian's msmtp, in the Dovecot image). */
export const MSMTP = "/usr/bin/msmtp";

/** The Sieve script every delivery runs first when the MailServer has its spam filter on. */
export const JUNK_SIEVE_PATH = "sieve-global/junk.sieve";
export const JUNK_SIEVE = `# Rendered by the mailserver package (components/render/dovecot.ts).
# rspamd adds "X-Spam: Yes" at MailServer spamFilter.addHeaderScore: such mail goes to Junk, and
# no other rule (vacation replies, forwards, filing) acts on it.
require ["fileinto"];
if header :is "X-Spam" "Yes" {
  fileinto "Junk";
  stop;
}
`;

/**
 * Dovecot counts a message with the headers it adds on delivery (Return-Path, Delivered-To,
 * Received) and CRLF line ends, so an identical number would refuse, with a temporary 451,
 * messages just under Postfix's limit and keep them queued for days. The headers need well
 * under 1 KiB; this leaves room for long ones.
 */
export const LMTP_SIZE_ALLOWANCE = 64 * 1024;

const C = paths.config;

export function renderDovecotConf(spec: DovecotSpec, metrics?: DovecotMetricsSpec): string {
    const p = spec.ports;
    const pop3 = p.pop3 > 0 || p.pop3s > 0;
    const protocols = ["imap", "lmtp", "sieve", ...(pop3 ? ["pop3"] : [])];
    const tlsDir = spec.certificate.dir;
    return `# Rendered by the mailserver package (components/render/dovecot.ts). Do not edit here:
# every deploy replaces this file. Change the component's arguments instead.
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0

protocols = ${protocols.join(" ")}
listen = ${spec.listen.join(", ")}
hostname = ${spec.hostname}
# Also the greeting of POP3, ManageSieve and LMTP; names no software.
login_greeting = ${spec.hostname} ready
base_dir = /run/dovecot
# A reload (new dovecot.conf or certificate) must not cut sessions in flight: by default Dovecot ends
# them, and an LMTP delivery cut with "421 Server shutting down" waits in Postfix's queue for its
# 5-minute backoff. Sessions finish on the old settings; new ones get the new. Dovecot warns
# against this when storage settings change, and these never do (mail_driver and mail_path are fixed).
shutdown_clients = no
# Logs go to the container's output; the service's log collector keeps them.
log_path = /dev/stderr
info_log_path = /dev/stdout
log_timestamp =

# --- TLS: required before any authentication, TLS 1.2 or newer
ssl = required
ssl_server_cert_file = ${tlsDir}/cert.pem
ssl_server_key_file = ${tlsDir}/key.pem
ssl_min_protocol = TLSv1.2
ssl_server_prefer_ciphers = server
auth_allow_cleartext = no
auth_mechanisms = plain login

# --- users: one passwd-file with SHA512-CRYPT hashes, shared with saslauthd's copy
passdb passwd-file {
  passwd_file_path = ${C}/users
  default_password_scheme = SHA512-CRYPT
}
userdb passwd-file {
  passwd_file_path = ${C}/users
  fields {
    uid = vmail
    gid = vmail
    home = ${paths.mailRoot}/%{user | domain}/%{user | username}
  }
}
auth_username_format = %{user | lower}

# --- SMTP AUTH: Postfix asks this auth service (smtpd_sasl_type = dovecot) through a socket on the
# volume only the two share, passing the client's address: one auth service, and one brute-force
# protection with real client addresses, for SMTP, IMAP, POP3 and ManageSieve.
service auth {
  unix_listener ${paths.dovecotAuthSocket} {
    mode = 0666
  }
${tcp(spec, "auth-postfix", t => t.authPort)}}
${spec.bruteForce ? renderAuthPolicy(spec.bruteForce) : ""}
# --- mail storage: Maildir under the mail volume, owned by the virtual user vmail
mail_driver = maildir
mail_path = ~/Maildir
# Only Dovecot writes these Maildirs (LMTP delivery, IMAP, POP3): it need not rescan new/ and cur/
# on every sync, which made each delivery to a large mailbox read the whole folder.
maildir_very_dirty_syncs = yes
mail_uid = vmail
mail_gid = vmail
first_valid_uid = 5000
last_valid_uid = 5000

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}

# --- quota: per-mailbox limits come from the passwd-file (userdb_quota_storage_size)
mail_plugins {
  quota = yes
}
protocol imap {
  mail_plugins {
    imap_quota = yes
  }
}
quota "User quota" {
  driver = count
}
# A quota is a hard limit: no grace for the message that would cross it.
quota_storage_grace = 0
# Postfix's message_size_limit plus room for the delivery headers (see LMTP_SIZE_ALLOWANCE).
quota_mail_size = ${spec.messageSizeLimit + LMTP_SIZE_ALLOWANCE}
# Permanent (552 5.2.2), so Postfix bounces at once and the sender learns why.
quota_full_tempfail = no
quota_exceeded_message = Quota exceeded: the mailbox of %{user} is full

${renderDovecotListeners(spec)}# Postfix delivers through this socket, on a volume both containers mount.
service lmtp {
  unix_listener ${paths.lmtpSocket} {
    mode = 0666
  }
${tcp(spec, "lmtp", t => t.lmtpPort)}}

# --- delivery: LMTP with Sieve; user+tag@domain reaches user@domain
recipient_delimiter = ${spec.recipientDelimiter}
lmtp_save_to_detail_mailbox = no
# Above Postfix's lmtp_destination_concurrency_limit (${LMTP_CONCURRENCY}): a burst to one mailbox is never
# refused with 451; Dovecot's count of finished deliveries lags behind Postfix's next connection.
lmtp_user_concurrency_limit = ${LMTP_USER_CONCURRENCY}
# A full mailbox refuses at RCPT already, before the message is transferred.
lmtp_rcpt_check_quota = yes
protocol lmtp {
  mail_plugins {
    sieve = yes
  }
  # fileinto a folder that does not exist yet creates it, subscribed, instead of filing into INBOX.
  lda_mailbox_autocreate = yes
  lda_mailbox_autosubscribe = yes
}
${
    spec.reinjectSocket === undefined
        ? ""
        : `# Mail that Sieve sends (redirect, vacation replies, rejections) goes out through Postfix's reinject
# socket, in the LMTP volume only the two containers mount. Dovecot's own SMTP client
# (submission_host) speaks TCP only, which any local user or container could reach too; msmtp speaks
# SMTP over the socket (--host only names the server: with it msmtp reads no configuration file).
sendmail_path = ${MSMTP} --host=localhost --socket=${spec.reinjectSocket} --domain=${spec.hostname}
`
}mail_max_lock_timeout = 30s

# --- Sieve: personal scripts (ManageSieve manages them), vacation limits
${
    spec.junkSpam
        ? `# Spam to Junk, first of all scripts (storages run in the order they are defined here).
sieve_script junk {
  type = before
  driver = file
  path = ${C}/${JUNK_SIEVE_PATH}
  bin_path = ~/.sieve-bin
}
`
        : ""
}sieve_script personal {
  driver = file
  path = ~/sieve
  active_path = ~/.dovecot.sieve
}
# The mailbox's rules from the deployment (components/render/sieve.ts); the config job checks
# that they compile. They run before the personal script, which still runs unless they filed,
# redirected, rejected or discarded the message. A mailbox without rules has no file, which
# Dovecot skips. The config volume is read-only here: compiled binaries go to the home.
sieve_script mailbox-rules {
  type = before
  driver = file
  path = ${C}/sieve/%{user}.sieve
  bin_path = ~/.sieve-bin
}
# A redirect leaves with the mailbox's own address as envelope sender: the mail is ours to sign
# (DKIM) and passes SPF, and bounces come back to the mailbox instead of the original sender.
sieve_redirect_envelope_from = recipient
sieve_vacation_min_period = ${spec.vacation.minPeriod}
sieve_vacation_default_period = ${spec.vacation.defaultPeriod}
sieve_vacation_max_period = ${spec.vacation.maxPeriod}
${metrics ? renderDovecotMetrics(metrics) : ""}`;
}

/**
 * The passwd-file both Dovecot and saslauthd's pam_pwdfile read. Dovecot needs the scheme
 * prefix; pam_pwdfile reads "user:hash", so it gets its own copy (renderSaslauthdPasswd).
 */
export function renderDovecotUsers(credentials: Credential[], domains: DomainSpec[]): string {
    const quotas = new Map<string, string>();
    for (const d of domains) for (const m of d.mailboxes) if (m.quota) quotas.set(m.address, m.quota);
    return (
        credentials
            .map(c => {
                const quota = quotas.get(c.address);
                // "userdb_": passwd-file gives the userdb only the extra fields with this prefix.
                const extra = quota ? `userdb_quota_storage_size=${quota}` : "";
                return `${c.address}:{${dovecotScheme(c.hash)}}${c.hash}::::::${extra}`;
            })
            .join("\n") + "\n"
    );
}

/** dovecot.conf first, then each mailbox's Sieve script. */
export function renderDovecotFiles(spec: DovecotSpec, metrics?: DovecotMetricsSpec): RenderedFile[] {
    return [
        publicFile("dovecot.conf", renderDovecotConf(spec, metrics)),
        renderProbe(imapProbe(spec)),
        ...(spec.junkSpam ? [publicFile(JUNK_SIEVE_PATH, JUNK_SIEVE)] : []),
        ...renderSieveFiles(spec.domains),
    ];
}

/** The users file holds hashes: readable by root and Dovecot's auth processes only. */
export function dovecotUsersFile(content: string): RenderedFile {
    return { path: "users", content, mode: "0640", owner: "root", group: "dovecot" };
}

/** Kubernetes: a TCP listener beside the socket, for Postfix in its own pods (a Service in between). */
function tcp(spec: DovecotSpec, name: string, port: (t: NonNullable<DovecotSpec["tcpListeners"]>) => number): string {
    const t = spec.tcpListeners;
    return t
        ? `  # Postfix runs in other pods and reaches this through a Service.\n  inet_listener ${name} {\n    port = ${port(t)}\n  }\n`
        : "";
}
