import { isNameserver, mappedIPv4, MAX_PRIVATE_WIDTH, parseNetwork as parseCidr, trustRisk } from "./net";
import { weakHashReason } from "./password";

// Input validation shared by the components. Pure: no Pulumi imports. Every error names the
// component, the field, the bad value and what is accepted, and is thrown from the component's
// constructor, so `pulumi preview` stops before any resource is registered.

export class MailConfigError extends Error {
    constructor(component: string, field: string, value: unknown, accepted: string) {
        super(`${component}: ${field} = ${show(value)} is not accepted; ${accepted}`);
        this.name = "MailConfigError";
    }
}

function show(value: unknown): string {
    if (value === undefined) return "(missing)";
    if (typeof value === "string") return JSON.stringify(value);
    try {
        return JSON.stringify(value);
    } catch {
        return String(value);
    }
}

/** Binds a component label ("MailServer mx") so call sites stay short. */
export class Validator {
    constructor(readonly component: string) {}

    fail(field: string, value: unknown, accepted: string): never {
        throw new MailConfigError(this.component, field, value, accepted);
    }

    domain(field: string, value: unknown): string {
        if (typeof value !== "string" || !isDomain(value)) {
            this.fail(
                field,
                value,
                "expected a fully qualified domain name such as example.com (letters, digits, hyphens, at least one dot)",
            );
        }
        return value.toLowerCase();
    }

    hostname(field: string, value: unknown): string {
        if (typeof value !== "string" || !isDomain(value)) {
            this.fail(field, value, "expected a fully qualified host name such as mail.example.com");
        }
        return value.toLowerCase();
    }

    /** A DNS server: "address", "address:port" or "[IPv6 address]:port". */
    nameserver(field: string, value: string): string {
        if (!isNameserver(value))
            this.fail(field, value, 'expected "address", "address:port" or "[IPv6 address]:port"');
        return value;
    }

    address(field: string, value: unknown): string {
        if (typeof value !== "string" || !isAddress(value)) {
            this.fail(field, value, `expected an e-mail address local@domain.tld; ${ADDRESS_LOCAL_PART}`);
        }
        return value.toLowerCase();
    }

    port(field: string, value: unknown, allowZero = false): number {
        const ok =
            typeof value === "number" &&
            Number.isInteger(value) &&
            value <= 65535 &&
            (value >= 1 || (allowZero && value === 0));
        if (!ok)
            this.fail(
                field,
                value,
                allowZero ? "expected a TCP port 1-65535, or 0 to turn it off" : "expected a TCP port 1-65535",
            );
        return value as number;
    }

    positiveInteger(field: string, value: unknown, accepted: string): number {
        if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) this.fail(field, value, accepted);
        return value as number;
    }

    /** Postfix time values: a number with an optional unit s, m, h, d or w ("5d", "4h"). */
    postfixTime(field: string, value: unknown): string {
        if (typeof value !== "string" || durationSeconds(value, { unitRequired: false }) === undefined) {
            this.fail(field, value, 'expected a Postfix time such as "30m", "4h" or "5d" (number + s, m, h, d or w)');
        }
        return value;
    }

    /** Dovecot periods: a number and a unit s, m, h or d ("12h", "7d"). */
    period(field: string, value: unknown): string {
        if (typeof value !== "string" || durationSeconds(value, { unitRequired: true, units: "smhd" }) === undefined) {
            this.fail(field, value, 'expected a period such as "12h" or "7d"');
        }
        return value;
    }

    /**
     * A login's password or passwordHash: exactly one; a plain string is checked now, a secret
     * when it resolves.
     */
    login(field: string, login: { password?: unknown; passwordHash?: unknown }, missing: string): void {
        if ((login.password === undefined) === (login.passwordHash === undefined)) {
            if (login.password === undefined) this.fail(`${field}.password`, undefined, missing);
            this.fail(`${field}.password`, "(a secret)", "give password or passwordHash, not both");
        }
        if (typeof login.password === "string") this.password(`${field}.password`, login.password);
        if (typeof login.passwordHash === "string") this.passwordHash(`${field}.passwordHash`, login.passwordHash);
    }

    /** A pre-computed crypt(3) hash of an accepted, costly scheme; never echoed. */
    passwordHash(field: string, value: unknown): string {
        const reason = typeof value === "string" ? weakHashReason(value) : "expected a crypt(3) hash as a string";
        if (reason !== undefined) this.fail(field, "(a hash, not shown)", reason);
        return value as string;
    }

    /** Passwords are never echoed, not even a bad one. */
    password(field: string, value: unknown): string {
        if (typeof value !== "string" || value.length < MIN_PASSWORD_LENGTH) {
            this.fail(
                field,
                typeof value === "string" ? `(a secret of ${value.length} characters)` : value,
                `expected a password of at least ${MIN_PASSWORD_LENGTH} characters, passed as a Pulumi secret`,
            );
        }
        return value;
    }

    oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
        if (typeof value !== "string" || !allowed.includes(value as T)) {
            this.fail(field, value, `expected one of ${allowed.map(a => `"${a}"`).join(", ")}`);
        }
        return value as T;
    }

    /** IPv4/IPv6 network in CIDR form that mynetworks may trust (components/net.ts trustRisk). */
    network(field: string, value: unknown): string {
        if (typeof value !== "string") this.fail(field, value, "expected a network such as 127.0.0.1/32 or [::1]/128");
        const parsed = parseNetwork(value);
        if (!parsed)
            this.fail(field, value, "expected a network such as 127.0.0.1/32, 192.0.2.0/24 or [2001:db8::]/32");
        if (parsed.prefix === 0)
            this.fail(
                field,
                value,
                "a network of prefix length 0 trusts the whole Internet (an open relay); list your own networks",
            );
        const risk = trustRisk(parseCidr(value, { strict: true })!);
        if (risk)
            this.fail(
                field,
                value,
                `${risk}; clients in mynetworks relay without authentication, so trusting it makes an open relay; list loopback, single public hosts ` +
                    `(/32, IPv6 /128) and private networks no wider than /${MAX_PRIVATE_WIDTH[4]} (IPv6 /${MAX_PRIVATE_WIDTH[6]})`,
            );
        return parsed.postfix;
    }

    /** Dovecot size such as "500M", "2G"; a plain number is bytes. */
    quota(field: string, value: unknown): string {
        if (typeof value !== "string" || !/^[1-9]\d*[KMGT]?$/.test(value)) {
            this.fail(
                field,
                value,
                'expected a size such as "500M", "2G" or "1T" (number + K, M, G or T; no decimals)',
            );
        }
        return value;
    }
}

/** Every password (mailboxes, relay users) has at least this many characters. */
export const MIN_PASSWORD_LENGTH = 12;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * A duration as Postfix and Dovecot write them ("30m", "4h", "5d") in seconds; undefined if it is
 * not one. Without a unit Postfix means seconds; Dovecot's periods need one.
 */
export function durationSeconds(text: string, opts: { unitRequired: boolean; units?: string }): number | undefined {
    const units = opts.units ?? "smhdw";
    const m = /^(\d+)([a-z]?)$/.exec(text);
    if (!m || (m[2] === "" && opts.unitRequired) || (m[2] !== "" && !units.includes(m[2]))) return undefined;
    return Number(m[1]) * UNIT_SECONDS[m[2] || "s"];
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

export function isDomain(value: string): boolean {
    if (value.length > 253 || value.endsWith(".")) return false;
    const labels = value.split(".");
    return labels.length >= 2 && labels.every(l => LABEL.test(l)) && /[a-z]/i.test(labels[labels.length - 1]);
}

/** What the local part of an accepted address may hold, for messages. */
export const ADDRESS_LOCAL_PART =
    "the local part may hold letters, digits and '.', '_', '-', '+', '=' and must start with a letter, digit or '_' " +
    "(other characters mean something to the lookup tables, the passwd-file, aliases (|command, /file), Postfix's " +
    "$expansions, Dovecot's %variables or a shell)";

/**
 * A deliberately strict address check: RFC 5321 dot-atoms, less every character that has a
 * meaning where addresses go (a leading '#' comments a table line out, '|' and '/' make an alias
 * a command or a file, '$' and '{}' expand in Postfix, '%' in Dovecot, quotes and backticks in a
 * shell, ':' splits the passwd-file, a leading '-' reads as an option).
 */
export function isAddress(value: string): boolean {
    const at = value.lastIndexOf("@");
    if (at <= 0 || value.indexOf("@") !== at) return false;
    const local = value.slice(0, at);
    return (
        local.length <= 64 && /^[a-z0-9_][a-z0-9_+=-]*(\.[a-z0-9_+=-]+)*$/i.test(local) && isDomain(value.slice(at + 1))
    );
}

/** mynetworks notation ("192.0.2.0/24", "[2001:db8::]/32"), parsed by components/net.ts. */
export function parseNetwork(value: string): { postfix: string; prefix: number } | undefined {
    const n = parseCidr(value, { strict: true });
    // An IPv4-mapped /96 is all of IPv4: judged by the IPv4 network it denotes.
    return n && { postfix: n.postfix, prefix: mappedIPv4(n)?.prefix ?? n.prefix };
}
