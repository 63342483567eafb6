// Operations that must not fail silently (issue 19, item 5), on the real engine:
//   - the config jobs run with the services' hardening (item 7);
//   - a config job killed mid-run fails that `up`, and the next `up` runs it again (a new attempt,
//     the job replaced) and activates the new generation; a preview after it shows no change;
//   - a change of inet_interfaces / inet_protocols, which "postfix reload" does not apply, replaces
//     Postfix (shown in the preview), and Postfix then listens on the new address (::1); Dovecot
//     applies its listen addresses by reloading, in the same container;
//   - rspamd's healthcheck leaves no line in its log over a minute of idle.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawn, spawnSync } from "child_process";
import * as net from "net";
import { deploy, deployAsync, destroy, liveConfig, portsFrom } from "./stack";

const PREFIX = "opstest";
const PORTS = portsFrom(39000);
const NEW_ADDRESS = "::1"; // Postfix checks that each inet_interfaces address is the host's own
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const report = (line: string) => process.stdout.write(`# ${line}\n`);

const docker = (args: string[]) => spawnSync("docker", args, { encoding: "utf8" });
const inspect = (name: string, format: string) => docker(["inspect", "-f", format, name]).stdout.trim();
const generation = (service: string) =>
    docker(["exec", `${PREFIX}-${service}`, "readlink", "/config/current"]).stdout.trim();

function config(o: Record<string, unknown> = {}): Record<string, unknown> {
    return liveConfig(o, PREFIX, 39000);
}

/** The first line a TCP server at address:port sends, or the connection's error. */
function greeting(address: string, port: number): Promise<string> {
    return new Promise(resolve => {
        const socket = net.connect({ host: address, port });
        socket.setTimeout(5000, () => (socket.destroy(), resolve("timeout")));
        socket.once("data", d => (socket.destroy(), resolve(d.toString().split("\r\n")[0])));
        socket.once("error", e => resolve(`error: ${(e as NodeJS.ErrnoException).code}`));
    });
}

describe("operations, live", () => {
    before(() => {
        destroy(PREFIX);
        deploy(config());
    });
    after(() => destroy(PREFIX));

    test("config jobs ran with the services' hardening: CAP_CHOWN only, no new privileges", () => {
        // Internet mode: no saslauthd (relay mode's; its job is checked by test/components/relay.test.ts).
        for (const service of ["postfix", "dovecot", "rspamd"]) {
            const job = `${PREFIX}-${service}-config`;
            const h = JSON.parse(inspect(job, "{{json .HostConfig}}"));
            assert.equal(h.Privileged, false, job);
            assert.deepEqual(h.CapDrop, ["ALL"], job);
            assert.deepEqual([...(h.CapAdd ?? [])].sort(), ["CAP_CHOWN"], job);
            assert.ok((h.SecurityOpt ?? []).includes("no-new-privileges:true"), job);
            assert.equal(inspect(job, "{{.State.ExitCode}}"), "0", `${job} succeeded so`);
            report(`${job}: CapAdd ${JSON.stringify(h.CapAdd)}, no-new-privileges, exit 0`);
        }
    });

    test("a config job killed mid-run fails the up; the next up runs it again and activates the new generation", async () => {
        const job = `${PREFIX}-rspamd-config`;
        const before = generation("rspamd");
        // Killed as soon as it has said which attempt it is: rspamadm configtest, which comes
        // after, takes it a second or more, so the kill lands mid-run.
        const events = spawn("docker", ["events", "--filter", `container=${job}`, "--filter", "event=start"]);
        let killed = "";
        events.stdout.on("data", () => {
            if (killed !== "") return;
            const deadline = Date.now() + 10_000;
            let out = "";
            while (!/attempt \d+/.test(out) && Date.now() < deadline) out = docker(["logs", job]).stdout;
            killed = /active/.test(out) ? "finished before the kill" : `${docker(["kill", job]).status}`;
        });
        const changed = config({
            "mailserver:spamFilter": { rejectScore: 14 },
        });
        const failed = await deployAsync(changed).then(
            () => "",
            (e: Error) => e.message,
        );
        events.kill();
        assert.equal(killed, "0", "docker kill of the running job");
        assert.match(
            failed,
            /opstest-rspamd-config: the configuration job was stopped before it finished \(exit 137: killed .*\); the running service keeps its previous configuration, and the next `pulumi up` runs the job again/,
        );
        assert.equal(inspect(job, "{{.State.ExitCode}}"), "137");
        assert.doesNotMatch(docker(["logs", job]).stdout, /active/, "the job did not get to the end");
        assert.equal(generation("rspamd"), before, "rspamd keeps its generation");

        const retried = deploy(changed);
        report(`the up after the kill replaced: ${retried.replaced.join(", ")}`);
        assert.ok(retried.replaced.includes(job), `the job ran again: ${retried.replaced}`);
        assert.ok(!retried.replaced.includes(`${PREFIX}-rspamd`), "rspamd itself is not replaced");
        assert.equal(inspect(job, "{{.State.ExitCode}}"), "0");
        assert.match(inspect(job, "{{json .Config.Env}}"), /MAIL_JOB_ATTEMPT=1/);
        assert.match(docker(["logs", job]).stdout, /attempt 1\n[\s\S]*generation \S+ active \(attempt 1\)\n$/);
        const deadline = Date.now() + 30_000;
        while (generation("rspamd") === before && Date.now() < deadline) await sleep(1000);
        assert.notEqual(generation("rspamd"), before, "rspamd runs the new generation");
        assert.equal(
            generation("rspamd"),
            docker(["exec", `${PREFIX}-rspamd`, "cat", "/run/mail/applied"]).stdout.trim(),
        );

        // Settled: the job's log says it succeeded, so the next preview changes nothing.
        const preview = deploy(changed, false);
        report(`preview after the retry: ${JSON.stringify(preview.changeSummary)}`);
        assert.deepEqual(
            Object.keys(preview.changeSummary).filter(k => k !== "same"),
            [],
            JSON.stringify(preview.changeSummary),
        );
    });

    test("inet_interfaces/inet_protocols replace Postfix (in the preview too); it then listens on the new address", async () => {
        // From 127.0.0.1 (IPv4 only) to 127.0.0.1 and ::1 (IPv4 and IPv6); Dovecot's listen too.
        assert.match(await greeting("127.0.0.1", PORTS.smtp), /^220 /);
        assert.match(await greeting(NEW_ADDRESS, PORTS.smtp), /^error: ECONNREFUSED/);
        assert.match(await greeting(NEW_ADDRESS, PORTS.imap), /^error: ECONNREFUSED/);
        const moved = config({
            "mailserver:spamFilter": { rejectScore: 14 },
            "mailserver:inetInterfaces": ["127.0.0.1", NEW_ADDRESS],
            "mailserver:inetProtocols": "all",
            "mailserver:imapListen": ["127.0.0.1", NEW_ADDRESS],
        });
        const preview = deploy(moved, false);
        report(`preview of the address change: replaced ${preview.replaced.join(", ")}`);
        assert.ok(preview.replaced.includes(`${PREFIX}-postfix`), `preview: ${preview.replaced}`);
        const id = inspect(`${PREFIX}-dovecot`, "{{.Id}}");
        const up = deploy(moved);
        report(`up of the address change: replaced ${up.replaced.join(", ")}`);
        assert.ok(up.replaced.includes(`${PREFIX}-postfix`), `up: ${up.replaced}`);
        assert.match(await greeting(NEW_ADDRESS, PORTS.smtp), /^220 /, "Postfix on the new address");
        assert.match(await greeting("127.0.0.1", PORTS.smtp), /^220 /, "and still on the old one");
        // Dovecot applies its listen addresses by reloading: the same container, after its watcher saw the generation.
        const deadline = Date.now() + 30_000;
        let imap = "";
        while (!/^\* OK/.test(imap) && Date.now() < deadline) {
            imap = await greeting(NEW_ADDRESS, PORTS.imap);
            if (!/^\* OK/.test(imap)) await sleep(1000);
        }
        assert.match(imap, /^\* OK/, "Dovecot on the new address");
        assert.equal(inspect(`${PREFIX}-dovecot`, "{{.Id}}"), id, "Dovecot was not replaced");
        // Back to IPv4 only, another startup setting: the preview shows Postfix replaced again.
        const back = deploy(
            { ...moved, "mailserver:inetProtocols": "ipv4", "mailserver:inetInterfaces": ["127.0.0.1"] },
            false,
        );
        assert.ok(back.replaced.includes(`${PREFIX}-postfix`), `preview: ${back.replaced}`);
    });

    test("rspamd's healthcheck leaves no line in its log over a minute of idle", async () => {
        const since = Math.floor(Date.now() / 1000);
        await sleep(65_000);
        const logs = docker(["logs", "--since", String(since), `${PREFIX}-rspamd`]);
        const lines = `${logs.stdout}${logs.stderr}`.split("\n").filter(Boolean);
        const health = JSON.parse(inspect(`${PREFIX}-rspamd`, "{{json .State.Health}}"));
        const probes = health.Log.filter((l: { Start: string }) => Date.parse(l.Start) / 1000 >= since);
        report(`rspamd: ${probes.length} probes in 65 s, ${lines.length} log lines`);
        // Docker keeps the last 5 results; a probe every 10 s fills them in 65 s.
        assert.ok(probes.length >= 4, `the probe ran (${probes.length} times)`);
        assert.ok(
            probes.every((l: { ExitCode: number }) => l.ExitCode === 0),
            "and passed",
        );
        assert.deepEqual(lines, []);
    });
});
