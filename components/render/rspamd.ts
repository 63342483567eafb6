// Renders rspamd's local.d/ and override.d/ files (UCL) from an RspamdSpec, and the DKIM key
// files' form. Pure and deterministic. rspamd reads /etc/rspamd/rspamd.conf as shipped; the image
// links local.d and override.d to the active generation (/config/current), so everything here
// either adds to Debian's defaults (local.d) or replaces one of their keys (override.d).
import * as crypto from "node:crypto";
import { publicFile, RenderedFile } from "../model/spec";
import { paths } from "../model/paths";

import type { DkimAlgorithm } from "../model/spec";
export type { DkimAlgorithm };

export interface RspamdSpec {
    /** mynetworks as CIDRs: trusted like authenticated users (signed, never scored). */
    trustedNetworks: string[];
    /** DNS servers ("address" or "address:port"); none: the container's /etc/resolv.conf. */
    nameservers: string[];
    /** How long one DNS answer is waited for ("1s", "500ms"), and how often a query is sent again. */
    dnsTimeout: string;
    dnsRetransmits: number;
    /** false (MailServer dns "none"): inbound mail is checked without the checks that ask DNS. */
    dnsLookups: boolean;
    rejectScore: number;
    addHeaderScore: number;
    /** Our own mail (logins, mynetworks) at this score is refused instead of signed and sent. */
    outboundRejectScore: number;
    /** Per SMTP AUTH login and hour (rspamd's ratelimit on Valkey); 0: no limit. */
    messagesPerHour: number;
    recipientsPerHour: number;
    greylisting: boolean;
    greylistScore: number;
    dnsbl: boolean;
    /** Each domain that signs, with its signing selectors (an RSA and an Ed25519 one, RFC 8463). */
    signing: Array<{ domain: string; keys: Array<{ selector: string; algorithm: DkimAlgorithm }> }>;
    /**
     * Internet mode: which logins own which address (senderOwners, the table Postfix checks the
     * envelope sender against), so a login's From header is checked against the same owners.
     * undefined (relay mode): relay users may send as anyone, and no From header is checked.
     */
    senderOwners?: Array<[string, string[]]>;
    /** Postfix's recipient_delimiter: user+tag@domain belongs to whoever owns user@domain. */
    recipientDelimiter: string;
}

/** Where Postfix finds the milter: a volume shared by the rspamd and Postfix containers only. */
export const RSPAMD_MILTER_DIR = "/run/rspamd-milter";
export const RSPAMD_MILTER_SOCKET = `${RSPAMD_MILTER_DIR}/milter.sock`;
/** rspamd's database directory (hyperscan cache, statistics), on a volume that outlives the container. */
export const RSPAMD_DB_DIR = "/var/lib/rspamd";
/** Valkey's socket directory, a volume shared by the Valkey and rspamd containers only. */
export const VALKEY_SOCKET_DIR = "/run/valkey";
export const VALKEY_DATA_DIR = "/var/lib/valkey";
/**
 * Postfix's milter_macro_daemon_name of the reinject socket (reachable by Dovecot only): rspamd
 * reads {daemon_name} as the request header "MTA-Name" and signs what comes from there.
 */
export const SIEVE_MTA_TAG = "sieve";
/**
 * The prefilter that refuses a login's message whose From header it does not own; its verdict
 * (the mempool variable OWNED_FROM_VARIABLE) is what lets the DKIM condition sign that message.
 */
export const FROM_OWNER_SYMBOL = "FROM_NOT_OWNED_BY_LOGIN";
export const OWNED_FROM_VARIABLE = "mailserver_owned_from";

const HEADER =
    "# Rendered by the mailserver package (components/render/rspamd.ts). Do not edit here:\n" +
    "# every deploy replaces this file. Change the component's arguments instead.\n";

/** A UCL string (JSON's quoting is valid UCL). */
const q = (s: string) => JSON.stringify(s);
const ucl = (values: string[]) => `[${values.map(q).join(", ")}]`;

/** Where rspamd reads the key: dkimKeyPath in the active generation. */
const installedKey = (domain: string, selector: string) => `${paths.config}/${dkimKeyPath(domain, selector)}`;

export function dkimKeyPath(domain: string, selector: string): string {
    return `dkim/${domain}.${selector}.key`;
}

/**
 * A private key as rspamd loads it: RSA as PEM; Ed25519 as the base64 of its 32-byte seed, since
 * rspamd 3.12 reads an Ed25519 PEM as RSA and fails to sign ("rsa sign error").
 */
export function rspamdDkimKey(privateKeyPem: string, algorithm: DkimAlgorithm): string {
    if (algorithm === "rsa") return privateKeyPem.endsWith("\n") ? privateKeyPem : `${privateKeyPem}\n`;
    const der = crypto.createPrivateKey(privateKeyPem).export({ format: "der", type: "pkcs8" });
    // PKCS#8 of Ed25519 (RFC 8410) ends with the 32-byte seed.
    return `${der.subarray(der.length - 32).toString("base64")}\n`;
}

/** The checks of a sender's own SPF, DKIM, DMARC and ARC. */
const SENDER_AUTH_CHECKS = ["SPF_CHECK", "DKIM_CHECK", "DMARC_CHECK", "ARC_CHECK"];

/**
 * The three kinds of mail that are ours to sign. Mail from our logins and from mynetworks is also
 * scored against a threshold of its own (a phished account's spam is refused, not signed and
 * sent); Sieve's mail (reinjected mail that was scored on its way in) is only signed.
 */
const OUTBOUND_RULES = (s: RspamdSpec) => {
    const scored = `apply {
    # Refused at outboundRejectScore; never marked, rewritten or greylisted. "soft reject" (the rate
    # limits) stays. The sender's SPF, DKIM and DMARC mean nothing for mail we are about to sign
    # (and judge mynetworks' address, not ours); DKIM_SIGNED depends on DKIM_CHECK and still runs.${
        s.dnsLookups
            ? ""
            : '\n    # dns "none": the other checks that ask DNS are off here too (see the rule "dnsless").'
    }
    actions { reject = ${s.outboundRejectScore}; "add header" = null; "rewrite subject" = null; greylist = null; }
    symbols_disabled = ${ucl([...new Set([...SENDER_AUTH_CHECKS, ...(s.dnsLookups ? [] : DNS_CHECKS)])])};
  }`;
    return `${HEADER}
# Mail from authenticated users (587, 465).
authenticated {
  priority = high;
  authenticated = yes;
  ${scored}
}
${
    s.trustedNetworks.length > 0
        ? `
# Mail from mynetworks.
trusted {
  priority = high;
  ip = ${ucl(s.trustedNetworks)};
  ${scored}
}
`
        : ""
}
# Vacation replies, redirects and rejections from Dovecot's Sieve (Postfix's reinject socket):
# signing and the headers only, no score, no spam action.
sieve {
  priority = high;
  request_header = { "MTA-Name" = ${q(`^${SIEVE_MTA_TAG}$`)}; }
  apply {
    symbols_enabled = ["DKIM_SIGNED", "ARC_SIGNED"];
    actions { reject = null; "add header" = null; "rewrite subject" = null; greylist = null; }
  }
}
${
    s.dnsLookups
        ? ""
        : `
# dns "none": everything else (mail from outside, and Postfix's own notices) is checked without
# the checks that ask DNS, which would each wait for their lookups to time out.
dnsless {
  priority = low;
  authenticated = yes;
  inverse = true;
  apply {
    symbols_disabled = ${ucl(DNS_CHECKS)};
  }
}
`
}`;
};

/**
 * rspamd's ratelimit module, keyed by the SMTP AUTH login (selector "user"; mail without a login
 * has no bucket): one bucket counts messages, one recipients (SMTP RCPTs). A leaky bucket of
 * `limit` drained at limit/hour. Over it, rspamd answers "soft reject": Postfix says 451 4.7.1
 * with the bucket's message, and the client retries later.
 */
function renderRatelimit(s: RspamdSpec): string {
    // rspamd keys a bucket by its selector's value alone, so each bucket names itself after the
    // login (id(...)): with the login only, the two would share one Valkey key and one count.
    const bucket = (name: string, limit: number, unit: string, perMessage: boolean) =>
        limit === 0
            ? ""
            : `  ${name} {
    selector = "user.lower;id('${unit}')";
    bucket = {
      burst = ${limit};
      rate = "${limit} / 1h";${perMessage ? "\n      skip_recipients = true;" : ""}
      message = ${q(`Too many ${unit} from this login: at most ${limit} per hour; try again later`)};
    }
  }
`;
    return `${HEADER}# Per SMTP AUTH login: MailServer spamFilter.messagesPerHour and recipientsPerHour (0: no limit).
enabled = ${s.messagesPerHour > 0 || s.recipientsPerHour > 0};
rates {
${bucket("login_messages", s.messagesPerHour, "messages", true)}${bucket("login_recipients", s.recipientsPerHour, "recipients", false)}}
# rspamd skips every limit for a message with a recipient on this list (default postmaster and
# mailer-daemon), which would let a phished account escape its limits by adding one: a control
# character, which no SMTP address can hold (strict_rfc821_envelopes), empties it.
whitelisted_rcpts = ["\\u0001"];
`;
}

/**
 * rspamd's checks that ask DNS for every message from outside: the client's name (RDNS_CHECK,
 * the hostname filter), its AS, SPF, DKIM and ARC verification, DMARC. Blocklists are the rbl
 * module (spamFilter.dnsbl).
 */
export const DNS_CHECKS = [
    "RDNS_CHECK",
    "HFILTER_CHECK",
    "ASN_CHECK",
    "SPF_CHECK",
    "DKIM_CHECK",
    "ARC_CHECK",
    "DMARC_CHECK",
];

/**
 * The Lua condition that picks DKIM keys: whose mail is ours to sign, and for which domain.
 * - Sieve's mail (the reinject socket, which only Dovecot reaches; first, since its clients look
 *   like 127.0.0.1 to Postfix): vacation replies and rejections (null envelope sender) for their
 *   From domain; a redirect as its forwarder, for the mailbox's domain (its envelope sender), and
 *   only when its From header is not one of ours: a forged From of ours stays unsigned, and our
 *   users' own mail keeps the signature it left with.
 * - A login's mail: internet mode, only when FROM_NOT_OWNED_BY_LOGIN found its From owned.
 * - mynetworks: the operator trusts those hosts to send as our domains (mail from servers and
 *   applications without a login), by choice in the settings; mynetworks is never wider than
 *   what MailServer accepts.
 * Then the From header's domain when it is ours and the envelope agrees (or is null).
 * Nobody else's mail (outsiders on port 25) is signed. rspamd counts every loopback client as
 * local: mynetworks is recognised here by address, as the settings rule "trusted" does.
 */
function dkimCondition(s: RspamdSpec): string {
    const keys = s.signing
        .map(
            d =>
                `    [${q(d.domain)}] = {\n` +
                d.keys
                    .map(
                        k => `      { selector = ${q(k.selector)}, key = ${q(installedKey(d.domain, k.selector))} },\n`,
                    )
                    .join("") +
                "    },\n",
        )
        .join("");
    const loginCheck = s.senderOwners
        ? `    -- Its From header, checked against the login (FROM_NOT_OWNED_BY_LOGIN, local.d/rspamd.lua).
    if task:get_mempool():get_variable(${q(OWNED_FROM_VARIABLE)}) == nil then return false end
`
        : `    -- Relay mode: its users may send as any sender.
`;
    // rspamd runs the text as a chunk only when it starts with "return function".
    return `return function(task)
${trustedPrelude(s)}  local keys = {
${keys}  }
  local function domain_of(list)
    local d = list and list[1] and list[1].domain
    if d == nil or d == '' then return nil end
    return d:lower()
  end
  local hdom = domain_of(task:get_from('mime'))
  local edom = domain_of(task:get_from('smtp'))
  local tag = task:get_request_header('MTA-Name')
  local domain
  if tag ~= nil and tostring(tag) == ${q(SIEVE_MTA_TAG)} then
    if edom == nil then
      domain = hdom
    elseif not (hdom and keys[hdom]) then
      domain = edom
    end
  else
    if task:get_user() ~= nil then
${loginCheck}    elseif not trusted(task:get_from_ip()) then
      return false
    end
    if edom == nil or edom == hdom then domain = hdom end
  end
  if not domain or not keys[domain] then return false end
  local out = {}
  for _, k in ipairs(keys[domain]) do
    out[#out + 1] = { domain = domain, selector = k.selector, key = k.key }
  end
  return out
end`;
}

/**
 * local.d/rspamd.lua (internet mode): an authenticated user (587, 465) sends only with a From
 * header its login owns, by the owners Postfix checks the envelope sender against. rspamd checks
 * it because only the milter sees the header; a prefilter refuses the message (554 5.7.1) before
 * any filter runs, and its verdict is what the DKIM condition signs a login's mail on.
 */
function fromOwnerRule(owners: Array<[string, string[]]>, delimiter: string): string {
    const table = owners.map(([address, logins]) => `  [${q(address)}] = { ${logins.map(q).join(", ")} },\n`).join("");
    return `${HEADER.replace(/^#/gm, "--")}
local owners = {
${table}}
local delimiter = ${q(delimiter)}

-- The logins that own an address; user+tag@domain belongs to whoever owns user@domain, as in
-- Postfix's lookup of the envelope sender.
local function owners_of(address)
  local found = owners[address]
  if found or delimiter == "" then return found end
  local user, domain = address:match("^(.*)@([^@]*)$")
  local cut = user and user:find(delimiter, 1, true)
  if not cut then return nil end
  return owners[user:sub(1, cut - 1) .. "@" .. domain]
end

local function owned(address, login)
  for _, owner in ipairs(owners_of(address) or {}) do
    if owner == login then return true end
  end
  return false
end

rspamd_config:register_symbol({
  name = ${q(FROM_OWNER_SYMBOL)},
  type = "prefilter",
  -- Before every other prefilter (settings: 10; EMAIL_PLUS_ALIASES: 11, which replaces the From
  -- list by its first address without +tag), so it sees every address of the header as written.
  priority = 12,
  -- Runs whatever symbols the settings enable: only an explicit symbols_disabled stops it.
  flags = "explicit_disable",
  callback = function(task)
    local login = task:get_user()
    if login == nil then return end
    login = login:lower()
    local function refuse(why)
      task:set_pre_result("reject", why, "mailserver")
    end
    -- One From header, every address of it owned: receivers (DMARC) judge the message by it.
    local headers = task:get_header_full("From") or {}
    if #headers ~= 1 then
      return refuse(string.format("A message from %s needs exactly one From header (found %d)", login, #headers))
    end
    local from = task:get_from("mime") or {}
    if #from == 0 then
      return refuse(string.format("The From header of %s's message has no address", login))
    end
    for _, a in ipairs(from) do
      local address = (a.addr or ""):lower()
      if not owned(address, login) then
        return refuse(string.format("From header <%s> is not owned by %s", address, login))
      end
    end
    task:get_mempool():set_variable(${q(OWNED_FROM_VARIABLE)}, login)
  end,
})
`;
}

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
count = 1;
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
count = 1;
`,
        ),
        publicFile("local.d/redis.conf", `${HEADER}servers = ${q(`${VALKEY_SOCKET_DIR}/valkey.sock`)};\n`),
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
`,
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
    ];
}

/** trusted(ip): whether the client is in mynetworks. */
function trustedPrelude(s: RspamdSpec): string {
    const nets = s.trustedNetworks
        .map(n => {
            const [address, bits] = n.split("/");
            return `{ ${q(address)}, ${bits ?? (address.includes(":") ? 128 : 32)} }`;
        })
        .join(", ");
    return `  local rspamd_ip = require "rspamd_ip"
  local networks = { ${nets} }
  local function trusted(ip)
    if ip == nil or not ip:is_valid() then return false end
    for _, n in ipairs(networks) do
      local net = rspamd_ip.from_string(n[1])
      if net:get_version() == ip:get_version()
          and tostring(ip:apply_mask(n[2])) == tostring(net:apply_mask(n[2])) then
        return true
      end
    end
    return false
  end
`;
}

/** ARC: inbound mail (not ours to DKIM-sign) to one of our domains is sealed with that domain's RSA key. */
function arcCondition(s: RspamdSpec): string {
    const keys = s.signing
        .map(d => {
            const rsa = d.keys.find(k => k.algorithm === "rsa");
            return rsa
                ? `    [${q(d.domain)}] = { selector = ${q(rsa.selector)}, key = ${q(installedKey(d.domain, rsa.selector))} },\n`
                : "";
        })
        .join("");
    return `return function(task)
  local keys = {
${keys}  }
  if task:get_user() ~= nil then return false end
  local rcpt = task:get_recipients('smtp')
  local d = rcpt and rcpt[1] and rcpt[1].domain
  if d == nil then return false end
  local k = keys[d:lower()]
  if not k then return false end
  return { domain = d:lower(), selector = k.selector, key = k.key }
end`;
}
