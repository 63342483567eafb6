// Mandatory: no secret in a container's environment variables or labels (`docker inspect` shows
// them to anyone who may inspect the container, Pulumi secret or not).
import { ResourceValidationPolicy } from "@pulumi/policy";
import { CONTAINER_TYPE, known, labelsOf } from "../resources";

const SECRET_WORDS = new Set([
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "key",
    "apikey",
    "privatekey",
    "credential",
    "credentials",
]);
const SECRET_PARTS = ["password", "passwd", "passphrase", "secret", "apikey", "privatekey", "accesskey", "credential"];
/** A last word that makes the name describe a secret rather than hold one (KEY_FILE, TLS_KEY_PATH, KEY_ALGORITHM). */
const NOT_A_SECRET_SUFFIX = new Set([
    "file",
    "path",
    "dir",
    "directory",
    "size",
    "type",
    "algorithm",
    "algo",
    "length",
    "len",
    "bits",
    "id",
    "name",
    "format",
    "mode",
    "usage",
    "count",
    "url",
    "uri",
]);

/** Whether an environment variable or label name looks like it holds a password, secret, token or key. */
export function looksSecret(name: string): boolean {
    const words = name
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter(Boolean);
    if (words.length === 0) return false;
    if (NOT_A_SECRET_SUFFIX.has(words[words.length - 1])) return false;
    if (words.some(w => SECRET_WORDS.has(w))) return true;
    return words.some(w => SECRET_PARTS.some(p => w.includes(p)) || w.endsWith("token"));
}

export const noPlaintextSecrets: ResourceValidationPolicy = {
    name: "mail-no-plaintext-secrets",
    description:
        "Containers must not get passwords, secrets, tokens or keys through environment variables or labels: whether or not the " +
        "value is a Pulumi secret, Docker shows it to anyone who can inspect the container. Deliver secrets as files instead.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: (args, reportViolation) => {
        if (args.type !== CONTAINER_TYPE) return;
        const envs = known(() => args.props.envs);
        if (Array.isArray(envs)) {
            for (let i = 0; i < envs.length; i++) {
                const entry = known(() => envs[i]);
                if (typeof entry !== "string") continue;
                const eq = entry.indexOf("=");
                const name = eq < 0 ? entry : entry.slice(0, eq);
                // The value is never echoed.
                if (eq > 0 && entry.length > eq + 1 && looksSecret(name)) {
                    reportViolation(
                        `Environment variable ${name} holds what looks like a secret in clear text (visible in \`docker inspect\`). ` +
                            `Pass it as a file (an upload whose content is a Pulumi secret) and point the program at it, e.g. ${name}_FILE.`,
                    );
                }
            }
        }
        for (const [label, value] of labelsOf(args.props)) {
            if (value !== "" && looksSecret(label)) {
                reportViolation(
                    `Label ${label} holds what looks like a secret in clear text (labels are public to anyone who can list containers). Remove it.`,
                );
            }
        }
    },
};
