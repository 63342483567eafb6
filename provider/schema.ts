// The Pulumi package schema of the components, for every other Pulumi language: generated from the
// option declarations (components/options/), the same source as components/args.ts, plus the
// outputs each component registers (COMPONENT_OUTPUTS). The component provider (provider.ts)
// serves it; `npm run gen` writes it to provider/schema.json for review.
//
// The 3.248 SDK's schema inference (`provider/experimental`'s Analyzer) cannot be used: it accepts
// resource references only to @pulumi/* packages (MailServer takes VirtualDomains), string-literal
// enums only as `enum` or `as const` objects, and treats every class member as an output.
import { Option, Options } from "../components/options/declare";
import { DOVECOT_IMAP_OPTIONS } from "../components/options/dovecotImap";
import { MAIL_SERVER_OPTIONS } from "../components/options/mailServer";
import { RELAYHOST_OPTIONS } from "../components/options/relayhost";
import { VIRTUAL_DOMAIN_OPTIONS } from "../components/options/virtualDomain";

export const PACKAGE = "mailserver";

export type ComponentName = "VirtualDomain" | "MailServer" | "Relayhost" | "DovecotImap";

/** The components in the order the README documents them, with their one-paragraph description. */
export const COMPONENTS: Array<{ name: ComponentName; options: Options; description: string }> = [
    {
        name: "VirtualDomain",
        options: VIRTUAL_DOMAIN_OPTIONS,
        description:
            "One mail domain: its mailboxes, aliases, catch-all and forwards, its DKIM keys, and the DNS records it " +
            "needs. It creates no containers itself; MailServer and DovecotImap render it into their files.",
    },
    {
        name: "MailServer",
        options: MAIL_SERVER_OPTIONS,
        description:
            "The MTA: Postfix (25, 587, 465), saslauthd and rspamd containers, their config jobs, the TLS " +
            "certificate, the Docker network and the queue volume. Mailbox and alias changes never replace a container.",
    },
    {
        name: "Relayhost",
        options: RELAYHOST_OPTIONS,
        description:
            "An outbound smarthost with SASL credentials. It creates no container: MailServer renders it into " +
            "main.cf and a root-only sasl_passwd table.",
    },
    {
        name: "DovecotImap",
        options: DOVECOT_IMAP_OPTIONS,
        description:
            "The mailbox store: a Dovecot container serving IMAP/IMAPS (and POP3 when asked), ManageSieve, and LMTP " +
            "for delivery from the MailServer's Postfix; mail lives on a named volume.",
    },
];

export const token = (name: string) => `${PACKAGE}:index:${name}`;

// ---------------------------------------------------------------------------------------------
// The subset of the Pulumi package schema written here (pkg/codegen/schema/pulumi.json).

export interface TypeRef {
    type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
    $ref?: string;
    items?: TypeRef;
    additionalProperties?: TypeRef;
    plain?: boolean;
}
export interface PropertySpec extends TypeRef {
    description?: string;
    secret?: boolean;
}
interface ObjectTypeSpec {
    type: "object";
    description?: string;
    properties: Record<string, PropertySpec>;
    required?: string[];
}
interface EnumTypeSpec {
    type: "string";
    description?: string;
    enum: Array<{ value: string; name?: string }>;
}
interface ResourceSpec {
    isComponent: true;
    description: string;
    inputProperties: Record<string, PropertySpec>;
    requiredInputs: string[];
    properties: Record<string, PropertySpec>;
    required: string[];
}
export interface PackageSpec {
    name: string;
    displayName: string;
    version?: string;
    description: string;
    keywords: string[];
    license: string;
    repository?: string;
    resources: Record<string, ResourceSpec>;
    types: Record<string, ObjectTypeSpec | EnumTypeSpec>;
    language: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Outputs: what each component registers (registerOutputs) and exposes as a public Output field.
// The provider returns exactly these as the component's state; a component test checks that each
// is an Output field of the TypeScript class.

interface OutputDecl {
    type: TypeRef;
    doc: string;
    secret?: boolean;
    /** Undefined in some configurations (host mode has no network, tls.acme no certificate). */
    optional?: boolean;
}

const str: TypeRef = { type: "string" };
const list = (items: TypeRef): TypeRef => ({ type: "array", items });
const ref = (name: string): TypeRef => ({ $ref: `#/types/${token(name)}` });
const hashCache: TypeRef = { type: "object", additionalProperties: ref("PasswordHashCacheEntry") };

export const COMPONENT_OUTPUTS: Record<ComponentName, Record<string, OutputDecl>> = {
    VirtualDomain: {
        domain: { type: str, doc: "The domain name, lower-cased." },
        mailboxAddresses: { type: list(str), doc: "The full address of each mailbox." },
        dnsRecords: {
            type: list(ref("DnsRecord")),
            doc: "Every record the domain needs (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV, A/AAAA, PTR; wellKnown hosts).",
        },
        dnsZone: { type: str, doc: "dnsRecords as zone-file text (absolute names, one TTL, no SOA/NS)." },
        mtaStsPolicy: {
            type: str,
            doc: "The MTA-STS policy, to be served at https://mta-sts.<domain>/.well-known/mta-sts.txt.",
        },
        dkimSigningKeys: {
            type: list(ref("DkimSigningKey")),
            doc: "The private keys of the signing selector; a secret.",
            secret: true,
        },
        credentials: {
            type: list(ref("Credential")),
            doc: "The password hash of each mailbox; a secret.",
            secret: true,
        },
        passwordHashCache: {
            type: hashCache,
            doc: "Give it back as passwordHashCache next time (a secret): unchanged passwords are not hashed again.",
            secret: true,
        },
    },
    MailServer: {
        credentials: {
            type: list(ref("Credential")),
            doc: "All mailbox hashes of all domains and the relay users'; a secret.",
            secret: true,
        },
        passwordHashCache: {
            type: hashCache,
            doc: "The relay users' hashes for the next deployment's passwordHashCache; a secret.",
            secret: true,
        },
        certificatePem: {
            type: str,
            doc: "The certificate the services present; absent with tls.acme (it changes at run time).",
            optional: true,
        },
        postfixContainerName: { type: str, doc: "The Postfix container." },
        saslauthdContainerName: { type: str, doc: "The saslauthd container." },
        webContainerName: {
            type: str,
            doc: "The well-known HTTPS endpoint's container; absent when no domain sets wellKnown.",
            optional: true,
        },
        queueVolumeName: { type: str, doc: "The volume of Postfix's queue (kept by destroy)." },
        lmtpVolumeName: { type: str, doc: "The volume through which Dovecot receives mail from Postfix over LMTP." },
        networkName: {
            type: str,
            doc: "The stack's Docker network (bridge mode); absent in host mode.",
            optional: true,
        },
        mainCf: { type: str, doc: "The main.cf in force." },
    },
    Relayhost: {
        nexthop: { type: str, doc: '"[host]:port", as Postfix\'s relayhost.' },
        username: { type: str, doc: "The SASL login.", optional: true },
        password: { type: str, doc: "The relay password; a secret.", secret: true, optional: true },
    },
    DovecotImap: {
        containerName: { type: str, doc: "The Dovecot container." },
        mailVolumeName: { type: str, doc: "The volume holding the mailboxes (kept by destroy)." },
        dovecotConf: { type: str, doc: "The dovecot.conf in force." },
    },
};

/** Object types of the outputs (TypeScript: components/render/). */
const OUTPUT_TYPES: Record<string, ObjectTypeSpec | EnumTypeSpec> = {
    DnsRecord: {
        type: "object",
        description: "A DNS record the domain needs.",
        properties: {
            name: { type: "string", description: "Owner name, fully qualified, without the trailing dot." },
            type: { type: "string", description: '"MX", "TXT", "SRV", "A", "AAAA", "CNAME" or "PTR".' },
            value: { type: "string", description: "The record data after the priority, as in a zone file." },
            priority: { type: "integer", description: "MX preference or SRV priority." },
            purpose: { type: "string", description: "What the record is for, in a few words." },
        },
        required: ["name", "type", "value", "purpose"],
    },
    DkimAlgorithm: {
        type: "string",
        description: "A DKIM key algorithm.",
        enum: [{ value: "rsa" }, { value: "ed25519" }],
    },
    DkimSigningKey: {
        type: "object",
        description: "A DKIM signing key.",
        properties: {
            selector: { type: "string", description: 'The selector as published, e.g. "mail-rsa".' },
            algorithm: { $ref: `#/types/${token("DkimAlgorithm")}` },
            privateKeyPem: { type: "string", description: "PEM of the private key.", secret: true },
        },
        required: ["selector", "algorithm", "privateKeyPem"],
    },
    Credential: {
        type: "object",
        description: "A login's password hash.",
        properties: {
            address: { type: "string" },
            hash: { type: "string", description: "SHA512-CRYPT." },
        },
        required: ["address", "hash"],
    },
    PasswordHashCacheEntry: {
        type: "object",
        description: "The hash of an address's current password and a fingerprint that tells whether it changed.",
        properties: { hash: { type: "string" }, fingerprint: { type: "string" } },
        required: ["hash", "fingerprint"],
    },
};

// ---------------------------------------------------------------------------------------------
// Inputs, from the declarations.

/**
 * Options passed through as is (components/options/declare.ts `passthrough`), by their TypeScript
 * type: resources, pulumi.Input values (secrets) and maps. A new one must be added here.
 */
const PASSTHROUGH_TYPES: Record<string, TypeRef> = {
    "VirtualDomain[]": { type: "array", items: { $ref: `#/resources/${token("VirtualDomain")}`, plain: true } },
    "Relayhost[]": { type: "array", items: { $ref: `#/resources/${token("Relayhost")}`, plain: true } },
    MailServer: { $ref: `#/resources/${token("MailServer")}` },
    "pulumi.Input<string>": { type: "string" },
    "pulumi.Input<{ [address: string]: PasswordHashCacheEntry }>": hashCache,
    "Record<string, string>": { type: "object", additionalProperties: { type: "string", plain: true } },
    "Record<string, pulumi.Input<string>>": { type: "object", additionalProperties: { type: "string" } },
};

/** pulumi.Input<T> in TypeScript: an SDK may pass an output there. Everything else is plain data. */
const isInput = (o: Option<unknown>) => o.tsType.startsWith("pulumi.Input<") || o.tsType.includes("pulumi.Input<");

/** Schema type names drop TypeScript's "Args" suffix: the SDKs add their own (Python's MailboxArgs). */
export const typeName = (tsName: string) => tsName.replace(/Args$/, "");

function defaultText(o: Option<unknown>): string | undefined {
    if (o.defaultText !== undefined) return o.defaultText.replace(/`/g, "");
    if (o.default === undefined) return undefined;
    if (o.fields && typeof o.default === "object" && o.default !== null && Object.keys(o.default).length === 0)
        return "each field's default";
    return JSON.stringify(o.default);
}

function describe(o: Option<unknown>): string {
    const d = defaultText(o);
    return `${o.doc}${o.doc.endsWith(".") ? "" : "."}${d ? ` Default: ${d}.` : ""}`;
}

class SchemaBuilder {
    readonly types: Record<string, ObjectTypeSpec | EnumTypeSpec> = {};

    /** The type of one declared option (its description and secrecy are added by property()). */
    typeOf(o: Option<unknown>): TypeRef {
        if (o.item) return { type: "array", items: this.typeOf(o.item), plain: true };
        if (o.enumValues) {
            this.define(o.typeName!, {
                type: "string",
                description: o.doc,
                enum: o.enumValues.map(value => ({ value, ...enumName(value) })),
            });
            return { $ref: `#/types/${token(typeName(o.typeName!))}`, plain: true };
        }
        if (o.fields) {
            const name = o.typeName!;
            if (!this.types[token(typeName(name))]) {
                // Defined before its fields, so a type may refer to itself.
                const spec: ObjectTypeSpec = { type: "object", description: o.doc, properties: {} };
                this.define(name, spec);
                Object.assign(spec, this.objectProperties(o.fields));
            }
            return { $ref: `#/types/${token(typeName(name))}`, plain: true };
        }
        const passthrough = PASSTHROUGH_TYPES[o.tsType];
        if (passthrough) return isInput(o) ? passthrough : { ...passthrough, plain: true };
        switch (o.tsType) {
            case "string":
                return { type: "string", plain: true };
            case "number":
                return { type: "integer", plain: true };
            case "boolean":
                return { type: "boolean", plain: true };
        }
        throw new Error(
            `provider/schema.ts: no schema type for the TypeScript type ${o.tsType}; add it to PASSTHROUGH_TYPES`,
        );
    }

    property(o: Option<unknown>): PropertySpec {
        const secret = "secret" in o.config && o.config.secret === true;
        return { ...this.typeOf(o), description: describe(o), ...(secret ? { secret: true } : {}) };
    }

    objectProperties(options: Options): { properties: Record<string, PropertySpec>; required?: string[] } {
        const properties: Record<string, PropertySpec> = {};
        for (const [name, o] of Object.entries(options)) properties[name] = this.property(o);
        const required = Object.entries(options)
            .filter(([, o]) => o.required)
            .map(([name]) => name);
        return { properties, ...(required.length > 0 ? { required } : {}) };
    }

    /** Objects are defined once (typeOf checks); an enum may be met again, with the same values. */
    define(tsName: string, spec: ObjectTypeSpec | EnumTypeSpec): void {
        const key = token(typeName(tsName));
        const existing = this.types[key];
        if (existing && JSON.stringify(existing) !== JSON.stringify(spec))
            throw new Error(`provider/schema.ts: two different types are named ${typeName(tsName)}`);
        if (COMPONENTS.some(c => c.name === typeName(tsName)))
            throw new Error(`provider/schema.ts: type ${typeName(tsName)} has a component's name`);
        this.types[key] = spec;
    }
}

/** Enum members get a name where the value cannot be one (NotifyClass "2bounce"). */
function enumName(value: string): { name?: string } {
    return /^[A-Za-z]/.test(value) ? {} : { name: `_${value}` };
}

function outputProperties(outputs: Record<string, OutputDecl>) {
    const properties: Record<string, PropertySpec> = {};
    for (const [name, o] of Object.entries(outputs))
        properties[name] = { ...o.type, description: o.doc, ...(o.secret ? { secret: true } : {}) };
    return {
        properties,
        required: Object.entries(outputs)
            .filter(([, o]) => !o.optional)
            .map(([name]) => name),
    };
}

/** The package schema; `version` is added by the provider (package.json's), not written to schema.json. */
export function packageSchema(version?: string): PackageSpec {
    const b = new SchemaBuilder();
    const resources: Record<string, ResourceSpec> = {};
    for (const c of COMPONENTS) {
        const inputs = b.objectProperties(c.options);
        const outputs = outputProperties(COMPONENT_OUTPUTS[c.name]);
        resources[token(c.name)] = {
            isComponent: true,
            description: c.description,
            inputProperties: inputs.properties,
            requiredInputs: inputs.required ?? [],
            properties: outputs.properties,
            required: outputs.required,
        };
    }
    for (const [name, spec] of Object.entries(OUTPUT_TYPES)) b.define(name, spec);
    return {
        name: PACKAGE,
        displayName: "Mail server",
        ...(version !== undefined ? { version } : {}),
        description:
            "A production-grade mail server (Postfix, Dovecot, rspamd, saslauthd) as Pulumi components on Docker.",
        keywords: ["pulumi", "mail", "postfix", "dovecot", "docker", "category/utility", "kind/component"],
        license: "Apache-2.0",
        resources,
        types: Object.fromEntries(Object.entries(b.types).sort(([a], [c]) => a.localeCompare(c))),
        language: {
            nodejs: { respectSchemaVersion: true },
            python: { respectSchemaVersion: true, pyproject: { enabled: true } },
            // Extra input types: the Go generator gives a plain list of objects met before any plain
            // object (VirtualDomain.aliases) no Args type, yet names one in the args struct.
            go: { generateResourceContainerTypes: true, generateExtraInputTypes: true, respectSchemaVersion: true },
            csharp: { respectSchemaVersion: true },
        },
    };
}

/** provider/schema.json: the schema without a version, for review. */
export function renderSchemaJson(): string {
    return `${JSON.stringify(packageSchema(), null, 2)}\n`;
}
