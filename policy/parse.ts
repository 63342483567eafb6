// Parsers for the configuration files the policies read out of docker containers' uploads:
// Postfix main.cf and master.cf, Dovecot's dovecot.conf and TLS protocol lists. The one parser
// of these files: the unit tests read the rendered files with it too, and a live test checks it
// against postconf and doveconf. Networks come from components/net.ts. Pulumi-free, so the
// rules stay testable without Pulumi.
import { isLoopbackAddress, isLoopbackNetwork, mappedIPv4, Network } from "../components/net";

// ------------------------------------------------------------------------------------------
// Postfix main.cf

/**
 * main.cf as key -> value: comment and blank lines skipped, lines starting with whitespace
 * continue the previous one, the last assignment of a key wins (as in Postfix).
 */
export function parseMainCf(text: string): Map<string, string> {
    const logical: string[] = [];
    for (const line of text.split(/\r?\n/)) {
        if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
        if (/^\s/.test(line) && logical.length > 0) logical[logical.length - 1] += " " + line.trim();
        else logical.push(line.trim());
    }
    const values = new Map<string, string>();
    for (const line of logical) {
        const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
        if (m) values.set(m[1], m[2].trim());
    }
    return values;
}

/** Expands $name, ${name} and $(name) references to parameters that are set (others stay as they are). */
export function expand(value: string, params: ReadonlyMap<string, string>, depth = 0): string {
    if (depth > 10) return value;
    return value.replace(/\$(?:\{([A-Za-z0-9_]+)\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))/g, (ref, a, b, c) => {
        const v = params.get(a ?? b ?? c);
        return v === undefined ? ref : expand(v, params, depth + 1);
    });
}

/** A Postfix list ("a, b c") as its elements. */
export function postfixList(value: string): string[] {
    return value.split(/[\s,]+/).filter(Boolean);
}

// ------------------------------------------------------------------------------------------
// Postfix master.cf

export interface MasterService {
    /** Column 1: "smtp", "587", "127.0.0.1:25", "pickup", ... */
    name: string;
    /** Column 2: "inet", "unix", "pass", ... */
    type: string;
    /** Column 8: the daemon, e.g. "smtpd". */
    command: string;
    /** The service's "-o key=value" overrides. */
    options: Map<string, string>;
}

/** Splits on whitespace, keeping "{ ... }" groups (Postfix 3.0+ "-o { key = value }") as one token. */
function tokenize(line: string): string[] {
    const tokens: string[] = [];
    let i = 0;
    while (i < line.length) {
        if (/\s/.test(line[i])) { i++; continue; }
        if (line[i] === "{") {
            const end = line.indexOf("}", i);
            const stop = end < 0 ? line.length : end;
            tokens.push(line.slice(i + 1, stop).trim());
            i = stop + 1;
            continue;
        }
        let j = i;
        while (j < line.length && !/\s/.test(line[j])) j++;
        tokens.push(line.slice(i, j));
        i = j;
    }
    return tokens;
}

/** master.cf's services with their command and "-o" overrides. */
export function parseMasterCf(text: string): MasterService[] {
    const logical: string[] = [];
    for (const line of text.split(/\r?\n/)) {
        if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
        if (/^\s/.test(line) && logical.length > 0) logical[logical.length - 1] += " " + line.trim();
        else logical.push(line.trim());
    }
    const services: MasterService[] = [];
    for (const line of logical) {
        const columns = tokenize(line);
        if (columns.length < 8) continue;
        const options = new Map<string, string>();
        const args = columns.slice(8);
        for (let i = 0; i < args.length; i++) {
            if (args[i] !== "-o" || i + 1 >= args.length) continue;
            const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(args[++i]);
            if (m) options.set(m[1], m[2].trim());
        }
        services.push({ name: columns[0], type: columns[1], command: columns[7], options });
    }
    return services;
}

/** Postfix's defaults (3.x, compatibility_level >= 2) for the parameters the policies read. */
export const POSTFIX_DEFAULTS: Readonly<Record<string, string>> = {
    smtpd_relay_restrictions: "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
    smtpd_recipient_restrictions: "",
    smtpd_sasl_auth_enable: "no",
    smtpd_tls_auth_only: "no",
    smtpd_tls_security_level: "",
    smtpd_enforce_tls: "no",
    smtpd_tls_wrappermode: "no",
    // Postfix 3.6+ defaults; older releases default to "!SSLv2, !SSLv3". Both allow TLSv1 and TLSv1.1.
    smtpd_tls_protocols: ">=TLSv1",
    smtpd_tls_mandatory_protocols: ">=TLSv1",
    smtp_tls_protocols: ">=TLSv1",
    smtp_tls_mandatory_protocols: ">=TLSv1",
    smtpd_milters: "",
    non_smtpd_milters: "",
};

/** main.cf plus master.cf: the value a parameter has for one service. */
export class PostfixConfig {
    readonly main: Map<string, string>;
    readonly services: MasterService[];

    constructor(mainCf: string | undefined, masterCf: string | undefined) {
        this.main = parseMainCf(mainCf ?? "");
        this.services = masterCf === undefined ? [] : parseMasterCf(masterCf);
    }

    /** The parameter's value for the service (its -o override, else main.cf, else Postfix's default), expanded. */
    get(key: string, service?: MasterService): string {
        const raw = service?.options.get(key) ?? this.main.get(key) ?? POSTFIX_DEFAULTS[key] ?? "";
        return expand(raw, this.main);
    }

    /** Whether main.cf (or the service) sets the parameter at all. */
    isSet(key: string, service?: MasterService): boolean {
        return (service?.options.has(key) ?? false) || this.main.has(key);
    }

    /** The smtpd services of master.cf; without a master.cf, one pseudo-service that sees main.cf only. */
    smtpdServices(): MasterService[] {
        if (this.services.length === 0) return [{ name: "(main.cf)", type: "inet", command: "smtpd", options: new Map() }];
        return this.services.filter(s => s.command === "smtpd");
    }

    /** The smtp client services of master.cf (smtp, relay, ...); without a master.cf, main.cf alone. */
    smtpClientServices(): MasterService[] {
        if (this.services.length === 0) return [{ name: "(main.cf)", type: "unix", command: "smtp", options: new Map() }];
        return this.services.filter(s => s.command === "smtp");
    }
}

/** Whether a master.cf service accepts SMTP on TCP port 25 on a non-loopback address. */
export function listensOnPort25(service: MasterService): boolean {
    if (service.type !== "inet" || !["smtpd", "postscreen"].includes(service.command)) return false;
    const m = /^(?:(.*):)?([^:]+)$/.exec(service.name);
    if (!m || !["smtp", "25"].includes(m[2])) return false;
    const host = (m[1] ?? "").replace(/^\[|\]$/g, "");
    return !isLoopbackHost(host);
}

/** "localhost" or a loopback address (127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string): boolean {
    return host === "localhost" || isLoopbackAddress(host);
}

// ------------------------------------------------------------------------------------------
// Restriction lists

const REJECTING = new Set(["reject_unauth_destination", "defer_unauth_destination", "reject", "defer"]);

/**
 * Whether a restriction list stops relaying: it reaches reject_unauth_destination,
 * defer_unauth_destination, or an unconditional reject/defer before any unconditional permit.
 * (Conditional permits such as permit_mynetworks and permit_sasl_authenticated are fine; what
 * they trust is checked separately.)
 */
export function restrictsRelay(list: string): boolean {
    for (const item of postfixList(list.toLowerCase())) {
        if (REJECTING.has(item)) return true;
        if (item === "permit") return false;
    }
    return false;
}

// ------------------------------------------------------------------------------------------
// TLS protocol lists

export const TLS_PROTOCOLS = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const;

function protocolIndex(name: string): number {
    return TLS_PROTOCOLS.findIndex(p => p.toLowerCase() === name.toLowerCase());
}

/**
 * The protocols a Postfix (or Dovecot ssl_protocols) list enables. Names without an operator
 * are an inclusion list (otherwise everything starts enabled); then ">=X" and "<=X" bound the
 * range and "!X" excludes. An empty list enables everything.
 */
export function enabledProtocols(value: string): string[] {
    const tokens = value.split(/[\s,:]+/).filter(Boolean).map(t => /^(>=|<=|!)?(.+)$/.exec(t)!).filter(m => protocolIndex(m[2]) >= 0);
    const positives = tokens.filter(m => m[1] === undefined).map(m => protocolIndex(m[2]));
    let enabled = positives.length > 0 ? positives : TLS_PROTOCOLS.map((_, i) => i);
    for (const [, op, name] of tokens) {
        const i = protocolIndex(name);
        if (op === ">=") enabled = enabled.filter(e => e >= i);
        else if (op === "<=") enabled = enabled.filter(e => e <= i);
        else if (op === "!") enabled = enabled.filter(e => e !== i);
    }
    return TLS_PROTOCOLS.filter((_, i) => enabled.includes(i));
}

/**
 * The protocols below TLS 1.2 that a list enables. SSLv2 does not count: OpenSSL removed it in
 * 1.1.0, which every Postfix 3.6+ and Dovecot 2.3+ build needs, so lists rarely exclude it.
 */
export function weakProtocols(value: string): string[] {
    return enabledProtocols(value).filter(p => p !== "SSLv2" && protocolIndex(p) < protocolIndex("TLSv1.2"));
}

// ------------------------------------------------------------------------------------------
// Networks (mynetworks): parsed by components/net.ts, judged here

/** IPv4 networks wider than this (a shorter prefix) are too wide to trust. */
export const MIN_IPV4_PREFIX = 16;
/** IPv6 networks wider than this are too wide to trust (a /48 is one site). */
export const MIN_IPV6_PREFIX = 48;

/**
 * Why a trusted network is too wide to be "our own clients", or undefined if it is fine.
 * Loopback (inside 127.0.0.0/8, ::1) is always fine. IPv4-mapped IPv6 networks
 * (::ffff:a.b.c.d/n, n >= 96) are judged as the IPv4 network they denote.
 */
export function tooWide(n: Network): string | undefined {
    const v4 = mappedIPv4(n);
    if (v4) return tooWide(v4);
    if (isLoopbackNetwork(n)) return undefined;
    if (n.family === 4) {
        if (n.prefix === 0) return "it is the whole IPv4 Internet";
        if (n.prefix < MIN_IPV4_PREFIX) return `a /${n.prefix} is ${2 ** (32 - n.prefix)} addresses, wider than the /${MIN_IPV4_PREFIX} limit`;
        return undefined;
    }
    if (n.prefix === 0) return "it is the whole IPv6 Internet";
    if (n.prefix < MIN_IPV6_PREFIX) return `a /${n.prefix} is wider than the /${MIN_IPV6_PREFIX} limit (one site)`;
    return undefined;
}

// ------------------------------------------------------------------------------------------
// Dovecot

export interface DovecotSetting {
    key: string;
    value: string;
    /** The enclosing sections, outermost first, e.g. ["service imap-login", "inet_listener imaps"]. */
    sections: string[];
}

/** Every "key = value" of dovecot.conf with the sections it sits in ("!include" is not followed). */
export function parseDovecotConf(text: string): DovecotSetting[] {
    const settings: DovecotSetting[] = [];
    const stack: string[] = [];
    for (const rawLine of text.split(/\r?\n/)) {
        if (rawLine.trimStart().startsWith("#")) continue;
        const line = rawLine.replace(/\s#.*$/, "").trim();
        if (line === "") continue;
        if (line === "}") { stack.pop(); continue; }
        const open = /^(.*?)\s*\{$/.exec(line);
        if (open) { stack.push(open[1].trim()); continue; }
        const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
        if (m) settings.push({ key: m[1], value: m[2].trim().replace(/^"(.*)"$/, "$1"), sections: [...stack] });
    }
    return settings;
}

export function isYes(value: string): boolean {
    return ["yes", "true", "1"].includes(value.trim().toLowerCase());
}
