// How Pulumi's wire format marks a secret ({sig: SECRET_VALUE, value}), as mocks and providers
// receive it; one place for the tests to unwrap or redact secrets, and to read bundled uploads.
import { parseBundle } from "../../components/platform/docker/bundle";

export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/**
 * The files a config job's uploads carry (components/platform/docker/bundle.ts), by target path;
 * each file of a secret bundle wrapped as a secret in place. An upload whose content is unknown
 * (undefined) carries none.
 */
export function bundledFiles(uploads: Array<{ file: string; content: any }>): Map<string, any> {
    const files = new Map<string, any>();
    for (const u of uploads) {
        const secret = isWrappedSecret(u.content);
        const bundle = secret ? u.content.value : u.content;
        if (bundle === undefined) continue;
        const dir = u.file.slice(0, u.file.lastIndexOf("/"));
        for (const f of parseBundle(bundle)) {
            const file = `${dir}/${f.path}`;
            if (files.has(file)) throw new Error(`two uploads to ${file}`);
            files.set(file, secret ? { [SECRET_SIG]: SECRET_VALUE, value: f.content } : f.content);
        }
    }
    return files;
}

export function isWrappedSecret(v: unknown): boolean {
    return !!v && typeof v === "object" && (v as any)[SECRET_SIG] === SECRET_VALUE;
}

/** The value as a provider sees it: every secret replaced by its plain value. */
export function unwrapSecrets(v: any): any {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") {
        if (isWrappedSecret(v)) return unwrapSecrets(v.value);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

/** The value as a reviewer may see it: every secret replaced by "[secret]". */
export function redactSecrets(v: any): any {
    if (Array.isArray(v)) return v.map(redactSecrets);
    if (v && typeof v === "object") {
        if (isWrappedSecret(v)) return "[secret]";
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactSecrets(x)]));
    }
    return v;
}
