// DovecotImap's options, declared once, and the rules that span them and the MailServer
// (validateDovecot).
import type { DovecotSpec } from "../render/dovecot";
import { paths } from "../render/spec";
import { isIP } from "../net";
import { durationSeconds, Validator } from "../validate";
import { integer, list, object, passthrough, readOptions, required, text } from "./declare";
import { MAIL_SERVER_BRAND, MailServerSettings } from "./mailServer";
import { IMAGE_OPTIONS } from "./tls";

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
        { doc: "Addresses Dovecot listens on", default: ["*", "::"] },
    ),
    vacation: object("VacationLimits", VACATION_LIMIT_OPTIONS, {
        doc: "Limits of Sieve vacation replies; minPeriod <= defaultPeriod <= maxPeriod is checked at preview",
        default: {},
    }),
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
    return {
        hostname: server.postfix.hostname,
        listen: o.listen,
        ports,
        recipientDelimiter: server.postfix.recipientDelimiter,
        messageSizeLimit: server.postfix.messageSizeLimit,
        vacation,
        // Sieve's outgoing mail enters Postfix through the reinject socket in the LMTP volume,
        // the same path in both network modes.
        reinjectSocket: paths.reinjectSocket,
        junkSpam: server.spamFilter.enabled,
        domains: server.postfix.domains,
        ...(server.postfix.certDir !== undefined ? { certDir: server.postfix.certDir } : {}),
    };
}
