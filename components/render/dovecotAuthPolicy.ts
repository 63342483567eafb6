// dovecot.conf's brute-force section (components/render/dovecot.ts includes it): Dovecot's auth
// policy client, asking the authpolicy service (images/authpolicy) over its unix socket.
import { BruteForceSpec } from "../model/spec";
import { paths } from "../model/paths";

/** The seconds of a Dovecot period ("10m", "1h"). */
export function periodSeconds(period: string): number {
    const m = /^(\d+)([smhd])$/.exec(period)!;
    return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}

/**
 * Dovecot's auth policy (the wforce protocol): before each authentication Dovecot asks the policy
 * service whether the client address or the login is banned, and afterwards reports the outcome.
 * The service is reached as an HTTP proxy on a unix socket (no TCP port anywhere); its thresholds
 * travel as attributes of every request, so they change with dovecot.conf, by a reload, and the
 * service keeps its bans.
 */
export function renderAuthPolicy(b: BruteForceSpec): string {
    return `# --- brute force: every authentication (IMAP, POP3, ManageSieve, SMTP AUTH) first asks the policy
# service (images/authpolicy) and reports its outcome. ${b.maxFailures} failures from one address within ${b.findTime} ban
# that address for ${b.banTime}, even with the right password; ${b.maxLoginFailures} failures to one login (from any
# addresses) close it for ${b.banTime} to every address that has not logged in to it successfully.
# Dovecot's own penalty (an anvil-kept delay per address, doubling up to 15 s) goes: the service
# bans instead, with exemptions, where the penalty would slow everyone behind Docker's gateway and
# make Postfix give up on its auth server after 10 s (454 instead of 535).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
auth_policy_server_url = http://authpolicy/
# Dovecot requires a nonce for the password hash it sends; the service never reads that hash.
auth_policy_hash_nonce = mailserver-authpolicy
auth_policy_check_after_auth = no
auth_policy {
  http_client_proxy_socket_path = ${paths.authPolicySocket}
  request_attributes {
    max_failures = ${b.maxFailures}
    max_login_failures = ${b.maxLoginFailures}
    find_seconds = ${periodSeconds(b.findTime)}
    ban_seconds = ${periodSeconds(b.banTime)}
    exempt = ${[...b.exempt, ...(b.exemptGateway ? ["gateway"] : [])].join(" ")}
  }
}
`;
}
