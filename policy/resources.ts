// Reading the resource properties the policies judge. The engine sends them through
// @pulumi/policy's unknown-checking proxy: during a preview, touching a value that is not known yet
// throws, so every read goes through known(), and an unknown value is left out, never read as a
// failure.
import { PolicyResource, UnknownValueError } from "@pulumi/policy";
import { BUNDLE_MAGIC, parseBundle } from "../components/platform/docker/bundle";
import { FILE_INPUTS } from "../components/services";

export const CONTAINER_TYPE = "docker:index/container:Container";
export const MAIL_SERVER_TYPE = "mailserver:index:MailServer";
export const DOVECOT_IMAP_TYPE = "mailserver:index:DovecotImap";
export const VIRTUAL_DOMAIN_TYPE = "mailserver:index:VirtualDomain";
/**
 * The component inputs that hold the rendered files the rules read, keyed by their path in the
 * config volume: the registry's (components/services), so a renamed input cannot go unnoticed.
 */
export const COMPONENT_FILE_INPUTS = { postfix: FILE_INPUTS.postfix, dovecot: FILE_INPUTS.dovecot } as const;

function isUnknownError(e: unknown): boolean {
    return (
        e instanceof UnknownValueError ||
        (e instanceof Error && e.name === "UnknownValueError") ||
        (e instanceof Error && e.constructor?.name === "UnknownValueError")
    );
}

/** f(), or undefined when it touches a value that is unknown during preview. */
export function known<T>(f: () => T): T | undefined {
    try {
        return f();
    } catch (e) {
        if (isUnknownError(e)) return undefined;
        throw e;
    }
}

/** A string property, or undefined when it is absent, not a string or unknown. */
export function knownString(f: () => unknown): string | undefined {
    const value = known(f);
    return typeof value === "string" ? value : undefined;
}

export function basename(file: string): string {
    return file.split("/").pop() ?? file;
}

/**
 * An upload's text: `content`, or `contentBase64` decoded; undefined for `source` (a local file). Unknown values throw.
 */
function uploadText(upload: any): string | undefined {
    const content = upload?.content;
    if (typeof content === "string") return content;
    const b64 = upload?.contentBase64;
    if (typeof b64 === "string") return Buffer.from(b64, "base64").toString("utf8");
    return undefined;
}

export interface ConfigFiles {
    mainCf?: string;
    masterCf?: string;
    dovecotConf?: string;
}

const CONFIG_FILES: Record<string, keyof ConfigFiles> = {
    "main.cf": "mainCf",
    "master.cf": "masterCf",
    "dovecot.conf": "dovecotConf",
};

/**
 * The Postfix and Dovecot configuration files a container's uploads carry, each undefined when
 * absent or unknown during preview. Only these uploads are read, so an unknown key or password
 * does not stop the checks.
 */
export function configFiles(props: Record<string, any>): ConfigFiles {
    const files: ConfigFiles = {};
    const uploads = known(() => props.uploads);
    if (!Array.isArray(uploads)) return files;
    for (let i = 0; i < uploads.length; i++) {
        const file = knownString(() => uploads[i]?.file);
        if (file === undefined) continue;
        const text = () => known(() => uploadText(uploads[i]));
        // A config job's files travel in bundles (components/platform/docker/bundle.ts).
        if (/^\.bundle-/.test(basename(file))) {
            const bundle = text();
            if (typeof bundle !== "string" || !bundle.startsWith(BUNDLE_MAGIC)) continue;
            for (const f of parseBundle(bundle)) {
                const key = CONFIG_FILES[basename(f.path)];
                if (key && files[key] === undefined) files[key] = f.content;
            }
            continue;
        }
        const key = CONFIG_FILES[basename(file)];
        if (key && files[key] === undefined) files[key] = text();
    }
    return files;
}

export function labelsOf(props: Record<string, any>): Map<string, string> {
    const labels = new Map<string, string>();
    const list = known(() => props.labels);
    if (!Array.isArray(list)) return labels;
    for (let i = 0; i < list.length; i++) {
        const label = known(() => list[i]?.label);
        const value = known(() => list[i]?.value);
        if (typeof label === "string") labels.set(label, typeof value === "string" ? value : "");
    }
    return labels;
}

export function isContainer(r: PolicyResource): boolean {
    return r.type === CONTAINER_TYPE;
}

/** Every string inside a value (depth-limited), skipping values unknown during preview. */
export function collectStrings(value: unknown, out: string[], depth = 0): void {
    if (typeof value === "string") {
        out.push(value);
        return;
    }
    if (value === null || typeof value !== "object" || depth > 8) return;
    for (const key of Object.keys(value)) {
        const child = known(() => (value as Record<string, unknown>)[key]);
        collectStrings(child, out, depth + 1);
    }
}

/** What a VirtualDomain registers about its mail and DNS (components/inputs.ts, domainSettings). */
export interface VirtualDomainFacts {
    resource: PolicyResource;
    domain: string;
    /** DKIM on: the package makes its keys, publishes their records and signs with them. */
    dkim: boolean;
    dmarcPolicy?: string;
    dmarcPercent?: number;
    dmarcReportAddress?: string;
    /** Addresses that receive mail here: mailboxes, their aliases, aliases. */
    addresses: string[];
    catchAll: boolean;
}

/** Every VirtualDomain of the stack, read from its inputs; values unknown at preview are left out. */
export function virtualDomains(resources: PolicyResource[]): VirtualDomainFacts[] {
    const out: VirtualDomainFacts[] = [];
    for (const r of resources.filter(x => x.type === VIRTUAL_DOMAIN_TYPE)) {
        const domain = knownString(() => r.props.domain);
        if (domain === undefined) continue;
        const addresses: string[] = [];
        const mailboxes = known(() => r.props.mailboxes);
        if (Array.isArray(mailboxes))
            for (let i = 0; i < mailboxes.length; i++) {
                const a = knownString(() => mailboxes[i]?.address);
                if (a !== undefined) addresses.push(a);
                const aliases = known(() => mailboxes[i]?.aliases);
                if (Array.isArray(aliases))
                    for (let j = 0; j < aliases.length; j++) {
                        const alias = knownString(() => aliases[j]);
                        if (alias !== undefined) addresses.push(alias);
                    }
            }
        const aliases = known(() => r.props.aliases);
        if (Array.isArray(aliases))
            for (let i = 0; i < aliases.length; i++) {
                const a = knownString(() => aliases[i]?.address);
                if (a !== undefined) addresses.push(a);
            }
        out.push({
            resource: r,
            domain,
            dkim: known(() => r.props.dkim) === true,
            dmarcPolicy: knownString(() => r.props.dmarcPolicy),
            dmarcPercent: (n => (typeof n === "number" ? n : undefined))(known(() => r.props.dmarcPercent)),
            dmarcReportAddress: knownString(() => r.props.dmarcReportAddress),
            addresses: addresses.map(a => a.toLowerCase()),
            catchAll: knownString(() => r.props.catchAll) !== undefined,
        });
    }
    return out;
}
