// npm run bench [-- options]: throughput and DATA->250 latency against stock Debian Postfix and a
// peer stack of the same Debian daemons (issues 11, 23), and preview time and memory (issue 11).
// Separate from the tests: it asserts nothing, it prints figures (Markdown tables).
//   --sizes 10,100,1000    preview sizes, in domains of 10 mailboxes each (default 10,100,1000)
//   --messages 3000        messages per delivery load (default 3000), --sessions 20 (default 20)
//   --delivery-bound 300   seconds a load may take until every message is delivered (default 300)
//   --preview-bound 600    seconds each preview step may take (default 600)
//   --passwords plain      "plain": mailbox passwords, hashed by the program; "hashed": passwordHashes given
//   --skip-delivery, --skip-preview
//   --skip-floor           the preview steps of the mail stack only, not the engine's floor at the same size
// Everything it deploys is removed at the end, also after a failure or Ctrl-C.
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { ARTIFACTS } from "../test/live/stack";
import { cleanupDelivery, deliveryBenchmark, LoadResult, loads, PEER_NAME, STOCK_NAME } from "./delivery";
import { killTree, running } from "./measure";
import { cleanupPreview, previewBenchmark, PROGRAMS, StepResult, STEPS } from "./preview";

const { values: opts } = parseArgs({
    options: {
        sizes: { type: "string", default: "10,100,1000" },
        messages: { type: "string", default: "3000" },
        sessions: { type: "string", default: "20" },
        "delivery-bound": { type: "string", default: "300" },
        "preview-bound": { type: "string", default: "600" },
        "skip-delivery": { type: "boolean", default: false },
        "skip-preview": { type: "boolean", default: false },
        "skip-floor": { type: "boolean", default: false },
        passwords: { type: "string", default: "plain" },
    },
});

function positive(name: string, value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: a positive whole number, not "${value}"`);
    return n;
}

const log = (s: string) => process.stderr.write(`# ${s}\n`);

/** What was measured so far: printed at the end, also after a failure or a signal. */
const measured = { delivery: [] as LoadResult[], preview: [] as StepResult[] };
let settings = { messages: 0, sessions: 0, deliveryBound: 0, previewBound: 0 };

function cleanup(): void {
    for (const pid of running) killTree(pid);
    cleanupDelivery();
    cleanupPreview();
}

function table(header: string[], rows: string[][]): string {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

const rate = (n: number, seconds: number) => (seconds > 0 ? n / seconds : 0);

function deliveryTable(results: LoadResult[]): string {
    const deliveredRate = (r: LoadResult) => rate(r.delivered, r.deliverSeconds);
    /** The plain load a result belongs to: its own, or for a load with a configuration change the
     *  load it extends ("... to one mailbox" for "... to one mailbox while ..."). */
    const plainLoad = (r: LoadResult) =>
        results.find(s => !s.change && s.system === r.system && (s.load === r.load || r.load.startsWith(`${s.load} `)))
            ?.load ?? r.load;
    const ratio = (r: LoadResult, base?: LoadResult) =>
        !base ? "" : base === r ? "1" : (deliveredRate(r) / deliveredRate(base)).toFixed(2);
    const rows = results.map(r => {
        const plain = plainLoad(r);
        const baseline = (system: string) => results.find(s => s.system === system && s.load === plain);
        const complete = r.delivered >= r.messages;
        const withoutChange = r.change ? results.find(s => s.system === r.system && s.load === plain) : undefined;
        return [
            r.load,
            r.system,
            rate(r.messages, r.acceptSeconds).toFixed(0),
            complete ? deliveredRate(r).toFixed(0) : `${deliveredRate(r).toFixed(0)} (incomplete)`,
            `${r.delivered} of ${r.messages} in ${r.deliverSeconds.toFixed(1)} s`,
            r.latencyMs ? `${r.latencyMs.p50.toFixed(0)} / ${r.latencyMs.p99.toFixed(0)}` : "",
            r.retriedAtOnce ? `${r.deferred} (${r.retriedAtOnce} retried at once)` : String(r.deferred),
            `${r.replies451} / ${r.replies421 ?? 0}`,
            ratio(r, baseline(STOCK_NAME)),
            ratio(r, baseline(PEER_NAME)),
            withoutChange ? ratio(r, withoutChange) : "",
            [
                r.change,
                r.milterWarnings ? `${r.milterWarnings} milter warnings` : "",
                r.sendError ? `load client: ${r.sendError.split(":")[0]}, see the log` : "",
            ]
                .filter(Boolean)
                .join("; "),
        ];
    });
    return table(
        [
            "load",
            "system",
            "accepted/s",
            "delivered/s",
            "delivered",
            "DATA->250 p50 / p99 (ms)",
            "deferrals",
            "451 / 421 replies",
            "ratio to stock (delivered)",
            "ratio to peer stack (delivered)",
            "ratio to the load without the change (delivered)",
            "notes",
        ],
        rows,
    );
}

function cpuTable(results: LoadResult[]): string {
    const rows = results
        .filter(r => r.cpuMsPerMessage && Object.keys(r.cpuMsPerMessage).length > 0)
        .map(r => {
            const parts = Object.entries(r.cpuMsPerMessage!).sort(([, a], [, b]) => b - a);
            const sum = parts.reduce((n, [, v]) => n + v, 0);
            return [r.load, r.system, sum.toFixed(1), parts.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")];
        });
    return table(["load", "system", "CPU ms per message", "by part (ms)"], rows);
}

function previewTable(results: StepResult[]): string {
    const sizes = [...new Set(results.map(r => `${r.domains} ${r.passwords}`))].map(k => {
        const [d, p] = k.split(" ");
        return { d: Number(d), p };
    });
    const cell = (r?: StepResult) => {
        if (!r) return "";
        if (r.note) return r.note;
        const m = r.measured!;
        // The engine's steps other than "same": 0 shows the second preview found nothing to change.
        const changes =
            r.changes && Object.entries(r.changes).reduce((n, [k, v]) => (k === "same" || k === "read" ? n : n + v), 0);
        const figures = `${m.seconds.toFixed(1)} s, ${m.peakTreeMb.toFixed(0)} MB`;
        return changes === undefined ? figures : `${figures}, ${changes} changes`;
    };
    // The mail stack's engine steps as a multiple of the floor holding its DKIM keys: time / memory.
    const ratio = (stack?: StepResult, floor?: StepResult) =>
        stack?.measured && floor?.measured && !stack.note && !floor.note
            ? `${(stack.measured.seconds / floor.measured.seconds).toFixed(1)}x / ` +
              `${(stack.measured.peakTreeMb / floor.measured.peakTreeMb).toFixed(1)}x`
            : "";
    const engineSteps = STEPS.filter(s => s !== "mocks");
    const rows = sizes.flatMap(({ d, p }) =>
        PROGRAMS.filter(program =>
            results.some(r => r.domains === d && r.passwords === p && r.program === program),
        ).map(program => {
            const find = (prog: string, s: string) =>
                results.find(r => r.domains === d && r.passwords === p && r.program === prog && r.step === s);
            return [
                `${d} x 10 (${d * 10} mailboxes), ${p === "plain" ? "passwords" : "passwordHashes"}`,
                program,
                ...STEPS.map(s => cell(find(program, s))),
                program === "mail stack"
                    ? engineSteps.map(s => ratio(find(program, s), find("floor: DKIM keys only", s))).join("; ")
                    : "",
            ];
        }),
    );
    return table(
        [
            "domains x mailboxes",
            "program",
            "program under mocks",
            "first preview (engine)",
            "up (engine)",
            "unchanged second preview (engine)",
            "ratio to the DKIM-keys floor, time / memory (first preview; up; unchanged preview)",
        ],
        rows,
    );
}

function report(): void {
    const { messages, sessions, deliveryBound, previewBound } = settings;
    const out: string[] = [];
    if (measured.delivery.length) {
        out.push(
            `## Delivery: ${sessions} SMTP sessions (bench/smtp-load.ts), ${messages} messages of 5 KB per load, ` +
                `bound ${deliveryBound} s`,
            "",
            deliveryTable(measured.delivery),
            "",
            "delivered/s: messages in the mailboxes (files in Maildir new/ and cur/) divided by the time from the " +
                'first message sent until the last one was there. DATA->250: from the final "." of a message ' +
                "written to the socket until the server's 250, over the accepted messages. deferrals: Postfix log " +
                "lines with status=deferred. Ratios: delivered/s over the baseline's in the same load (for a load " +
                "with a configuration change, the baselines' plain load).",
            "",
            "### Where the CPU goes: milliseconds per delivered message",
            "",
            cpuTable(measured.delivery),
            "",
            "Each container's CPU time from its cgroup over the load, divided by the messages delivered; " +
                "dockerd + containerd carry the containers' log lines; the load client is this process. With 2 " +
                "cores, 1,000 / (the sum / 2) messages a second is the most the machine can deliver.",
            "",
        );
    }
    if (measured.preview.length) {
        out.push(
            `## Preview: wall time and peak memory, bound ${previewBound} s per step`,
            "",
            previewTable(measured.preview),
            "",
            "Memory: peak resident set size summed over the process tree (the node process evaluating the " +
                'program, the Pulumi CLI and its provider plugins), sampled every 200 ms. "program under mocks": ' +
                'index.ts evaluated as the preview of a new stack, no engine. "floor": a program with as many ' +
                "resources that do nothing else (bench/floor-step.ts), on the same engine. " +
                '"up": the first deploy of that size ' +
                "(images from Docker's build cache, containers started and healthy). \"changes\": the engine's steps " +
                'other than "same".',
            "",
        );
    }
    process.stdout.write(`${out.join("\n")}\n`);
    const preview = measured.preview.map(r => ({
        ...r,
        measured: r.measured && { ...r.measured, stdout: "", stderr: "" },
    }));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(
        path.join(ARTIFACTS, "bench-results.json"),
        JSON.stringify({ date: new Date().toISOString(), settings, delivery: measured.delivery, preview }, null, 2),
    );
}

async function main(): Promise<void> {
    const sizes = opts.sizes!.split(",").map(s => positive("sizes", s.trim()));
    settings = {
        messages: positive("messages", opts.messages!),
        sessions: positive("sessions", opts.sessions!),
        deliveryBound: positive("delivery-bound", opts["delivery-bound"]!),
        previewBound: positive("preview-bound", opts["preview-bound"]!),
    };
    // Leftovers of an interrupted run would hold the ports and names.
    cleanup();
    try {
        if (!opts["skip-delivery"]) {
            await deliveryBenchmark(
                loads(settings.messages, settings.sessions),
                settings.deliveryBound,
                measured.delivery,
                log,
            );
            cleanupDelivery();
        }
        const passwords = opts.passwords === "hashed" ? "hashed" : "plain";
        if (opts.passwords !== passwords) throw new Error(`--passwords: "plain" or "hashed", not "${opts.passwords}"`);
        if (!opts["skip-preview"]) {
            await previewBenchmark(sizes, passwords, settings.previewBound, measured.preview, log, !opts["skip-floor"]);
        }
    } finally {
        cleanup();
        report();
    }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
        log(`${signal}: removing what the benchmark deployed`);
        cleanup();
        report();
        process.exit(130);
    });
}

main().catch(e => {
    log(`failed: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
});
