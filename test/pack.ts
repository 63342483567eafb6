// The npm package as its users get it: `npm pack` of a source tree (which runs the package's
// `prepare` build), the files in the tarball, and projects outside the repository that install it
// and run programs with it through their own Automation API driver (test/consumer/driver.ts).
// Used by test/unit/package.test.ts, test/live/consumer.test.ts and test/live/upgrade.test.ts.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ResourceStep } from "../scripts/lib/steps";

export const ROOT = path.resolve(__dirname, "..");

export interface Tarball {
    /** Absolute path of the .tgz. */
    file: string;
    /** Every file in it, relative to the package's root, sorted. */
    files: string[];
    /** The files among them that are executable. */
    executables: string[];
    /** Size of the .tgz in bytes. */
    size: number;
}

/** The folder, under the system's temporary folder (never inside the repository), for one test's files. */
export function scratchDir(name: string): string {
    const dir = path.join(os.tmpdir(), `mailserver-${name}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
}

function run(cmd: string, args: string[], cwd: string, what: string, timeoutMs = 10 * 60_000): string {
    const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20, timeout: timeoutMs });
    if (r.status !== 0)
        throw new Error(
            `${what}: \`${cmd} ${args.join(" ")}\` in ${cwd} failed (${r.status ?? r.signal}):\n${r.stderr}\n${r.stdout}`,
        );
    return r.stdout;
}

/** The files of a .tgz as `tar -tv` lists them (without npm's "package/" folder), and which are executable. */
export function tarballFiles(file: string): { files: string[]; executables: string[] } {
    const entries = run("tar", ["-tvzf", file], path.dirname(file), "listing the tarball")
        .split("\n")
        .filter(l => l.startsWith("-"))
        .map(l => ({ mode: l.split(/\s+/)[0], name: l.replace(/^.* package\//, "") }))
        .sort((a, b) => a.name.localeCompare(b.name));
    return {
        files: entries.map(e => e.name),
        executables: entries.filter(e => e.mode.includes("x")).map(e => e.name),
    };
}

/** `npm pack` of the tree at `src` (this repository by default) into `dest`. */
export function pack(dest: string, src = ROOT): Tarball {
    const out = run("npm", ["pack", "--json", "--pack-destination", dest], src, "packing the package");
    // The JSON report is the last thing npm prints; anything before it is the build's own output.
    const report = JSON.parse(out.slice(out.lastIndexOf("\n[") + 1)) as Array<{ filename: string }>;
    const file = path.join(dest, path.basename(report[0].filename));
    return { file, ...tarballFiles(file), size: fs.statSync(file).size };
}

/** The versions this repository tests (devDependencies): the ones the engine's plugins are built for. */
export function testedVersion(name: string): string {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const v = pkg.devDependencies?.[name];
    if (!v) throw new Error(`package.json has no devDependency ${name}`);
    return v;
}

/**
 * `npm install` of `specs` (a tarball's path, name@version...) into the project at `dir`, from npm's
 * cache where it can (the repository's own `npm ci` filled it).
 */
export function npmInstall(dir: string, specs: string[]): void {
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...specs], dir, "npm install");
}

/** The files of a consumer project besides its program: test/consumer's driver and TypeScript settings. */
const CONSUMER = path.join(ROOT, "test", "consumer");

/**
 * A project outside the repository that installs `tarball` with the Pulumi SDKs at the versions this
 * repository tests (the engine's plugins), TypeScript and Node's types, plus the Automation API driver
 * (test/consumer/driver.ts with scripts/lib/steps.ts) and `files` (destination -> source). Compile it
 * with compileProject().
 */
export function consumerProject(dir: string, tarball: string, files: Record<string, string> = {}): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(
        path.join(dir, "package.json"),
        JSON.stringify({ name: path.basename(dir), version: "1.0.0", private: true }, null, 2) + "\n",
    );
    const copies: Record<string, string> = {
        "driver.ts": path.join(CONSUMER, "driver.ts"),
        "steps.ts": path.join(ROOT, "scripts", "lib", "steps.ts"),
        "tsconfig.json": path.join(CONSUMER, "tsconfig.json"),
        ...files,
    };
    for (const [to, from] of Object.entries(copies)) fs.cpSync(from, path.join(dir, to), { recursive: true });
    npmInstall(dir, [
        tarball,
        ...["@pulumi/pulumi", "@pulumi/docker", "@pulumi/tls", "typescript", "@types/node"].map(
            p => `${p}@${testedVersion(p)}`,
        ),
    ]);
}

/** The project's own `tsc -p .` (strict, the installed package's declarations checked): .js beside each .ts. */
export function compileProject(dir: string): void {
    run(path.join(dir, "node_modules", ".bin", "tsc"), ["-p", "."], dir, "compiling the consumer project");
}

export interface DriverRequest {
    projectName: string;
    stackName: string;
    workDir: string;
    /** "./index.js" (a file of the project) or a package's entry point such as "mailserver/example". */
    program: string;
    config: Record<string, { value: string; secret?: boolean }>;
    op: "up" | "preview" | "destroy";
    policyPacks?: string[];
}

export interface DriverResult {
    outputs: Record<string, any>;
    changeSummary: Record<string, number>;
    steps: ResourceStep[];
    /** What the engine printed. */
    log: string;
}

/**
 * One operation through the project's compiled driver. `env` must carry the engine (PULUMI_ROOT,
 * PULUMI_HOME, PATH with the policy analyzer), PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE and
 * DOCKER_HOST. The engine's output is appended to `log`.
 */
export function runDriver(
    dir: string,
    request: DriverRequest,
    env: Record<string, string | undefined>,
    log: string,
): Promise<DriverResult> {
    const file = path.join(dir, `.request-${request.op}-${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify(request), { mode: 0o600 });
    return new Promise((resolve, reject) => {
        const child = spawn("node", ["driver.js", file], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "",
            stderr = "";
        child.stdout.on("data", d => (stdout += d));
        child.stderr.on("data", d => (stderr += d));
        child.on("error", reject);
        child.on("close", code => {
            fs.rmSync(file, { force: true });
            fs.writeFileSync(log, stderr, { flag: "a" });
            if (code !== 0) reject(new Error(`${request.op} failed (${code}):\n${stderr}\n${stdout}`));
            else resolve({ ...JSON.parse(stdout.trim().split("\n").pop()!), log: stderr });
        });
    });
}

/** Runs `f`, printing how long it took as a test diagnostic line. */
export async function timed<T>(what: string, f: () => T | Promise<T>): Promise<T> {
    const start = Date.now();
    try {
        return await f();
    } finally {
        process.stdout.write(`# ${what}: ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
    }
}
