// The example program on the real Pulumi engine (engine/build.sh's CLI and provider plugins,
// Automation API): what a user sees in `pulumi preview`, `up`, `refresh` and `destroy`, with mail
// flowing through the deployed stack while the engine works.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import nodemailer from "nodemailer";
import { caFile, containerIds, countBySubject, fetchBySubject, HOST, smtp, uniqueSubject } from "./clients";
import {
    BRIDGE_MODE,
    deploy,
    deployAsync,
    DeployResult,
    destroy,
    engineDir,
    liveConfig,
    portsFrom,
    ROOT,
    stackContainers,
    stackVolumes,
    USERS,
} from "./stack";
import { openStack } from "../../scripts/lib/engine";

const PREFIX = "enginetest";
const PORTS = portsFrom(25000);
// held.example goes to a next hop that refuses connections: mail to it waits in the queue.
const HELD = { domain: "held.example", nexthop: "[127.0.0.1]:9" };
// Bridge mode like the README's dev stack.
const config = (o: Record<string, unknown> = {}) =>
    liveConfig(
        {
            ...BRIDGE_MODE,
            "mailserver:transports": [HELD],
            // The private engine runs with iptables off, so its bridge networks reach no DNS server:
            // every rspamd lookup waits out its timeout (a scan on port 25 took 20 s, longer than the
            // clients wait), whatever resolver is named. This suite is about the engine; rspamd runs
            // in bridge mode in setup.test.ts (the dev stack) and is tested in deliverability.test.ts.
            "mailserver:spamFilter": { enabled: false },
            ...o,
        },
        PREFIX,
        25000,
    );
const ERIN = { address: "erin@example.test", password: "erin-Secret-2026!xx" };
const POLICY = path.join(ROOT, "policy");

let ca: string;

/** The config with erin@example.test added to example.test. */
function withErin(o: Record<string, unknown> = {}): Record<string, unknown> {
    const c = config(o);
    (c["mailserver:domains"] as any[])[0].mailboxes.push({ address: "erin" });
    (c["mailserver:passwords"] as Record<string, string>)[ERIN.address] = ERIN.password;
    return c;
}

const ids = () => containerIds(PREFIX);

/** Sends one message from outside on port 25 and asserts it was queued. */
function sendTo(to: string, subject: string, body = "hello"): void {
    const r = smtp({ port: PORTS.smtp, from: "someone@sender.example", to, subject, body });
    assert.equal(r.status, 0, r.transcript);
}

/** Only "same" steps: the engine would change nothing. */
function assertNoChanges(r: DeployResult, what: string): void {
    const changes = Object.entries(r.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
    assert.deepEqual(changes, [], `${what}: ${JSON.stringify(r.changeSummary)}`);
}

/** The engine's output of the last operation on this stack (the driver appends it to this log). */
function engineLog(): string {
    return spawnSync("tail", ["-c", "200000", path.join(ROOT, "test", ".artifacts", `engine-${PREFIX}.log`)], {
        encoding: "utf8",
    }).stdout;
}

/**
 * Resources in the stack's state file, or in the backup of the previous save the file backend
 * keeps beside it (each save first copies the file there).
 */
function stateResources(which: "state" | "previous save"): number {
    const file = path.join(engineDir(PREFIX), "state", ".pulumi", "stacks", "mailserver", `${PREFIX}.json`);
    const text = fs.readFileSync(which === "state" ? file : `${file}.bak`, "utf8");
    return (JSON.parse(text).checkpoint.latest?.resources ?? []).length;
}

describe("the real Pulumi engine, live", () => {
    before(() => destroy(PREFIX));
    after(() => destroy(PREFIX));

    test("preview of a new stack plans every resource and creates nothing", () => {
        const r = deploy(config(), false);
        assert.ok((r.changeSummary.create ?? 0) >= 15, JSON.stringify(r.changeSummary));
        assert.deepEqual(stackContainers(PREFIX), []);
    });

    test("up deploys the stack; mail is delivered and read back over IMAPS", async () => {
        const r = deploy(config());
        // A first deployment saves the state once, at its end (scripts/lib/engine.ts): the save
        // before it was the new stack's empty state, not all but the last resource.
        assert.ok(stateResources("state") >= 20, `${stateResources("state")} resources in the state`);
        assert.equal(stateResources("previous save"), 0, "the first up saved the state more than once");
        ca = caFile(r.outputs.certificatePem, PREFIX);
        const subject = uniqueSubject("through the engine");
        sendTo(USERS.bob.address, subject, "delivered by a stack the engine made");
        assert.match(
            await fetchBySubject(USERS.bob, subject, "imaps", ca, "INBOX", 15_000, PORTS),
            /delivered by a stack the engine made/,
        );
    });

    test("an unchanged stack previews with 0 changes", () => {
        assertNoChanges(deploy(config(), false), "unchanged preview");
    });

    test("adding a mailbox: the preview shows the new table lines; up replaces no service and loses no mail sent meanwhile", async () => {
        const preview = deploy(withErin(), false);
        const diff = engineLog();
        // The new lines of the lookup tables, with context, under the MailServer component's inputs.
        assert.match(
            diff,
            /~ vmailbox\s*:[\s\S]*?\n\s+\+ erin@example\.test\tOK\n/,
            `the virtual mailbox table's new line in the diff:\n${diff.slice(-8000)}`,
        );
        assert.match(diff, /~ sender_login\s*:[\s\S]*?\n\s+\+ erin@example\.test\terin@example\.test\n/);
        assert.doesNotMatch(diff, /\$6\$|erin-Secret/, "no hash and no password in the diff");
        assert.equal(preview.replaced.filter(n => !n.endsWith("-config")).length, 0, JSON.stringify(preview));

        const before = ids();
        const transport = nodemailer.createTransport({
            host: HOST,
            port: PORTS.smtp,
            secure: false,
            ignoreTLS: true,
            pool: false,
        });
        const subject = uniqueSubject("sent during up");
        let sent = 0,
            refused = 0,
            stop = false;
        // Six senders, a new SMTP session per message (each session must be answered while the
        // engine works). Bounded: at most 400 messages in all, and only for as long as the up runs.
        const sender = async (id: number) => {
            while (!stop && sent + refused < 400) {
                try {
                    await transport.sendMail({
                        from: "load@sender.example",
                        to: USERS.alice.address,
                        subject,
                        text: `sender ${id}, message ${sent}`,
                    });
                    sent++;
                } catch {
                    refused++;
                }
                await new Promise(r => setTimeout(r, 50));
            }
        };
        const load = Promise.all([0, 1, 2, 3, 4, 5].map(sender));
        const upStarted = Date.now();
        const up = await deployAsync(withErin()).finally(() => {
            stop = true;
        });
        const upSeconds = (Date.now() - upStarted) / 1000;
        await load;
        assert.deepEqual(
            up.replaced.filter(n => !n.endsWith("-config")),
            [],
            `services replaced: ${up.replaced}`,
        );
        assert.deepEqual(ids(), before, "the same service containers");
        assert.ok(sent >= 6, `sent ${sent} during the up`);
        assert.equal(refused, 0, `${refused} refused during the up`);
        let delivered = 0;
        for (let i = 0; i < 60 && delivered < sent; i++) {
            if (i > 0) await new Promise(r => setTimeout(r, 1000));
            delivered = await countBySubject(USERS.alice, subject, ca, PORTS);
        }
        assert.equal(delivered, sent, `${sent} sent during the up, ${delivered} in the mailbox`);
        process.stdout.write(
            `# during the up (${upSeconds} s): ${sent} sent, ${refused} refused, ${delivered} delivered\n`,
        );
        const hello = uniqueSubject("to the new mailbox");
        sendTo(ERIN.address, hello);
        await fetchBySubject(ERIN, hello, "imaps", ca, "INBOX", 20_000, PORTS);
    });

    test("a later up saves the state after each of its steps, as the engine does by default", () => {
        // The mailbox's up above changed a few resources: the save before the last one held them all.
        assert.ok(stateResources("previous save") >= stateResources("state") - 1, "a later up skipped its checkpoints");
    });

    test("refresh, then preview: 0 changes", async () => {
        const stack = await openStack({
            stackName: PREFIX,
            dir: engineDir(PREFIX),
            dockerHost: process.env.DOCKER_HOST,
        });
        const refresh = await stack.refresh();
        assert.equal(refresh.summary.result, "succeeded");
        assertNoChanges(deploy(withErin(), false), "preview after refresh");
    });

    test("a port change replaces only Postfix, and the queue survives", async () => {
        // Mail for held.example waits in the queue (its next hop refuses connections).
        const r = smtp({
            port: PORTS.submission,
            tls: "starttls",
            auth: USERS.alice,
            from: USERS.alice.address,
            to: "someone@held.example",
        });
        assert.equal(r.status, 0, r.transcript);
        const queueId = /queued as ([0-9A-Za-z]+)/.exec(r.transcript)?.[1];
        assert.ok(queueId, r.transcript);

        const before = ids();
        const moved = withErin({
            "mailserver:ports": {
                smtp: PORTS.smtp + 2,
                submission: PORTS.submission,
                smtps: PORTS.smtps,
                reinject: PORTS.reinject,
            },
        });
        const up = deploy(moved);
        assert.deepEqual(
            up.replaced.filter(n => !n.endsWith("-config")),
            [`${PREFIX}-postfix`],
            JSON.stringify(up),
        );
        const after = ids();
        assert.notEqual(after.postfix, before.postfix);
        assert.equal(after.dovecot, before.dovecot);
        assert.equal(after.authpolicy, before.authpolicy);
        const queue = spawnSync("docker", ["exec", `${PREFIX}-postfix`, "postqueue", "-j"], {
            encoding: "utf8",
        }).stdout;
        assert.match(
            queue,
            new RegExp(`"queue_id": ?"${queueId}"`),
            `the waiting message survived the replacement:\n${queue}`,
        );
        spawnSync("docker", ["exec", `${PREFIX}-postfix`, "postsuper", "-d", queueId!]);
        deploy(withErin());
    });

    test("the policy pack passes the stack; an open mynetworks is refused at preview with the policy's reason", () => {
        deploy(withErin(), false, { policyPacks: [POLICY] });
        // The component and mail-no-open-relay share one check (components/net.ts trustRisk), so a
        // /8 never reaches the policy: MailServer refuses it before anything is registered.
        assert.throws(
            () => deploy(withErin({ "mailserver:mynetworks": ["10.0.0.0/8"] }), false, { policyPacks: [POLICY] }),
            (e: Error) => {
                assert.match(e.message, /MailServer mail: mynetworks\[0\] = "10\.0\.0\.0\/8" is not accepted/);
                assert.match(e.message, /private address space \(in 10\.0\.0\.0\/8\) wider than \/16/);
                return true;
            },
        );
    });

    test("a configuration the service rejects fails the up and leaves the running configuration; a good up then succeeds", async () => {
        const generation = () =>
            spawnSync("docker", ["exec", `${PREFIX}-dovecot`, "readlink", "/config/current"], {
                encoding: "utf8",
            }).stdout.trim();
        const before = generation();
        const broken = withErin();
        (broken["mailserver:domains"] as any[])[0].mailboxes[1].sieveScript =
            `require "fileinto";\nif header :contains "Subject" "x" { fileinto "X" }\n`;
        assert.throws(
            () => deploy(broken),
            (e: Error) => {
                assert.match(
                    e.message,
                    /enginetest-dovecot-config: the configuration was rejected by the service's own checks/,
                );
                return true;
            },
        );
        assert.equal(generation(), before, "the running generation is unchanged");
        const subject = uniqueSubject("after the failed up");
        sendTo(USERS.bob.address, subject);
        await fetchBySubject(USERS.bob, subject, "imaps", ca, "INBOX", 20_000, PORTS);
        deploy(withErin());
        assertNoChanges(deploy(withErin(), false), "after the good up");
    });

    test("destroy keeps the mail and queue volumes; a new up finds the old mail", async () => {
        const subject = uniqueSubject("before destroy");
        sendTo(USERS.bob.address, subject);
        await fetchBySubject(USERS.bob, subject, "imaps", ca, "INBOX", 20_000, PORTS);
        const stack = await openStack({
            stackName: PREFIX,
            dir: engineDir(PREFIX),
            dockerHost: process.env.DOCKER_HOST,
        });
        const started = Date.now();
        await stack.destroy();
        const seconds = (Date.now() - started) / 1000;
        process.stdout.write(`# destroy took ${seconds.toFixed(1)} s\n`);
        assert.deepEqual(stackContainers(PREFIX), [], "no container left");
        const volumes = stackVolumes(PREFIX);
        for (const v of ["mail", "queue"])
            assert.ok(volumes.includes(`${PREFIX}-${v}`), `${PREFIX}-${v} kept: ${volumes}`);
        assert.ok(seconds < 25, `destroy waited ${seconds} s (no grace period to wait out)`);
        const again = deploy(withErin());
        ca = caFile(again.outputs.certificatePem, PREFIX);
        assert.match(
            await fetchBySubject(USERS.bob, subject, "imaps", ca, "INBOX", 20_000, PORTS),
            new RegExp(subject),
        );
    });
});
