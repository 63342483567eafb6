// The stack command: the example program (index.ts) on the real Pulumi engine, without a Node.js
// language host (Automation API, inline program). Stack config comes from
// stacks/Pulumi.<stack>.yaml; mailbox passwords from .local/<stack>-passwords.json (generated on
// first use, mode 0600) and relay passwords from .local/<stack>-relay-passwords.json if present,
// both as Pulumi secrets. State and the passphrase that encrypts its secrets: .local/stacks/<stack>/.
//   npm run stack -- preview|up|destroy|refresh|outputs [stack] [--policy-pack DIR]
import * as fs from "fs";
import * as path from "path";
import { ContainerChanges, openStack, ROOT, setStackConfig, stackFileConfig, upKeepingHashes } from "./lib/engine";
import { mailboxAddresses, nextSteps } from "./lib/next-steps";
import { ensurePasswords, secureLocal } from "./lib/local";

const COMMANDS = ["preview", "up", "destroy", "refresh", "outputs"] as const;
type Command = (typeof COMMANDS)[number];

function usage(message: string): never {
    console.error(`stack: ${message}\nusage: npm run stack -- ${COMMANDS.join("|")} [stack] [--policy-pack DIR]`);
    process.exit(2);
}

function parseArgs(argv: string[]): { command: Command; stack: string; policyPacks: string[] } {
    const policyPacks: string[] = [];
    const positional: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--policy-pack")
            policyPacks.push(path.resolve(argv[++i] ?? usage("--policy-pack needs a folder")));
        else positional.push(argv[i]);
    }
    const [command, stack = "dev", ...rest] = positional;
    if (!COMMANDS.includes(command as Command))
        usage(command === undefined ? "which command?" : `unknown command "${command}"`);
    if (rest.length > 0) usage(`unexpected arguments: ${rest.join(" ")}`);
    return { command: command as Command, stack, policyPacks };
}

function readJson(file: string): Record<string, string> | undefined {
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined;
}

async function main() {
    const { command, stack: stackName, policyPacks } = parseArgs(process.argv.slice(2));
    const config = stackFileConfig(stackName);
    const local = path.join(ROOT, ".local");
    // Modes are enforced on every run: files made by hand or by an older version may be looser.
    secureLocal(local);
    const passwordsFile = path.join(".local", `${stackName}-passwords.json`);
    const passwords = await ensurePasswords(path.join(ROOT, passwordsFile), [
        ...mailboxAddresses(config),
        ...((config["mailserver:users"] ?? []) as string[]),
    ]);
    const relayPasswords = readJson(path.join(local, `${stackName}-relay-passwords.json`));

    const stack = await openStack({
        stackName,
        dir: path.join(local, "stacks", stackName),
        dockerHost: process.env.DOCKER_HOST,
    });
    await setStackConfig(stack, {
        ...config,
        "mailserver:passwords": passwords,
        "mailserver:relayPasswords": relayPasswords,
    });
    const onOutput = (s: string) => process.stdout.write(s);
    switch (command) {
        case "preview":
            await stack.preview({ diff: true, onOutput, policyPacks });
            break;
        case "refresh":
            await stack.refresh({ onOutput });
            break;
        case "destroy":
            await stack.destroy({ onOutput });
            break;
        case "up": {
            // An update that was killed half-way leaves operations pending in the state, and the
            // next up would stop on them: read what really exists back from Docker first.
            const pending = (await stack.exportStack()).deployment?.pending_operations ?? [];
            if (pending.length > 0) {
                console.log(
                    `stack: the last update was interrupted (${pending.length} operation(s) pending); refreshing from Docker first`,
                );
                await stack.refresh({ onOutput, clearPendingCreates: true });
            }
            const changes = new ContainerChanges();
            await upKeepingHashes(stack, { diff: true, onOutput, onEvent: changes.onEvent, policyPacks });
            if (changes.replaced.length > 0) console.log(`Containers replaced: ${changes.replaced.join(", ")}`);
            break;
        }
        case "outputs":
            break;
    }
    // The CLI wrote state and workspace files with its own modes.
    secureLocal(local);
    if (command === "destroy") return;
    const outputs = Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
    if (outputs.certificatePem === undefined) return;
    const certificateFile = path.join(".local", `${stackName}-certificate.pem`);
    fs.writeFileSync(path.join(ROOT, certificateFile), String(outputs.certificatePem));
    // The zone text of each domain (stack output dnsZones): every record with its purpose, ready for
    // a DNS provider's zone import; dnsRecords holds the same as data.
    console.log("\nDNS records to publish (stack outputs dnsZones, as data dnsRecords):");
    for (const zone of Object.values((outputs.dnsZones ?? {}) as Record<string, string>)) console.log(zone);
    console.log("");
    console.log(
        nextSteps({ stack: stackName, config, passwordsFile, certificateFile, dockerHost: process.env.DOCKER_HOST }),
    );
}

main().catch(e => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
