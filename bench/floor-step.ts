// Child process of bench/preview.ts: one preview or up of a program that holds the same number
// of resources as the mail stack at a size, doing nothing else: the engine's floor on this machine.
//   tsx bench/floor-step.ts <dir> <domains> <kind> <preview|up>
// kind "components": one ComponentResource per resource the stack has (no provider at all).
// kind "keys": per domain a component with an RSA-2048 and an ED25519 tls.PrivateKey, like each
// VirtualDomain's DKIM keys, plus the stack's fixed part as empty components: what any Pulumi
// program holding those keys pays, before a single mail file is rendered.
// Prints one JSON line: the engine's change summary.
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import * as tls from "@pulumi/tls";
import * as fs from "fs";
import * as path from "path";
import { engineEnv, passphrase } from "../scripts/lib/engine";

/** Resources of the stack that do not grow with the domains (MailServer and its children). */
export const FIXED_RESOURCES = 31;
/** Resources per domain: the VirtualDomain and its two DKIM keys. */
export const PER_DOMAIN = 3;

function program(domains: number, kind: string): () => Promise<void> {
    return async () => {
        if (kind === "components") {
            for (let i = 0; i < domains * PER_DOMAIN + FIXED_RESOURCES; i++)
                new pulumi.ComponentResource("floor:index:Nothing", `nothing-${i}`);
            return;
        }
        for (let i = 0; i < FIXED_RESOURCES; i++) new pulumi.ComponentResource("floor:index:Nothing", `fixed-${i}`);
        for (let d = 0; d < domains; d++) {
            const parent = new pulumi.ComponentResource("floor:index:Domain", `d${d}`);
            new tls.PrivateKey(`d${d}-rsa`, { algorithm: "RSA", rsaBits: 2048 }, { parent });
            new tls.PrivateKey(`d${d}-ed25519`, { algorithm: "ED25519" }, { parent });
        }
    };
}

async function main(): Promise<void> {
    const [dir, domainsText, kind, op] = process.argv.slice(2);
    const domains = Number(domainsText);
    if (!["components", "keys"].includes(kind) || !["preview", "up"].includes(op) || !(domains > 0))
        throw new Error("usage: floor-step.ts <dir> <domains> <components|keys> <preview|up>");
    const engine = engineEnv();
    const state = path.join(dir, "state");
    fs.mkdirSync(state, { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.join(dir, "workspace"), { recursive: true, mode: 0o700 });
    const envVars: Record<string, string> = {
        ...engine,
        PULUMI_BACKEND_URL: `file://${state}`,
        PULUMI_CONFIG_PASSPHRASE: passphrase(path.join(dir, "passphrase")),
    };
    // As scripts/lib/engine.ts deploys the mail stack: a first deployment saves the state once, at its end.
    if (op === "up") envVars.PULUMI_SKIP_CHECKPOINTS = "true";
    Object.assign(process.env, envVars);
    const pulumiCommand = await PulumiCommand.get({ root: engine.PULUMI_ROOT, skipVersionCheck: true });
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: "floor", projectName: "floor", program: program(domains, kind) },
        {
            workDir: path.join(dir, "workspace"),
            pulumiCommand,
            envVars,
            projectSettings: { name: "floor", runtime: "nodejs", backend: { url: `file://${state}` } },
        },
    );
    const summary =
        op === "preview" ? (await stack.preview()).changeSummary : (await stack.up()).summary.resourceChanges;
    process.stdout.write(`${JSON.stringify({ changeSummary: summary })}\n`);
}

main().catch(e => {
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exit(1);
});
