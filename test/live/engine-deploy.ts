// Child process of test/live/stack.ts: one `preview` or `up` of the example program on the real
// Pulumi engine (scripts/lib/engine.ts), with the given stack config. Prints one JSON line last:
// the stack outputs, which containers were replaced or kept, and every resource's step
// (scripts/lib/steps.ts). Exits 1 with the engine's
// output when the operation fails.
//   tsx test/live/engine-deploy.ts <request.json>
//   request: { stackName, dir, config: {key: value}, preview?: bool, policyPacks?: [dir] }
import * as fs from "fs";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { ContainerChanges, openStack, setStackConfig, upKeepingHashes } from "../../scripts/lib/engine";
import { StepRecorder } from "../../scripts/lib/steps";

interface Request {
    stackName: string;
    dir: string;
    config: Record<string, unknown>;
    preview?: boolean;
    policyPacks?: string[];
    /** After up: the secret dkimKeys output is written here (0600), as `npm run stack -- export-keys` does. */
    keysFile?: string;
}

async function main() {
    const request: Request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    const stack = await openStack({
        stackName: request.stackName,
        dir: request.dir,
        dockerHost: process.env.DOCKER_HOST,
    });
    await setStackConfig(stack, request.config);
    const onOutput = (s: string) => process.stderr.write(s);
    const changes = new ContainerChanges();
    const steps = new StepRecorder();
    const onEvent = (e: EngineEvent) => {
        changes.onEvent(e);
        steps.onEvent(e);
    };
    const policyPacks = request.policyPacks ?? [];
    if (request.preview) {
        const r = await stack.preview({ diff: true, onOutput, onEvent, policyPacks });
        process.stdout.write(
            JSON.stringify({
                outputs: {},
                replaced: changes.replaced,
                kept: changes.kept,
                changeSummary: r.changeSummary,
                steps: steps.steps(),
            }) + "\n",
        );
        return;
    }
    const r = await upKeepingHashes(stack, { onOutput, onEvent, policyPacks });
    if (request.keysFile)
        fs.writeFileSync(request.keysFile, JSON.stringify(r.outputs.dkimKeys?.value ?? {}), { mode: 0o600 });
    // Secret outputs (the hash cache) stay out of what the tests print and keep.
    const outputs = Object.fromEntries(
        Object.entries(r.outputs)
            .filter(([, v]) => !v.secret)
            .map(([k, v]) => [k, v.value]),
    );
    process.stdout.write(
        JSON.stringify({
            outputs,
            replaced: changes.replaced,
            kept: changes.kept,
            changeSummary: r.summary.resourceChanges,
            steps: steps.steps(),
        }) + "\n",
    );
}

main().catch(e => {
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exit(1);
});
