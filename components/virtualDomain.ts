import * as pulumi from "@pulumi/pulumi";
import { hashPassword } from "./render/password";
import { AliasSpec, Credential, DomainSpec, ForwardSpec, MailboxSpec } from "./render/spec";
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
        super("mailserver:index:VirtualDomain", name, {}, opts);
        this.spec = spec;

        const passwords = (args.mailboxes ?? []).map((m, i) => {
            const field = `mailboxes[${i}].password`;
            if (typeof m.password === "string") checkPassword(v, field, m.password);
            return pulumi.secret(pulumi.output(m.password).apply(p => checkPassword(v, field, p)));
        });
        this.credentials = pulumi.secret(pulumi.all(passwords).apply(list =>
            list.map((password, i) => ({ address: spec.mailboxes[i].address, hash: hashPassword(spec.mailboxes[i].address, password) }))));

        this.domain = pulumi.output(spec.name);
        this.mailboxAddresses = pulumi.output(spec.mailboxes.map(m => m.address));
        const mxHosts = (args.mxHosts ?? [`mail.${spec.name}`]).map((h, i) => v.hostname(`mxHosts[${i}]`, h));
        const spf = args.spf ?? "v=spf1 mx -all";
        if (!/^v=spf1( |$)/.test(spf)) v.fail("spf", spf, "expected an SPF policy starting with \"v=spf1\"");
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
        return { address, quota, aliases };
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

    const catchAll = args.catchAll === undefined ? undefined : v.address("catchAll", args.catchAll.includes("@") ? args.catchAll : `${args.catchAll}@${domain}`);
    return { name: domain, mailboxes, aliases, catchAll, forwards };
}
