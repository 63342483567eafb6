// The npm package as its users get it: `npm pack` of a source tree (which runs the package's
// `prepare` build), the files in the tarball, and projects outside the repository that install it.
// Used by test/unit/package.test.ts, test/live/consumer.test.ts and test/live/upgrade.test.ts.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

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
