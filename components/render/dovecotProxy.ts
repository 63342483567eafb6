// DovecotImap kubernetes.shards > 1: the Dovecot proxy's dovecot.conf and passwd-file, and the
// backends' files (Dovecot's own, renderDovecotFiles, with the backend's ports and trusted networks).
// Pure and deterministic.
//
// The proxy authenticates every login itself (the same SHA512-CRYPT hashes as a single Dovecot,
// brute-force policy included) and then logs in to the user's backend with the password the client
// gave (`pass=%{password}`), over STARTTLS (`starttls=any-cert`: encrypted in the pod network; the
// backend's certificate names the mail host, not its shard Service, so it is not verified): no master
// password exists, nothing but the hashes is stored. LMTP from Postfix (and SMTP AUTH) reaches the
// proxy too; `lmtp_proxy` sends each recipient's delivery to its backend. The backends trust the
// proxy's network (login_trusted_networks): they log the client's real address the proxy forwards.
import { dovecotScheme } from "../model/password";
import { paths } from "../model/paths";
import { BACKEND_PORTS, shardHost, shardOf } from "../model/shards";
import type { Credential, DomainSpec, DovecotSpec, RenderedFile } from "../model/spec";
import { publicFile } from "../model/spec";
import { renderDovecotFiles } from "./dovecot";
import { renderAuthPolicy } from "./dovecotAuthPolicy";
import { imapProbe, renderDovecotListeners } from "./dovecotListeners";
import { renderProbe } from "./probe";

/** Which backend holds each mailbox (its `shard`, else the hash of its address). */
export function shardAssignment(domains: DomainSpec[], shards: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const d of domains) for (const m of d.mailboxes) out.set(m.address, shardOf(m.address, shards, m.shard));
    return out;
}

/**
 * The proxy's passwd-file: each login's hash, and where it is proxied to. `pass=%{password}` hands
 * the backend the password the client logged in with (empty for LMTP's lookup, which needs none).
 * `proxy_no_multiplex`: Dovecot 2.4.1's multiplexed stream over the TLS connection to the backend can
 * stall an IMAP session for good (fixed upstream after 2.4.4: "istream-multiplex - Fix hang when
 * reading from an SSL istream"); seen on the test cluster as sessions idle on both sides after a few
 * commands. Multiplexing only carries the proxy's side of COMPRESS, which the backend then does itself.
 */
export function renderProxyUsers(
    credentials: Credential[],
    domains: DomainSpec[],
    prefix: string,
    shards: number,
): string {
    const assigned = shardAssignment(domains, shards);
    return (
        credentials
            .map(c => {
                const host = shardHost(prefix, assigned.get(c.address) ?? shardOf(c.address, shards));
                return `${c.address}:{${dovecotScheme(c.hash)}}${c.hash}::::::proxy=y host=${host} starttls=any-cert pass=%{password} proxy_no_multiplex`;
            })
            .join("\n") + "\n"
    );
}

/**
 * A backend's spec: the fixed internal ports the proxy connects to; no brute-force policy and no
 * PROXY header (both are the proxy's: it faces the clients and forwards their address).
 */
export function backendSpec(spec: DovecotSpec): DovecotSpec {
    const pop3 = spec.ports.pop3 > 0 || spec.ports.pop3s > 0;
    const { bruteForce: _proxied, proxyProtocol: _header, ...rest } = spec;
    return {
        ...rest,
        ports: {
            imap: BACKEND_PORTS.imap,
            imaps: 0,
            managesieve: spec.ports.managesieve > 0 ? BACKEND_PORTS.managesieve : 0,
            pop3: pop3 ? BACKEND_PORTS.pop3 : 0,
            pop3s: 0,
        },
    };
}

/** A backend's files: Dovecot's own with its ports, and the proxy's networks trusted. */
export function renderBackendFiles(spec: DovecotSpec, trustedNetworks: string[]): RenderedFile[] {
    return renderDovecotFiles(backendSpec(spec)).map(f =>
        f.path === "dovecot.conf"
            ? {
                  ...f,
                  content: `${f.content}
# --- shard backend (DovecotImap kubernetes.shards): clients reach it only through the Dovecot proxy
# (its NetworkPolicy admits the proxy pods alone). The proxy forwards the client's address (logged)
# and logs in with the client's password after STARTTLS.
login_trusted_networks = ${trustedNetworks.join(" ")}
`,
              }
            : f,
    );
}

const C = paths.config;

/** The proxy's dovecot.conf: TLS and authentication for clients, then every session to its backend. */
export function renderDovecotProxyConf(spec: DovecotSpec): string {
    const p = spec.ports;
    const pop3 = p.pop3 > 0 || p.pop3s > 0;
    const t = spec.tcpListeners ?? { lmtpPort: BACKEND_PORTS.lmtp, authPort: 12345 };
    const protocols = ["imap", "lmtp", "sieve", ...(pop3 ? ["pop3"] : [])];
    return `# Rendered by the mailserver package (components/render/dovecotProxy.ts). Do not edit here:
# every deploy replaces this file. Change the component's arguments instead.
# The Dovecot proxy in front of the shard backends (DovecotImap kubernetes.shards).
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0

protocols = ${protocols.join(" ")}
listen = ${spec.listen.join(", ")}
hostname = ${spec.hostname}
login_greeting = ${spec.hostname} ready
base_dir = /run/dovecot
shutdown_clients = no
log_path = /dev/stderr
info_log_path = /dev/stdout
log_timestamp =

# --- TLS: required before any authentication, TLS 1.2 or newer (the proxy is the clients' server)
ssl = required
ssl_server_cert_file = ${spec.certificate.dir}/cert.pem
ssl_server_key_file = ${spec.certificate.dir}/key.pem
ssl_min_protocol = TLSv1.2
ssl_server_prefer_ciphers = server
auth_allow_cleartext = no
auth_mechanisms = plain login

# --- users: the hashes, and each login's backend (proxy=y host=<shard Service>). The backend gets
# the client's own password (pass=%{password}) after STARTTLS (any-cert: its certificate names the
# mail host, not the shard Service).
passdb passwd-file {
  passwd_file_path = ${C}/users
  default_password_scheme = SHA512-CRYPT
}
auth_username_format = %{user | lower}

# --- SMTP AUTH for Postfix (its pods reach this through the Service <prefix>-dovecot-internal)
service auth {
  unix_listener ${paths.dovecotAuthSocket} {
    mode = 0666
  }
  inet_listener auth-postfix {
    port = ${t.authPort}
  }
}
${spec.bruteForce ? renderAuthPolicy(spec.bruteForce) : ""}
${renderDovecotListeners(spec)}
# --- delivery: each RCPT's passdb lookup names its backend; the message goes there over LMTP
lmtp_proxy = yes
recipient_delimiter = ${spec.recipientDelimiter}
service lmtp {
  inet_listener lmtp {
    port = ${t.lmtpPort}
  }
}
`;
}

/** The proxy's files: dovecot.conf and its probe (the users file is a secret file). */
export function renderDovecotProxyFiles(spec: DovecotSpec): RenderedFile[] {
    return [publicFile("dovecot.conf", renderDovecotProxyConf(spec)), renderProbe(imapProbe(spec))];
}
