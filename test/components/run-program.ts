// Runs the example program (index.ts) once under pulumi.runtime.setMocks, in its own process, as
// `pulumi preview` would with the given stack config: every resource is registered, none created.
// Prints one JSON line: the stack outputs. The component tests use it; live deployments go
// through the real engine (scripts/lib/engine.ts).
//
//   tsx test/components/run-program.ts <request.json>
//   request: { stack, config: {key: value}, secretKeys: [key], program? }
import * as fs from "fs";
import * as path from "path";

interface Request {
    stack: string;
    config: Record<string, unknown>;
    secretKeys?: string[];
    /** Module whose export is the program function (default: index.ts). */
    program?: string;
}

async function main() {
    const request: Request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    // Stack config reaches the program exactly as the Pulumi CLI passes it.
    process.env.PULUMI_CONFIG = JSON.stringify(Object.fromEntries(
        Object.entries(request.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
    process.env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(request.secretKeys ?? []);

    const pulumi = await import("@pulumi/pulumi");
    const pending = new Set<Promise<unknown>>();
    await pulumi.runtime.setMocks({
        newResource: args => {
            const p = Promise.resolve({ id: `${args.name}-id`, state: args.inputs });
            pending.add(p);
            p.finally(() => pending.delete(p)).catch(() => undefined);
            return p;
        },
        call: () => ({}),
    }, "mailserver", request.stack, false);

    const program = require(path.resolve(request.program ?? path.join(__dirname, "..", "..", "index.ts")));
    const exported = await (typeof program === "function" ? program() : program);
    const outputs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(exported ?? {})) {
        outputs[k] = pulumi.Output.isInstance(v) ? await new Promise(r => (v as any).apply(r)) : v;
    }
    // Let every resource registration finish.
    while (pending.size > 0) await Promise.all([...pending]);
    await new Promise(r => setTimeout(r, 200));
    while (pending.size > 0) await Promise.all([...pending]);
    process.stdout.write(JSON.stringify({ outputs }) + "\n");
}

process.on("unhandledRejection", e => { console.error(e); process.exit(1); });
main().catch(e => { console.error(e instanceof Error ? e.stack : e); process.exit(1); });
