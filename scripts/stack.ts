// The stack command: the example program (index.ts) on the real Pulumi engine, without a Node.js
// language host (Automation API, inline program). Stack config comes from
// stacks/Pulumi.<stack>.yaml; mailbox passwords from .local/<stack>-passwords.json (generated on
// first use, mode 0600) and relay passwords from .local/<stack>-relay-passwords.json if present,
// both as Pulumi secrets. State and the passphrase that encrypts its secrets: .local/stacks/<stack>/.
// The Docker engine: the stack file's docker:host, else the one the stack's first up ran against
// (.local/stacks/<stack>/docker-host), else DOCKER_HOST (scripts/lib/docker-engine.ts); it is
// checked before the engine starts, and passed to the docker provider as docker:host.
// With --policy-pack, stacks/policy.<stack>.json (if any) is the pack's config (--policy-pack-config).
//   npm run stack -- preview|up|destroy|refresh|outputs [stack] [--policy-pack DIR]
import * as fs from "fs";
import * as path from "path";
import {
    DEFAULT_DOCKER_HOST,
    describeSource,
    engineProblem,
    howToRepoint,
    PRIVATE_DOCKER_HOST,
    recordEngine,
    StackEngine,
    stackEngine,
} from "./lib/docker-engine";
import { ContainerChanges, openStack, ROOT, setStackConfig, stackFileConfig, upKeepingHashes } from "./lib/engine";
import { mailboxAddresses, nextSteps } from "./lib/next-steps";
import { randomPassword } from "./lib/passwords";

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

/**
 * Stops (up, refresh, destroy) or warns (preview) before the engine starts when the stack's Docker
 * engine does not answer, naming the engine, where it came from and how to point the stack elsewhere;
 * otherwise the provider would fail resource by resource. outputs reads only the state.
 */
async function checkEngine(command: Command, stackName: string, engine: StackEngine): Promise<void> {
    if (engine.ignoredDockerHost !== undefined)
        console.error(
            `stack ${stackName}: Docker engine ${engine.host}, ${describeSource(engine, ROOT)}; ` +
                `DOCKER_HOST=${engine.ignoredDockerHost} is not used for this stack.`,
        );
    if (command === "outputs") return;
    const problem = await engineProblem(engine.host);
    if (problem === undefined) return;
    const lines = [
        `stack ${stackName}: the Docker engine at ${engine.host} does not answer: ${problem}.`,
        `  That engine is ${describeSource(engine, ROOT)}.`,
        `  To use another engine, ${howToRepoint(engine, ROOT, `npm run stack -- ${command} ${stackName}`)}.`,
    ];
    if (engine.host === PRIVATE_DOCKER_HOST)
        lines.push("  It is the private engine scripts/setup.sh starts; start it again with: bash .ci/docker-up.sh");
    if (command === "preview") {
        lines.push(
            "  The preview goes on (it compares the program with the stack's state, not with Docker); up, refresh and destroy stop here.",
        );
        console.error(lines.join("\n"));
        return;
    }
    console.error(lines.join("\n"));
    process.exit(1);
}

function readJson(file: string): Record<string, string> | undefined {
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined;
}

async function main() {
    const { command, stack: stackName, policyPacks } = parseArgs(process.argv.slice(2));
    const config = stackFileConfig(stackName);
    const local = path.join(ROOT, ".local");
    fs.mkdirSync(local, { recursive: true, mode: 0o700 });
    const passwordsFile = path.join(".local", `${stackName}-passwords.json`);
    const passwords = readJson(path.join(ROOT, passwordsFile)) ?? {};
    for (const a of [...mailboxAddresses(config), ...((config["mailserver:users"] ?? []) as string[])])
        passwords[a] ??= randomPassword();
    fs.writeFileSync(path.join(ROOT, passwordsFile), JSON.stringify(passwords, null, 2) + "\n", { mode: 0o600 });
    const relayPasswords = readJson(path.join(local, `${stackName}-relay-passwords.json`));

    const stackDir = path.join(local, "stacks", stackName);
    const engine = stackEngine({
        stackFile: path.join("stacks", `Pulumi.${stackName}.yaml`),
        stackConfig: config,
        recordFile: path.join(stackDir, "docker-host"),
        env: process.env,
    });
    await checkEngine(command, stackName, engine);
    if (command === "up") recordEngine(engine);

    const stack = await openStack({ stackName, dir: stackDir, dockerHost: engine.host });
    await setStackConfig(stack, {
        ...config,
        // The provider's own setting (kept in the state too), so no shell variable decides it.
        "docker:host": engine.host,
        "mailserver:passwords": passwords,
        "mailserver:relayPasswords": relayPasswords,
    });
    const onOutput = (s: string) => process.stdout.write(s);
    // The pack's config for this stack (e.g. prod confirms its PTR record), as --policy-pack-config.
    const policyConfig = path.join(ROOT, "stacks", `policy.${stackName}.json`);
    const policyPackConfigs = policyPacks.length > 0 && fs.existsSync(policyConfig) ? [policyConfig] : undefined;
    switch (command) {
        case "preview":
            await stack.preview({ diff: true, onOutput, policyPacks, policyPackConfigs });
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
            await upKeepingHashes(stack, {
                diff: true,
                onOutput,
                onEvent: changes.onEvent,
                policyPacks,
                policyPackConfigs,
            });
            if (changes.replaced.length > 0) console.log(`Containers replaced: ${changes.replaced.join(", ")}`);
            break;
        }
        case "outputs":
            break;
    }
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
        nextSteps({
            stack: stackName,
            config,
            passwordsFile,
            certificateFile,
            dockerHost: engine.host === DEFAULT_DOCKER_HOST ? undefined : engine.host,
        }),
    );
}

main().catch(e => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
