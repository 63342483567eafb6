// DovecotImap's options, declared once, and the rules that span them and the MailServer
// (validateDovecot).
import type { DovecotSpec } from "../model/spec";
import { DOVECOT_AUTH_PORT, DOVECOT_LMTP_PORT } from "../model/kubernetes";
import { paths } from "../model/paths";
import { isIP } from "../model/net";
import { durationSeconds, Validator } from "../model/validator";
import { boolean, integer, list, object, passthrough, readOptions, required, text } from "./declare";
import { MAIL_SERVER_BRAND } from "./mailServer";
import { MailServerSettings } from "../model/settings";
import { IMAGE_OPTIONS } from "./images";
import { checkDovecotProxyProtocol, DOVECOT_PROXY_PROTOCOL_GROUP } from "./proxyProtocol";
import { checkShards, DOVECOT_KUBERNETES_GROUP } from "./dovecotKubernetes";

const port = (doc: string, dflt: number) =>
    integer({ doc: `${doc}; 0 turns it off`, default: dflt, check: (v, f, x) => v.port(f, x, true) });
const period = (doc: string, dflt: string) => text({ doc, default: dflt, check: (v, f, x) => v.period(f, x) });

export const DOVECOT_PORT_OPTIONS = {
    imap: port("IMAP with STARTTLS", 143),
    imaps: port("IMAP over implicit TLS", 993),
    managesieve: port("ManageSieve with STARTTLS", 4190),
    pop3: port("POP3 with STARTTLS", 0),
    pop3s: port("POP3 over implicit TLS", 0),
};

export const VACATION_LIMIT_OPTIONS = {
    minPeriod: period("Shortest period a script may ask for between two replies to one sender", "1d"),
    defaultPeriod: period("Period when a script gives no :days", "7d"),
    maxPeriod: period("Longest period a script may ask for", "30d"),
};

const count = (doc: string, dflt: number) =>
    integer({
        doc,
        default: dflt,
        check: (v, f, x) => v.positiveInteger(f, x, "expected a whole number of failed logins > 0"),
    });

export const BRUTE_FORCE_OPTIONS = {
    enabled: boolean({
        doc:
            "Ban clients that keep failing to log in (IMAP, POP3, ManageSieve and SMTP AUTH alike), through Dovecot's " +
            "auth policy and a small service of this package (images/authpolicy)",
        default: true,
    }),
    maxFailures: count(
        "Failed logins from one client address (any login, any protocol) within findTime that ban the address for " +
            "banTime, even with the right password; mynetworks and, in bridge mode, the Docker gateway are never banned",
        10,
    ),
    maxLoginFailures: count(
        "Failed logins to one login (from any addresses) within findTime that close it for banTime to every address " +
            "that has not logged in to it successfully before (its owner's usual addresses keep working)",
        30,
    ),
    findTime: period("Window in which failures are counted", "10m"),
    banTime: period("How long a ban lasts", "1h"),
};

export const DOVECOT_IMAP_OPTIONS = {
    mailServer: required(
        passthrough<{ settings: MailServerSettings }, { doc: string }>(
            "MailServer",
            { type: "object" },
            {
                doc: "The MailServer (internet mode) whose domains, certificate, network and LMTP socket this store serves",
            },
        ),
    ),
    ports: object("DovecotPorts", DOVECOT_PORT_OPTIONS, { doc: "Where each listener listens", default: {} }),
    listen: list(
        text({
            doc: '"*", "::" or an IP address',
            check: (v, f, x) =>
                x === "*" || x === "::" || isIP(x) ? x : v.fail(f, x, 'expected "*", "::" or an IP address'),
        }),
        {
            doc: "Addresses Dovecot listens on (host mode; in bridge mode the container's own)",
            defaultText:
                'host mode: the MailServer\'s inetInterfaces and inetProtocols ("all": "*" and "::"); bridge mode: `["*", "::"]`',
        },
    ),
    publishAddress: text({
        doc: "Bridge mode: host address the IMAP, POP3 and ManageSieve ports are published on",
        defaultText: "the MailServer's publishAddress",
        accepted: "expected an IP address",
        check: (v, f, x) => (isIP(x) ? x : v.fail(f, x, "expected an IP address such as 127.0.0.1 or 192.0.2.10")),
    }),
    bruteForce: object("BruteForceArgs", BRUTE_FORCE_OPTIONS, {
        doc: "Brute-force protection for every login: IMAP, POP3, ManageSieve, and SMTP AUTH (which Postfix asks Dovecot)",
        default: {},
    }),
    proxyProtocol: DOVECOT_PROXY_PROTOCOL_GROUP,
    vacation: object("VacationLimits", VACATION_LIMIT_OPTIONS, {
        doc: "Limits of Sieve vacation replies; minPeriod <= defaultPeriod <= maxPeriod is checked at preview",
        default: {},
    }),
    kubernetes: DOVECOT_KUBERNETES_GROUP,
    images: object("ImageArgs", IMAGE_OPTIONS, {
        doc: "Prebuilt images, or settings of the builds from images/",
        defaultText: "built from `images/`",
    }),
};

export function validateDovecot(v: Validator, args: unknown): DovecotSpec {
    const given = args as { mailServer?: Record<symbol, unknown> } | undefined;
    if (given?.mailServer?.[MAIL_SERVER_BRAND] !== true)
        v.fail("mailServer", given?.mailServer, "expected the MailServer this mailbox store belongs to");
    const o = readOptions(v, DOVECOT_IMAP_OPTIONS, args);
    const server = o.mailServer.settings;
    if (server.postfix.mode !== "internet")
        v.fail("mailServer", server.postfix.mode, 'a mailbox store needs a MailServer in "internet" mode');
    const ports = o.ports;
    const taken = new Map<number, string>(
        Object.entries(server.postfix.ports).map(([k, p]) => [p, `MailServer ports.${k}`]),
    );
    for (const [k, p] of Object.entries(ports)) {
        if (p === 0) continue;
        if (taken.has(p))
            v.fail(`ports.${k}`, p, `port ${p} is already used by ${taken.get(p)}; each service needs its own port`);
        taken.set(p, `ports.${k}`);
    }
    // Pigeonhole refuses to start vacation otherwise; say so at preview rather than at deploy.
    const vacation = o.vacation;
    const seconds = (p: string) => durationSeconds(p, { unitRequired: true })!;
    if (seconds(vacation.maxPeriod) === 0)
        v.fail("vacation.maxPeriod", vacation.maxPeriod, "expected a period longer than 0");
    if (
        seconds(vacation.minPeriod) > seconds(vacation.defaultPeriod) ||
        seconds(vacation.defaultPeriod) > seconds(vacation.maxPeriod)
    ) {
        v.fail("vacation", vacation, 'expected minPeriod <= defaultPeriod <= maxPeriod (defaults "1d", "7d", "30d")');
    }
    const b = o.bruteForce;
    if (b.enabled && seconds(b.banTime) === 0)
        v.fail("bruteForce.banTime", b.banTime, "expected a period longer than 0");
    if (b.enabled && seconds(b.findTime) === 0)
        v.fail("bruteForce.findTime", b.findTime, "expected a period longer than 0");
    const proxy = o.proxyProtocol;
    const trustedNetworks = checkDovecotProxyProtocol(
        v,
        proxy,
        {
            networkMode: server.placement.networkMode,
            kubernetes: server.kubernetes !== undefined,
            trustedNetworks: server.proxyProtocol.trustedNetworks,
        },
        ports,
    );
    const shards = checkShards(v, server, o.kubernetes);
    return {
        hostname: server.postfix.hostname,
        listen: o.listen ?? defaultListen(server),
        publishAddress: o.publishAddress ?? server.placement.publishAddress,
        ...(b.enabled
            ? {
                  bruteForce: {
                      maxFailures: b.maxFailures,
                      maxLoginFailures: b.maxLoginFailures,
                      findTime: b.findTime,
                      banTime: b.banTime,
                      exempt: server.postfix.mynetworks.map(n => n.replace(/^\[([^\]]+)\]/, "$1")),
                      exemptGateway: server.placement.networkMode === "bridge",
                  },
              }
            : {}),
        ports,
        ...(proxy.listeners.length > 0 ? { proxyProtocol: { listeners: proxy.listeners, trustedNetworks } } : {}),
        recipientDelimiter: server.postfix.recipientDelimiter,
        messageSizeLimit: server.postfix.messageSizeLimit,
        vacation,
        // Sieve's outgoing mail enters Postfix through the reinject socket in the LMTP volume,
        // the same path in both network modes.
        // On Kubernetes Dovecot's pod has no Postfix socket: no Sieve mail in this phase.
        ...(server.kubernetes
            ? { tcpListeners: { lmtpPort: DOVECOT_LMTP_PORT, authPort: DOVECOT_AUTH_PORT } }
            : { reinjectSocket: paths.reinjectSocket }),
        junkSpam: server.spamFilter.enabled,
        domains: server.postfix.domains,
        certificate: server.postfix.certificate,
        ...(shards && shards.shards > 1 ? { shards } : {}),
    };
}

/**
 * Where Dovecot listens unless told: in host mode where Postfix does (inetInterfaces, within
 * inetProtocols), so IMAP and ManageSieve are no more exposed than SMTP; in bridge mode every
 * address of the container, which publishes on publishAddress.
 */
export function defaultListen(server: MailServerSettings): string[] {
    if (server.placement.networkMode !== "host") return ["*", "::"];
    const { inetInterfaces, inetProtocols } = server.postfix;
    const v4 = inetProtocols !== "ipv6";
    const v6 = inetProtocols !== "ipv4";
    const out = inetInterfaces.flatMap(a => {
        if (a === "all") return [...(v4 ? ["*"] : []), ...(v6 ? ["::"] : [])];
        if (a === "loopback-only") return [...(v4 ? ["127.0.0.1"] : []), ...(v6 ? ["::1"] : [])];
        return [a];
    });
    return [...new Set(out)];
}
