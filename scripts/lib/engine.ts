// The example program on the real Pulumi engine, through the Automation API: the CLI and provider
// plugins come from engine/build.sh (built here, or a `pulumi` already on PATH), the program is
// index.ts's exported function run inline (no Node.js language host needed), the state lives in
// a local file backend. Used by scripts/stack.ts (the user's stack command) and the live tests.
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import {
    ConfigMap,
    EngineEvent,
    LocalWorkspace,
    PulumiCommand,
    Stack,
    UpOptions,
    UpResult,
} from "@pulumi/pulumi/automation";
import mailServerProgram = require("../../index");
import { PROJECT, SECRET_KEYS } from "../../stack/config";

export const ROOT = path.resolve(__dirname, "..", "..");
/** Stack config keys whose values are Pulumi secrets: derived from the declarations of stack/config.ts. */
export { PROJECT, SECRET_KEYS };

const ENGINE_VARS = ["PATH", "PULUMI_ROOT", "PULUMI_HOME", "PULUMI_SKIP_UPDATE_CHECK", "MAILSERVER_ENGINE"];
let engineCache: Record<string, string> | undefined;

/** The environment of the project's engine (engine/build.sh builds it on first use, then answers in seconds). */
export function engineEnv(): Record<string, string> {
    if (engineCache) return engineCache;
    // "check" answers at once when the engine is built and installed, even while another build
    // holds the cache's lock; only otherwise does build.sh build (and wait for the lock).
    const script =
        `set -e; exports="$(bash engine/build.sh --check 2>/dev/null)" || exports="$(bash engine/build.sh)"; ` +
        `eval "$exports"; for v in ${ENGINE_VARS.join(" ")}; do printf '%s=%s\\0' "$v" "\${!v}"; done`;
    const r = spawnSync("bash", ["-c", script], {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        maxBuffer: 16 << 20,
    });
    if (r.status !== 0) throw new Error(`engine/build.sh failed (exit ${r.status}); see its output above`);
    engineCache = Object.fromEntries(
        r.stdout
            .split("\0")
            .filter(Boolean)
            .map(kv => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
    return engineCache;
}

/** A passphrase kept in a 0600 file, made on first use: it encrypts the stack's secrets in its state. */
export function passphrase(file: string): string {
    if (!fs.existsSync(file)) {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        // Written whole, then linked into place: a run started at the same moment either makes it
        // or reads the other's, never a half-written one.
        const temporary = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(temporary, randomBytes(24).toString("base64url"), { mode: 0o600 });
        try {
            fs.linkSync(temporary, file);
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        } finally {
            fs.unlinkSync(temporary);
        }
    }
    fs.chmodSync(file, 0o600);
    return fs.readFileSync(file, "utf8").trim();
}

/** The config of stacks/Pulumi.<stack>.yaml, keys as "mailserver:<name>". */
export function stackFileConfig(stack: string): Record<string, unknown> {
    const file = path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file))
        throw new Error(
            `no stack config ${path.relative(ROOT, file)}; stacks: ${fs.readdirSync(path.join(ROOT, "stacks")).join(", ")}`,
        );
    return (yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> }).config ?? {};
}

export interface StackOptions {
    stackName: string;
    /** Folder of the stack's workspace, state and passphrase (made if missing). */
    dir: string;
    /** Docker engine the providers talk to (DOCKER_HOST). */
    dockerHost?: string;
}

/** Opens (or creates) a stack of the example program on a local file backend in `dir`. */
export async function openStack(o: StackOptions): Promise<Stack> {
    const engine = engineEnv();
    const state = path.join(o.dir, "state");
    const workDir = path.join(o.dir, "workspace");
    fs.mkdirSync(state, { recursive: true, mode: 0o700 });
    fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
    const envVars: Record<string, string> = {
        ...engine,
        PULUMI_BACKEND_URL: `file://${state}`,
        PULUMI_CONFIG_PASSPHRASE: passphrase(path.join(o.dir, "passphrase")),
        ...(o.dockerHost ? { DOCKER_HOST: o.dockerHost } : {}),
    };
    // The inline program's own process reads Docker and Pulumi settings from its environment too.
    Object.assign(process.env, envVars);
    const pulumiCommand = await PulumiCommand.get({ root: engine.PULUMI_ROOT, skipVersionCheck: true });
    return LocalWorkspace.createOrSelectStack(
        { stackName: o.stackName, projectName: PROJECT, program: async () => mailServerProgram() },
        {
            workDir,
            pulumiCommand,
            envVars,
            projectSettings: { name: PROJECT, runtime: "nodejs", backend: { url: `file://${state}` } },
        },
    );
}

/**
 * Makes the stack's config exactly `config` (keys not in it are removed); the SECRET_KEYS are
 * stored as Pulumi secrets. Objects and lists are stored as JSON, as `pulumi config set` would.
 * A secret never goes on a command line (where `ps` and /proc/<pid>/cmdline show it to every
 * user of the machine): each one reaches the CLI on its standard input, and only when it changed.
 */
export async function setStackConfig(stack: Stack, config: Record<string, unknown>): Promise<void> {
    const wanted: ConfigMap = {};
    for (const [key, value] of Object.entries(config)) {
        if (value === undefined || value === null) continue;
        wanted[key] = {
            value: typeof value === "string" ? value : JSON.stringify(value),
            secret: SECRET_KEYS.includes(key),
        };
    }
    // The current values, secrets included, come back on the CLI's output (never its arguments).
    const current = await stack.getAllConfig();
    // The hash cache is the stack's own (written after each up), never part of the given config.
    const stale = Object.keys(current).filter(k => !(k in wanted) && !KEPT_KEYS.includes(k));
    if (stale.length > 0) await stack.removeAllConfig(stale);
    const changed = Object.entries(wanted).filter(
        ([k, v]) => current[k]?.value !== v.value || (current[k]?.secret ?? false) !== v.secret,
    );
    // setAllConfig passes every value on one command line: fine for plain values that fit (a large
    // stack's domains exceed the argument limit, E2BIG), never for a secret.
    const onCommandLine = Object.fromEntries(
        changed.filter(([, v]) => !v.secret && v.value.length <= LARGE_CONFIG_VALUE),
    ) as ConfigMap;
    if (Object.keys(onCommandLine).length > 0) await stack.setAllConfig(onCommandLine);
    for (const [key, v] of changed)
        if (!(key in onCommandLine)) setConfigFromStdin(stack, key, v.value, v.secret === true);
}

/** Where the password hashes of the last up are kept for the next preview or up (a secret). */
const HASH_CACHE_KEY = "mailserver:passwordHashCache";
/** The namePrefix of the last up: the next preview refuses another one (MailServer previousNamePrefix). */
const PREFIX_KEY = "mailserver:previousNamePrefix";
/** Written by the stack's own ups, never part of the given config. */
const KEPT_KEYS = [HASH_CACHE_KEY, PREFIX_KEY];

/**
 * Runs `up`, then keeps the program's passwordHashCache output as the secret config key the
 * program reads back next time: an unchanged password is then not hashed again (85 ms each); and
 * its namePrefix output as previousNamePrefix, so that a prefix change is refused at preview.
 */
export async function upKeepingHashes(stack: Stack, opts: UpOptions): Promise<UpResult> {
    // The file backend rewrites the whole state after every step, so a first deployment's cost
    // grows with the square of its resources (1,000 domains: 2,000 DKIM keys, 15 minutes and 6 GB
    // for the keys alone; docs/performance.md). A first deployment has nothing in the state to
    // lose, so it saves the state once, at its end (also when it fails); only a crash of the engine
    // itself during it leaves containers the state does not know, which the next up names (Docker:
    // "container name ... already in use"). Every later up saves after each step, as always.
    const ws = stack.workspace as LocalWorkspace;
    // The workspace passes its envVars to every CLI run it starts: set for this up alone.
    if (await isFirstDeployment(stack)) ws.envVars[SKIP_CHECKPOINTS] = "true";
    let result: UpResult;
    try {
        result = await stack.up(opts);
    } finally {
        delete ws.envVars[SKIP_CHECKPOINTS];
    }
    const cache = result.outputs.passwordHashCache?.value;
    if (cache !== undefined) setConfigFromStdin(stack, HASH_CACHE_KEY, JSON.stringify(cache), true);
    const prefix = result.outputs.namePrefix?.value;
    if (typeof prefix === "string") setConfigFromStdin(stack, PREFIX_KEY, prefix, false);
    return result;
}

const SKIP_CHECKPOINTS = "PULUMI_SKIP_CHECKPOINTS";

/** No update yet, or the last one destroyed everything: the state holds no resources. */
async function isFirstDeployment(stack: Stack): Promise<boolean> {
    const [last] = await stack.history(1, 1);
    return last === undefined || (last.kind === "destroy" && last.result === "succeeded");
}

/** Plain values longer than this are set one by one from stdin (Linux allows 128 KiB per argument). */
const LARGE_CONFIG_VALUE = 32 * 1024;

function setConfigFromStdin(stack: Stack, key: string, value: string, secret: boolean): void {
    const ws = stack.workspace as LocalWorkspace;
    const args = [
        "config",
        "set",
        secret ? "--secret" : "--plaintext",
        // Exactly what stdin holds: without it the CLI drops a final newline (a PEM's).
        "--raw",
        key,
        "--stack",
        stack.name,
        "--non-interactive",
    ];
    const r = spawnSync(path.join(engineEnv().PULUMI_ROOT, "bin", "pulumi"), args, {
        cwd: ws.workDir,
        env: { ...process.env, ...ws.envVars },
        input: value,
        encoding: "utf8",
        maxBuffer: 16 << 20,
    });
    if (r.status !== 0) throw new Error(`pulumi config set ${key} failed (${r.status}): ${r.stderr}`);
}

/** The steps of a replacement: the container is deleted and created again. */
const REPLACE_OPS = ["replace", "create-replacement", "delete-replaced"];

/** What an update did to each container, from the engine's events (names are container names). */
export class ContainerChanges {
    readonly ops = new Map<string, string>();
    readonly onEvent = (e: EngineEvent): void => {
        const m = e.resourcePreEvent?.metadata;
        if (!m || m.type !== "docker:index/container:Container") return;
        const name = m.urn.split("::").pop()!;
        // A replacement shows as several steps; the strongest one names what happened.
        if (!REPLACE_OPS.includes(this.ops.get(name) ?? "")) this.ops.set(name, m.op);
    };
    /** Containers deleted and created again. */
    get replaced(): string[] {
        return [...this.ops]
            .filter(([, op]) => REPLACE_OPS.includes(op))
            .map(([n]) => n)
            .sort();
    }
    /** Containers that existed before and still run, unchanged or updated in place. */
    get kept(): string[] {
        return [...this.ops]
            .filter(([, op]) => op === "same" || op === "update")
            .map(([n]) => n)
            .sort();
    }
}
