// Golden files: the configuration the shipped stacks (stacks/Pulumi.<stack>.yaml) render, as the
// components register it, so that a change to a renderer shows up as a reviewable diff of the
// real files. `npm run golden` rewrites test/golden/<stack>/<service>/<path>;
// test/components/golden.test.ts fails when the committed files differ from a fresh render.
//
// The example program runs under Pulumi mocks (test/components/run-program.ts, behind the
// recorder program-capture.ts). Each file comes from the component inputs that hold rendered
// files (components/services, COMPONENT_FILE_SERVICES): never secrets (password hashes, the TLS key,
// relay passwords), which are not there.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { COMPONENT_FILE_SERVICES, fileInput } from "../../components/services";
import { isWrappedSecret } from "../components/secrets";
import { SECRET_KEYS } from "../../stack/config";

const ROOT = path.resolve(__dirname, "..", "..");
export const GOLDEN_DIR = __dirname;
export const STACKS = ["dev", "prod", "acme"] as const;
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const RUN_PROGRAM = path.join(ROOT, "test", "components", "run-program.ts");
const PROGRAM = path.join(ROOT, "test", "components", "program-under-test.ts");
// js-yaml comes with @pulumi/pulumi; it has no type declarations here.
const yaml = require("js-yaml") as { load(text: string): unknown };


interface Registration { type: string; name: string; parent: string; wire: any }

/**
 * Golden-only stacks: a shipped stack's config plus what the shipped stacks leave off, so that the
 * ACME client's, the well-known endpoint's and ClamAV's and the backup's configuration show in golden diffs too. "acme"
 * is prod with its certificate from Let's Encrypt (HTTP-01, a second name), MTA-STS and autoconfig
 * served, the antivirus on and backups to an S3 store.
 */
const DERIVED_STACKS: Record<string, { from: string; config: Record<string, unknown> }> = {
    acme: {
        from: "prod",
        config: {
            "mailserver:tls": { acme: { email: "postmaster@example.com", names: ["imap.example.com"] } },
            "mailserver:wellKnown": { httpsPort: 443 },
            // ClamAV too (antivirus): its files and rspamd's antivirus module show in golden diffs.
            "mailserver:antivirus": { enabled: true },
            // Metrics and alerts (monitoring): the exporters', Prometheus's and Alertmanager's files.
            "mailserver:monitoring": { metrics: true, alerts: true },
            // Backups to an S3 store: backup.conf shows in golden diffs (the secrets never do).
            "mailserver:backup": { enabled: true, repository: "s3:https://s3.example.net/mail-backups/prod" },
            "mailserver:backupSecrets": {
                password: "golden-repository-password",
                s3AccessKeyId: "GOLDENKEYID",
                s3SecretAccessKey: "golden-secret-access-key",
            },
            "mailserver:domains": [
                {
                    domain: "example.com",
                    mailboxes: [{ address: "postmaster" }, { address: "alice", quota: "10G" }],
                    aliases: [{ address: "abuse", targets: ["postmaster@example.com"] }],
                    wellKnown: true,
                    mtaStsMode: "enforce",
                },
            ],
        },
    },
};

function stackConfig(stack: string): Record<string, unknown> {
    const derived = DERIVED_STACKS[stack];
    if (derived) return { ...stackConfig(derived.from), ...derived.config };
    const text = fs.readFileSync(path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8");
    const doc = yaml.load(text) as { config: Record<string, unknown> };
    return doc.config;
}

/**
 * The stack's config plus the secrets a user sets with `pulumi config set --secret`: one password
 * per mailbox and relay, and for a stack that supplies its certificate, a throwaway pair. None of
 * them reaches a golden file (hashes and keys are secret inputs), so they need not be fixed.
 */
function fullConfig(stack: string, tls: { certPem: string; keyPem: string }): Record<string, unknown> {
    const cfg = stackConfig(stack);
    type Domain = { domain: string; mailboxes?: Array<{ address: string }> };
    const domains = (cfg["mailserver:domains"] ?? []) as Domain[];
    const passwords = Object.fromEntries(domains.flatMap(d => (d.mailboxes ?? []).map(m => {
        const address = m.address.includes("@") ? m.address : `${m.address}@${d.domain}`;
        return [address, `golden-${address}-password`];
    })));
    const relays = (cfg["mailserver:relayhosts"] ?? []) as Array<{ name?: string; host: string; username?: string }>;
    const relayPasswords = Object.fromEntries(relays.filter(r => r.username)
        .map(r => [r.name ?? r.host, `golden-${r.host}-password`]));
    const out: Record<string, unknown> = { ...cfg, "mailserver:passwords": passwords };
    if (relays.length > 0) out["mailserver:relayPasswords"] = relayPasswords;
    // A stack without a tls setting of its own (prod) expects its certificate from config.
    if (cfg["mailserver:tls"] === undefined) {
        Object.assign(out, { "mailserver:tlsCertPem": tls.certPem, "mailserver:tlsKeyPem": tls.keyPem });
    }
    return out;
}

interface Run { registrations: Registration[]; outputs: Record<string, any> }

function runProgram(stack: string, config: Record<string, unknown>, tmp: string): Promise<Run> {
    const request = path.join(tmp, `${stack}.json`), capture = path.join(tmp, `${stack}-resources.json`);
    const body = { stack, config, secretKeys: SECRET_KEYS, program: PROGRAM };
    fs.writeFileSync(request, JSON.stringify(body), { mode: 0o600 });
    return new Promise((resolve, reject) => {
        const child = spawn(TSX, [RUN_PROGRAM, request], {
            cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, MAILSERVER_TEST_CAPTURE: capture },
        });
        let stderr = "", stdout = "";
        child.stderr.on("data", d => { stderr += d; });
        child.stdout.on("data", d => { stdout += d; });
        const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
        child.on("error", reject);
        child.on("close", code => {
            clearTimeout(timer);
            if (code !== 0) return reject(new Error(`the ${stack} stack's program failed (exit ${code}):\n${stderr}`));
            // The program's stack outputs are the last line run-program.ts prints.
            const outputs = JSON.parse(stdout.trim().split("\n").pop() ?? "{}").outputs ?? {};
            resolve({ registrations: JSON.parse(fs.readFileSync(capture, "utf8")), outputs });
        });
    });
}

/** service/path -> content of one stack's rendered files. */
function renderedFiles(stack: string, { registrations, outputs }: Run): Map<string, string> {
    const files = new Map<string, string>();
    const add = (service: string, file: string, content: unknown) => {
        if (typeof content !== "string") {
            throw new Error(`${stack}: ${service}/${file} is not plain text (a secret or unknown?)`);
        }
        if (files.has(`${service}/${file}`)) throw new Error(`${stack}: two components render ${service}/${file}`);
        files.set(`${service}/${file}`, content);
    };
    for (const r of registrations) {
        // Each service of the registry that renders files, under its component (services/index.ts).
        for (const { service, optional } of COMPONENT_FILE_SERVICES[r.type] ?? []) {
            const input = r.wire[fileInput(service)];
            // A service that runs with some settings only (saslauthd in relay mode, the well-known endpoint).
            if (input === undefined && optional) continue;
            if (!input || typeof input !== "object" || isWrappedSecret(input)) {
                throw new Error(`${stack}: ${r.type} ${r.name} has no plain ${fileInput(service)} input`);
            }
            for (const [file, content] of Object.entries(input)) add(service, file, content);
        }
    }
    // The ACME client is configured by its environment (never a secret with HTTP-01).
    for (const r of registrations) {
        if (r.type !== "docker:index/container:Container" || !r.name.endsWith("-acme")) continue;
        const envs = r.wire.envs;
        if (!Array.isArray(envs) || envs.some(e => typeof e !== "string")) {
            throw new Error(`${stack}: the ACME container ${r.name} has no plain envs input`);
        }
        add("acme", "environment", `${envs.join("\n")}\n`);
    }
    if (!files.has("postfix/main.cf")) throw new Error(`${stack}: no MailServer with postfixFiles registered`);
    // Each domain's DNS zone and MTA-STS policy (stack outputs dnsZones, mtaStsPolicies). The DKIM
    // keys in the zone are the mocks' fixed public keys (test/components/mock-keys.ts).
    for (const [output, suffix] of [["dnsZones", "zone"], ["mtaStsPolicies", "mta-sts.txt"]] as const) {
        const byDomain = outputs[output];
        if (!byDomain || typeof byDomain !== "object") throw new Error(`${stack}: no ${output} stack output`);
        for (const [domain, text] of Object.entries(byDomain)) add("dns", `${domain}.${suffix}`, text);
    }
    return files;
}

/** Renders every stack's files into outDir/<stack>/<service>/<path>; returns the relative paths written. */
export async function renderGolden(outDir: string): Promise<string[]> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mail-golden-"));
    try {
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path.join(tmp, "key.pem"), "-out", path.join(tmp, "cert.pem"), "-days", "2",
            "-subj", "/CN=mail.example.com", "-addext", "subjectAltName=DNS:mail.example.com"], { stdio: "pipe" });
        const read = (f: string) => fs.readFileSync(path.join(tmp, f), "utf8");
        const tls = { certPem: read("cert.pem"), keyPem: read("key.pem") };
        const runs = await Promise.all(STACKS.map(stack => runProgram(stack, fullConfig(stack, tls), tmp)));
        const written: string[] = [];
        STACKS.forEach((stack, i) => {
            for (const [file, content] of [...renderedFiles(stack, runs[i])].sort(([a], [b]) => a.localeCompare(b))) {
                const target = path.join(outDir, stack, file);
                fs.mkdirSync(path.dirname(target), { recursive: true });
                fs.writeFileSync(target, content);
                written.push(path.join(stack, file));
            }
        });
        return written;
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** Every file under dir, as paths relative to it. */
export function listFiles(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
        .filter(e => e.isFile())
        .map(e => path.relative(dir, path.join(e.parentPath ?? (e as any).path, e.name)))
        .sort();
}

if (require.main === module) {
    (async () => {
        for (const stack of STACKS) fs.rmSync(path.join(GOLDEN_DIR, stack), { recursive: true, force: true });
        const written = await renderGolden(GOLDEN_DIR);
        for (const f of written) console.log(`test/golden/${f}`);
    })().catch(e => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
}
