// Runs the example program (index.ts) once under pulumi.runtime.setMocks, in its own process, as
// `pulumi preview` would with the given stack config: every resource is registered, none created.
// Prints one JSON line: the stack outputs. The component tests use it; live deployments go
// through the real engine (scripts/lib/engine.ts).
//
//   tsx test/components/run-program.ts <request.json>
//   request: { stack, config: {key: value}, secretKeys: [key], program?, preview? }
// With preview, it runs as the preview of a new stack: every output a resource computes (a
// generated key, a network's subnet, an image id) is unknown, and no outputs print.
import * as fs from "fs";
import * as path from "path";
import { mockKeyState } from "./mock-keys";

interface Request {
    stack: string;
    config: Record<string, unknown>;
    secretKeys?: string[];
    /** Module whose export is the program function (default: index.ts). */
    program?: string;
    preview?: boolean;
}

async function main() {
    const request: Request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    // Stack config reaches the program exactly as the Pulumi CLI passes it.
    process.env.PULUMI_CONFIG = JSON.stringify(
        Object.fromEntries(
            Object.entries(request.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
        ),
    );
    process.env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(request.secretKeys ?? []);

    const pulumi = await import("@pulumi/pulumi");
    const pending = new Set<Promise<unknown>>();
    let registered = 0;
    await pulumi.runtime.setMocks(
        {
            newResource: args => {
                registered++;
                // A new stack: the program's reference to its own previous outputs finds none.
                const state =
                    args.type === "pulumi:pulumi:StackReference" ? { ...args.inputs, outputs: {} } : mockKeyState(args);
                const p = Promise.resolve({ id: `${args.name}-id`, state });
                pending.add(p);
                p.finally(() => pending.delete(p)).catch(() => undefined);
                return p;
            },
            call: () => ({}),
        },
        "mailserver",
        request.stack,
        request.preview === true,
        "organization",
    );

    const program = require(path.resolve(request.program ?? path.join(__dirname, "..", "..", "index.ts")));
    const exported = await (typeof program === "function" ? program() : program);
    const outputs: Record<string, unknown> = {};
    // During a preview an unknown output never reaches apply.
    for (const [k, v] of Object.entries(request.preview ? {} : (exported ?? {}))) {
        outputs[k] = pulumi.Output.isInstance(v) ? await new Promise(r => (v as any).apply(r)) : v;
    }
    // Let every resource registration finish.
    while (pending.size > 0) await Promise.all([...pending]);
    await new Promise(r => setTimeout(r, 200));
    while (pending.size > 0) await Promise.all([...pending]);
    // Without the outputs to wait for, a preview waits until registrations stop coming.
    for (let quiet = 0, seen = registered; request.preview && quiet < 5;) {
        await new Promise(r => setTimeout(r, 50));
        while (pending.size > 0) await Promise.all([...pending]);
        if (registered === seen) quiet++;
        else {
            quiet = 0;
            seen = registered;
        }
    }
    process.stdout.write(JSON.stringify({ outputs }) + "\n");
}

process.on("unhandledRejection", e => {
    console.error(e);
    process.exit(1);
});
main().catch(e => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
});
