// rspamd's settings rules and rate limits (components/render/rspamd.ts writes them into its files):
// which kinds of mail are ours to sign and score as outbound, the logins' rate limits, and the
// checks that ask DNS.

import * as r2 from "./rspamdShared";

/** The checks of a sender's own SPF, DKIM, DMARC and ARC. */
const SENDER_AUTH_CHECKS = ["SPF_CHECK", "DKIM_CHECK", "DMARC_CHECK", "ARC_CHECK"];

/**
 * The three kinds of mail that are ours to sign. Mail from our logins and from mynetworks is also
 * scored against a threshold of its own (a phished account's spam is refused, not signed and
 * sent); Sieve's mail (reinjected mail that was scored on its way in) is only signed.
 */
export const OUTBOUND_RULES = (s: r2.RspamdSpec) => {
    const scored = `apply {
    # Refused at outboundRejectScore; never marked, rewritten or greylisted. "soft reject" (the rate
    # limits) stays. The sender's SPF, DKIM and DMARC mean nothing for mail we are about to sign
    # (and judge mynetworks' address, not ours); DKIM_SIGNED depends on DKIM_CHECK and still runs.${
        s.dnsLookups
            ? ""
            : '\n    # dns "none": the other checks that ask DNS are off here too (see the rule "dnsless").'
    }
    actions { reject = ${s.outboundRejectScore}; "add header" = null; "rewrite subject" = null; greylist = null; }
    symbols_disabled = ${r2.ucl([...new Set([...SENDER_AUTH_CHECKS, ...(s.dnsLookups ? [] : DNS_CHECKS)])])};
  }`;
    return `${r2.HEADER}
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
  ip = ${r2.ucl(s.trustedNetworks)};
  ${scored}
}
`
        : ""
}
# Vacation replies, redirects and rejections from Dovecot's Sieve (Postfix's reinject socket):
# signing and the headers only, no score, no spam action.
sieve {
  priority = high;
  request_header = { "MTA-Name" = ${r2.q(`^${r2.SIEVE_MTA_TAG}$`)}; }
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
    symbols_disabled = ${r2.ucl(DNS_CHECKS)};
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
export function renderRatelimit(s: r2.RspamdSpec): string {
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
      message = ${r2.q(`Too many ${unit} from this login: at most ${limit} per hour; try again later`)};
    }
  }
`;
    return `${r2.HEADER}# Per SMTP AUTH login: MailServer spamFilter.messagesPerHour and recipientsPerHour (0: no limit).
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
