// Relayhost's options, declared once, and the rules that span them (validateRelayhost).
import type { Input } from "@pulumi/pulumi";
import { isIPv4 } from "../model/net";
import { RelayhostSpec } from "../model/spec";
import { Validator } from "../model/validator";
import { boolean, integer, list, oneOf, passthrough, readOptions, required, text } from "./declare";

export const RELAY_TLS_POLICIES = ["encrypt", "verify", "secure", "may", "none"] as const;

const credential = (doc: string, secret: boolean) =>
    passthrough<Input<string>, { doc: string }>("pulumi.Input<string>", { type: "string", secret }, { doc });

export const RELAYHOST_OPTIONS = {
    host: required(
        text({
            doc: "The smarthost: a fully qualified name, or an IPv4 address (used as is, without DNS)",
            // An address is kept as given; a name is checked and lower-cased.
            check: (v, f, x) => (isIPv4(x) ? x : v.hostname(f, x)),
            accepted: "expected a fully qualified host name such as mail.example.com",
        }),
    ),
    port: integer({
        doc: "Any TCP port; 587 (STARTTLS) and 465 (implicit TLS) are the usual ones",
        default: 587,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 65535
                ? x
                : v.fail(
                      f,
                      x,
                      "expected a TCP port 1-65535: usually 587 (submission with STARTTLS), 465 (implicit TLS) or 25",
                  ),
    }),
    implicitTls: {
        ...boolean({ doc: "TLS from the first byte (SMTPS, smtp_tls_wrappermode) instead of STARTTLS" }),
        defaultText: "`true` for port 465",
    },
    username: credential("SASL login at the relay; with password", false),
    password: credential("SASL password at the relay, a Pulumi secret; with username", true),
    tlsPolicy: oneOf("RelayTlsPolicy", RELAY_TLS_POLICIES, {
        doc: "encrypt (TLS required), verify/secure (also check the certificate; names only), may/none (refused with credentials)",
        default: "encrypt",
    }),
    senderDomains: {
        ...list(text({ doc: "A sender domain", check: (v, f, x) => v.domain(f, x) }), {
            doc: "Only mail from these sender domains uses this relay; a sender domain belongs to one relay",
            default: [],
        }),
        defaultText: "all senders",
    },
};

/**
 * A relay username as sasl_passwd carries it ("[host]:port username:password", one line): a ':'
 * would split it, a control character (a newline) would add a line of its own.
 */
export function checkRelayUsername(v: Validator, field: string, value: unknown): string {
    // eslint-disable-next-line no-control-regex
    if (typeof value !== "string" || value === "" || /[\u0000-\u001f\u007f:]/.test(value))
        v.fail(
            field,
            value,
            "expected a non-empty login without ':' or control characters (sasl_passwd holds username:password on one line)",
        );
    return value;
}

/** A relay password: never echoed; no control characters (a newline would add a sasl_passwd entry). */
export function checkRelayPassword(v: Validator, field: string, value: unknown): string {
    // eslint-disable-next-line no-control-regex
    if (typeof value !== "string" || value === "" || /[\u0000-\u001f\u007f]/.test(value) || value.trim() !== value)
        v.fail(
            field,
            "(a secret, not shown)",
            "expected a non-empty password without control characters (a line break would add an entry of its own to " +
                "sasl_passwd) and without leading or trailing blanks (Postfix's tables drop them)",
        );
    return value;
}

export function validateRelayhost(v: Validator, args: unknown): RelayhostSpec {
    const o = readOptions(v, RELAYHOST_OPTIONS, args);
    const { host, port, tlsPolicy } = o;
    const given = (args ?? {}) as { implicitTls?: boolean };
    const implicitTls = o.implicitTls ?? port === 465;
    if (implicitTls && (tlsPolicy === "none" || tlsPolicy === "may")) {
        v.fail(
            "tlsPolicy",
            tlsPolicy,
            `expected "encrypt", "verify" or "secure": implicit TLS (${o.implicitTls === undefined ? "port 465" : "implicitTls: true"}) is TLS from the first byte` +
                (o.implicitTls === undefined ? "; for a relay without TLS on port 465 set implicitTls: false" : ""),
        );
    }
    if (isIPv4(host) && (tlsPolicy === "verify" || tlsPolicy === "secure")) {
        v.fail(
            "tlsPolicy",
            tlsPolicy,
            `expected "encrypt", or the relay's host name instead of ${host}: "verify" and "secure" check the certificate against the host name, and an IP address has none`,
        );
    }
    // Secrets and other outputs are checked when they resolve (components/relayhost.ts).
    if (typeof o.username === "string") checkRelayUsername(v, "username", o.username);
    if (typeof o.password === "string") checkRelayPassword(v, "password", o.password);
    const hasUser = o.username !== undefined;
    if (hasUser !== (o.password !== undefined))
        v.fail(hasUser ? "password" : "username", undefined, "username and password go together: give both or neither");
    if (hasUser && (tlsPolicy === "none" || tlsPolicy === "may")) {
        v.fail("tlsPolicy", tlsPolicy, 'with credentials the relay must use TLS: "encrypt", "verify" or "secure"');
    }
    // implicitTls only when given, so that the default (port 465) stays one rule, in the renderer.
    return {
        host,
        port,
        tlsPolicy,
        senderDomains: o.senderDomains,
        hasCredentials: hasUser,
        ...(given.implicitTls === undefined ? {} : { implicitTls }),
    };
}
