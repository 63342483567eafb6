// Delivery benchmark: the same loads (bench/smtp-load.ts) against this project's stack (deployed
// through the real engine), against stock Debian 13 Postfix delivering to ~/Maildir/ and against
// the peer stack (the same Debian daemons wired as the classic guides wire them), one after the other.
import { execFile, spawnSync } from "child_process";
import * as net from "net";
import * as path from "path";
import { promisify } from "util";
import { docker } from "../test/live/clients";
import { deploy, deployAsync, destroy, liveConfig, portsFrom, ROOT } from "../test/live/stack";
import { cpuPerMessage, cpuSample } from "./cpu";
import { quantile, smtpLoad } from "./smtp-load";

export const STACK_PREFIX = "benchmark";
const STACK_PORTS = portsFrom(29000);
export const STOCK_CONTAINER = "mailbench-stock";
const STOCK_IMAGE = "mailbench-stock-postfix:latest";
/** Outside the stack's ports (29025 ... 29995). */
const STOCK_PORT = 29925;
export const PEER_CONTAINER = "mailbench-peer";
const PEER_IMAGE = "mailbench-peer-stack:latest";
/** The peer's ports, outside the stack's and stock Postfix's: its Postfix, rspamd's proxy (milter),
 *  normal and controller workers (fuzzy storage: 29935, off by default), Valkey, and the stand-in
 *  resolver its rspamd asks (bench/peer-stack/nxdomain.pl). */
const PEER_PORTS = { smtp: 29926, proxy: 29932, normal: 29933, controller: 29934, valkey: 29979, resolver: 29953 };
export const STOCK_NAME = "stock Postfix";
export const PEER_NAME = "peer stack";
export const STACK_NAME = "this project";
const DOMAIN = "example.test";
const USERS = ["alice", "bob", "carol"];
const ADDRESSES = USERS.map(u => `${u}@${DOMAIN}`);
const SENDER = "bench@sender.example";
/** Message body length in bytes (the issue's "5 KB", smtp-source's -l). */
const MESSAGE_BYTES = 5000;

/** A configuration change deployed through the engine while a load runs (this project only). */
export type Change = "add a mailbox" | "change dovecot.conf";

export interface LoadSpec {
    name: string;
    /** Deployed one second into the load; stock Postfix and the peer stack skip such a load. */
    during?: Change;
    /** Recipients; the messages and sessions are split evenly between them. */
    recipients: string[];
    messages: number;
    sessions: number;
}

export function loads(messages: number, sessions: number): LoadSpec[] {
    return [
        { name: `${messages} to one mailbox`, recipients: [ADDRESSES[1]], messages, sessions },
        { name: `${messages} over three mailboxes`, recipients: ADDRESSES, messages, sessions },
        // The issue's third goal: no deferral while configuration changes reach the running services.
        {
            name: `${messages} to one mailbox while a mailbox is added (pulumi up)`,
            recipients: [ADDRESSES[1]],
            messages,
            sessions,
            during: "add a mailbox",
        },
        {
            name: `${messages} to one mailbox while dovecot.conf changes (pulumi up, Dovecot reloads)`,
            recipients: [ADDRESSES[1]],
            messages,
            sessions,
            during: "change dovecot.conf",
        },
    ];
}

export interface LoadResult {
    load: string;
    system: string;
    messages: number;
    /** The load client's wall time: every message accepted (or refused) by the server. */
    acceptSeconds: number;
    /** Refusals and session errors of the load client (the first few, and how many in all). */
    sendError?: string;
    /** Milliseconds from the end of a message's data (the final "." written) to the server's 250,
     *  over the accepted messages. */
    latencyMs?: { p50: number; p90: number; p99: number; max: number; samples: number };
    /** Postfix warnings about its milter (rspamd): mail that went through unscanned, or waited. */
    milterWarnings?: number;
    /** CPU milliseconds per delivered message: each container, the Docker daemons, the load client. */
    cpuMsPerMessage?: Record<string, number>;
    delivered: number;
    /** From the first message sent until the last one was in a mailbox (or the bound). */
    deliverSeconds: number;
    deferred: number;
    /** Log lines with a 451 reply (Dovecot's "Too many concurrent deliveries", ...). */
    replies451: number;
    /** Log lines with a 421 reply (a service closing a session it had open, e.g. on reload). */
    replies421?: number;
    /** Deferred messages the Postfix container retried at once after a Dovecot reload. */
    retriedAtOnce?: number;
    /** The configuration change deployed during the load, and whether its `up` succeeded. */
    change?: string;
}

interface System {
    name: string;
    port: number;
    /** Every container of the system, for the CPU time of each (bench/cpu.ts). */
    containers: () => string[];
    /** Container whose logs are Postfix's. */
    postfix: string;
    /** Container that sees the Maildirs, and their paths. */
    store: string;
    maildirs: string[];
}

/** A command in a container, without blocking this process: the load client runs in its event loop,
 *  and a synchronous docker exec would hold its replies unread (and its latencies up) meanwhile. */
async function execIn(container: string, script: string): Promise<string> {
    const { stdout } = await promisify(execFile)("docker", ["exec", container, "sh", "-c", script], {
        maxBuffer: 16 << 20,
    });
    return stdout.trim();
}

/** Messages in these Maildirs now: the files in new/ and cur/. */
async function countMessages(system: System): Promise<number> {
    const dirs = system.maildirs.flatMap(d => [`${d}/new`, `${d}/cur`]).join(" ");
    // A Maildir appears with its first message; find's complaint about a missing one is expected.
    return Number(await execIn(system.store, `find ${dirs} -type f 2>/dev/null | wc -l`));
}

/** When the newest message was written (epoch seconds): the file times in the Maildirs. */
async function newestMessage(system: System): Promise<number> {
    const dirs = system.maildirs.flatMap(d => [`${d}/new`, `${d}/cur`]).join(" ");
    return Number(await execIn(system.store, `find ${dirs} -type f -printf '%T@\\n' | sort -n | tail -n 1`));
}

function logsSince(container: string, since: number): string {
    const r = spawnSync("docker", ["logs", "--since", String(since), container], {
        encoding: "utf8",
        maxBuffer: 256 << 20,
    });
    return `${r.stdout}${r.stderr}`;
}

/** One load client run: `messages` messages to `recipient` over `sessions` sessions. */
function send(port: number, recipient: string, messages: number, sessions: number, boundSeconds: number) {
    return smtpLoad({
        port,
        from: SENDER,
        to: recipient,
        messages,
        sessions,
        bodyBytes: MESSAGE_BYTES,
        boundSeconds,
    });
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

async function runLoad(
    system: System,
    load: LoadSpec,
    boundSeconds: number,
    change?: () => Promise<string>,
): Promise<LoadResult> {
    const before = await countMessages(system);
    const cpuBefore = cpuSample(system.containers());
    const since = Math.floor(Date.now() / 1000);
    const started = Date.now();
    const elapsed = () => (Date.now() - started) / 1000;
    // The messages and the 20 sessions are split between the recipients, sent at the same time.
    const n = load.recipients.length;
    const sends = load.recipients.map((to, i) =>
        send(
            system.port,
            to,
            Math.floor(load.messages / n) + (i < load.messages % n ? 1 : 0),
            Math.floor(load.sessions / n) + (i < load.sessions % n ? 1 : 0),
            boundSeconds,
        ),
    );
    const changed = change ? sleep(1000).then(change) : Promise.resolve(undefined);
    let acceptSeconds = 0;
    const latencies: number[] = [];
    const sent = Promise.all(sends).then(runs => {
        acceptSeconds = elapsed();
        for (const r of runs) latencies.push(...r.latenciesMs);
        const errors = runs.flatMap(r => r.errors);
        return errors.length ? `${errors.length} errors: ${errors.slice(0, 3).join("; ")}` : "";
    });
    let delivered = 0,
        deliverSeconds = 0;
    while (elapsed() < boundSeconds) {
        delivered = (await countMessages(system)) - before;
        deliverSeconds = elapsed();
        if (delivered >= load.messages) {
            // The last message's file time is exact; the poll that saw it came up to a poll interval later.
            deliverSeconds = Math.min(deliverSeconds, (await newestMessage(system)) - started / 1000);
            break;
        }
        await sleep(250);
    }
    const sendError = await sent;
    const cpuAfter = cpuSample(system.containers());
    const changeResult = await changed;
    const logs = logsSince(system.postfix, since - 1).split("\n");
    const q = (p: number) => Number(quantile(latencies, p)!.toFixed(1));
    return {
        load: load.name,
        system: system.name,
        messages: load.messages,
        acceptSeconds,
        sendError: sendError || undefined,
        ...(latencies.length
            ? { latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1), samples: latencies.length } }
            : {}),
        milterWarnings: logs.filter(l => /warning: .*milter/i.test(l)).length,
        cpuMsPerMessage: cpuPerMessage(cpuBefore, cpuAfter, delivered),
        delivered,
        deliverSeconds,
        deferred: logs.filter(l => /status=deferred/.test(l)).length,
        replies451: logs.filter(l => /\b451[ -]/.test(l)).length,
        replies421: logs.filter(l => /\b421[ -]/.test(l)).length,
        retriedAtOnce: logs.filter(l => /retrying \S+ at once after a Dovecot reload/.test(l)).length,
        ...(changeResult ? { change: changeResult } : {}),
    };
}

/** Drops what is still queued (deferred mail of an unfinished load), so the next load starts clean. */
function emptyQueue(system: System): void {
    docker(["exec", system.postfix, "postsuper", "-d", "ALL"]);
}

/** One message to each mailbox, delivered before measuring: the Maildirs exist, the processes run. */
async function warmUp(system: System): Promise<void> {
    const before = await countMessages(system);
    for (const to of ADDRESSES) {
        const r = await send(system.port, to, 1, 1, 30);
        if (r.errors.length) throw new Error(`${system.name}: warm-up message to ${to} refused: ${r.errors[0]}`);
    }
    for (const deadline = Date.now() + 30_000; (await countMessages(system)) - before < ADDRESSES.length;) {
        if (Date.now() > deadline) throw new Error(`${system.name}: warm-up messages not delivered within 30 s`);
        await sleep(250);
    }
}

export function cleanupDelivery(): void {
    for (const c of [STOCK_CONTAINER, PEER_CONTAINER]) spawnSync("docker", ["rm", "-f", "-v", c], { stdio: "ignore" });
    destroy(STACK_PREFIX);
}

/** Builds bench/<dir> into `image` with these build args. */
function build(dir: string, image: string, args: Record<string, string | number>, what: string): void {
    // The project's images are built the same way: the host's network for apt.
    const r = spawnSync(
        "docker",
        [
            "build",
            "-q",
            "--network",
            "host",
            ...Object.entries(args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
            "-t",
            image,
            path.join(ROOT, "bench", dir),
        ],
        { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`building the ${what} image failed:\n${r.stderr}${r.stdout}`);
}

function startStock(): System {
    build("stock-postfix", STOCK_IMAGE, { SMTP_PORT: STOCK_PORT, DOMAIN }, "stock Postfix");
    docker(["run", "-d", "--name", STOCK_CONTAINER, "--network", "host", STOCK_IMAGE]);
    return {
        name: STOCK_NAME,
        port: STOCK_PORT,
        containers: () => [STOCK_CONTAINER],
        postfix: STOCK_CONTAINER,
        store: STOCK_CONTAINER,
        maildirs: USERS.map(u => `/home/${u}/Maildir`),
    };
}

/** Starts the peer stack's container; its rspamd needs a while (waitForPeer) before mail is scanned. */
function startPeer(): System {
    build(
        "peer-stack",
        PEER_IMAGE,
        {
            SMTP_PORT: PEER_PORTS.smtp,
            RSPAMD_PROXY_PORT: PEER_PORTS.proxy,
            RSPAMD_NORMAL_PORT: PEER_PORTS.normal,
            RSPAMD_CONTROLLER_PORT: PEER_PORTS.controller,
            VALKEY_PORT: PEER_PORTS.valkey,
            RESOLVER_PORT: PEER_PORTS.resolver,
            DOMAIN,
        },
        "peer stack",
    );
    docker(["run", "-d", "--name", PEER_CONTAINER, "--network", "host", PEER_IMAGE]);
    return {
        name: PEER_NAME,
        port: PEER_PORTS.smtp,
        containers: () => [PEER_CONTAINER],
        postfix: PEER_CONTAINER,
        store: PEER_CONTAINER,
        maildirs: USERS.map(u => `/var/vmail/${DOMAIN}/${u}/Maildir`),
    };
}

const listening = (port: number) =>
    new Promise<boolean>(resolve => {
        const s = net.connect({ host: "127.0.0.1", port }, () => {
            s.destroy();
            resolve(true);
        });
        s.on("error", () => resolve(false));
    });

/** Until Postfix and rspamd's proxy and normal workers listen: before that, mail skips the milter. */
async function waitForPeer(): Promise<void> {
    for (const deadline = Date.now() + 120_000; ;) {
        const up = await Promise.all([PEER_PORTS.smtp, PEER_PORTS.proxy, PEER_PORTS.normal].map(listening));
        if (up.every(Boolean)) return;
        if (Date.now() > deadline) throw new Error("peer stack: Postfix and rspamd not listening within 120 s");
        await sleep(500);
    }
}

/** The stack's config: USERS plus `extra` more mailboxes, and Sieve vacation limits (dovecot.conf). */
function stackConfig(extra: number, vacationDays: number): Record<string, unknown> {
    const users = [...USERS, ...Array.from({ length: extra }, (_, i) => `extra${i + 1}`)];
    return liveConfig(
        {
            "mailserver:domains": [{ domain: DOMAIN, mailboxes: users.map(address => ({ address })) }],
            "mailserver:passwords": Object.fromEntries(
                users.map(u => `${u}@${DOMAIN}`).map(a => [a, `${a}-Bench-Secret-2026!`]),
            ),
            "mailserver:vacation": { defaultPeriod: `${vacationDays}d` },
        },
        STACK_PREFIX,
        29000,
    );
}

/** What the stack runs now; each change deploys the next state through the engine. */
const deployed = { extra: 0, vacationDays: 7 };

async function deployChange(change: Change): Promise<string> {
    if (change === "add a mailbox") deployed.extra++;
    else deployed.vacationDays = deployed.vacationDays === 7 ? 8 : 7;
    try {
        const r = await deployAsync(stackConfig(deployed.extra, deployed.vacationDays));
        return `${change}: up succeeded, ${r.replaced.length ? `replaced ${r.replaced.join(" ")}` : "no container replaced"}`;
    } catch (e) {
        return `${change}: up FAILED: ${e instanceof Error ? e.message.split("\n")[0] : e}`;
    }
}

function startStack(): System {
    deploy(stackConfig(deployed.extra, deployed.vacationDays));
    const dovecot = `${STACK_PREFIX}-dovecot`;
    // Where Dovecot keeps each mailbox (mail_path = ~/Maildir), asked rather than assumed.
    const maildirs = ADDRESSES.map(a => `${docker(["exec", dovecot, "doveadm", "user", "-f", "home", a])}/Maildir`);
    return {
        name: STACK_NAME,
        port: STACK_PORTS.smtp,
        // The running services (config jobs have ended): per container, named by service.
        containers: () =>
            spawnSync(
                "docker",
                ["ps", "--filter", `label=mailserver.stack=${STACK_PREFIX}`, "--format", "{{.Names}}"],
                { encoding: "utf8" },
            )
                .stdout.split("\n")
                .filter(Boolean),
        postfix: `${STACK_PREFIX}-postfix`,
        store: dovecot,
        maildirs,
    };
}

/** Runs each load against every system, appending each result to `results` as soon as it is measured. */
export async function deliveryBenchmark(
    specs: LoadSpec[],
    boundSeconds: number,
    results: LoadResult[],
    log: (s: string) => void,
): Promise<void> {
    log("delivery: building and starting stock Postfix");
    const stock = startStock();
    log("delivery: building and starting the peer stack");
    const peer = startPeer();
    log(`delivery: deploying this project's stack "${STACK_PREFIX}" through the engine`);
    const stack = startStack();
    await waitForPeer();
    for (const system of [stock, peer, stack]) await warmUp(system);
    for (const load of specs) {
        for (const system of load.during ? [stack] : [stock, peer, stack]) {
            log(`delivery: ${load.name}, ${system.name}`);
            const r = await runLoad(system, load, boundSeconds, load.during && (() => deployChange(load.during!)));
            log(
                `  accepted in ${r.acceptSeconds.toFixed(1)} s, ` +
                    `${r.latencyMs ? `DATA->250 p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms, ` : ""}` +
                    `${r.delivered} delivered after ${r.deliverSeconds.toFixed(1)} s, ` +
                    `${r.deferred} deferred, ${r.replies451} 451 and ${r.replies421} 421 replies` +
                    `${r.change ? `; ${r.change}` : ""}${r.sendError ? `; ${r.sendError}` : ""}`,
            );
            results.push(r);
            if (r.delivered < load.messages) emptyQueue(system);
        }
    }
}
