// Renders rspamd's local.d/ and override.d/ files (UCL) from an RspamdSpec, and the DKIM key
// files' form. Pure and deterministic. rspamd reads /etc/rspamd/rspamd.conf as shipped; the image
// links local.d and override.d to the active generation (/config/current), so everything here
// either adds to Debian's defaults (local.d) or replaces one of their keys (override.d).
import { publicFile, RenderedFile } from "../model/spec";
import { renderRspamdAntivirusFiles } from "./clamav";
import { fromOwnerRule, dkimCondition, arcCondition } from "./rspamdConditions";
import { OUTBOUND_RULES, renderRatelimit } from "./rspamdRules";
import {
    DmarcReportingSpec,
    HEADER,
    RspamdSpec,
    ucl,
    q,
    RSPAMD_MILTER_SOCKET,
    VALKEY_SOCKET_DIR,
} from "./rspamdShared";

export function renderRspamdFiles(s: RspamdSpec): RenderedFile[] {
    const signingDomains = s.signing.filter(d => d.keys.length > 0);
    return [
        publicFile(
            "override.d/logging.inc",
            `${HEADER}# To the container's stdout, like every service of the stack.
type = "console";
level = "notice";
systemd = false;
`,
        ),
        publicFile(
            "override.d/options.inc",
            `${HEADER}# Only mynetworks is local (Debian's default trusts every private range, which in Docker
# bridge mode includes the gateway every client arrives from).
local_addrs = ${ucl(s.trustedNetworks)};
# Beside the other sockets: the main process is root without CAP_DAC_OVERRIDE, and the database
# directory belongs to the workers' user.
control_socket = "/run/rspamd/rspamd.sock mode=0600";
# The GTUBE test strings: XJS... rejects, YJS... adds the spam header, so the whole path can be tried.
gtube_patterns = "all";
# The resolver: a lookup waits up to timeout x retransmits before it fails.
dns {
  timeout = ${s.dnsTimeout};
  retransmits = ${s.dnsRetransmits};
  sockets = 16;
${s.nameservers.length > 0 ? `  nameserver = ${ucl(s.nameservers)};\n` : ""}}
`,
        ),
        publicFile(
            "override.d/worker-proxy.inc",
            `${HEADER}# The milter Postfix talks to, on a socket in the volume only Postfix shares; it scans itself.
bind_socket = ${q(`${RSPAMD_MILTER_SOCKET} mode=0666`)};
milter = yes;
timeout = 120s;
upstream "local" {
  default = yes;
  self_scan = yes;
}
# One scan runs on one core: the milter sessions are shared between this many processes.
count = ${s.scanProcesses};
max_retries = 5;
discard_on_reject = false;
quarantine_on_reject = false;
spam_header = "X-Spam";
reject_message = "5.7.1 Message rejected as spam";
`,
        ),
        publicFile(
            "override.d/worker-normal.inc",
            `${HEADER}# Only for the healthcheck and rspamc inside the container: no TCP port.
bind_socket = "/run/rspamd/normal.sock mode=0600";
count = 1;
`,
        ),
        publicFile(
            "override.d/worker-controller.inc",
            `${HEADER}# rspamc stat/learn inside the container only: no TCP port.
bind_socket = "/run/rspamd/controller.sock mode=0600";
${
    s.metricsSocket
        ? `# The metrics container's exporter reads /metrics here (a volume only it and rspamd mount).\nbind_socket = ${q(`${s.metricsSocket} mode=0666`)};\n`
        : ""
}count = 1;
`,
        ),
        publicFile(
            "local.d/redis.conf",
            `${HEADER}servers = ${q(s.valkeyServer ?? `${VALKEY_SOCKET_DIR}/valkey.sock`)};\n`,
        ),
        publicFile(
            "local.d/actions.conf",
            `${HEADER}reject = ${s.rejectScore};
add_header = ${s.addHeaderScore};
${s.greylisting ? `greylist = ${s.greylistScore};` : "greylist = null;"}
`,
        ),
        publicFile("local.d/greylist.conf", `${HEADER}enabled = ${s.greylisting};\n`),
        // Its servers are names, resolved at every start: without DNS each start waits 20 s for them.
        ...(s.dnsLookups
            ? []
            : [
                  publicFile(
                      "local.d/fuzzy_check.conf",
                      `${HEADER}# dns "none": rspamd.com's fuzzy servers cannot be found.\nenabled = false;\n`,
                  ),
              ]),
        publicFile(
            "local.d/rbl.conf",
            `${HEADER}# DNS blocklists refuse queries that come through public resolvers: they need a local one.
enabled = ${s.dnsbl};
`,
        ),
        // rspamd treats loopback clients as local and skips these checks for them; our local
        // clients are mynetworks, exempted by the settings rules instead.
        ...["spf", "dkim"].map(m => publicFile(`local.d/${m}.conf`, `${HEADER}check_local = true;\n`)),
        publicFile(
            "local.d/dmarc.conf",
            `${HEADER}check_local = true;
# Honour the sender domain's policy: p=reject is refused at SMTP time, p=quarantine goes to Junk.
actions {
  quarantine = "add header";
  reject = "reject";
}
${renderDmarcReporting(s.dmarcReporting)}`,
        ),
        publicFile(
            "local.d/milter_headers.conf",
            `${HEADER}use = ["authentication-results"];
skip_local = false;
skip_authenticated = true;
routines {
  authentication-results {
    header = "Authentication-Results";
    add_smtp_user = false;
  }
}
`,
        ),
        publicFile("local.d/settings.conf", OUTBOUND_RULES(s)),
        ...(s.senderOwners
            ? [publicFile("local.d/rspamd.lua", fromOwnerRule(s.senderOwners, s.recipientDelimiter))]
            : []),
        publicFile("local.d/ratelimit.conf", renderRatelimit(s)),
        publicFile(
            "local.d/dkim_signing.conf",
            `${HEADER}# Two signatures per message (RSA and Ed25519, RFC 8463) for each domain's active selector.
enabled = ${signingDomains.length > 0};
allow_envfrom_empty = true;
sign_condition =<<EOD
${dkimCondition({ ...s, signing: signingDomains })}
EOD
`,
        ),
        publicFile(
            "local.d/arc.conf",
            `${HEADER}check_local = true;
# Seal mail that arrives for our domains (forwards and aliases to other servers carry the seal).
enabled = ${signingDomains.length > 0};
sign_condition =<<EOD
${arcCondition({ ...s, signing: signingDomains })}
EOD
`,
        ),
        ...(s.antivirus ? renderRspamdAntivirusFiles(s.antivirus) : []),
    ];
}

/**
 * DMARC aggregate reports (RFC 7489): each scan of received mail whose sender domain publishes a
 * rua adds a row in Valkey (kept 2 days); the image's send-dmarc-reports runs `rspamadm
 * dmarc_report` once a day, which mails each domain its report through Postfix.
 */
function renderDmarcReporting(r: DmarcReportingSpec | undefined): string {
    // Off (reports.dmarc false, relay mode): rspamd's default, nothing collected; the file as before.
    if (!r) return "";
    return `# Aggregate reports: collected in Valkey, sent daily by send-dmarc-reports (rspamadm dmarc_report).
reporting {
  enabled = true;
  email = ${q(r.email)};
  domain = ${q(r.domain)};
  org_name = ${q(r.orgName)};
  from_name = ${q(r.fromName)};
  # Handed to Postfix as local mail from its own host, which rspamd signs for the address's domain.
  smtp = ${q(r.smtpHost)};
  smtp_port = ${r.smtpPort};
  helo = ${q(r.helo)};
  msgid_from = ${q(r.helo)};
}
`;
}
