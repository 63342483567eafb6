import * as pulumi from "@pulumi/pulumi";
import { domainSettings } from "./render/inputs";
import { hashPassword } from "./render/password";
import { SIEVE_EXTENSIONS, sieveRequires } from "./render/sieve";
import { AliasSpec, Credential, DomainSpec, FileIntoSpec, ForwardSpec, MailboxSpec, SieveSpec } from "./render/spec";
import { Validator } from "./validate";

export interface MailboxArgs {
    /** "alice" or "alice@example.com" (the domain must be this one). */
    address: string;
    /** A Pulumi secret; at least 12 characters. Only a SHA512-CRYPT hash of it is ever deployed. */
    password: pulumi.Input<string>;
    /** Storage quota such as "2G"; default: none. */
    quota?: string;
    /** More addresses of this domain delivered into this mailbox (and usable as its sender). */
    aliases?: string[];
    /**
     * A Sieve script (RFC 5228) run on every delivery to this mailbox, before the script its owner
     * activates over ManageSieve (which then runs unless this one filed, redirected, rejected or
     * discarded the message). Compiled at deploy: a script that does not compile fails the deploy.
     * Instead of vacation and fileInto, not together with them.
     */
    sieveScript?: string;
    /** An automatic reply while away; Dovecot answers each sender once per period, never lists or bounces. */
    vacation?: VacationArgs;
    /** File matching messages into folders; the first matching rule wins, the rest go to INBOX. */
    fileInto?: FileIntoArgs[];
}

export interface VacationArgs {
    subject: string;
    /** Plain text. */
    body: string;
    /** Days before the same sender is answered again (default and bounds: DovecotImap's vacation limits). */
    days?: number;
}

export interface FileIntoArgs {
    /** Header to look at, e.g. "Subject", "From" or "List-Id". */
    header: string;
    /** Text the header must contain; ASCII letters match case-insensitively. */
    contains: string;
    /** Folder that receives the message, e.g. "Lists/dev" ("/" separates levels); created and subscribed when missing. */
    folder: string;
}

export interface AliasArgs {
    /** "sales" or "sales@example.com". */
    address: string;
    /** One or more addresses, local or external. */
    targets: string[];
}

export interface ForwardArgs {
    /** A mailbox of this domain. */
    address: string;
    targets: string[];
    /** Keep a copy in the mailbox too (default true). */
    keepCopy?: boolean;
}

export interface VirtualDomainArgs {
    /** The domain, e.g. "example.com". */
    domain: string;
    mailboxes?: MailboxArgs[];
    aliases?: AliasArgs[];
    /** Address that receives mail for any address of this domain that exists nowhere else. */
    catchAll?: string;
    forwards?: ForwardArgs[];
    /** MX hosts to publish, most preferred first (default: ["mail.<domain>"]). */
    mxHosts?: string[];
    /** SPF policy published as TXT (default "v=spf1 mx -all"). */
    spf?: string;
}

export interface DnsRecord {
    name: string;
    type: string;
    value: string;
    priority?: number;
}

export const MIN_PASSWORD_LENGTH = 12;

/**
 * One mail domain: its mailboxes, aliases, catch-all and forwards, and the DNS records it needs.
 * It creates no containers itself; MailServer and DovecotImap render it into their files.
 */
export class VirtualDomain extends pulumi.ComponentResource {
    /** The validated description the renderers use. Passwords are not part of it. */
    public readonly spec: DomainSpec;
    public readonly domain: pulumi.Output<string>;
    public readonly mailboxAddresses: pulumi.Output<string[]>;
    public readonly dnsRecords: pulumi.Output<DnsRecord[]>;
    /** SHA512-CRYPT hashes per mailbox; a Pulumi secret. */
    public readonly credentials: pulumi.Output<Credential[]>;

    constructor(name: string, args: VirtualDomainArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`VirtualDomain ${name}`);
        const spec = validateDomain(v, args);
        // Everything that can be checked now is checked before the component registers.
        (args.mailboxes ?? []).forEach((m, i) => {
            if (typeof m.password === "string") checkPassword(v, `mailboxes[${i}].password`, m.password);
        });
        const mxHosts = (args.mxHosts ?? [`mail.${spec.name}`]).map((h, i) => v.hostname(`mxHosts[${i}]`, h));
        const spf = args.spf ?? "v=spf1 mx -all";
        if (!/^v=spf1( |$)/.test(spf)) v.fail("spf", spf, "expected an SPF policy starting with \"v=spf1\"");
        // Secret inputs are known only later: checked again when they resolve (at preview too).
        const passwords = (args.mailboxes ?? []).map((m, i) =>
            pulumi.secret(pulumi.output(m.password).apply(p => checkPassword(v, `mailboxes[${i}].password`, p))));
        const credentials = pulumi.secret(pulumi.all(passwords).apply(list =>
            list.map((password, i) => ({ address: spec.mailboxes[i].address, hash: hashPassword(spec.mailboxes[i].address, password) }))));
        super("mailserver:index:VirtualDomain", name, {
            ...domainSettings(spec, mxHosts, spf),
            // Never the passwords; the hashes change with them: "[secret] => [secret]" in the diff.
            passwordHashes: credentials,
        }, opts);
        this.spec = spec;
        this.credentials = credentials;

        this.domain = pulumi.output(spec.name);
        this.mailboxAddresses = pulumi.output(spec.mailboxes.map(m => m.address));
        this.dnsRecords = pulumi.output([
            ...mxHosts.map((h, i) => ({ name: spec.name, type: "MX", value: `${h}.`, priority: 10 * (i + 1) })),
            { name: spec.name, type: "TXT", value: spf },
        ]);
        this.registerOutputs({
            domain: this.domain,
            mailboxAddresses: this.mailboxAddresses,
            dnsRecords: this.dnsRecords,
            credentials: this.credentials,
        });
    }
}

function checkPassword(v: Validator, field: string, password: unknown): string {
    if (typeof password !== "string" || password.length < MIN_PASSWORD_LENGTH) {
        // Never echo a password, not even a bad one.
        v.fail(field, typeof password === "string" ? `(a secret of ${password.length} characters)` : password,
            `expected a password of at least ${MIN_PASSWORD_LENGTH} characters, passed as a Pulumi secret`);
    }
    return password as string;
}

/** Validates the arguments and returns the renderers' DomainSpec. Exported for the tests. */
export function validateDomain(v: Validator, args: VirtualDomainArgs): DomainSpec {
    if (typeof args !== "object" || args === null) v.fail("args", args, "expected an object with at least \"domain\"");
    const domain = v.domain("domain", args.domain);
    const qualify = (field: string, value: unknown): string => {
        const full = typeof value === "string" && !value.includes("@") ? `${value}@${domain}` : value;
        const address = v.address(field, full);
        if (!address.endsWith(`@${domain}`)) v.fail(field, value, `expected an address of this domain (…@${domain})`);
        return address;
    };
    const taken = new Map<string, string>();
    const claim = (field: string, address: string) => {
        const previous = taken.get(address);
        if (previous) v.fail(field, address, `this address is already defined by ${previous}; each address may be defined once`);
        taken.set(address, field);
    };

    const mailboxes: MailboxSpec[] = (args.mailboxes ?? []).map((m, i) => {
        const address = qualify(`mailboxes[${i}].address`, m.address);
        claim(`mailboxes[${i}].address`, address);
        const quota = m.quota === undefined ? undefined : v.quota(`mailboxes[${i}].quota`, m.quota);
        const aliases = (m.aliases ?? []).map((a, j) => {
            const alias = qualify(`mailboxes[${i}].aliases[${j}]`, a);
            claim(`mailboxes[${i}].aliases[${j}]`, alias);
            return alias;
        });
        if (m.password === undefined || m.password === null) v.fail(`mailboxes[${i}].password`, undefined, "every mailbox needs a password (a Pulumi secret)");
        const sieve = validateSieve(v, `mailboxes[${i}]`, m, address, aliases);
        return { address, quota, aliases, ...(sieve ? { sieve } : {}) };
    });
    const mailboxSet = new Set(mailboxes.map(m => m.address));

    const aliases: AliasSpec[] = (args.aliases ?? []).map((a, i) => {
        const address = qualify(`aliases[${i}].address`, a.address);
        claim(`aliases[${i}].address`, address);
        if (!Array.isArray(a.targets) || a.targets.length === 0) v.fail(`aliases[${i}].targets`, a.targets, "expected one or more target addresses");
        const targets = a.targets.map((t, j) => v.address(`aliases[${i}].targets[${j}]`, t));
        if (targets.includes(address)) v.fail(`aliases[${i}].targets`, a.targets, `an alias may not point at itself (${address})`);
        return { address, targets: [...new Set(targets)] };
    });

    const forwards: ForwardSpec[] = (args.forwards ?? []).map((f, i) => {
        const address = qualify(`forwards[${i}].address`, f.address);
        if (!mailboxSet.has(address)) v.fail(`forwards[${i}].address`, f.address, `expected one of this domain's mailboxes (${[...mailboxSet].join(", ") || "none defined"})`);
        if (!Array.isArray(f.targets) || f.targets.length === 0) v.fail(`forwards[${i}].targets`, f.targets, "expected one or more target addresses");
        const targets = f.targets.map((t, j) => v.address(`forwards[${i}].targets[${j}]`, t));
        return { address, targets, keepCopy: f.keepCopy ?? true };
    });
    const forwarded = new Set<string>();
    forwards.forEach((f, i) => {
        if (forwarded.has(f.address)) v.fail(`forwards[${i}].address`, f.address, "each mailbox may have one forward entry");
        forwarded.add(f.address);
    });

    if (args.catchAll !== undefined && typeof args.catchAll !== "string") v.fail("catchAll", args.catchAll, "expected a local part or an address");
    const catchAll = args.catchAll === undefined ? undefined : v.address("catchAll", args.catchAll.includes("@") ? args.catchAll : `${args.catchAll}@${domain}`);
    return { name: domain, mailboxes, aliases, catchAll, forwards };
}

/** Same limit as Dovecot's sieve_max_script_size default. */
const MAX_SIEVE_SCRIPT = 1024 * 1024;

function validateSieve(v: Validator, field: string, m: MailboxArgs, address: string, aliases: string[]): SieveSpec | undefined {
    const text = (f: string, value: unknown, singleLine: boolean): string => {
        if (typeof value !== "string" || value.trim() === "") v.fail(f, value, "expected a non-empty string");
        if (singleLine && /[\r\n]/.test(value)) v.fail(f, value, "expected a single line (no line breaks)");
        if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) v.fail(f, value, "expected text without control characters");
        return value;
    };
    if (m.sieveScript === undefined && m.vacation === undefined && m.fileInto === undefined) return undefined;
    // Dovecot finds the script by the address (sieve/<address>.sieve); a "/" would leave that folder.
    if (address.includes("/")) v.fail(`${field}.address`, address, "a mailbox with Sieve rules needs an address without \"/\"");
    if (m.sieveScript !== undefined) {
        if (m.vacation !== undefined || m.fileInto !== undefined) {
            v.fail(`${field}.sieveScript`, "(a script)", "give either sieveScript or the typed options vacation and fileInto, not both; a script can do both itself");
        }
        const script = m.sieveScript;
        if (typeof script !== "string" || script.trim() === "") v.fail(`${field}.sieveScript`, script, "expected the text of a Sieve script (RFC 5228)");
        if (Buffer.byteLength(script, "utf8") > MAX_SIEVE_SCRIPT) v.fail(`${field}.sieveScript`, `(${Buffer.byteLength(script, "utf8")} bytes)`, "expected a script of at most 1 MiB");
        for (const ext of sieveRequires(script)) {
            if (!SIEVE_EXTENSIONS.includes(ext)) {
                v.fail(`${field}.sieveScript`, `require "${ext}"`, `expected only extensions Dovecot's Sieve (Pigeonhole 2.4) supports here: ${SIEVE_EXTENSIONS.join(", ")}`);
            }
        }
        return { script, fileInto: [] };
    }
    let vacation: SieveSpec["vacation"];
    if (m.vacation !== undefined) {
        const a = m.vacation;
        if (typeof a !== "object" || a === null) v.fail(`${field}.vacation`, a, "expected { subject, body, days? }");
        const days = a.days === undefined ? undefined : v.positiveInteger(`${field}.vacation.days`, a.days, "expected a whole number of days > 0, e.g. 7");
        vacation = {
            subject: text(`${field}.vacation.subject`, a.subject, true),
            body: text(`${field}.vacation.body`, a.body, false),
            ...(days !== undefined ? { days } : {}),
            addresses: aliases,
        };
    }
    if (m.fileInto !== undefined && !Array.isArray(m.fileInto)) v.fail(`${field}.fileInto`, m.fileInto, "expected a list of { header, contains, folder }");
    const fileInto: FileIntoSpec[] = (m.fileInto ?? []).map((r, j) => {
        const f = `${field}.fileInto[${j}]`;
        if (typeof r !== "object" || r === null) v.fail(f, r, "expected { header, contains, folder }");
        if (typeof r.header !== "string" || !/^[!-9;-~]+$/.test(r.header)) v.fail(`${f}.header`, r.header, "expected a header name such as \"Subject\", \"From\" or \"List-Id\"");
        const folder = text(`${f}.folder`, r.folder, true);
        if (folder.startsWith("/") || folder.endsWith("/") || folder.includes("//")) v.fail(`${f}.folder`, r.folder, "expected a folder such as \"Lists\" or \"Lists/dev\" (\"/\" only between names)");
        return { header: r.header, contains: text(`${f}.contains`, r.contains, true), folder };
    });
    return { ...(vacation ? { vacation } : {}), fileInto };
}
