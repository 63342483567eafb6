// Remediation: private keys and password files uploaded into containers become Pulumi secrets.
import { ResourceValidationPolicy, Secret } from "@pulumi/policy";
import { BUNDLE_MAGIC, parseBundle } from "../../components/platform/docker/bundle";
import { basename, CONTAINER_TYPE } from "../resources";

/**
 * @pulumi/policy (1.21.0) hands remediations the resource's inputs behind two proxies that unwrap
 * secrets on read; the proxy target, with secret values still wrapped in `Secret`, is reachable
 * under this key (proxy.ts `getSpecialProxyTarget`, internal). Validations get no secret markers
 * at all, which is why this check is a remediation.
 */
const PROXY_TARGET_KEY = "__getSpecialProxyTarget";

/** The raw property bag under the SDK's proxies (or the value itself when it is not proxied). */
function unproxied(value: any): any {
    let current = value;
    for (let i = 0; i < 8; i++) {
        const next = current !== null && typeof current === "object" ? current[PROXY_TARGET_KEY] : undefined;
        if (next === undefined || next === current) return current;
        current = next;
    }
    return current;
}

const SENSITIVE_FILE =
    /(^|[-_.]|priv)key\.pem$|\.key$|\.private$|^(sasl_passwd|passwd|shadow|users|htpasswd|\.htpasswd)$|\.(p12|pfx)$/i;

/**
 * Whether an upload (by its file name, or a PEM private key in its content) carries a key or
 * password hashes; a config job's bundle of files (components/platform/docker/bundle.ts) when
 * any file in it does.
 */
function isSensitiveUpload(file: string, content: unknown): boolean {
    if (typeof content === "string" && content.startsWith(BUNDLE_MAGIC)) {
        try {
            return parseBundle(content).some(f => isSensitiveUpload(f.path, f.content));
        } catch {
            return true; // not a bundle after all: judge it as one file with a key in it
        }
    }
    return (
        SENSITIVE_FILE.test(basename(file)) ||
        (typeof content === "string" && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(content))
    );
}

/** The remediated props, or undefined when every sensitive upload is already a secret. */
function secretUploadsRemediation(props: Record<string, any>): Record<string, any> | undefined {
    const raw = unproxied(props);
    // Still behind a proxy (an SDK whose internals differ): secretness is not visible, and copying
    // through the proxy would unwrap the other secrets, so leave the resource alone.
    if (raw === null || typeof raw !== "object" || raw.__isSpecialProxy === true) return undefined;
    const uploads = raw.uploads;
    if (!Array.isArray(uploads)) return undefined; // absent, unknown, or one secret list
    let changed = false;
    const next = uploads.map((upload: any) => {
        if (upload === null || typeof upload !== "object" || upload instanceof Secret) return upload;
        const file = upload.file instanceof Secret ? upload.file.value : upload.file;
        if (typeof file !== "string") return upload;
        const copy = { ...upload };
        for (const field of ["content", "contentBase64"]) {
            const value = upload[field];
            if (value === undefined || value === null || value instanceof Secret) continue;
            const text =
                field === "contentBase64" && typeof value === "string"
                    ? Buffer.from(value, "base64").toString("utf8")
                    : value;
            if (!isSensitiveUpload(file, text)) continue;
            copy[field] = new Secret(value);
            changed = true;
        }
        return copy;
    });
    return changed ? { ...raw, uploads: next } : undefined;
}

export const secretUploads: ResourceValidationPolicy = {
    name: "mail-secret-uploads",
    description:
        "Private keys and password files uploaded into containers must be Pulumi secrets (encrypted in the state, masked in " +
        "previews); this remediation marks them so. (Only a remediation can see secretness: validations receive secrets unwrapped.)",
    enforcementLevel: "remediate",
    severity: "high",
    remediateResource: args => (args.type === CONTAINER_TYPE ? secretUploadsRemediation(args.props) : undefined),
};
