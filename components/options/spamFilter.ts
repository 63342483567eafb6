// MailServer spamFilter: rspamd's options (scores, rate limits, greylisting, DNS), declared once
// (validateMailServer.ts checks how they fit together and with dns).

import { boolean, integer, list, text } from "./declare";

export const score = (doc: string, dflt: number) =>
    integer({
        doc,
        default: dflt,
        check: (v, f, x) => v.positiveInteger(f, x, "expected a whole rspamd score > 0, e.g. 6"),
    });

const perHour = (doc: string, dflt: number) =>
    integer({
        doc,
        default: dflt,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 1_000_000
                ? x
                : v.fail(f, x, "expected a whole number from 0 (no limit) to 1000000"),
    });

export const SPAM_FILTER_OPTIONS = {
    enabled: boolean({
        doc:
            "rspamd as Postfix's milter (DKIM and ARC signing; SPF, DKIM, DMARC and ARC checks; spam scoring), " +
            "with Valkey for its state",
        default: true,
    }),
    rejectScore: score("Score at which a message is refused at SMTP time (5xx)", 15),
    outboundRejectScore: score(
        "Score at which mail from our own senders (SMTP AUTH logins, mynetworks) is refused (5xx) instead of " +
            "signed and sent, e.g. a phished account's spam",
        10,
    ),
    messagesPerHour: perHour(
        "Messages one SMTP AUTH login may send per hour (a leaky bucket: that many at once, then one every " +
            "hour/limit); the next is deferred (451 4.7.1); 0: no limit",
        100,
    ),
    recipientsPerHour: perHour(
        "Recipients one SMTP AUTH login may send to per hour, counted over all its messages; the message " +
            "that would pass the limit is deferred (451 4.7.1); 0: no limit",
        300,
    ),
    addHeaderScore: score('Score at which a message gets "X-Spam: Yes" and is filed into Junk', 6),
    greylisting: boolean({
        doc: "Greylisting: unknown senders scoring greylistScore or more are told to retry later",
        default: false,
    }),
    greylistScore: score("Score at which greylisting applies (when greylisting is on)", 4),
    dnsbl: boolean({
        doc:
            "DNS blocklists (Spamhaus and others); they refuse queries that come through public resolvers, " +
            "so give nameservers a resolver of your own",
        default: false,
    }),
    nameservers: list(
        text({
            doc: '"address" or "address:port" of a DNS resolver',
            check: (v, f, x) => v.nameserver(f, x),
        }),
        {
            doc: "DNS resolvers rspamd asks (SPF, DKIM, DMARC, DNSBLs); none: the container's /etc/resolv.conf",
            default: [],
        },
    ),
    dnsTimeout: text({
        doc: "How long rspamd waits for one DNS answer before it asks again (rspamd's dns.timeout)",
        default: "1s",
        accepted: 'expected a time such as "500ms" or "2s" (a whole number and ms or s)',
        check: (v, f, x) =>
            /^[1-9]\d*(ms|s)$/.test(x)
                ? x
                : v.fail(f, x, 'expected a time such as "500ms" or "2s" (a whole number and ms or s)'),
    }),
    scanProcesses: integer({
        doc:
            "rspamd processes that scan mail at the same time (its milter worker's count, each scanning itself): " +
            "one scan uses one core, so give one per core mail may use; each process holds its own rules and " +
            "maps (about 60 MB)",
        default: 2,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 64
                ? x
                : v.fail(f, x, "expected a whole number of processes from 1 to 64, e.g. the host's cores"),
    }),
    dnsRetransmits: integer({
        doc: "How often rspamd asks again before a lookup fails (rspamd's dns.retransmits); a lookup waits up to dnsTimeout times this",
        default: 5,
        check: (v, f, x) => v.positiveInteger(f, x, "expected a whole number of retries > 0, e.g. 2"),
    }),
};
