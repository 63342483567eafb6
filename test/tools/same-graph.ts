// Does this tree declare the same resources as another commit, for the same stack config? Runs the
// example program of both trees under the mocks of test/components/run-program.ts, for a set of
// stack configs that between them turn on every service and every way of getting a certificate,
// once as a preview of a new stack (outputs unknown) and once as an update (outputs known), and
// compares every registration: type, name, parent, inputs as serialized for the engine (secrets
// wrapped where they are), the options the engine stores (dependencies, retainOnDelete, ...), each
// component's registered outputs and the stack outputs. For refactorings that must change nothing
// a user has; the real engine's check is test/live/same-graph.test.ts.
//
//   npx tsx test/tools/same-graph.ts [--base REV] [--keep]     (REV: default HEAD)
//
// Prints "same graph" or every difference, and exits 1 on a difference. The order of a docker
// Container's set-typed inputs (mounts, envs, uploads, labels: sets in the provider's schema, which
// compares them as sets) and of dependencies is not a difference; it is reported separately.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { SECRET_KEYS } from "../../scripts/lib/engine";

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const RUN_PROGRAM = path.join(ROOT, "test", "components", "run-program.ts");
const CAPTURE = path.join(ROOT, "test", "tools", "graph-capture.ts");
// js-yaml comes with @pulumi/pulumi.
const yaml = require("js-yaml") as { load(text: string): unknown };

/** The provider's set-typed inputs of a docker Container (terraform-provider-docker schema.TypeSet). */
const CONTAINER_SETS = ["mounts", "envs", "uploads", "labels"];

function openssl(args: string[], cwd: string): void {
    const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** Stack configs that between them deploy every service, mode and certificate source. */
function configs(tmp: string): Record<string, Record<string, unknown>> {
    openssl(
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem"]
            .concat(["-out", "cert.pem", "-days", "2", "-subj", "/CN=mail.example.com"])
            .concat(["-addext", "subjectAltName=DNS:mail.example.com"]),
        tmp,
    );
    openssl(
        [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca-key.pem",
        ].concat(["-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA"]),
        tmp,
    );
    const read = (f: string) => fs.readFileSync(path.join(tmp, f), "utf8");
    const stack = (name: string) =>
        (yaml.load(fs.readFileSync(path.join(ROOT, "stacks", `Pulumi.${name}.yaml`), "utf8")) as any).config;
    const pw = (addresses: string[]) => Object.fromEntries(addresses.map(a => [a, `pw-${a}-0123456789`]));
    const { encrypt } = require("unixcrypt") as { encrypt(pw: string, salt: string): string };
    const domains = (wellKnown: boolean) => [
        {
            domain: "example.com",
            wellKnown,
            mailboxes: [
                { address: "alice", quota: "2G", aliases: ["info"], vacation: { subject: "Away", body: "Back soon." } },
                { address: "bob", fileInto: [{ header: "List-Id", contains: "dev", folder: "Lists/dev" }] },
            ],
            aliases: [{ address: "team", targets: ["alice@example.com", "bob@example.com"] }],
            ...(wellKnown ? { mtaStsMode: "testing" } : {}),
        },
        { domain: "example.org", mailboxes: [{ address: "carol" }], wellKnown },
    ];
    const users = ["alice@example.com", "bob@example.com", "carol@example.org"];
    return {
        dev: { ...stack("dev"), "mailserver:passwords": pw(["alice@example.test", "bob@example.test"]) },
        prod: {
            ...stack("prod"),
            "mailserver:passwords": pw(["postmaster@example.com", "alice@example.com"]),
            "mailserver:relayPasswords": { "smtp.relay.example.net": "relay-password-0123" },
            "mailserver:tlsCertPem": read("cert.pem"),
            "mailserver:tlsKeyPem": read("key.pem"),
        },
        "acme-http-bridge": {
            "mailserver:hostname": "mail.example.com",
            "mailserver:networkMode": "bridge",
            "mailserver:publishAddress": "127.0.0.1",
            "mailserver:domains": domains(true),
            "mailserver:passwords": pw(users),
            "mailserver:tls": { acme: { email: "hostmaster@example.com", names: ["imap.example.com"] } },
            "mailserver:wellKnown": { httpsPort: 8443 },
            "mailserver:spamFilter": { greylisting: true, nameservers: ["192.0.2.53"] },
        },
        "acme-dns-host": {
            "mailserver:hostname": "mail.example.com",
            "mailserver:networkMode": "host",
            "mailserver:inetInterfaces": ["127.0.0.1"],
            "mailserver:inetProtocols": "ipv4",
            "mailserver:mynetworks": ["127.0.0.1/32"],
            "mailserver:outboundAddress": "192.0.2.25",
            "mailserver:domains": domains(true),
            "mailserver:passwords": pw(users),
            "mailserver:tls": {
                acme: {
                    email: "hostmaster@example.com",
                    challenge: "dns-01",
                    dnsProvider: "rfc2136",
                    dnsSettings: { RFC2136_NAMESERVER: "192.0.2.53" },
                    dnsResolvers: ["192.0.2.53"],
                    keyType: "RSA",
                    retrySeconds: 60,
                },
            },
            "mailserver:tlsAcmeDnsCredentials": { RFC2136_TSIG_SECRET: "tsig-secret-value" },
            "mailserver:wellKnown": { httpsPort: 443, address: "127.0.0.1" },
            "mailserver:imapListen": ["127.0.0.1"],
            "mailserver:imapBruteForce": { maxFailures: 5, banTime: "2h" },
        },
        relay: {
            "mailserver:hostname": "relay.example.com",
            "mailserver:mode": "relay",
            "mailserver:networkMode": "host",
            "mailserver:domains": [{ domain: "example.com" }, { domain: "example.net", dkim: true }],
            "mailserver:relayhosts": [
                { host: "smtp.relay.example.net", username: "user", tlsPolicy: "secure" },
                { name: "smtps", host: "smtps.example.net", port: 465, senderDomains: ["example.net"] },
            ],
            "mailserver:relayPasswords": { "smtp.relay.example.net": "relay-password-0123" },
            "mailserver:users": ["app@example.com", "cron@example.com"],
            "mailserver:passwords": pw(["app@example.com", "cron@example.com"]),
            "mailserver:tls": { ca: { certPem: read("ca.pem"), validityHours: 720 } },
            "mailserver:tlsCaKeyPem": read("ca-key.pem"),
        },
        minimal: {
            "mailserver:hostname": "mail.example.com",
            "mailserver:networkMode": "bridge",
            "mailserver:dns": "none",
            "mailserver:spamFilter": { enabled: false },
            "mailserver:domains": [
                {
                    domain: "example.com",
                    dkim: false,
                    mailboxes: [
                        { address: "alice", sieveScript: 'require ["fileinto"];\nfileinto "Archive";\n' },
                        { address: "bob" },
                    ],
                    forwards: [{ address: "bob", targets: ["bob@elsewhere.example"] }],
                    catchAll: "alice",
                },
            ],
            "mailserver:passwords": pw(["alice@example.com"]),
            "mailserver:passwordHashes": {
                "bob@example.com": encrypt("bob-password-0123", "$6$rounds=5000$saltsaltsaltsalt"),
            },
            "mailserver:transports": [{ domain: "partner.example", nexthop: "[mx.partner.example]:25" }],
            "mailserver:relayDomains": ["backup.example"],
            "mailserver:relayRecipients": ["someone@backup.example"],
            "mailserver:imapBruteForce": { enabled: false },
            "mailserver:imapPorts": { pop3: 110, pop3s: 995 },
            "mailserver:vacation": { minPeriod: "12h" },
            "mailserver:tls": { selfSigned: { validityHours: 100 }, keyAlgorithm: "RSA" },
        },
    };
}

interface Capture {
    registrations: Array<Record<string, any>>;
    componentOutputs: Array<{ urn: string; outputs: unknown }>;
    stackOutputs: unknown;
}

/** Runs one tree's example program with one config; resolves with what it registered. */
function run(tree: string, name: string, config: Record<string, unknown>, preview: boolean, tmp: string) {
    const tag = `${path.basename(tree)}-${name}-${preview ? "preview" : "up"}`;
    const program = path.join(tmp, `${tag}-program.ts`);
    fs.writeFileSync(
        program,
        `import ${JSON.stringify(CAPTURE)};\nexport = require(${JSON.stringify(path.join(tree, "index.ts"))});\n`,
    );
    const request = path.join(tmp, `${tag}.json`);
    const capture = path.join(tmp, `${tag}-capture.json`);
    fs.writeFileSync(request, JSON.stringify({ stack: name, config, secretKeys: SECRET_KEYS, program, preview }), {
        mode: 0o600,
    });
    return new Promise<Capture>((resolve, reject) => {
        const child = spawn(TSX, [RUN_PROGRAM, request], {
            cwd: tree,
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, MAILSERVER_GRAPH_CAPTURE: capture },
        });
        let stdout = "",
            stderr = "";
        child.stdout.on("data", d => (stdout += d));
        child.stderr.on("data", d => (stderr += d));
        child.on("error", reject);
        child.on("close", code => {
            if (code !== 0) return reject(new Error(`${tag}: the program failed (${code}):\n${stderr}`));
            // The images' build context is the tree's own folder: the same place for a user, who
            // replaces the tree where it is.
            const read = (text: string) => JSON.parse(text.split(JSON.stringify(tree).slice(1, -1)).join("<tree>"));
            const captured = read(fs.readFileSync(capture, "utf8"));
            resolve({ ...captured, stackOutputs: read(stdout.trim().split("\n").pop() ?? "{}").outputs });
        });
    });
}

const keyOf = (r: Record<string, any>) => `${r.type}::${r.name}`;

/** The registration with its set-typed inputs and dependencies in a canonical order. */
function canonical(r: Record<string, any>): Record<string, any> {
    if (r.type !== "docker:index/container:Container") return r;
    const inputs = { ...r.inputs };
    for (const k of CONTAINER_SETS)
        if (Array.isArray(inputs[k]))
            inputs[k] = [...inputs[k]].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    return { ...r, inputs };
}

/** The paths at which two values differ (at most a few, with both sides). */
function differences(a: unknown, b: unknown, at = ""): string[] {
    if (isDeepStrictEqual(a, b)) return [];
    if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
        const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
        return keys.flatMap(k => differences((a as any)[k], (b as any)[k], `${at}.${k}`));
    }
    const show = (v: unknown) => (v === undefined ? "(absent)" : JSON.stringify(v).slice(0, 300));
    return [`${at || "(value)"}: base ${show(a)}, this tree ${show(b)}`];
}

function compare(label: string, base: Capture, current: Capture): { diffs: string[]; orderOnly: string[] } {
    const diffs: string[] = [];
    const orderOnly: string[] = [];
    const index = (c: Capture) => {
        const m = new Map<string, Record<string, any>>();
        for (const r of c.registrations) {
            if (m.has(keyOf(r))) diffs.push(`${label}: ${keyOf(r)} registered twice`);
            m.set(keyOf(r), r);
        }
        return m;
    };
    const b = index(base),
        c = index(current);
    for (const k of b.keys()) if (!c.has(k)) diffs.push(`${label}: ${k} no longer registered`);
    for (const k of c.keys()) if (!b.has(k)) diffs.push(`${label}: ${k} registered only by this tree`);
    for (const [k, br] of b) {
        const cr = c.get(k);
        if (!cr) continue;
        if (isDeepStrictEqual(br, cr)) continue;
        const d = differences(canonical(br), canonical(cr));
        if (d.length === 0) orderOnly.push(`${label}: ${k}: the order of set-typed inputs or dependencies`);
        else diffs.push(...d.map(x => `${label}: ${k}${x}`));
    }
    const outputs = (x: Capture) => Object.fromEntries(x.componentOutputs.map(o => [o.urn, o.outputs]));
    diffs.push(...differences(outputs(base), outputs(current), "").map(x => `${label}: component outputs ${x}`));
    diffs.push(...differences(base.stackOutputs, current.stackOutputs).map(x => `${label}: stack outputs ${x}`));
    return { diffs, orderOnly };
}

/** Runs tasks at most `n` at a time. */
async function limited<T>(n: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
    const results: T[] = new Array(tasks.length);
    let next = 0;
    await Promise.all(
        Array.from({ length: n }, async () => {
            while (next < tasks.length) {
                const i = next++;
                results[i] = await tasks[i]();
            }
        }),
    );
    return results;
}

async function main() {
    const args = process.argv.slice(2);
    const base = args.includes("--base") ? args[args.indexOf("--base") + 1] : "HEAD";
    const commit = spawnSync("git", ["rev-parse", "--verify", `${base}^{commit}`], { cwd: ROOT, encoding: "utf8" });
    if (commit.status !== 0) throw new Error(`no commit ${base}: ${commit.stderr}`);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mail-same-graph-"));
    try {
        const baseTree = path.join(tmp, "base");
        fs.mkdirSync(baseTree);
        const r = spawnSync("bash", [
            "-o",
            "pipefail",
            "-c",
            `git -C "${ROOT}" archive ${commit.stdout.trim()} | tar -x -C "${baseTree}"`,
        ]);
        if (r.status !== 0) throw new Error(`git archive ${base}: ${r.stderr}`);
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(baseTree, "node_modules"));
        const all = configs(tmp);
        const runs = Object.entries(all).flatMap(([name, config]) =>
            [true, false].map(preview => ({ name, config, preview })),
        );
        const started = Date.now();
        const results = await limited(
            2,
            runs.flatMap(x => [
                () => run(baseTree, x.name, x.config, x.preview, tmp),
                () => run(ROOT, x.name, x.config, x.preview, tmp),
            ]),
        );
        let diffs: string[] = [];
        let orderOnly: string[] = [];
        let resources = 0;
        runs.forEach((x, i) => {
            const label = `${x.name} (${x.preview ? "preview" : "up"})`;
            const result = compare(label, results[2 * i], results[2 * i + 1]);
            resources += results[2 * i + 1].registrations.length;
            diffs = diffs.concat(result.diffs);
            orderOnly = orderOnly.concat(result.orderOnly);
        });
        const seconds = Math.round((Date.now() - started) / 1000);
        console.log(
            `${runs.length} runs of each tree (${Object.keys(all).join(", ")}; preview and up), ` +
                `${resources} registrations compared against ${base} (${commit.stdout.trim().slice(0, 12)}) in ${seconds} s`,
        );
        for (const o of orderOnly) console.log(`order only: ${o}`);
        if (diffs.length > 0) {
            for (const d of diffs) console.log(`DIFFERENT: ${d}`);
            process.exitCode = 1;
        } else console.log("same graph");
    } finally {
        if (args.includes("--keep")) console.log(`kept ${tmp}`);
        else fs.rmSync(tmp, { recursive: true, force: true });
    }
}

main().catch(e => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
