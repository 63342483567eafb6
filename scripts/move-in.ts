// Moves mailboxes in from another IMAP server (scripts/lib/move-in.ts says how and why):
//   npm run move-in -- <plan.json> --container <the stack's Dovecot container> [--final]
// The Dovecot container is the stack output dovecotContainer (npm run stack -- outputs <stack>).
// Prints, per mailbox, what doveadm did and how long it took; exits 1 if any mailbox failed.
import { spawnSync } from "child_process";
import * as fs from "fs";
import { caFileOf, doveadmArgs, imapcConfig, MoveInPlan, readMoveInPlan } from "./lib/move-in";

function usage(message: string): never {
    console.error(
        `move-in: ${message}\nusage: npm run move-in -- <plan.json> --container <dovecot container> [--final]`,
    );
    process.exit(2);
}

function docker(args: string[], input?: string) {
    return spawnSync("docker", args, { input, encoding: "utf8", maxBuffer: 64 << 20 });
}

export interface MoveInResult {
    address: string;
    ok: boolean;
    seconds: number;
    output: string;
}

/** Runs the plan in `container`, one mailbox after the other. */
export function moveIn(container: string, plan: MoveInPlan, final: boolean): MoveInResult[] {
    return plan.mailboxes.map((m, i) => {
        const file = `/tmp/move-in-${process.pid}-${i}.conf`;
        const t0 = Date.now();
        // The file holds the source password: made 0600 by root on the container's tmpfs, from stdin.
        const write = docker(
            ["exec", "-i", container, "sh", "-c", `umask 077 && cat > ${file}`],
            imapcConfig(plan.source, m, file),
        );
        const ca =
            plan.source.caPem === undefined
                ? write
                : docker(["exec", "-i", container, "sh", "-c", `cat > ${caFileOf(file)}`], plan.source.caPem);
        if (write.status !== 0 || ca.status !== 0)
            return { address: m.address, ok: false, seconds: 0, output: `${write.stderr}${ca.stderr}` };
        try {
            const r = docker(["exec", container, ...doveadmArgs(file, m.address, final)]);
            const output = `${r.stdout}${r.stderr}`.trim();
            return {
                address: m.address,
                ok: r.status === 0,
                seconds: (Date.now() - t0) / 1000,
                // backup makes this side a copy of the source, and cannot replace an INBOX that has a
                // history of its own here (mail delivered, or a login, before the first copy).
                output: /INBOX can't be deleted/.test(output)
                    ? `${output}\n${m.address} already has an INBOX of its own here: copy it with --final ` +
                      "(a one-way sync that keeps what is here) instead"
                    : output,
            };
        } finally {
            docker(["exec", container, "rm", "-f", file, caFileOf(file)]);
        }
    });
}

function main() {
    const args = process.argv.slice(2);
    const c = args.indexOf("--container");
    const container = c >= 0 ? args[c + 1] : undefined;
    const final = args.includes("--final");
    const [planFile, ...rest] = args.filter((a, i) => !a.startsWith("--") && (c < 0 || i !== c + 1));
    if (!planFile) usage("which plan file?");
    if (rest.length > 0) usage(`unexpected arguments: ${rest.join(" ")}`);
    if (!container) usage("--container <the stack's Dovecot container> is needed (stack output dovecotContainer)");
    if ((fs.statSync(planFile).mode & 0o077) !== 0)
        usage(`${planFile} holds passwords and is readable by others: chmod 600 ${planFile}`);
    const plan = readMoveInPlan(JSON.parse(fs.readFileSync(planFile, "utf8")));
    const results = moveIn(container, plan, final);
    for (const r of results)
        console.log(
            `${r.ok ? "ok" : "FAILED"} ${r.address} (${r.seconds.toFixed(1)} s)${r.output ? `\n  ${r.output.replace(/\n/g, "\n  ")}` : ""}`,
        );
    if (results.some(r => !r.ok)) process.exit(1);
}

if (require.main === module) main();
