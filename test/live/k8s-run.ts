// What the Kubernetes suites share to drive the test cluster's scripts: a command run to its end
// (its progress on stderr passed to the test's log), and the exports a script prints.
import { spawnSync } from "child_process";
import type { Stack } from "@pulumi/pulumi/automation";
import { ROOT } from "./stack";

/** Runs a command; throws with its output when it fails. Progress (stderr) goes to the test's log. */
export function run(
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
    timeoutMs = 30 * 60_000,
): string {
    const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
    if (r.status !== 0)
        throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}\n${r.stdout}`);
    process.stderr.write(r.stderr);
    return r.stdout;
}

/** The exports a script prints (`export NAME=value` lines), read back by bash. */
export function exportsOf(script: string): Record<string, string> {
    const out = run("bash", ["-c", `set -e; eval "$(${script})"; env -0`]);
    return Object.fromEntries(
        out
            .split("\0")
            .filter(Boolean)
            .map(kv => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
}

/** Seconds since a Date.now(), to a tenth. */
export const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;

/** A preview with its diff: the kinds of change it counts other than "same", its output, its seconds. */
export async function previewChanges(stack: Stack) {
    const t = Date.now();
    const r = await stack.preview({ diff: true });
    const changed = Object.entries(r.changeSummary).filter(([kind, n]) => kind !== "same" && n > 0);
    return { changed, stdout: r.stdout, seconds: seconds(t) };
}
