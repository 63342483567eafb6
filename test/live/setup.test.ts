// The README's set-up path as a new user takes it: a copy of the repository with no .local/ and no
// node_modules, `bash scripts/setup.sh` against a Docker engine of its own (own socket, data root
// and exec root, so no image or layer of an earlier run can answer), deploying through the real
// Pulumi engine (engine/build.sh: built once per machine, cached outside the repository), then the
// commands setup.sh prints, run as printed: one sends a message through the dev stack, one reads it
// back over IMAPS.
// The dev stack answers at once although no DNS server answers its containers (its stack file says
// dns: none): the greeting in < 1 s, a message from outside answered at DATA in < 2 s and filed in
// the INBOX, rspamd having asked DNS nothing. Then a minute of idle logs must hold no healthcheck
// line. Last, in a new shell (no DOCKER_HOST, no engine variables: a new terminal), the stack
// commands find the stack's engine by themselves: preview (with the policy pack, which must report
// nothing, on dev and on a preview of prod, whose ssh:// engine a preview does not need), refresh,
// outputs and destroy; and an engine that does not answer is named, with how to point the stack
// elsewhere, before anything runs. Then the engine is removed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { fetchBySubject, OUTSIDER, uniqueSubject } from "./clients";
import { copyWorkingTree, portsFrom, ROOT } from "./stack";

const RUN = `mailsetup-${process.pid}`;
const SOCK = `/run/${RUN}.sock`;
const DATA_ROOT = `/var/lib/${RUN}`;
const COPY = `/var/tmp/${RUN}`;
const ENGINE = { ...process.env, DOCKER_HOST: `unix://${SOCK}` };
// The dev stack's published ports (stacks/Pulumi.dev.yaml).
const DEV_PORTS = [2525, 2587, 2465, 2143, 2993, 14190];
const CONTAINERS = ["mail-dev-postfix", "mail-dev-dovecot", "mail-dev-authpolicy"];
/** The dev stack's IMAP ports follow portsFrom's pattern (2143, 2993, ...). */
const DEV_IMAP = portsFrom(2000);
/** A new terminal: the system PATH, no DOCKER_HOST, nothing prepare.sh exported. */
const NEW_SHELL = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: process.env.HOME ?? "/root",
    LANG: "C.UTF-8",
};

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

/**
 * One SMTP session to 127.0.0.1 from OUTSIDER: the greeting, then each command (the message text
 * is one "command" ending in "\r\n."), with how long each reply took (the greeting: since the
 * connection was made). Bounded to 60 s.
 */
function timedSmtp(port: number, commands: string[]): Promise<Array<{ reply: string; ms: number }>> {
    return new Promise((resolve, reject) => {
        const replies: Array<{ reply: string; ms: number }> = [];
        const pending = [...commands];
        let since = Date.now();
        let buffer = "";
        const socket = net.connect({ host: "127.0.0.1", port, localAddress: OUTSIDER }, () => {
            since = Date.now();
        });
        const timer = setTimeout(
            () => socket.destroy(new Error(`SMTP session timed out: ${JSON.stringify(replies)}`)),
            60_000,
        );
        socket.on("data", d => {
            buffer += d.toString();
            const lines = buffer.split("\r\n");
            buffer = lines.pop()!;
            for (const line of lines) {
                if (!/^\d{3} /.test(line)) continue;
                replies.push({ reply: line, ms: Date.now() - since });
                const next = pending.shift();
                if (next === undefined) continue;
                since = Date.now();
                socket.write(`${next}\r\n`);
            }
        });
        socket.on("close", () => {
            clearTimeout(timer);
            resolve(replies);
        });
        socket.on("error", e => {
            clearTimeout(timer);
            reject(e);
        });
    });
}

/** `npm run stack -- ...` in the copy, from a new shell. */
function stackCommand(...args: string[]) {
    const started = Date.now();
    const r = spawnSync("npm", ["run", "--silent", "stack", "--", ...args], {
        cwd: COPY,
        env: NEW_SHELL,
        encoding: "utf8",
        timeout: 10 * 60_000,
        maxBuffer: 64 << 20,
    });
    process.stdout.write(
        `# new shell: npm run stack -- ${args.join(" ")}: exit ${r.status} in ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
    fs.appendFileSync(
        path.join(ROOT, "test", ".artifacts", "setup-new-shell.log"),
        `$ npm run stack -- ${args.join(" ")}\n${r.stdout}${r.stderr}exit ${r.status}\n\n`,
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}\n${r.stderr}` };
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
        const copy = copyWorkingTree(COPY);
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
        // Signed with both keys, as anywhere: dns "none" leaves signing alone.
        assert.match(mail, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.test;/m);
        assert.match(mail, /^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=example\.test;/m);
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

    test("without DNS the dev stack greets at once and answers a message from outside at DATA in under 2 s, into the INBOX", async () => {
        const subject = uniqueSubject("From outside");
        const messageId = `<${subject.split(" ").pop()}@example.net>`;
        const message = [
            "From: Someone <someone@example.net>",
            "To: bob@example.test",
            `Subject: ${subject}`,
            `Message-ID: ${messageId}`,
            `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
            "",
            "Hello from another server.",
            ".",
        ].join("\r\n");
        // Port 25's smtpd, no AUTH, and the client is not in mynetworks (it arrives from the Docker gateway).
        const replies = await timedSmtp(2525, [
            "EHLO mx.example.net",
            "MAIL FROM:<someone@example.net>",
            "RCPT TO:<bob@example.test>",
            "DATA",
            message,
            "QUIT",
        ]);
        const [greeting, , , , , accepted] = replies;
        process.stdout.write(
            `# dev stack without DNS: greeting in ${greeting.ms} ms, DATA answered in ${accepted.ms} ms\n`,
        );
        assert.match(greeting.reply, /^220 mail\.example\.test ESMTP$/, JSON.stringify(replies));
        assert.ok(greeting.ms < 1000, `greeting after ${greeting.ms} ms`);
        assert.match(accepted.reply, /^250 2\.0\.0 Ok: queued as /, JSON.stringify(replies));
        assert.ok(accepted.ms < 2000, `DATA answered after ${accepted.ms} ms`);
        // Filed into the INBOX (the Junk rule files by X-Spam), not marked as spam.
        const passwords = JSON.parse(fs.readFileSync(path.join(COPY, ".local", "dev-passwords.json"), "utf8"));
        const bob = { address: "bob@example.test", password: passwords["bob@example.test"] };
        const ca = path.join(COPY, ".local", "dev-certificate.pem");
        const mail = await fetchBySubject(bob, subject, "imaps", ca, "INBOX", 15_000, DEV_IMAP);
        assert.doesNotMatch(mail, /^X-Spam: /m, mail);
        // The client is known by address only (no name lookup waited for) ...
        assert.match(mail, /^Received: from mx\.example\.net \(unknown \[[0-9.]+\]\)/m, mail);
        // ... and rspamd scanned it (its ARC seal) without one DNS request.
        assert.match(mail, /^ARC-Seal: i=1; s=mail-rsa; d=example\.test;/m, mail);
        const scan = spawnSync("docker", ["logs", "mail-dev-rspamd"], { env: ENGINE, encoding: "utf8" });
        const line = `${scan.stdout}${scan.stderr}`
            .split("\n")
            .find(l => l.includes("rspamd_task_write_log") && l.includes(`id: ${messageId}`));
        assert.ok(line, `rspamd logged no scan of ${messageId}`);
        assert.match(line, /, dns req: 0,/, line);
        assert.match(line, /\(default: F \(no action\)/, line);
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

    test("in a new shell the stack commands find the stack's engine: preview with the policy pack (prod's too), refresh, outputs, destroy", () => {
        const record = path.join(COPY, ".local", "stacks", "dev", "docker-host");
        assert.equal(fs.readFileSync(record, "utf8"), `unix://${SOCK}\n`, "setup's up recorded its engine");
        // An engine that does not answer is named before anything runs, with how to point the stack elsewhere.
        const gone = `/run/${RUN}-gone.sock`;
        fs.writeFileSync(record, `unix://${gone}\n`);
        try {
            const refused = stackCommand("refresh", "dev");
            assert.equal(refused.status, 1, refused.output);
            assert.match(
                refused.stderr,
                new RegExp(`the Docker engine at unix://${gone} does not answer: no socket at ${gone}\\.`),
            );
            assert.match(
                refused.stderr,
                /That engine is the engine the stack was deployed to, recorded in \.local\/stacks\/dev\/docker-host\./,
            );
            assert.match(
                refused.stderr,
                /To use another engine, write the engine's address into \.local\/stacks\/dev\/docker-host/,
            );
            assert.doesNotMatch(refused.stdout, /Refreshing|errored/, "the engine did not start");
        } finally {
            fs.writeFileSync(record, `unix://${SOCK}\n`);
        }

        const preview = stackCommand("preview", "dev", "--policy-pack", "policy/");
        assert.equal(preview.status, 0, preview.output.slice(-6000));
        assert.match(preview.stdout, /Resources:\s+\d+ unchanged\s*$/m, preview.stdout.slice(-3000));
        assert.doesNotMatch(preview.stdout, /to (create|update|replace|delete)/);
        // The pack ran, and reported nothing: no advisory, mandatory or remediation line.
        assert.match(
            preview.stdout,
            /Policy Packs run:\s+Name\s+Version\s+mailserver-policies\|local\|/,
            preview.stdout.slice(-3000),
        );
        assert.doesNotMatch(
            preview.output,
            /mailserver-policies@v[\d.]+ \[|\[(advisory|mandatory|remediate)\]/,
            preview.stdout.slice(-6000),
        );
        assert.doesNotMatch(preview.stderr, /does not answer/);

        // The prod stack's engine is ssh://, out of reach here; a preview needs none, so the pack
        // judges prod as it would be deployed (with its config, stacks/policy.prod.json).
        fs.writeFileSync(
            path.join(COPY, ".local", "prod-relay-passwords.json"),
            JSON.stringify({ "smtp.relay.example.net": "a-relay-password-for-the-preview" }),
            { mode: 0o600 },
        );
        const prod = stackCommand("preview", "prod", "--policy-pack", "policy/");
        assert.equal(prod.status, 0, prod.output.slice(-6000));
        assert.match(
            prod.stderr,
            /the Docker engine at ssh:\/\/deploy@mail\.example\.com does not answer: .*\n.*docker:host in stacks\/Pulumi\.prod\.yaml\.\n.*\n {2}The preview goes on/,
        );
        assert.match(prod.stdout, /Resources:\s+\+ \d+ to create\s*$/m, prod.stdout.slice(-3000));
        assert.match(
            prod.stdout,
            /Policy Packs run:\s+Name\s+Version\s+mailserver-policies\|local\|/,
            prod.stdout.slice(-3000),
        );
        assert.doesNotMatch(
            prod.output,
            /mailserver-policies@v[\d.]+ \[|\[(advisory|mandatory|remediate)\]/,
            prod.stdout.slice(-6000),
        );

        const refresh = stackCommand("refresh", "dev");
        assert.equal(refresh.status, 0, refresh.output.slice(-6000));
        assert.match(refresh.stdout, /Resources:\s+\d+ unchanged\s*$/m, refresh.stdout.slice(-3000));
        assert.doesNotMatch(refresh.output, /errored|Cannot connect to the Docker daemon/);

        const outputs = stackCommand("outputs", "dev");
        assert.equal(outputs.status, 0, outputs.output.slice(-6000));
        assert.match(outputs.stdout, /^Stack dev is running\. Listening on 127\.0\.0\.1:$/m);
        assert.match(
            outputs.stdout,
            new RegExp(`^Docker engine: unix://${SOCK} \\(npm run stack -- \\.\\.\\. dev finds it by itself`, "m"),
        );

        const destroy = stackCommand("destroy", "dev");
        assert.equal(destroy.status, 0, destroy.output.slice(-6000));
        assert.match(destroy.stdout, /Resources:\s+-\s*\d+ deleted/, destroy.stdout.slice(-3000));
        const left = spawnSync("docker", ["ps", "-aq", "--filter", "name=mail-dev-"], {
            env: ENGINE,
            encoding: "utf8",
        });
        assert.equal(left.stdout.trim(), "", "no container of the stack is left");
    });
});
