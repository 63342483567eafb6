// Parsers for the configuration files the policies read out of docker containers' uploads:
// Postfix main.cf and master.cf, Dovecot's dovecot.conf, TLS protocol lists and CIDR networks.
// Pure and dependency-free, so the rules stay testable without Pulumi.

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

export function isLoopbackHost(host: string): boolean {
    return host === "localhost" || host === "::1" || /^127\./.test(host);
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
// Networks (mynetworks)

export interface Network {
    family: 4 | 6;
    /** The address as a number (32 or 128 bits). */
    address: bigint;
    prefix: number;
}

function parseIPv4(text: string): bigint | undefined {
    const parts = text.split(".");
    if (parts.length !== 4 || !parts.every(p => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function parseIPv6(text: string): bigint | undefined {
    let s = text.toLowerCase();
    // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
    const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (v4) {
        const n = parseIPv4(v4[2]);
        if (n === undefined) return undefined;
        s = `${v4[1]}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    const halves = s.split("::");
    if (halves.length > 2) return undefined;
    const groups = (h: string) => (h === "" ? [] : h.split(":"));
    const head = groups(halves[0]);
    const tail = halves.length === 2 ? groups(halves[1]) : [];
    const missing = 8 - head.length - tail.length;
    if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
    const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
    if (!all.every(g => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
    return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/**
 * A mynetworks element as a network: "192.0.2.0/24", "192.0.2.1", "[2001:db8::]/48", "[::1]",
 * "2001:db8::/48". Undefined for what is not an address (lookup tables, files, names).
 */
export function parseNetwork(entry: string): Network | undefined {
    const m4 = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d{1,2}))?$/.exec(entry);
    if (m4) {
        const address = parseIPv4(m4[1]);
        const prefix = m4[2] === undefined ? 32 : Number(m4[2]);
        return address === undefined || prefix > 32 ? undefined : { family: 4, address, prefix };
    }
    const m6 = /^\[([0-9a-fA-F:.]+)(?:\/(\d{1,3}))?\](?:\/(\d{1,3}))?$/.exec(entry) ?? /^([0-9a-fA-F:.]*:[0-9a-fA-F:.]*)(?:\/(\d{1,3}))?$/.exec(entry);
    if (m6) {
        const address = parseIPv6(m6[1]);
        const p = m6[3] ?? m6[2];
        const prefix = p === undefined ? 128 : Number(p);
        return address === undefined || prefix > 128 ? undefined : { family: 6, address, prefix };
    }
    return undefined;
}

/** IPv4 networks wider than this (a shorter prefix) are too wide to trust. */
export const MIN_IPV4_PREFIX = 16;
/** IPv6 networks wider than this are too wide to trust (a /48 is one site). */
export const MIN_IPV6_PREFIX = 48;

const MAPPED_V4 = 0xffffn << 32n; // ::ffff:0:0/96

/**
 * Why a trusted network is too wide to be "our own clients", or undefined if it is fine.
 * Loopback (inside 127.0.0.0/8, ::1) is always fine. IPv4-mapped IPv6 networks
 * (::ffff:a.b.c.d/n, n >= 96) are judged as the IPv4 network they denote.
 */
export function tooWide(n: Network): string | undefined {
    if (n.family === 6 && n.prefix >= 96 && (n.address >> 32n) === (MAPPED_V4 >> 32n)) {
        return tooWide({ family: 4, address: n.address & 0xffffffffn, prefix: n.prefix - 96 });
    }
    if (n.family === 4) {
        if (n.prefix >= 8 && (n.address >> 24n) === 127n) return undefined;
        if (n.prefix === 0) return "it is the whole IPv4 Internet";
        if (n.prefix < MIN_IPV4_PREFIX) return `a /${n.prefix} is ${2 ** (32 - n.prefix)} addresses, wider than the /${MIN_IPV4_PREFIX} limit`;
        return undefined;
    }
    if (n.prefix === 128 && n.address === 1n) return undefined;
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
