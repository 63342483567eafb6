// Runs a child process under a time bound and measures its wall time and peak memory. Memory is
// the resident set size (RSS) summed over the child and all its descendants (for a preview: the
// node process running the program, the Pulumi CLI and its provider plugins), sampled from /proc
// every SAMPLE_MS; the largest single process's peak is kept too. Summed RSS counts pages shared
// between processes more than once, so it overstates a little; a spike shorter than a sample is missed.
import { spawn } from "child_process";
import * as fs from "fs";

const SAMPLE_MS = 200;

export interface Measured {
    status: number | null;
    stdout: string;
    stderr: string;
    seconds: number;
    /** Peak of the summed RSS of the process tree, MB. */
    peakTreeMb: number;
    /** Peak RSS of the largest single process of the tree, MB. */
    peakProcessMb: number;
    /** The bound was reached and the process tree killed. */
    timedOut: boolean;
}

/** Every process whose parent chain leads to root (root included). */
function processTree(root: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            // The command name (field 2) may hold spaces and parentheses; the fields after it do not.
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
        } catch {
            /* the process ended while we looked */
        }
    }
    const tree = [root];
    for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
    return tree;
}

function rssKb(pid: number): number {
    try {
        const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Number(m[1]) : 0;
    } catch {
        return 0;
    }
}

/** Processes started by run() and still running, so a signal handler can end them. */
export const running = new Set<number>();

/** Kills a process tree started by run(): its process group, then any descendant that left it. */
export function killTree(pid: number): void {
    const tree = processTree(pid);
    try {
        process.kill(-pid, "SIGKILL");
    } catch {
        /* already gone */
    }
    for (const p of tree) {
        try {
            process.kill(p, "SIGKILL");
        } catch {
            /* already gone */
        }
    }
}

/** Runs command with args, killing it (and its descendants) after boundSeconds. */
export function run(
    command: string,
    args: string[],
    boundSeconds: number,
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Measured> {
    return new Promise((resolve, reject) => {
        const started = process.hrtime.bigint();
        // Its own process group, so that a timeout ends the engine and plugins it started too.
        const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        const pid = child.pid!;
        running.add(pid);
        let stdout = "",
            stderr = "",
            peakTree = 0,
            peakProcess = 0,
            timedOut = false;
        child.stdout.on("data", d => {
            stdout += d;
        });
        child.stderr.on("data", d => {
            stderr += d;
        });
        const sample = () => {
            let sum = 0;
            for (const p of processTree(pid)) {
                const kb = rssKb(p);
                sum += kb;
                peakProcess = Math.max(peakProcess, kb);
            }
            peakTree = Math.max(peakTree, sum);
        };
        const sampler = setInterval(sample, SAMPLE_MS);
        const timer = setTimeout(() => {
            timedOut = true;
            killTree(pid);
        }, boundSeconds * 1000);
        child.on("error", e => {
            clearInterval(sampler);
            clearTimeout(timer);
            running.delete(pid);
            reject(e);
        });
        child.on("close", status => {
            clearInterval(sampler);
            clearTimeout(timer);
            running.delete(pid);
            resolve({
                status,
                stdout,
                stderr,
                timedOut,
                seconds: Number(process.hrtime.bigint() - started) / 1e9,
                peakTreeMb: peakTree / 1024,
                peakProcessMb: peakProcess / 1024,
            });
        });
    });
}
