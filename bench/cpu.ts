// Where a load's CPU time goes: each container's CPU time from its cgroup (cgroup v1 cpuacct or
// v2 cpu.stat), the Docker daemons' (which carry every container's log lines), and this process
// (the load client). Read before and after a load; the difference divided by the messages is the
// "CPU ms per message" of each part.
import { spawnSync } from "child_process";
import * as fs from "fs";

/** Seconds of CPU used so far, by part: container names, "dockerd + containerd", "load client". */
export type CpuSample = Record<string, number>;

function containerId(name: string): string | undefined {
    const r = spawnSync("docker", ["inspect", "-f", "{{.Id}}", name], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A container's CPU seconds, wherever this host's Docker keeps its cgroup. */
function containerSeconds(id: string): number | undefined {
    const v1 = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
    if (fs.existsSync(v1)) return Number(fs.readFileSync(v1, "utf8")) / 1e9;
    for (const dir of [`/sys/fs/cgroup/system.slice/docker-${id}.scope`, `/sys/fs/cgroup/docker/${id}`]) {
        const stat = `${dir}/cpu.stat`;
        if (!fs.existsSync(stat)) continue;
        const m = /^usage_usec (\d+)$/m.exec(fs.readFileSync(stat, "utf8"));
        if (m) return Number(m[1]) / 1e6;
    }
    return undefined;
}

/** user + system CPU seconds of the processes with this command name (clock ticks of 1/100 s). */
function processSeconds(command: string): number {
    let ticks = 0;
    for (const pid of fs.readdirSync("/proc").filter(p => /^\d+$/.test(p))) {
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            if (!stat.includes(`(${command})`)) continue;
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            ticks += Number(fields[11]) + Number(fields[12]);
        } catch {
            /* ended meanwhile */
        }
    }
    return ticks / 100;
}

export function cpuSample(containers: string[]): CpuSample {
    const sample: CpuSample = {};
    for (const name of containers) {
        const id = containerId(name);
        const seconds = id && containerSeconds(id);
        if (typeof seconds === "number") sample[name] = seconds;
    }
    sample["dockerd + containerd"] = processSeconds("dockerd") + processSeconds("containerd");
    const own = process.cpuUsage();
    sample["load client"] = (own.user + own.system) / 1e6;
    return sample;
}

/** CPU milliseconds per message of each part between two samples. */
export function cpuPerMessage(before: CpuSample, after: CpuSample, messages: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [part, seconds] of Object.entries(after))
        if (part in before && messages > 0)
            out[part] = Number((((seconds - before[part]) * 1000) / messages).toFixed(2));
    return out;
}
