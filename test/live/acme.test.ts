// Live test of tls.acme: the stack's ACME container (Debian's lego) against Pebble, a local ACME
// test server, with Pebble's challenge test server answering the DNS queries of its HTTP-01
// validation (every name -> 127.0.0.71, where the ACME container's HTTP-01 server listens). No
// internet: Pebble and its DNS on 127.0.0.70; the mail services on 127.0.0.1 (port base 33000).
//
// Shown here: `pulumi up` succeeds while Pebble is down (a temporary self-signed certificate is
// served); once Pebble starts, Postfix (25 STARTTLS, 465, 587 STARTTLS), Dovecot (993, 4190
// STARTTLS) and the well-known HTTPS endpoint (nginx, whose mta-sts. and autoconfig. names join the
// order) serve Pebble's certificate, and again a new one after a forced renewal, without a
// container being replaced, while SMTP and IMAP sessions run without a refused connection or a
// failed session. The private key is in no container's environment, label, log or in the state.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ChildProcess, execFile, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { docker, dockerLogs, HOST, keepLogs } from "./clients";
import { openStack } from "../../scripts/lib/engine";
import { Pebble } from "./pebble";
import {
    ARTIFACTS,
    deploy,
    destroy,
    engineDir,
    liveConfig,
    portsFrom,
    stackContainers,
    stackVolumes,
    USERS,
} from "./stack";
import {
    loadSummary,
    served as servedOn,
    Served,
    servedOnAll,
    startLoad as startSessionLoad,
    tlsPorts,
    TlsPort,
    waitForAll as waitForAllOn,
} from "./tls-sessions";

const PREFIX = "acmetest";
const PORTS = portsFrom(33000);
const PEBBLE = "127.0.0.70";
const HTTP01 = "127.0.0.71";
const HOSTNAME = "mail.example.test";
const EXTRA = "imap.example.test";
const WORK = path.join(ARTIFACTS, "acme");
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const execFileAsync = promisify(execFile);

// The well-known HTTPS endpoint (nginx) of example.test: its names join the order, and it follows
// every switch like the mail services.
const WEB = { name: "web", port: 33444 };
const TLS_PORTS = [...tlsPorts(PORTS), WEB];
const NAMES = [EXTRA, HOSTNAME, "autoconfig.example.test", "mta-sts.example.test"].sort();

const pebbleServer = new Pebble({
    work: WORK,
    address: PEBBLE,
    portBase: 33000,
    dnsServer: `${PEBBLE}:33053`,
    label: PREFIX,
});
const served = (p: TlsPort) => servedOn(p, HOSTNAME);
const servedOnEvery = () => servedOnAll(TLS_PORTS, HOSTNAME);
const waitForAll = (what: string, ok: (s: Served) => boolean, timeoutMs?: number) =>
    waitForAllOn(TLS_PORTS, HOSTNAME, what, ok, timeoutMs);
const startLoad = () => startSessionLoad({ ports: PORTS, servername: HOSTNAME, user: USERS.alice });

// ---------------------------------------------------------------- Pebble

let challtestsrv: ChildProcess | undefined;

/** Pebble, with pebble-challtestsrv as its DNS (every name -> 127.0.0.71). */
async function startPebble(): Promise<void> {
    const log = fs.openSync(path.join(WORK, "challtestsrv.log"), "a");
    challtestsrv = spawn(
        "pebble-challtestsrv",
        [
            "-defaultIPv4",
            HTTP01,
            "-defaultIPv6",
            "",
            "-dns01",
            `${PEBBLE}:33053`,
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            `${PEBBLE}:33055`,
        ],
        { stdio: ["ignore", log, log] },
    );
    await pebbleServer.start();
}

// ---------------------------------------------------------------- the suite

const serviceIds = () =>
    Object.fromEntries(
        ["postfix", "dovecot", "authpolicy", "acme", "web"].map(s => [
            s,
            docker(["container", "inspect", "-f", "{{.Id}}", `${PREFIX}-${s}`]),
        ]),
    );

describe("tls.acme against Pebble (HTTP-01), certificates switched without restarts", () => {
    let caPem = "";
    let config: Record<string, unknown>;
    let ids: Record<string, string>;
    let intermediate = "";

    before(() => {
        destroy(PREFIX);
        caPem = pebbleServer.makeFiles();
        const base = liveConfig({}, PREFIX, 33000);
        const domains = structuredClone(base["mailserver:domains"]) as Array<Record<string, unknown>>;
        domains[0].wellKnown = true;
        config = liveConfig(
            {
                "mailserver:tls": {
                    acme: {
                        directory: pebbleServer.directory,
                        email: "hostmaster@example.test",
                        names: [EXTRA],
                        httpPort: 33080,
                        httpAddress: HTTP01,
                        // Pebble is started after the deployment: the first retry comes soon.
                        retrySeconds: 5,
                        caCertPem: caPem,
                    },
                },
                "mailserver:spamFilter": { enabled: false },
                "mailserver:domains": domains,
                "mailserver:wellKnown": { httpsPort: WEB.port, address: HOST },
            },
            PREFIX,
            33000,
        );
    });

    after(() => {
        pebbleServer.stop();
        challtestsrv?.kill();
        keepLogs(PREFIX, ["acme", "postfix", "dovecot", "web"]);
        destroy(PREFIX);
        assert.deepEqual(stackContainers(PREFIX), [], "containers left behind");
    });

    test("pulumi up succeeds while the ACME server is down: a temporary self-signed certificate is served", async () => {
        const r = deploy(config);
        assert.ok(r.outputs, "deployed");
        assert.equal(r.outputs.acmeContainer, `${PREFIX}-acme`, "the stack output acmeContainer");
        assert.equal(r.outputs.webContainer, `${PREFIX}-web`, "the stack output webContainer");
        ids = serviceIds();
        const all = await servedOnEvery();
        for (const [i, s] of all.entries()) {
            assert.ok(s, `${TLS_PORTS[i].name}: no certificate`);
            assert.equal(s.issuer, `CN = ${HOSTNAME}`, `${TLS_PORTS[i].name}: the temporary certificate`);
            assert.deepEqual(s.names, NAMES);
        }
        assert.equal(new Set(all.map(s => s!.serial)).size, 1, "one certificate on every port");
        process.stdout.write(`# temporary certificate: ${JSON.stringify(all[0])}\n`);
    });

    test("once Pebble starts, every port serves Pebble's certificate, under load, with no restart", async () => {
        await startPebble();
        intermediate = pebbleServer.intermediate();
        const load = startLoad();
        const started = Date.now();
        let all: Served[];
        try {
            all = await waitForAll("Pebble's certificate", s => s.issuer === intermediate, 180_000);
            // Sessions go on a little after the switch, on the new certificate.
            await sleep(3000);
        } finally {
            await load.stop();
        }
        process.stdout.write(
            `# switched to ${all[0].serial} (${intermediate}) after ${(Date.now() - started) / 1000}s; ` +
                `${loadSummary(load)}\n`,
        );
        assert.equal(new Set(all.map(s => s.serial)).size, 1, "the same certificate on every port");
        assert.deepEqual(all[0].names, NAMES);
        assert.equal(load.refused, 0, "refused connections");
        assert.deepEqual(load.failed, [], "failed sessions");
        assert.ok(load.ok > 20, `sessions ran (${load.ok})`);
        assert.deepEqual(serviceIds(), ids, "no container was replaced or recreated");
    });

    test("a forced renewal reaches every port under load, with no restart", async () => {
        const before = (await served(TLS_PORTS[0]))!.serial;
        const load = startLoad();
        let all: Served[];
        try {
            await sleep(2000);
            // Asynchronously: a synchronous exec would stall this process's load sessions for as
            // long as the order takes and time them out, though the servers answered.
            await execFileAsync("docker", ["exec", `${PREFIX}-acme`, "/usr/local/lib/mail/acme", "renew-now"]);
            all = await waitForAll("the renewed certificate", s => s.issuer === intermediate && s.serial !== before);
            await sleep(3000);
        } finally {
            await load.stop();
        }
        process.stdout.write(`# renewed ${before} -> ${all[0].serial}; ${loadSummary(load)}\n`);
        assert.equal(new Set(all.map(s => s.serial)).size, 1, "the same certificate on every port");
        assert.equal(load.refused, 0, "refused connections");
        assert.deepEqual(load.failed, [], "failed sessions");
        assert.ok(load.ok > 20, `sessions ran (${load.ok})`);
        assert.deepEqual(serviceIds(), ids, "no container was replaced or recreated");
        const restarts = docker(["inspect", "-f", "{{.RestartCount}}", ...Object.values(ids)]);
        assert.deepEqual(new Set(restarts.split("\n")), new Set(["0"]), "restart counts");
    });

    test("the private key is in no environment, label, log or Pulumi state", () => {
        const key = docker(["exec", `${PREFIX}-acme`, "cat", "/certs/current/key.pem"]);
        const body = key.split("\n").filter(l => !l.startsWith("-----"))[0];
        assert.ok(body && body.length > 40, "a key was read");
        for (const id of stackContainers(PREFIX)) {
            const inspect = docker(["inspect", id]);
            assert.ok(!inspect.includes(body) && !inspect.includes("PRIVATE KEY"), `docker inspect ${id}`);
            const logs = spawnSync("docker", ["logs", id], { encoding: "utf8", maxBuffer: 64 << 20 });
            assert.ok(!`${logs.stdout}${logs.stderr}`.includes("PRIVATE KEY"), `docker logs ${id}`);
        }
        const state = spawnSync("grep", ["-rlF", body, engineDir(PREFIX)], { encoding: "utf8" });
        assert.equal(state.stdout.trim(), "", "the key in the engine's state");
    });

    test("a second pulumi up changes nothing: the certificate lives outside the deployment", async () => {
        const r = deploy(config);
        assert.deepEqual(r.replaced, [], "replaced containers");
        assert.deepEqual(serviceIds(), ids, "container ids");
        assert.equal((await served(TLS_PORTS[0]))!.issuer, intermediate, "still Pebble's certificate");
    });

    test("a new directory (staging -> production) orders anew; only the ACME container is replaced", async () => {
        const before = (await served(TLS_PORTS[0]))!.serial;
        // Another directory URL of the same Pebble stands in for production after staging: the
        // certificate is not due, so only the recorded directory makes the client order again.
        const moved = structuredClone(config);
        (moved["mailserver:tls"] as any).acme.directory = `${pebbleServer.directory}?production`;
        const r = deploy(moved);
        assert.deepEqual(
            r.replaced.filter(n => !n.endsWith("-acme")),
            [],
            "only the ACME container is replaced",
        );
        const now = serviceIds();
        assert.deepEqual({ ...now, acme: ids.acme }, ids, "Postfix, Dovecot, the policy service and nginx kept");
        const all = await waitForAll("the certificate from the new directory", s => s.serial !== before);
        assert.equal(new Set(all.map(s => s.serial)).size, 1, "the same certificate on every port");
        assert.equal(all[0].issuer, intermediate);
        process.stdout.write(`# new directory: ${before} -> ${all[0].serial}\n`);
    });

    test("pulumi destroy keeps the ACME account and certificate: the next up serves it at once, ordering nothing", async () => {
        const before = (await served(TLS_PORTS[0]))!.serial;
        const stack = await openStack({
            stackName: PREFIX,
            dir: engineDir(PREFIX),
            dockerHost: process.env.DOCKER_HOST,
        });
        await stack.destroy();
        assert.deepEqual(stackContainers(PREFIX), [], "no container left");
        const volumes = stackVolumes(PREFIX);
        for (const v of ["acme", "certs"])
            assert.ok(volumes.includes(`${PREFIX}-${v}`), `${PREFIX}-${v} kept: ${volumes}`);
        const moved = structuredClone(config);
        (moved["mailserver:tls"] as any).acme.directory = `${pebbleServer.directory}?production`;
        deploy(moved);
        const all = await servedOnEvery();
        assert.deepEqual(
            all.map(s => s?.serial),
            TLS_PORTS.map(() => before),
            "the kept certificate on every port right after the up",
        );
        await sleep(3000);
        assert.doesNotMatch(dockerLogs(`${PREFIX}-acme`), /obtaining a certificate/, "a new order after destroy");
    });
});
