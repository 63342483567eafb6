// Renders dovecot.conf (Dovecot 2.4 syntax) and its passwd-file from a DovecotSpec.
// Pure and deterministic.
import { Credential, DomainSpec, paths, RenderedFile } from "./spec";

export interface DovecotSpec {
    hostname: string;
    /** Addresses Dovecot listens on ("*" and "::" for all). */
    listen: string[];
    /** 0 turns a listener off. */
    ports: { imap: number; imaps: number; managesieve: number; pop3: number; pop3s: number };
    recipientDelimiter: string;
    /** Same limit as Postfix's message_size_limit, so LMTP never accepts what SMTP refused. */
    messageSizeLimit: number;
    vacation: { minPeriod: string; defaultPeriod: string; maxPeriod: string };
    domains: DomainSpec[];
}

const C = paths.config;

export function renderDovecotConf(spec: DovecotSpec): string {
    const p = spec.ports;
    const pop3 = p.pop3 > 0 || p.pop3s > 0;
    const protocols = ["imap", "lmtp", "sieve", ...(pop3 ? ["pop3"] : [])];
    return `# Rendered by the mailserver package (components/render/dovecot.ts). Do not edit here:
# every deploy replaces this file. Change the component's arguments instead.
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0

protocols = ${protocols.join(" ")}
listen = ${spec.listen.join(", ")}
hostname = ${spec.hostname}
login_greeting = ${spec.hostname} IMAP ready
base_dir = /run/dovecot
# Logs go to the container's output; the service's log collector keeps them.
log_path = /dev/stderr
info_log_path = /dev/stdout
log_timestamp =

# --- TLS: required before any authentication, TLS 1.2 or newer
ssl = required
ssl_server_cert_file = ${C}/tls/cert.pem
ssl_server_key_file = ${C}/tls/key.pem
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

# --- mail storage: Maildir under the mail volume, owned by the virtual user vmail
mail_driver = maildir
mail_path = ~/Maildir
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

# --- quota: per-mailbox limits come from the passwd-file
mail_plugins {
  quota = yes
}
quota "User quota" {
  driver = count
}

# --- listeners
service imap-login {
  inet_listener imap {
    port = ${p.imap}
  }
  inet_listener imaps {
    port = ${p.imaps}
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${p.pop3}
  }
  inet_listener pop3s {
    port = ${p.pop3s}
    ssl = yes
  }
}
service managesieve-login {
  inet_listener sieve {
    port = ${p.managesieve}
  }
}
# Postfix delivers through this socket, on a volume both containers mount.
service lmtp {
  unix_listener ${paths.lmtpSocket} {
    mode = 0666
  }
}

# --- delivery: LMTP with Sieve; user+tag@domain reaches user@domain
recipient_delimiter = ${spec.recipientDelimiter}
lmtp_save_to_detail_mailbox = no
protocol lmtp {
  mail_plugins {
    sieve = yes
  }
}
mail_max_lock_timeout = 30s

# --- Sieve: personal scripts (ManageSieve manages them), vacation limits
sieve_script personal {
  driver = file
  path = ~/sieve
  active_path = ~/.dovecot.sieve
}
sieve_vacation_min_period = ${spec.vacation.minPeriod}
sieve_vacation_default_period = ${spec.vacation.defaultPeriod}
sieve_vacation_max_period = ${spec.vacation.maxPeriod}
`;
}

/**
 * The passwd-file both Dovecot and saslauthd's pam_pwdfile read. Dovecot needs the scheme
 * prefix; pam_pwdfile reads "user:hash", so it gets its own copy (renderSaslauthdPasswd).
 */
export function renderDovecotUsers(credentials: Credential[], domains: DomainSpec[]): string {
    const quotas = new Map<string, string>();
    for (const d of domains) for (const m of d.mailboxes) if (m.quota) quotas.set(m.address, m.quota);
    return credentials
        .map(c => {
            const quota = quotas.get(c.address);
            const extra = quota ? `quota_storage_size=${quota}` : "";
            return `${c.address}:{SHA512-CRYPT}${c.hash}::::::${extra}`;
        })
        .join("\n") + "\n";
}

export function renderDovecotFiles(spec: DovecotSpec): RenderedFile[] {
    return [{ path: "dovecot.conf", content: renderDovecotConf(spec), mode: "0644", owner: "root", group: "root" }];
}

/** The users file holds hashes: readable by root and Dovecot's auth processes only. */
export function dovecotUsersFile(content: string): RenderedFile {
    return { path: "users", content, mode: "0640", owner: "root", group: "dovecot" };
}
