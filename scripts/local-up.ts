// Deploys the example program with a stack's config (default: dev) on the local Docker engine,
// without the Pulumi CLI: the same harness the live tests use creates every declared container.
// Mailbox passwords come from .local/<stack>-passwords.json (created with random passwords on
// first run, mode 0600), never from the stack file.
//   npx tsx scripts/local-up.ts [stack]
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { deploy } from "../test/live/stack";

const stack = process.argv[2] ?? "dev";
const root = path.resolve(__dirname, "..");
const file = path.join(root, "stacks", `Pulumi.${stack}.yaml`);
const config = (yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config;

const domains = (config["mailserver:domains"] ?? []) as Array<{ domain: string; mailboxes?: Array<{ address: string }> }>;
const addresses = domains.flatMap(d => (d.mailboxes ?? []).map(m => m.address.includes("@") ? m.address : `${m.address}@${d.domain}`));
const secretsFile = path.join(root, ".local", `${stack}-passwords.json`);
fs.mkdirSync(path.dirname(secretsFile), { recursive: true, mode: 0o700 });
const passwords: Record<string, string> = fs.existsSync(secretsFile) ? JSON.parse(fs.readFileSync(secretsFile, "utf8")) : {};
for (const a of addresses) passwords[a] ??= randomBytes(12).toString("base64url");
fs.writeFileSync(secretsFile, JSON.stringify(passwords, null, 2), { mode: 0o600 });

const result = deploy({ ...config, "mailserver:passwords": passwords, "mailserver:namePrefix": config["mailserver:namePrefix"] ?? `mail-${stack}` });
console.log(`stack ${stack} is up. Containers: ${[result.outputs.postfixContainer, result.outputs.saslauthdContainer, result.outputs.dovecotContainer].filter(Boolean).join(", ")}`);
console.log(`Mailbox passwords: ${secretsFile}`);
console.log("DNS records to publish:");
for (const r of result.outputs.dnsRecords ?? []) console.log(`  ${r.name} ${r.type} ${r.priority ?? ""} ${r.value}`.replace(/\s+/g, " "));
