// Parsers for the configuration files the policies read out of docker containers' uploads:
// Postfix main.cf and master.cf, Dovecot's dovecot.conf and TLS protocol lists. The one parser
// of these files: the unit tests read the rendered files with it too, and a live test checks it
// against postconf and doveconf. Networks come from components/model/net.ts. Pulumi-free, so the
// rules stay testable without Pulumi.
import { isLoopbackAddress, Network, trustRisk } from "../components/model/net";

// ------------------------------------------------------------------------------------------
// Postfix logical lines (main.cf and master.cf alike)

/** What the parsers could not read, as "line N: why: text"; Postfix would warn or stop there. */
export type ParseErrors = string[];

interface LogicalLine {
    /** 1-based number of the line the logical line starts on. */
    line: number;
    text: string;
}

/**
 * Postfix's logical lines (readlline(3)): blank lines and lines whose first non-blank
 * character is "#" are skipped (a "#" later in a line is text, not a comment), and a line
 * starting with whitespace continues the previous one; they are joined with one space.
 */
function postfixLines(text: string, errors: ParseErrors): LogicalLine[] {
    const logical: LogicalLine[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
        if (raw.trim() === "" || raw.trimStart().startsWith("#")) return;
        if (/^\s/.test(raw)) {
            if (logical.length > 0) logical[logical.length - 1].text += " " + raw.trim();
            else errors.push(`line ${i + 1}: continuation line without a preceding line: ${JSON.stringify(raw)}`);
            return;
        }
        logical.push({ line: i + 1, text: raw.trim() });
    });
    return logical;
}

/** "name = value" as Postfix splits it (split_nameval): blanks around "=" and at the ends dropped. */
function nameValue(text: string): [string, string] | undefined {
    const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/s.exec(text.trim());
    return m ? [m[1], m[2].trim()] : undefined;
}

// ------------------------------------------------------------------------------------------
// Postfix main.cf

export interface Assignment {
    key: string;
    value: string;
    /** 1-based line number where the assignment starts. */
    line: number;
}

export interface MainCf {
    /** Every assignment in file order; a key assigned twice appears twice. */
    assignments: Assignment[];
    /** Key -> value, the last assignment of a key winning (as in Postfix). */
    values: Map<string, string>;
    /** Logical lines that are not "key = value". */
    errors: ParseErrors;
}

/** main.cf with every assignment in order, the effective values, and what could not be read. */
export function readMainCf(text: string): MainCf {
    const errors: ParseErrors = [];
    const assignments: Assignment[] = [];
    for (const { line, text: logical } of postfixLines(text, errors)) {
        const nv = nameValue(logical);
        if (nv) assignments.push({ key: nv[0], value: nv[1], line });
        else errors.push(`line ${line}: not "key = value": ${JSON.stringify(logical)}`);
    }
    return { assignments, values: new Map(assignments.map(a => [a.key, a.value])), errors };
}

/** main.cf as key -> value, the last assignment of a key winning (as in Postfix); unreadable lines skipped. */
export function parseMainCf(text: string): Map<string, string> {
    return readMainCf(text).values;
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
    /** The eight fixed columns: service, type, private, unpriv, chroot, wakeup, maxproc, command. */
    columns: string[];
    /** The command's arguments after column 8, "-o" overrides included, "{ }" groups unwrapped. */
    args: string[];
    /** Every "-o key=value" override in order; a key given twice appears twice. */
    overrides: Assignment[];
    /** The service's "-o key=value" overrides, the last of a key winning. */
    options: Map<string, string>;
    /** 1-based line number of the service line. */
    line: number;
}

/**
 * Splits on whitespace, keeping a "{ ... }" group (Postfix 3.0+, e.g. "-o { key = a b }") as
 * one token without its braces and outer blanks. Undefined if a "{" is not closed.
 */
function tokenize(line: string): string[] | undefined {
    const tokens: string[] = [];
    let i = 0;
    while (i < line.length) {
        if (/\s/.test(line[i])) {
            i++;
            continue;
        }
        if (line[i] === "{") {
            const end = line.indexOf("}", i);
            if (end < 0) return undefined;
            tokens.push(line.slice(i + 1, end).trim());
            i = end + 1;
            continue;
        }
        let j = i;
        while (j < line.length && !/\s/.test(line[j])) j++;
        tokens.push(line.slice(i, j));
        i = j;
    }
    return tokens;
}

export interface MasterCf {
    services: MasterService[];
    /** Service lines with fewer than 8 columns, unclosed "{", "-o" without "key=value". */
    errors: ParseErrors;
}

/** master.cf's services with their columns, arguments and "-o" overrides, and what could not be read. */
export function readMasterCf(text: string): MasterCf {
    const errors: ParseErrors = [];
    const services: MasterService[] = [];
    for (const { line, text: logical } of postfixLines(text, errors)) {
        const tokens = tokenize(logical);
        if (!tokens) {
            errors.push(`line ${line}: unclosed "{": ${JSON.stringify(logical)}`);
            continue;
        }
        if (tokens.length < 8) {
            errors.push(`line ${line}: fewer than 8 columns: ${JSON.stringify(logical)}`);
            continue;
        }
        const args = tokens.slice(8);
        const overrides: Assignment[] = [];
        for (let i = 0; i < args.length; i++) {
            if (args[i] !== "-o") continue;
            const nv = i + 1 < args.length ? nameValue(args[++i]) : undefined;
            if (nv) overrides.push({ key: nv[0], value: nv[1], line });
            else errors.push(`line ${line}: "-o" without "key=value" in service ${tokens[0]}`);
        }
        services.push({
            name: tokens[0],
            type: tokens[1],
            command: tokens[7],
            columns: tokens.slice(0, 8),
            args,
            overrides,
            options: new Map(overrides.map(o => [o.key, o.value])),
            line,
        });
    }
    return { services, errors };
}

/** master.cf's services with their command and "-o" overrides; unreadable lines skipped. */
export function parseMasterCf(text: string): MasterService[] {
    return readMasterCf(text).services;
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

/** A service that sees main.cf only, for when master.cf is not known. */
function pseudoService(type: string, command: string): MasterService {
    return {
        name: "(main.cf)",
        type,
        command,
        columns: ["(main.cf)", type, "-", "-", "-", "-", "-", command],
        args: [],
        overrides: [],
        options: new Map(),
        line: 0,
    };
}

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
        if (this.services.length === 0) return [pseudoService("inet", "smtpd")];
        return this.services.filter(s => s.command === "smtpd");
    }

    /** The smtp client services of master.cf (smtp, relay, ...); without a master.cf, main.cf alone. */
    smtpClientServices(): MasterService[] {
        if (this.services.length === 0) return [pseudoService("unix", "smtp")];
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
    const tokens = value
        .split(/[\s,:]+/)
        .filter(Boolean)
        .map(t => /^(>=|<=|!)?(.+)$/.exec(t)!)
        .filter(m => protocolIndex(m[2]) >= 0);
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
// Networks (mynetworks): parsed by components/model/net.ts, judged here

/**
 * Why a trusted network is too wide to be "our own clients", or undefined if it is fine: the
 * components' own check (components/model/net.ts trustRisk), so the policy and the components agree.
 */
export function tooWide(n: Network): string | undefined {
    return trustRisk(n);
}

// ------------------------------------------------------------------------------------------
// Dovecot

export interface DovecotSetting {
    key: string;
    /** The value without its quotes ("a b" and 'a b' are a b; backslash escapes undone inside them). */
    value: string;
    /**
     * The enclosing sections, outermost first, blanks collapsed, e.g.
     * ["service imap-login", "inet_listener imaps"] or ['quota "User quota"'].
     */
    sections: string[];
    /** 1-based line number. */
    line: number;
}

export interface DovecotConf {
    settings: DovecotSetting[];
    /** Lines that are neither a setting, a section start or end, nor an !include; unbalanced braces. */
    errors: ParseErrors;
}

/** The line up to a "#" outside quotes (Dovecot's config parser treats such a "#" as a comment). */
function stripDovecotComment(line: string): string {
    for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (c === '"' || c === "'") {
            for (i++; i < line.length && line[i] !== c; i++) if (line[i] === "\\") i++;
        } else if (c === "#") {
            return line.slice(0, i);
        }
    }
    return line;
}

/**
 * A value without its quotes; inside "..." and '...' alike, a backslash escapes the next character (as doveconf reads
 * it).
 */
function unquote(value: string): string {
    const quoted = value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]);
    return quoted ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value;
}

/**
 * Every "key = value" of dovecot.conf with the sections it sits in, in file order ("!include"
 * is not followed, "key = <file" stays as written). Comments start at a "#" outside quotes; a
 * line ending in "\" continues on the next one.
 */
export function readDovecotConf(text: string): DovecotConf {
    const settings: DovecotSetting[] = [];
    const errors: ParseErrors = [];
    const stack: string[] = [];
    let pending = "";
    let start = 0;
    text.split(/\r?\n/).forEach((raw, i) => {
        const part = stripDovecotComment(raw).trim();
        if (pending === "") start = i + 1;
        if (part.endsWith("\\")) {
            pending += part.slice(0, -1).trimEnd() + " ";
            return;
        }
        const line = (pending + part).trim();
        pending = "";
        if (line === "" || /^!include(_try)?\s/.test(line)) return;
        if (line === "}") {
            if (stack.pop() === undefined) errors.push(`line ${start}: "}" without an open section`);
            return;
        }
        const open = /^(\S.*?)\s*\{$/.exec(line);
        if (open) {
            stack.push(open[1].replace(/\s+/g, " "));
            return;
        }
        const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
        if (m) settings.push({ key: m[1], value: unquote(m[2].trim()), sections: [...stack], line: start });
        else errors.push(`line ${start}: not "key = value", "section {" or "}": ${JSON.stringify(line)}`);
    });
    if (stack.length > 0) errors.push(`unclosed section${stack.length > 1 ? "s" : ""}: ${stack.join(" > ")}`);
    return { settings, errors };
}

/** Every "key = value" of dovecot.conf with the sections it sits in; unreadable lines skipped. */
export function parseDovecotConf(text: string): DovecotSetting[] {
    return readDovecotConf(text).settings;
}

export function isYes(value: string): boolean {
    return ["yes", "true", "1"].includes(value.trim().toLowerCase());
}
