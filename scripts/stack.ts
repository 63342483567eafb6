// The stack command: the example program (index.ts) on the real Pulumi engine, without a Node.js
// language host (Automation API, inline program). Stack config comes from
// stacks/Pulumi.<stack>.yaml; mailbox passwords from .local/<stack>-passwords.json (generated on
// first use, mode 0600) and relay passwords from .local/<stack>-relay-passwords.json if present,
// both as Pulumi secrets. State and the passphrase that encrypts its secrets: .local/stacks/<stack>/.
// The Docker engine: the stack file's docker:host, else the one the stack's first up ran against
// (.local/stacks/<stack>/docker-host), else DOCKER_HOST (scripts/lib/docker-engine.ts); it is
// checked before the engine starts, and passed to the docker provider as docker:host.
// With --policy-pack, stacks/policy.<stack>.json (if any) is the pack's config (--policy-pack-config).
// DKIM keys survive the stack: export-keys (and destroy, before it destroys) writes every domain's
// private keys to .local/<stack>-dkim-keys.json (0600), which every command passes back as the secret
// dkimKeys, so a re-created stack signs with the keys its DNS publishes; copy the file to
// .local/<other>-dkim-keys.json to bring them into another stack. Imported password hashes
// (npm run import-dms) come from .local/<stack>-password-hashes.json as the secret passwordHashes.
// The backup's secrets (backupSecrets: password, store credentials) from .local/<stack>-backup-secrets.json.
// restore: a new stack from a backup of another (its namePrefix), before the new stack's first up
// (scripts/lib/restore.ts), then up.
//   npm run stack -- preview|up|destroy|refresh|outputs|export-keys [stack] [--policy-pack DIR]
//   npm run stack -- restore [stack] --from OLD-NAME-PREFIX [--snapshot ID]
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
import { ensurePasswords, secureLocal } from "./lib/local";
import { restoreIntoVolumes } from "./lib/restore";
import { BACKUP_OPTIONS } from "../components/options/backup";
import { readOptions } from "../components/options/declare";
import { Validator } from "../components/model/validator";
import { backupSpecOf } from "../components/services/backup";

const COMMANDS = ["preview", "up", "destroy", "refresh", "outputs", "export-keys", "restore"] as const;
type Command = (typeof COMMANDS)[number];

function usage(message: string): never {
    console.error(
        `stack: ${message}\nusage: npm run stack -- ${COMMANDS.join("|")} [stack] [--policy-pack DIR] ` +
            "[--from OLD-NAME-PREFIX [--snapshot ID]] (restore)",
    );
    process.exit(2);
}

function parseArgs(argv: string[]): {
    command: Command;
    stack: string;
    policyPacks: string[];
    from?: string;
    snapshot: string;
} {
    const policyPacks: string[] = [];
    const positional: string[] = [];
    let from: string | undefined;
    let snapshot = "latest";
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--policy-pack")
            policyPacks.push(path.resolve(argv[++i] ?? usage("--policy-pack needs a folder")));
        else if (argv[i] === "--from") from = argv[++i] ?? usage("--from needs the backed-up stack's namePrefix");
        else if (argv[i] === "--snapshot") snapshot = argv[++i] ?? usage("--snapshot needs a snapshot id");
        else positional.push(argv[i]);
    }
    const [command, stack = "dev", ...rest] = positional;
    if (!COMMANDS.includes(command as Command))
        usage(command === undefined ? "which command?" : `unknown command "${command}"`);
    if (rest.length > 0) usage(`unexpected arguments: ${rest.join(" ")}`);
    if (command === "restore" && from === undefined) usage("restore needs --from <the backed-up stack's namePrefix>");
    return { command: command as Command, stack, policyPacks, from, snapshot };
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

/** Writes the stack's dkimKeys output (a secret) to `file`, 0600; nothing when the stack has none. */
async function exportKeys(stack: Awaited<ReturnType<typeof openStack>>, file: string): Promise<void> {
    const keys = (await stack.outputs()).dkimKeys?.value as Record<string, unknown[]> | undefined;
    const count = Object.values(keys ?? {}).reduce((n, list) => n + list.length, 0);
    if (keys === undefined || count === 0) {
        console.log("stack: no DKIM keys in the stack's outputs; nothing exported");
        return;
    }
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(keys, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(temporary, file);
    console.log(
        `stack: ${count} DKIM key(s) of ${Object.keys(keys).length} domain(s) kept in ${path.relative(ROOT, file)} (mode 0600)`,
    );
}

/** Restores a backup of the stack `from` into this stack's (new, empty) volumes; see scripts/lib/restore.ts. */
function restoreStack(
    stackName: string,
    config: Record<string, unknown>,
    secrets: Record<string, string> | undefined,
    from: string,
    snapshot: string,
    dockerHost: string,
) {
    if (secrets?.password === undefined)
        usage(`restore needs the repository's password in .local/${stackName}-backup-secrets.json ("password")`);
    const prefix = String(config["mailserver:namePrefix"] ?? `mail-${stackName}`);
    const backup = readOptions(new Validator(`stack ${stackName}`), BACKUP_OPTIONS, {
        ...(config["mailserver:backup"] as object),
        ...secrets,
    });
    const spamFilter = config["mailserver:spamFilter"] as { enabled?: boolean } | undefined;
    const tls = config["mailserver:tls"] as { acme?: unknown } | undefined;
    const result = restoreIntoVolumes({
        prefix,
        fromHost: from,
        snapshot,
        spec: backupSpecOf(prefix, backup, { spamFilterEnabled: spamFilter?.enabled ?? true, acme: !!tls?.acme }),
        secrets: { ...secrets, password: secrets.password },
        baseImage: (config["mailserver:images"] as { baseImage?: string } | undefined)?.baseImage,
        networkMode: config["mailserver:networkMode"] === "host" ? "host" : undefined,
        dockerHost,
    });
    console.log(
        `${result.log}\nrestore: ${from}'s snapshot ${snapshot} restored into ${prefix}'s volumes in ${result.seconds.toFixed(1)} s; now up`,
    );
}

function readJson(file: string): Record<string, any> | undefined {
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined;
}

async function main() {
    const { command, stack: stackName, policyPacks, from, snapshot } = parseArgs(process.argv.slice(2));
    const config = stackFileConfig(stackName);
    const local = path.join(ROOT, ".local");
    // Modes are enforced on every run: files made by hand or by an older version may be looser.
    secureLocal(local);
    const passwordsFile = path.join(".local", `${stackName}-passwords.json`);
    const hashed = readJson(path.join(local, `${stackName}-password-hashes.json`)) ?? {};
    const passwords = await ensurePasswords(
        path.join(ROOT, passwordsFile),
        [...mailboxAddresses(config), ...((config["mailserver:users"] ?? []) as string[])].filter(a => !(a in hashed)),
    );
    const relayPasswords = readJson(path.join(local, `${stackName}-relay-passwords.json`));
    const keysFile = path.join(local, `${stackName}-dkim-keys.json`);
    const dkimKeys = readJson(keysFile);
    const backupSecrets = readJson(path.join(local, `${stackName}-backup-secrets.json`));
    // Before the engine starts: a restore without the repository's password cannot begin.
    if (command === "restore" && backupSecrets?.password === undefined)
        usage(`restore needs the repository's password in .local/${stackName}-backup-secrets.json ("password")`);

    const stackDir = path.join(local, "stacks", stackName);
    const engine = stackEngine({
        stackFile: path.join("stacks", `Pulumi.${stackName}.yaml`),
        stackConfig: config,
        recordFile: path.join(stackDir, "docker-host"),
        env: process.env,
    });
    await checkEngine(command, stackName, engine);
    if (command === "up" || command === "restore") recordEngine(engine);

    const stack = await openStack({ stackName, dir: stackDir, dockerHost: engine.host });
    await setStackConfig(stack, {
        ...config,
        // The provider's own setting (kept in the state too), so no shell variable decides it.
        "docker:host": engine.host,
        "mailserver:passwords": passwords,
        "mailserver:relayPasswords": relayPasswords,
        "mailserver:dkimKeys": dkimKeys,
        "mailserver:passwordHashes": Object.keys(hashed).length > 0 ? hashed : undefined,
        "mailserver:backupSecrets": backupSecrets,
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
            // The keys live only in the state: kept first, so that the next up signs with them again.
            await exportKeys(stack, keysFile);
            await stack.destroy({ onOutput });
            break;
        case "export-keys":
            await exportKeys(stack, keysFile);
            return;
        case "restore":
            restoreStack(stackName, config, backupSecrets, from!, snapshot, engine.host);
        // falls through: the restored volumes are adopted by the new stack's first up
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
