// What MailServer's declarations are made of: its enumerations and limits, the kinds of value
// its options take, and its nested option groups (ports, transports, relay users, wellKnown).

import { DomainSpec } from "../model/spec";
import type { WebDomain } from "../model/dns";
import { durationSeconds, Validator } from "../model/validator";
import { isIP } from "../model/net";
import { integer, oneOf, required, text } from "./declare";
import { LOGIN_OPTIONS } from "./login";

export const MAIL_SERVER_MODES = ["internet", "relay"] as const;
export const NETWORK_MODES = ["bridge", "host"] as const;
export const DNS_MODES = ["available", "none"] as const;
export const NOTIFY_CLASSES = [
    "bounce",
    "2bounce",
    "data",
    "delay",
    "policy",
    "protocol",
    "resource",
    "software",
] as const;

export const domainName = (doc: string) => text({ doc, check: (v, f, x) => v.domain(f, x) });
export const address = (doc: string) => text({ doc, check: (v, f, x) => v.address(f, x) });
export const port = (doc: string, dflt: number) => integer({ doc, default: dflt, check: (v, f, x) => v.port(f, x) });
export const postfixTime = (doc: string, dflt: string) =>
    text({ doc, default: dflt, check: (v, f, x) => v.postfixTime(f, x) });
/**
 * How long Postfix retries: "0" would bounce a message at its first temporary failure (a
 * greylisting or busy receiver, a DNS hiccup), which every sender is expected to retry for days.
 */
export const queueLifetime = (doc: string, dflt: string) =>
    text({
        doc,
        default: dflt,
        check: (v, f, x) => {
            const seconds = durationSeconds(v.postfixTime(f, x), { unitRequired: false })!;
            if (seconds < MIN_QUEUE_LIFETIME)
                v.fail(
                    f,
                    x,
                    'expected at least "1h" (RFC 5321 asks for 4-5 days, the default "5d"): a shorter lifetime bounces mail at ' +
                        "its first temporary failure (a greylisting or busy receiver), which senders are expected to retry",
                );
            return x;
        },
    });
const MIN_QUEUE_LIFETIME = 3600;
/** Largest accepted messageSizeLimit: Postfix wants 1.5 times it free in the queue, or it refuses all mail. */
export const MAX_MESSAGE_SIZE = 1024 ** 3;
export const MIN_MESSAGE_SIZE = 64 * 1024;
/** Above this many AUTH commands a minute per client, anvil no longer slows a password guesser. */
export const MAX_AUTH_RATE = 1000;
export const ipAddress = (doc: string, accepted: string, dflt: string) =>
    text({ doc, accepted, default: dflt, check: (v, f, x) => (isIP(x) ? x : v.fail(f, x, accepted)) });

export const MAIL_SERVER_PORT_OPTIONS = {
    smtp: port("MTA-to-MTA SMTP with optional STARTTLS, no AUTH", 25),
    submission: port("Submission with mandatory STARTTLS and AUTH", 587),
    smtps: port("Submission over implicit TLS", 465),
    reinject: integer({
        doc:
            "Obsolete and ignored (a warning says so): Dovecot's Sieve hands its mail to Postfix over a unix socket " +
            "now, which no network client can reach; remove it",
        check: (v, f, x) => v.port(f, x),
    }),
};

/** What MailServer says when a stack still sets ports.reinject (a port Postfix no longer opens). */
export function obsoleteReinjectWarning(name: string, port: number): string {
    return (
        `MailServer ${name}: ports.reinject (${port}) is obsolete and ignored: Dovecot's Sieve now hands vacation ` +
        "replies, redirects and rejections to Postfix over a unix socket in the volume only the two share, and " +
        "nothing listens on that port any more. Remove ports.reinject from your arguments or stack config."
    );
}

/** A loopback outboundAddress reaches only mail servers on this host's loopback. */
export function loopbackOutboundWarning(name: string, address: string): string {
    return (
        `MailServer ${name}: outboundAddress ${address} is a loopback address: Postfix can then deliver only to ` +
        "mail servers listening on this host's loopback (stacks side by side on one host, tests); every delivery " +
        "to another host fails to connect. Give an address of this host that other mail servers reach."
    );
}

export const NEXTHOP_ACCEPTED =
    'expected "[host]:port", "[host]", "host:port" or "host": a fully qualified host name, ' +
    "or an IPv4 address in brackets, and a TCP port 1-65535";

export const TRANSPORT_OPTIONS = {
    domain: required(domainName("A recipient domain of another server")),
    nexthop: required(
        text({
            accepted: NEXTHOP_ACCEPTED,
            doc:
                '"[host]:port", "[host]", "host:port" or "host" (the last two look up MX records); host is a fully ' +
                "qualified name or, in brackets, an IPv4 address",
        }),
    ),
};

export const RELAY_USER_OPTIONS = {
    address: required(address('The login, e.g. "app@example.com" (lower-cased)')),
    ...LOGIN_OPTIONS,
};

export const WELL_KNOWN_OPTIONS = {
    httpsPort: port(
        "Port of the HTTPS endpoint (MTA-STS senders and mail clients always ask 443: forward it here if not 443)",
        443,
    ),
    address: text({
        doc: "Host address of the endpoint (host mode: bound; bridge mode: published on); default: all (publishAddress)",
        accepted: "expected an IP address",
        check: (v, f, x) => (isIP(x) ? x : v.fail(f, x, "expected an IP address such as 0.0.0.0 or 192.0.2.10")),
    }),
};

/** What MailServer reads of a VirtualDomain. */
export interface DomainOfServer {
    spec: DomainSpec;
    wellKnown?: WebDomain;
    mtaSts?: { mode: string; mxHosts: string[]; published: boolean };
}

/** MailServer restart: Docker's restart policy of the services, never "no". */
export const RESTART_POLICY = {
    ...oneOf("RestartPolicy", ["no", "on-failure", "always", "unless-stopped"], {
        doc: 'Docker restart policy of the services ("no" is refused: a mail server must come back by itself)',
        default: "unless-stopped",
    }),
    check: (v: Validator, f: string, x: unknown) => {
        const policy = v.oneOf(f, x, ["no", "on-failure", "always", "unless-stopped"] as const);
        if (policy === "no")
            v.fail(
                f,
                x,
                'expected "unless-stopped" (the default), "always" or "on-failure": with "no" a crashed daemon or a reboot ' +
                    "leaves the mail server down until the next pulumi up, while senders give up and bounce their mail",
            );
        return policy;
    },
};
