// Which Docker engine a stack's commands talk to, and whether it answers. A stack lives on one
// engine: the stack file's `docker:host` (e.g. prod's ssh://), else the engine its first `up` ran
// against (recorded in .local/stacks/<stack>/docker-host, so a new shell without DOCKER_HOST still
// finds scripts/setup.sh's private engine), else DOCKER_HOST, else Docker's default socket.
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";
/** The private engine .ci/docker-up.sh starts (scripts/setup.sh). */
export const PRIVATE_DOCKER_HOST = "unix:///run/mailtest-docker.sock";

export type EngineSource = "stack file" | "recorded" | "DOCKER_HOST" | "default";

export interface StackEngine {
    host: string;
    source: EngineSource;
    /** Where the engine of the stack's first up is recorded. */
    recordFile: string;
    /** The stack file, relative to the repository root (for messages). */
    stackFile: string;
    /** DOCKER_HOST, when it is set but not used because the stack already has an engine. */
    ignoredDockerHost?: string;
}

/** The engine of a stack (see the file's header for the order). `recordFile` is absolute. */
export function stackEngine(o: {
    stackFile: string;
    stackConfig: Record<string, unknown>;
    recordFile: string;
    env: NodeJS.ProcessEnv;
}): StackEngine {
    const envHost = o.env.DOCKER_HOST?.trim() || undefined;
    const declared = o.stackConfig["docker:host"];
    const recorded = fs.existsSync(o.recordFile) ? fs.readFileSync(o.recordFile, "utf8").trim() : "";
    const base = { recordFile: o.recordFile, stackFile: o.stackFile };
    const chosen: Pick<StackEngine, "host" | "source"> =
        typeof declared === "string" && declared !== ""
            ? { host: declared, source: "stack file" }
            : recorded !== ""
              ? { host: recorded, source: "recorded" }
              : envHost !== undefined
                ? { host: envHost, source: "DOCKER_HOST" }
                : { host: DEFAULT_DOCKER_HOST, source: "default" };
    const ignored = envHost !== undefined && envHost !== chosen.host ? { ignoredDockerHost: envHost } : {};
    return { ...base, ...chosen, ...ignored };
}

/** Remembers the engine a stack is deployed to (its first up), unless the stack file names one. */
export function recordEngine(engine: StackEngine): void {
    if (engine.source === "stack file" || engine.source === "recorded") return;
    fs.mkdirSync(path.dirname(engine.recordFile), { recursive: true, mode: 0o700 });
    fs.writeFileSync(engine.recordFile, `${engine.host}\n`, { mode: 0o600 });
}

/** Where the engine came from, in words. */
export function describeSource(e: StackEngine, root: string): string {
    const record = path.relative(root, e.recordFile);
    switch (e.source) {
        case "stack file":
            return `docker:host in ${e.stackFile}`;
        case "recorded":
            return `the engine the stack was deployed to, recorded in ${record}`;
        case "DOCKER_HOST":
            return `DOCKER_HOST (no docker:host in ${e.stackFile}, nothing recorded in ${record})`;
        case "default":
            return `Docker's default: DOCKER_HOST is not set, ${e.stackFile} has no docker:host and nothing is recorded in ${record}`;
    }
}

/** How to point the stack at another engine, given where its engine came from. */
export function howToRepoint(e: StackEngine, root: string, command: string): string {
    const record = path.relative(root, e.recordFile);
    switch (e.source) {
        case "stack file":
            return `change docker:host in ${e.stackFile}`;
        case "recorded":
            return `write the engine's address into ${record} (the stack's containers and volumes live on the engine named there)`;
        default:
            return `run it as DOCKER_HOST=unix:///path/to/docker.sock ${command} (its first up records the engine in ${record})`;
    }
}

/**
 * Why the engine at `host` does not answer, or undefined when it does. unix:// and tcp:// sockets are
 * asked for Docker's /_ping; for ssh:// the SSH port must accept a connection (the docker CLI on the
 * far side is the provider's business). Other schemes are not checked.
 */
export async function engineProblem(host: string, timeoutMs = 5000): Promise<string | undefined> {
    let url: URL;
    try {
        url = new URL(host);
    } catch {
        return `"${host}" is not an address such as unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host`;
    }
    switch (url.protocol) {
        case "unix:":
            return ping({ socketPath: url.pathname }, timeoutMs);
        case "tcp:":
        case "http:":
            return ping({ host: url.hostname, port: Number(url.port || 2375) }, timeoutMs, url.protocol === "tcp:");
        case "ssh:":
            return connects(url.hostname, Number(url.port || 22), timeoutMs);
        default:
            return undefined;
    }
}

function ping(
    target: { socketPath: string } | { host: string; port: number },
    timeoutMs: number,
    tlsPossible = false,
): Promise<string | undefined> {
    return new Promise(resolve => {
        const req = http.get({ ...target, path: "/_ping", timeout: timeoutMs }, res => {
            res.resume();
            // A TLS-only daemon answers plain HTTP with 400: it is there.
            resolve(
                res.statusCode === 200 || (tlsPossible && res.statusCode === 400)
                    ? undefined
                    : `HTTP ${res.statusCode}`,
            );
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
        req.on("error", e => resolve(socketError(e, "socketPath" in target ? target.socketPath : undefined)));
    });
}

function connects(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
    return new Promise(resolve => {
        const socket = net.connect({ host, port, timeout: timeoutMs });
        socket.on("connect", () => {
            socket.destroy();
            resolve(undefined);
        });
        socket.on("timeout", () => socket.destroy(new Error(`no answer on port ${port} within ${timeoutMs / 1000} s`)));
        socket.on("error", e => resolve(socketError(e)));
    });
}

function socketError(e: Error & { code?: string }, socketPath?: string): string {
    switch (e.code) {
        case "ENOENT":
            return socketPath ? `no socket at ${socketPath}` : e.message;
        case "ECONNREFUSED":
            return socketPath ? `nothing listens on ${socketPath}` : "connection refused";
        case "EACCES":
            return `permission denied${socketPath ? ` on ${socketPath}` : ""}`;
        case "ENOTFOUND":
        case "EAI_AGAIN":
            return `the host name does not resolve (${e.code})`;
        default:
            return e.message;
    }
}
