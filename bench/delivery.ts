// Delivery benchmark: the same smtp-source loads against this project's stack (deployed through
// the real engine) and against stock Debian 13 Postfix delivering to ~/Maildir/, one after the other.
import { spawn, spawnSync } from "child_process";
import * as path from "path";
import { docker } from "../test/live/clients";
import { deploy, deployAsync, destroy, liveConfig, portsFrom, ROOT } from "../test/live/stack";

export const STACK_PREFIX = "benchmark";
const STACK_PORTS = portsFrom(29000);
export const STOCK_CONTAINER = "mailbench-stock";
const STOCK_IMAGE = "mailbench-stock-postfix:latest";
/** Outside the stack's ports (29025 ... 29995). */
const STOCK_PORT = 29925;
const DOMAIN = "example.test";
const USERS = ["alice", "bob", "carol"];
const ADDRESSES = USERS.map(u => `${u}@${DOMAIN}`);
const SENDER = "bench@sender.example";
/** smtp-source message length in bytes (the issue's "5 KB"). */
const MESSAGE_BYTES = 5000;

/** A configuration change deployed through the engine while a load runs (this project only). */
export type Change = "add a mailbox" | "change dovecot.conf";

export interface LoadSpec {
    name: string;
    /** Deployed one second into the load; stock Postfix has no such change and skips the load. */
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
    /** smtp-source's wall time: every message accepted (or refused) by the server. */
    acceptSeconds: number;
    /** smtp-source exit status other than 0, with its output: refusals or errors. */
    sendError?: string;
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
    /** Container whose logs are Postfix's. */
    postfix: string;
    /** Container that sees the Maildirs, and their paths. */
    store: string;
    maildirs: string[];
}

/** Messages in these Maildirs now: the files in new/ and cur/. */
function countMessages(system: System): number {
    const dirs = system.maildirs.flatMap(d => [`${d}/new`, `${d}/cur`]).join(" ");
    // A Maildir appears with its first message; find's complaint about a missing one is expected.
    const out = docker(["exec", system.store, "sh", "-c", `find ${dirs} -type f 2>/dev/null | wc -l`]);
    return Number(out);
}

/** When the newest message was written (epoch seconds): the file times in the Maildirs. */
function newestMessage(system: System): number {
    const dirs = system.maildirs.flatMap(d => [`${d}/new`, `${d}/cur`]).join(" ");
    return Number(
        docker(["exec", system.store, "sh", "-c", `find ${dirs} -type f -printf '%T@\\n' | sort -n | tail -n 1`]),
    );
}

function logsSince(container: string, since: number): string {
    const r = spawnSync("docker", ["logs", "--since", String(since), container], {
        encoding: "utf8",
        maxBuffer: 256 << 20,
    });
    return `${r.stdout}${r.stderr}`;
}

/** Runs smtp-source in the stock container (host network): the same client binary for both systems. */
function smtpSource(
    port: number,
    recipient: string,
    messages: number,
    sessions: number,
    boundSeconds: number,
): Promise<string | undefined> {
    const args = [
        "exec",
        STOCK_CONTAINER,
        "timeout",
        String(boundSeconds),
        "smtp-source",
        "-s",
        String(sessions),
        "-l",
        String(MESSAGE_BYTES),
        "-m",
        String(messages),
        "-f",
        SENDER,
        "-t",
        recipient,
        `127.0.0.1:${port}`,
    ];
    return new Promise(resolve => {
        const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", d => {
            out += d;
        });
        child.stderr.on("data", d => {
            out += d;
        });
        child.on("close", code =>
            resolve(code === 0 ? undefined : `smtp-source exit ${code}: ${out.trim().slice(0, 500)}`),
        );
    });
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

async function runLoad(
    system: System,
    load: LoadSpec,
    boundSeconds: number,
    change?: () => Promise<string>,
): Promise<LoadResult> {
    const before = countMessages(system);
    const since = Math.floor(Date.now() / 1000);
    const started = Date.now();
    const elapsed = () => (Date.now() - started) / 1000;
    // The messages and the 20 sessions are split between the recipients, sent at the same time.
    const n = load.recipients.length;
    const sends = load.recipients.map((to, i) =>
        smtpSource(
            system.port,
            to,
            Math.floor(load.messages / n) + (i < load.messages % n ? 1 : 0),
            Math.floor(load.sessions / n) + (i < load.sessions % n ? 1 : 0),
            boundSeconds,
        ),
    );
    const changed = change ? sleep(1000).then(change) : Promise.resolve(undefined);
    let acceptSeconds = 0;
    const sent = Promise.all(sends).then(errors => {
        acceptSeconds = elapsed();
        return errors.filter(Boolean).join("\n");
    });
    let delivered = 0,
        deliverSeconds = 0;
    while (elapsed() < boundSeconds) {
        delivered = countMessages(system) - before;
        deliverSeconds = elapsed();
        if (delivered >= load.messages) {
            // The last message's file time is exact; the poll that saw it came up to a poll interval later.
            deliverSeconds = Math.min(deliverSeconds, newestMessage(system) - started / 1000);
            break;
        }
        await sleep(250);
    }
    const sendError = await sent;
    const changeResult = await changed;
    const logs = logsSince(system.postfix, since - 1).split("\n");
    return {
        load: load.name,
        system: system.name,
        messages: load.messages,
        acceptSeconds,
        sendError: sendError || undefined,
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
    const before = countMessages(system);
    for (const to of ADDRESSES) {
        const error = await smtpSource(system.port, to, 1, 1, 30);
        if (error) throw new Error(`${system.name}: warm-up message to ${to} refused: ${error}`);
    }
    for (const deadline = Date.now() + 30_000; countMessages(system) - before < ADDRESSES.length;) {
        if (Date.now() > deadline) throw new Error(`${system.name}: warm-up messages not delivered within 30 s`);
        await sleep(250);
    }
}

export function cleanupDelivery(): void {
    spawnSync("docker", ["rm", "-f", "-v", STOCK_CONTAINER], { stdio: "ignore" });
    destroy(STACK_PREFIX);
}

function startStock(): System {
    // The project's images are built the same way: the host's network for apt.
    const build = spawnSync(
        "docker",
        [
            "build",
            "-q",
            "--network",
            "host",
            "--build-arg",
            `SMTP_PORT=${STOCK_PORT}`,
            "--build-arg",
            `DOMAIN=${DOMAIN}`,
            "-t",
            STOCK_IMAGE,
            path.join(ROOT, "bench", "stock-postfix"),
        ],
        { encoding: "utf8" },
    );
    if (build.status !== 0) throw new Error(`building the stock Postfix image failed:\n${build.stderr}${build.stdout}`);
    docker(["run", "-d", "--name", STOCK_CONTAINER, "--network", "host", STOCK_IMAGE]);
    return {
        name: "stock Postfix",
        port: STOCK_PORT,
        postfix: STOCK_CONTAINER,
        store: STOCK_CONTAINER,
        maildirs: USERS.map(u => `/home/${u}/Maildir`),
    };
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
        name: "this project",
        port: STACK_PORTS.smtp,
        postfix: `${STACK_PREFIX}-postfix`,
        store: dovecot,
        maildirs,
    };
}

/** Runs each load against both systems, appending each result to `results` as soon as it is measured. */
export async function deliveryBenchmark(
    specs: LoadSpec[],
    boundSeconds: number,
    results: LoadResult[],
    log: (s: string) => void,
): Promise<void> {
    log("delivery: building and starting stock Postfix");
    const stock = startStock();
    log(`delivery: deploying this project's stack "${STACK_PREFIX}" through the engine`);
    const stack = startStack();
    for (const system of [stock, stack]) await warmUp(system);
    for (const load of specs) {
        for (const system of load.during ? [stack] : [stock, stack]) {
            log(`delivery: ${load.name}, ${system.name}`);
            const r = await runLoad(system, load, boundSeconds, load.during && (() => deployChange(load.during!)));
            log(
                `  accepted in ${r.acceptSeconds.toFixed(1)} s, ` +
                    `${r.delivered} delivered after ${r.deliverSeconds.toFixed(1)} s, ` +
                    `${r.deferred} deferred, ${r.replies451} 451 and ${r.replies421} 421 replies` +
                    `${r.change ? `; ${r.change}` : ""}${r.sendError ? `; ${r.sendError}` : ""}`,
            );
            results.push(r);
            if (r.delivered < load.messages) emptyQueue(system);
        }
    }
}
