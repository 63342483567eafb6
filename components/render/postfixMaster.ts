// Renders Postfix's master.cf from a PostfixSpec: which smtpd listens on which port with what
// allowed, the SMTP clients, the reinject service and the cleanup services. Pure and deterministic.
import { SIEVE_MTA_TAG } from "./rspamdShared";
import { paths } from "../model/paths";
import { relayImplicitTls } from "../model/relay";
import { PostfixSpec } from "../model/spec";
import * as p2 from "./postfixShared";

/** A master.cf service name in its column (Postfix's own master.cf pads it to 10 characters). */
export const service = (name: string | number) => `${name}`.padEnd(9) + " ";

/** The smtpd services: which port, and what is allowed on it. */
export function renderMasterCf(spec: PostfixSpec): string {
    const { smtp, submission, smtps } = spec.ports;
    const internet = spec.mode === "internet";
    // 587 and 465: nothing without AUTH, and a login sends only as its own addresses (internet mode;
    // relay mode's users may send as anyone): reject_sender_login_mismatch passes the null sender,
    // which submission_senders refuses. rspamd checks the From header against the same owners.
    const submissionOptions = (name: string) => p2.cf`  -o syslog_name=postfix/${name}
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_restrictions=${internet ? `reject_sender_login_mismatch,check_sender_access,${p2.table(p2.postfixTables.submissionSenders)}` : ""}
  -o smtpd_recipient_restrictions=reject_non_fqdn_recipient,permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
  -o cleanup_service_name=${p2.SUBMISSION_CLEANUP}`;
    // Behind a TCP load balancer: the client's address comes from the PROXY header, read before the
    // greeting (and, on 465, before the TLS handshake). Per service, so the others stay direct.
    const proxied = (listener: keyof PostfixSpec["ports"]) =>
        spec.proxyListeners?.includes(listener) ? "\n  -o smtpd_upstream_proxy_protocol=haproxy" : "";
    return p2.cf`${p2.HEADER}
# chroot is "n" everywhere: the container is the jail, and paths stay the same inside and out.
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
# ==========================================================================

# --- SMTP: 25 for other servers; 587 (STARTTLS) and 465 (implicit TLS) for our users, with AUTH
${service(smtp)}inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/smtp${proxied("smtp")}
${service(submission)}inet  n       -       n       -       -       smtpd
${submissionOptions("submission")}
  -o smtpd_tls_security_level=encrypt${proxied("submission")}
${service(smtps)}inet  n       -       n       -       -       smtpd
${submissionOptions("smtps")}
  -o smtpd_tls_wrappermode=yes${proxied("smtps")}
# Privacy for our users (587 and 465 only, never 25): their client's Received line (HELO name and
# address) and User-Agent, X-Mailer, X-Originating-IP are dropped; attached messages keep theirs.
${service(p2.SUBMISSION_CLEANUP)}unix  n       -       n       -       0       cleanup
  -o syslog_name=postfix/${p2.SUBMISSION_CLEANUP}
  -o header_checks=regexp:${p2.C}/${p2.SUBMISSION_HEADER_CHECKS}
  -o nested_header_checks=

${p2.when(internet)`
# Mail from Dovecot's Sieve (vacation replies, redirects, rejections) re-enters Postfix here: a unix
# socket (${paths.reinjectSocket}) in the LMTP volume, which only the Postfix and Dovecot containers
# mount. No network client, other container or local user can reach it, so it relays without AUTH
# and rspamd signs what it tags. smtpd sees every unix-socket client as 127.0.0.1.
${service(p2.REINJECT_SERVICE)}unix  n       -       n       -       -       smtpd
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
${p2.when(spec.relayhosts.some(relayImplicitTls))`
# SMTP client for relays with implicit TLS (SMTPS, e.g. port 465).
${service(p2.IMPLICIT_TLS_TRANSPORT)}unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/${p2.IMPLICIT_TLS_TRANSPORT}
  -o smtp_tls_wrappermode=yes
  -o smtp_tls_security_level=encrypt
`}
${p2.when((spec.transports ?? []).length > 0)`
# SMTP client for MailServer transports (transport_maps): never presents relay credentials.
${service(p2.DIRECT_TRANSPORT)}unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/${p2.DIRECT_TRANSPORT}
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
