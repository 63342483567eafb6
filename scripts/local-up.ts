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
import { mailboxAddresses, nextSteps } from "./lib/next-steps";

const stack = process.argv[2] ?? "dev";
const root = path.resolve(__dirname, "..");
const file = path.join(root, "stacks", `Pulumi.${stack}.yaml`);
const config = (yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config;

const passwordsFile = path.join(".local", `${stack}-passwords.json`);
const certificateFile = path.join(".local", `${stack}-certificate.pem`);
fs.mkdirSync(path.join(root, ".local"), { recursive: true, mode: 0o700 });
const secretsPath = path.join(root, passwordsFile);
const passwords: Record<string, string> = fs.existsSync(secretsPath) ? JSON.parse(fs.readFileSync(secretsPath, "utf8")) : {};
for (const a of [...mailboxAddresses(config), ...((config["mailserver:users"] ?? []) as string[])]) passwords[a] ??= randomPassword();
fs.writeFileSync(secretsPath, JSON.stringify(passwords, null, 2), { mode: 0o600 });

/** 20 letters and digits (~119 bits): nothing a shell or a command-line parser reads as special. */
function randomPassword(): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return Array.from(randomBytes(40)).filter(b => b < 248).slice(0, 20).map(b => alphabet[b % 62]).join("");
}

const result = deploy({ ...config, "mailserver:passwords": passwords, "mailserver:namePrefix": config["mailserver:namePrefix"] ?? `mail-${stack}` });
fs.writeFileSync(path.join(root, certificateFile), result.outputs.certificatePem);
console.log(`Containers: ${[result.outputs.postfixContainer, result.outputs.saslauthdContainer, result.outputs.dovecotContainer].filter(Boolean).join(", ")}`);
console.log("DNS records to publish:");
for (const r of result.outputs.dnsRecords ?? []) console.log(`  ${r.name} ${r.type} ${r.priority ?? ""} ${r.value}`.replace(/\s+/g, " "));
console.log("");
console.log(nextSteps({ stack, config, passwordsFile, certificateFile, dockerHost: process.env.DOCKER_HOST }));
