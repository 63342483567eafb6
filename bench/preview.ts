// Preview benchmark: for N domains x 10 mailboxes, the program evaluation alone under Pulumi mocks
// (test/components/run-program.ts), then on the real engine (test/live/engine-deploy.ts, the
// Automation API with the locally built CLI and providers): a first preview of a new stack, its
// `up`, and an unchanged second preview of the deployed stack. Each step runs in its own process
// under a time bound; a step whose predecessor did not finish is reported as not measured.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { SECRET_KEYS } from "../scripts/lib/engine";
import { ARTIFACTS, destroy, engineDir, liveConfig, ROOT } from "../test/live/stack";
import { Measured, run } from "./measure";

export const PREVIEW_PREFIX = "benchprev";
const MAILBOXES_PER_DOMAIN = 10;
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

export type Step = "mocks" | "first preview" | "up" | "second preview";
export const STEPS: Step[] = ["mocks", "first preview", "up", "second preview"];

/**
 * What was deployed: the mail stack (index.ts), or the engine's floor at the same resource count
 * (bench/floor-step.ts): as many empty components, or per domain a component holding the two
 * DKIM keys each VirtualDomain makes (the real tls.PrivateKey resources) and nothing else.
 */
export type Program = "mail stack" | "floor: empty components" | "floor: DKIM keys only";
export const PROGRAMS: Program[] = ["mail stack", "floor: empty components", "floor: DKIM keys only"];
const FLOOR_KINDS: Record<Exclude<Program, "mail stack">, string> = {
    "floor: empty components": "components",
    "floor: DKIM keys only": "keys",
};

/** "plain": passwords, hashed by the program (once, then cached); "hashed": passwordHashes given. */
export type PasswordMode = "plain" | "hashed";

export interface StepResult {
    domains: number;
    passwords: PasswordMode;
    program: Program;
    step: Step;
    measured?: Measured;
    /** Why there is no figure (bound reached, failure, an earlier step missing). */
    note?: string;
    /** The engine's count of steps by kind, for the previews ("same": 123, ...). */
    changes?: Record<string, number>;
}

/** One yescrypt hash (libxcrypt's mkpasswd) for every mailbox: making 10,000 would take minutes. */
let sharedHash: string | undefined;
function yescryptHash(): string {
    sharedHash ??= execFileSync("mkpasswd", ["-m", "yescrypt", "Bench-Secret-2026!"], { encoding: "utf8" }).trim();
    return sharedHash;
}

function config(domains: number, passwords: PasswordMode): Record<string, unknown> {
    const list = Array.from({ length: domains }, (_, d) => ({
        domain: `d${d}.bench.test`,
        mailboxes: Array.from({ length: MAILBOXES_PER_DOMAIN }, (_, m) => ({ address: `u${m}` })),
    }));
    const addresses = list.flatMap(d => d.mailboxes.map(m => `${m.address}@${d.domain}`));
    const secrets =
        passwords === "plain"
            ? { "mailserver:passwords": Object.fromEntries(addresses.map(a => [a, `${a}-Bench-Secret-2026!`])) }
            : { "mailserver:passwordHashes": Object.fromEntries(addresses.map(a => [a, yescryptHash()])) };
    // Ports 39025 ... 39995: apart from the delivery stack and the live tests' stacks (20000 ... 28995).
    return liveConfig({ "mailserver:domains": list, ...secrets }, PREVIEW_PREFIX, 39000);
}

function writeRequest(name: string, body: unknown): string {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `bench-${name}.json`);
    // It holds the mailbox passwords.
    fs.writeFileSync(file, JSON.stringify(body), { mode: 0o600 });
    return file;
}

async function step(
    domains: number,
    passwords: PasswordMode,
    program: Program,
    name: Step,
    args: string[],
    bound: number,
    log: (s: string) => void,
): Promise<StepResult> {
    log(`preview: ${program}, ${domains} domains x ${MAILBOXES_PER_DOMAIN} mailboxes, ${name}`);
    const measured = await run(TSX, args, bound, { cwd: ROOT, env: process.env });
    // The engine's own output, for a look afterwards.
    fs.writeFileSync(
        path.join(ARTIFACTS, `bench-${PREVIEW_PREFIX}-${domains}.log`),
        `--- ${name}\n${measured.stderr}`,
        { flag: "a" },
    );
    const result: StepResult = { domains, passwords, program, step: name, measured };
    if (measured.timedOut) result.note = `> ${bound} s (bound)`;
    else if (measured.status !== 0) {
        result.note = `failed (exit ${measured.status}): ${measured.stderr.trim().split("\n").slice(-3).join(" | ")}`;
    } else {
        const last = measured.stdout.trim().split("\n").pop() ?? "";
        try {
            result.changes = JSON.parse(last).changeSummary;
        } catch {
            /* mocks print outputs only */
        }
    }
    log(`  ${result.note ?? `${measured.seconds.toFixed(1)} s, peak ${measured.peakTreeMb.toFixed(0)} MB`}`);
    return result;
}

export function cleanupPreview(): void {
    destroy(PREVIEW_PREFIX);
    for (const kind of Object.values(FLOOR_KINDS)) fs.rmSync(floorDir(kind), { recursive: true, force: true });
}

/** The floor programs' stacks: their own state, nothing in Docker (tls keys and components only). */
function floorDir(kind: string): string {
    return path.join(ARTIFACTS, "engine", `benchfloor-${kind}`);
}

/** The engine steps (first preview, up, unchanged preview) of one program; none after one that failed. */
async function engineSteps(
    domains: number,
    passwords: PasswordMode,
    program: Program,
    args: (preview: boolean) => string[],
    bound: number,
    results: StepResult[],
    log: (s: string) => void,
): Promise<void> {
    let missing: string | undefined;
    for (const [name, preview] of [
        ["first preview", true],
        ["up", false],
        ["second preview", true],
    ] as const) {
        if (missing) {
            results.push({ domains, passwords, program, step: name, note: `not measured: ${missing}` });
            continue;
        }
        const r = await step(domains, passwords, program, name, args(preview), bound, log);
        results.push(r);
        if (r.note) missing = `${name} ${r.note.startsWith(">") ? "took longer than the bound" : "failed"}`;
    }
}

/** Measures each size, appending each step's result to `results` as soon as it is measured. */
export async function previewBenchmark(
    sizes: number[],
    passwords: PasswordMode,
    boundSeconds: number,
    results: StepResult[],
    log: (s: string) => void,
    floor: boolean,
): Promise<void> {
    for (const domains of sizes) {
        cleanupPreview();
        const cfg = config(domains, passwords);
        const mocks = writeRequest("mocks", {
            stack: PREVIEW_PREFIX,
            config: cfg,
            secretKeys: SECRET_KEYS,
            preview: true,
        });
        const engine = (preview: boolean) =>
            writeRequest("engine", {
                stackName: PREVIEW_PREFIX,
                dir: engineDir(PREVIEW_PREFIX),
                config: cfg,
                preview,
            });
        try {
            const program = path.join(ROOT, "test", "components", "run-program.ts");
            const stack: Program = "mail stack";
            results.push(await step(domains, passwords, stack, "mocks", [program, mocks], boundSeconds, log));
            const driver = path.join(ROOT, "test", "live", "engine-deploy.ts");
            await engineSteps(domains, passwords, stack, p => [driver, engine(p)], boundSeconds, results, log);
            cleanupPreview();
            if (!floor) continue;
            for (const [floorProgram, kind] of Object.entries(FLOOR_KINDS) as [Program, string][]) {
                const script = path.join(ROOT, "bench", "floor-step.ts");
                const args = (p: boolean) => [script, floorDir(kind), String(domains), kind, p ? "preview" : "up"];
                await engineSteps(domains, passwords, floorProgram, args, boundSeconds, results, log);
                cleanupPreview();
            }
        } finally {
            for (const f of ["mocks", "engine"]) fs.rmSync(path.join(ARTIFACTS, `bench-${f}.json`), { force: true });
            cleanupPreview();
        }
    }
}
