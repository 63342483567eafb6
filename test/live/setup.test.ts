// The README's set-up path as a new user takes it: a copy of the repository with no .local/ and no
// node_modules, `bash scripts/setup.sh` against a Docker engine of its own (own socket, data root
// and exec root, so no image or layer of an earlier run can answer), deploying through the real
// Pulumi engine (engine/build.sh: built once per machine, cached outside the repository), then the
// commands setup.sh prints, run as printed: one sends a message through the dev stack, one reads it
// back over IMAPS.
// Then a minute of idle logs must hold no healthcheck line, and the engine is removed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { ROOT } from "./stack";

const RUN = `mailsetup-${process.pid}`;
const SOCK = `/run/${RUN}.sock`;
const DATA_ROOT = `/var/lib/${RUN}`;
const COPY = `/var/tmp/${RUN}`;
const ENGINE = { ...process.env, DOCKER_HOST: `unix://${SOCK}` };
// The dev stack's published ports (stacks/Pulumi.dev.yaml).
const DEV_PORTS = [2525, 2587, 2465, 2143, 2993, 14190];
const CONTAINERS = ["mail-dev-postfix", "mail-dev-dovecot", "mail-dev-authpolicy"];

let setup: { status: number | null; output: string };

function portFree(port: number): Promise<boolean> {
    return new Promise(resolve => {
        const server = net
            .createServer()
            .once("error", () => resolve(false))
            .listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/** The command lines setup.sh printed after a line matching `heading`. */
function printedCommand(heading: RegExp): string {
    const lines = setup.output.split("\n");
    const at = lines.findIndex(l => heading.test(l));
    assert.ok(at >= 0, `setup.sh printed no line matching ${heading}:\n${setup.output}`);
    return lines[at + 1].trim();
}

function removeEngine(): void {
    const pidFile = `/run/${RUN}-dockerd.pid`;
    if (fs.existsSync(pidFile)) {
        const ids = spawnSync("docker", ["ps", "-aq"], { env: ENGINE, encoding: "utf8" }).stdout.trim();
        if (ids) spawnSync("docker", ["rm", "-f", ...ids.split("\n")], { env: ENGINE });
        const pid = Number(fs.readFileSync(pidFile, "utf8"));
        try {
            process.kill(pid, "SIGTERM");
        } catch {
            /* already gone */
        }
        for (let i = 0; i < 60 && fs.existsSync(`/proc/${pid}`); i++) spawnSync("sleep", ["1"]);
    }
    // dockerd leaves its network namespace (and, if it died, overlay mounts) mounted: unmount first.
    const mounts = fs
        .readFileSync("/proc/mounts", "utf8")
        .split("\n")
        .map(l => l.split(" ")[1])
        .filter(Boolean);
    for (const m of mounts.filter(m => m.startsWith(`/run/${RUN}-exec`) || m.startsWith(DATA_ROOT)).reverse())
        spawnSync("umount", ["-l", m]);
    for (const p of [DATA_ROOT, COPY, `/run/${RUN}-exec`, SOCK]) fs.rmSync(p, { recursive: true, force: true });
}

describe("set-up on a fresh Docker engine, as the README says", () => {
    before(async () => {
        for (const port of DEV_PORTS)
            assert.ok(
                await portFree(port),
                `port ${port} of the dev stack is taken: stop the dev stack first (scripts/local-down.ts)`,
            );
        // The working tree as git sees it (tracked and new files, nothing ignored): no .local/, no node_modules.
        fs.mkdirSync(COPY, { recursive: true });
        const copy = spawnSync(
            "bash",
            [
                "-c",
                `git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - | tar -x -C ${COPY}`,
            ],
            { cwd: ROOT, encoding: "utf8" },
        );
        assert.equal(copy.status, 0, copy.stderr);
        const started = Date.now();
        const r = spawnSync("bash", ["scripts/setup.sh"], {
            cwd: COPY,
            encoding: "utf8",
            maxBuffer: 64 << 20,
            timeout: 25 * 60 * 1000,
            env: { ...process.env, DOCKER_HOST: "", MAILTEST_DOCKER_SOCK: SOCK, MAILTEST_DOCKER_ROOT: DATA_ROOT },
        });
        setup = { status: r.status, output: `${r.stdout}\n${r.stderr}` };
        fs.writeFileSync(path.join(ROOT, "test", ".artifacts", "setup.log"), setup.output);
        process.stdout.write(
            `# setup.sh on a fresh engine: exit ${r.status} in ${Math.round((Date.now() - started) / 1000)} s\n`,
        );
    });

    after(() => removeEngine());

    test("setup.sh exits 0 on an engine with no image cache", () => {
        assert.equal(setup.status, 0, `setup.sh failed:\n${setup.output.slice(-6000)}`);
        // Nothing was answered from a cache: the base image was made here, and the engine created
        // every image, network, volume and container of the stack.
        assert.match(setup.output, /base image debian:trixie-slim imported/);
        for (const service of ["postfix", "dovecot", "authpolicy"]) {
            assert.match(setup.output, new RegExp(`RemoteImage(::| )mail-dev-${service}-image`));
        }
        assert.match(setup.output, /Resources:\s+\+ \d+ created/);
    });

    test("it prints the ports, the password file and the certificate", () => {
        for (const port of DEV_PORTS) assert.match(setup.output, new RegExp(`127\\.0\\.0\\.1:${port}\\b`));
        assert.match(setup.output, /Mailbox passwords \(generated, mode 0600\): \.local\/dev-passwords\.json/);
        const mode = fs.statSync(path.join(COPY, ".local", "dev-passwords.json")).mode & 0o777;
        assert.equal(mode, 0o600);
    });

    test("the printed commands send a message and read it back over IMAPS", () => {
        const send = spawnSync("bash", ["-c", printedCommand(/^Send a test message/)], {
            cwd: COPY,
            encoding: "utf8",
            timeout: 60_000,
        });
        assert.equal(send.status, 0, `swaks as printed:\n${send.stdout}${send.stderr}`);
        assert.match(send.stdout, /<~ {1,2}250 2\.0\.0 Ok: queued/);
        const read = printedCommand(/^Read back/);
        let mail = "";
        for (let i = 0; i < 20 && !/Subject: Hello from the dev stack/.test(mail); i++) {
            if (i > 0) spawnSync("sleep", ["0.5"]);
            const r = spawnSync("bash", ["-c", read], { cwd: COPY, encoding: "utf8", timeout: 30_000 });
            mail = `${r.stdout}${r.stderr}`;
        }
        assert.match(mail, /^Subject: Hello from the dev stack$/m, `curl as printed:\n${mail}`);
        assert.match(mail, /^Delivered-To: bob@example\.test$/m);
    });

    test("the dev stack previews with 0 changes; a mailbox added to its stack file shows as new table lines", () => {
        const preview = () =>
            spawnSync("npx", ["tsx", "scripts/stack.ts", "preview", "dev"], {
                cwd: COPY,
                env: ENGINE,
                encoding: "utf8",
                timeout: 5 * 60_000,
                maxBuffer: 64 << 20,
            });
        const unchanged = preview();
        assert.equal(unchanged.status, 0, unchanged.stderr);
        assert.match(unchanged.stdout, /Resources:\s+\d+ unchanged\s*$/m, unchanged.stdout.slice(-3000));
        assert.doesNotMatch(unchanged.stdout, /to (create|update|replace|delete)/);
        const file = path.join(COPY, "stacks", "Pulumi.dev.yaml");
        const stackFile = fs.readFileSync(file, "utf8");
        assert.ok(stackFile.includes("        - address: bob\n"));
        fs.writeFileSync(
            file,
            stackFile.replace("        - address: bob\n", "        - address: bob\n        - address: carol\n"),
        );
        try {
            const added = preview();
            assert.equal(added.status, 0, added.stderr);
            assert.match(
                added.stdout,
                /~ vmailbox\s*:[\s\S]*?\n\s+\+ carol@example\.test\tOK\n/,
                added.stdout.slice(-6000),
            );
            assert.doesNotMatch(added.stdout, /\$6\$/, "no password hash in the diff");
        } finally {
            fs.writeFileSync(file, stackFile);
        }
    });

    test("a minute of idle logs holds no healthcheck line, and the services stay healthy", () => {
        const since = Math.floor(Date.now() / 1000);
        spawnSync("sleep", ["62"]);
        for (const c of CONTAINERS) {
            const logs = spawnSync("docker", ["logs", "--since", String(since), c], { env: ENGINE, encoding: "utf8" });
            const text = `${logs.stdout}${logs.stderr}`;
            assert.doesNotMatch(
                text,
                /connect from localhost|Postfix mail system is running|Login aborted|no auth attempts/,
                `${c}:\n${text}`,
            );
            const health = JSON.parse(
                spawnSync("docker", ["inspect", "-f", "{{json .State.Health}}", c], { env: ENGINE, encoding: "utf8" })
                    .stdout,
            ) as { Status: string; Log: Array<{ Start: string; ExitCode: number }> };
            assert.equal(health.Status, "healthy", `${c}: ${JSON.stringify(health)}`);
            // The probes did run in that minute, and passed: quiet because they log nothing, not because they stopped.
            const during = health.Log.filter(p => Date.parse(p.Start) >= since * 1000);
            assert.ok(during.length >= 3 && during.every(p => p.ExitCode === 0), `${c}: ${JSON.stringify(health.Log)}`);
        }
    });
});
