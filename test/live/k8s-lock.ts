// The Kubernetes test cluster is one per machine (engine/k8s/cluster.sh) and the suites that use it
// (k8s-cluster.test.ts, k8s-mail.test.ts) each bring it up and take it `down` at their end, while
// test/run-suites.sh runs suites side by side: each holds this lock for its whole use of the
// cluster, so one never tears the cluster down under the other. The lock is an flock(1) held by a
// child process that exits when its standard input closes: released by release(), or by the
// kernel when the test process dies, never left behind.
import { spawn } from "child_process";

// Not under a name the cluster's own leak check looks for (/run/mailtest-k8s...).
const LOCK = "/run/mailserver-k8s-suites.lock";

export async function clusterLock(timeoutMs = 60 * 60_000): Promise<{ release: () => void; waitedMs: number }> {
    const started = Date.now();
    const child = spawn(
        "flock",
        ["--exclusive", "--timeout", String(timeoutMs / 1000), LOCK, "sh", "-c", "echo locked; cat >/dev/null"],
        {
            stdio: ["pipe", "pipe", "inherit"],
        },
    );
    await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
            if (d.toString().includes("locked")) resolve();
        });
        child.on("exit", code => reject(new Error(`could not take ${LOCK} (flock exit ${code})`)));
    });
    return {
        release: () => {
            child.stdin.end();
        },
        waitedMs: Date.now() - started,
    };
}
