// Runs one operation of a program on the real Pulumi engine through the Automation API, from inside
// a project outside this repository (test/live/consumer.test.ts copies it there, next to a copy of
// scripts/lib/steps.ts, and compiles it with the project's own TypeScript): everything it loads,
// the program and @pulumi/pulumi included, comes from that project's node_modules.
//   node driver.js <request.json>
// The engine comes from the environment: PULUMI_ROOT (the CLI), PULUMI_HOME (its plugins),
// PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, DOCKER_HOST. Prints one JSON line last: the
// non-secret outputs, every resource's step and the engine's change summary.
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { StepRecorder } from "./steps";

interface Request {
    projectName: string;
    stackName: string;
    /** The stack's workspace folder (Pulumi.yaml and the stack's config file are written there). */
    workDir: string;
    /** What to require: a file of the project, or a package's entry point such as "mailserver/example". */
    program: string;
    /** The stack's config, exactly (other keys are removed); secret values are stored encrypted. */
    config: Record<string, { value: string; secret?: boolean }>;
    op: "up" | "preview" | "destroy";
    policyPacks?: string[];
}

type Program = () => Record<string, unknown> | void | Promise<Record<string, unknown> | void>;

function loadProgram(spec: string): Program {
    const resolved = spec.startsWith(".") ? path.resolve(spec) : require.resolve(spec, { paths: [process.cwd()] });
    const loaded = require(resolved);
    const fn = typeof loaded === "function" ? loaded : loaded.default;
    if (typeof fn !== "function") throw new Error(`${spec} exports no program function`);
    return fn;
}

async function main() {
    const request: Request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    const program = loadProgram(request.program);
    const env = process.env as Record<string, string>;
    for (const name of ["PULUMI_ROOT", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"])
        if (!env[name]) throw new Error(`${name} is not set`);
    fs.mkdirSync(request.workDir, { recursive: true, mode: 0o700 });
    const pulumiCommand = await PulumiCommand.get({ root: env.PULUMI_ROOT, skipVersionCheck: true });
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: request.stackName, projectName: request.projectName, program: async () => program() },
        {
            workDir: request.workDir,
            pulumiCommand,
            envVars: env,
            projectSettings: {
                name: request.projectName,
                runtime: "nodejs",
                backend: { url: env.PULUMI_BACKEND_URL },
            },
        },
    );
    const stale = Object.keys(await stack.getAllConfig()).filter(k => !(k in request.config));
    if (stale.length > 0) await stack.removeAllConfig(stale);
    if (Object.keys(request.config).length > 0) await stack.setAllConfig(request.config);

    const onOutput = (s: string) => process.stderr.write(s);
    const recorder = new StepRecorder();
    const onEvent = recorder.onEvent;
    const policyPacks = request.policyPacks ?? [];
    let outputs: Record<string, unknown> = {};
    let changeSummary: Record<string, number>;
    if (request.op === "preview") {
        changeSummary = (await stack.preview({ diff: true, onOutput, onEvent, policyPacks })).changeSummary;
    } else if (request.op === "up") {
        const r = await stack.up({ onOutput, onEvent, policyPacks });
        changeSummary = r.summary.resourceChanges ?? {};
        // Secret outputs stay out of what the tests print and keep.
        outputs = Object.fromEntries(
            Object.entries(r.outputs)
                .filter(([, v]) => !v.secret)
                .map(([k, v]) => [k, v.value]),
        );
    } else {
        changeSummary = (await stack.destroy({ onOutput, onEvent })).summary.resourceChanges ?? {};
    }
    process.stdout.write(JSON.stringify({ outputs, changeSummary, steps: recorder.steps() }) + "\n");
}

main().catch(e => {
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exit(1);
});
