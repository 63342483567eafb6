// Live test of tls.acme with challenge "dns-01": the stack's ACME container (Debian's lego) publishes
// the challenge through lego's rfc2136 provider (RFC 2136 dynamic update signed with a TSIG key)
// to Knot DNS, a real authoritative server run unprivileged on 127.0.0.80:35053 for zone
// example.test, and Pebble (127.0.0.81) validates it by asking that server. No internet, no port 80.
//
// Shown here: every mail port serves Pebble's certificate for the names; lego never listens on a
// port; the TSIG secret reaches lego only as a file (RFC2136_TSIG_SECRET_FILE), so it is in no
// container's environment, label or log and not plain in the state; Knot logged the signed
// updates. Then a new TSIG secret (Knot's key changed too) replaces only the config job that
// installs it: the ACME container, not restarted, orders again with the new secret.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ChildProcess, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { docker, dockerLogs, keepLogs } from "./clients";
import { Pebble } from "./pebble";
import { TlsPort, waitForAll } from "./tls-sessions";
import { ARTIFACTS, deploy, deployAsync, destroy, engineDir, liveConfig, portsFrom, stackContainers } from "./stack";

const PREFIX = "acmedns";
const PORTS = portsFrom(35000);
const KNOT = "127.0.0.80";
const KNOT_DNS = `${KNOT}:35053`;
const HOSTNAME = "mail.example.test";
const EXTRA = "imap.example.test";
const WORK = path.join(ARTIFACTS, "acme-dns");
const KNOT_DIR = path.join(WORK, "knot");
const TSIG_KEY = "acme-key";
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

const TLS_PORTS: TlsPort[] = [
    { name: "smtp", port: PORTS.smtp, starttls: "smtp" },
    { name: "smtps", port: PORTS.smtps },
    { name: "submission", port: PORTS.submission, starttls: "smtp" },
    { name: "imaps", port: PORTS.imaps },
];

// Every order is validated anew (no authorization reused), so each one updates Knot.
const pebble = new Pebble({
    work: WORK,
    address: "127.0.0.81",
    portBase: 35000,
    dnsServer: KNOT_DNS,
    label: PREFIX,
    authzReuse: 0,
});

// ---------------------------------------------------------------- Knot DNS

let knot: ChildProcess | undefined;
const tsigSecret = () => randomBytes(32).toString("base64");

/**
 * knotd's config: zone example.test, updatable only with the TSIG key and only for the TXT records
 * of the two challenge names; the zone file is written at once after each update. As root, knotd
 * drops to the package's knot user after binding. Debug logging shows the key of each update.
 */
function knotConfig(secret: string): string {
    const root = process.getuid?.() === 0;
    return `server:
    rundir: "${KNOT_DIR}/run"
    listen: ${KNOT}@35053
${root ? "    user: knot:knot\n" : ""}log:
  - target: "${KNOT_DIR}/knot.log"
    any: debug
database:
    storage: "${KNOT_DIR}/db"
key:
  - id: ${TSIG_KEY}
    algorithm: hmac-sha256
    secret: ${secret}
acl:
  - id: acme-update
    key: ${TSIG_KEY}
    action: update
    update-type: [TXT]
    update-owner: name
    update-owner-match: equal
    update-owner-name: [_acme-challenge.mail, _acme-challenge.imap]
template:
  - id: default
    storage: "${KNOT_DIR}/zones"
    file: "%s.zone"
    zonefile-sync: 0
    journal-content: changes
zone:
  - domain: example.test
    acl: acme-update
`;
}

const ZONE = `$ORIGIN example.test.
$TTL 60
@     SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60
@     NS  ns.example.test.
ns    A   ${KNOT}
mail  A   127.0.0.1
imap  A   127.0.0.1
`;

const knotc = (...args: string[]) =>
    spawnSync("knotc", ["-c", path.join(KNOT_DIR, "knot.conf"), ...args], { encoding: "utf8", timeout: 20_000 });

async function startKnot(secret: string): Promise<void> {
    fs.rmSync(KNOT_DIR, { recursive: true, force: true });
    for (const d of ["run", "db", "zones"]) fs.mkdirSync(path.join(KNOT_DIR, d), { recursive: true });
    fs.writeFileSync(path.join(KNOT_DIR, "knot.conf"), knotConfig(secret));
    fs.writeFileSync(path.join(KNOT_DIR, "zones", "example.test.zone"), ZONE);
    fs.writeFileSync(path.join(KNOT_DIR, "knot.log"), "");
    if (process.getuid?.() === 0) spawnSync("chown", ["-R", "knot:knot", KNOT_DIR]);
    const out = fs.openSync(path.join(KNOT_DIR, "knotd.out"), "a");
    knot = spawn("knotd", ["-c", path.join(KNOT_DIR, "knot.conf")], { stdio: ["ignore", out, out] });
    for (let i = 0; i < 50; i++) {
        if (knotc("zone-status", "example.test").status === 0) return;
        await sleep(200);
    }
    throw new Error(`knotd did not start; see ${KNOT_DIR}/knotd.out`);
}

/** A new TSIG secret for Knot's key, taken into use by a reload. */
function rotateKnotKey(secret: string): void {
    fs.writeFileSync(path.join(KNOT_DIR, "knot.conf"), knotConfig(secret));
    const r = knotc("reload");
    assert.equal(r.status, 0, `knotc reload: ${r.stderr}${r.stdout}`);
}

const knotLog = () => fs.readFileSync(path.join(KNOT_DIR, "knot.log"), "utf8");
/** Knot's log lines of dynamic updates its ACL let in, signed with the TSIG key. */
const signedUpdates = () =>
    knotLog()
        .split("\n")
        .filter(l => l.includes("ACL, allowed, action update") && l.includes(`key '${TSIG_KEY}.'`));
const zoneSerial = () =>
    Number(
        /SOA\s+\S+\s+\S+\s+(\d+)/.exec(fs.readFileSync(path.join(KNOT_DIR, "zones", "example.test.zone"), "utf8"))![1],
    );

// ---------------------------------------------------------------- the suite

const acmeId = () => docker(["container", "inspect", "-f", "{{.Id}}", `${PREFIX}-acme`]);

/**
 * Listening sockets of lego processes on the host (`ss -ltnp`), each with its process's cgroup,
 * read at once: the process is short-lived, and another stack's lego (acme.test.ts) may run too.
 */
function legoListening(): Array<{ line: string; cgroup: string }> {
    return spawnSync("ss", ["-Hltnp"], { encoding: "utf8" })
        .stdout.split("\n")
        .filter(l => l.includes('"lego"'))
        .map(line => {
            const pid = /"lego",pid=(\d+)/.exec(line)?.[1];
            let cgroup = "";
            try {
                cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8");
            } catch {
                // gone already
            }
            return { line: line.trim(), cgroup };
        });
}

describe("tls.acme dns-01 through lego's rfc2136 provider, Knot DNS and Pebble", () => {
    let config: Record<string, unknown>;
    let secret = tsigSecret();
    let intermediate = "";
    let firstSerial = "";
    let id = "";

    before(async () => {
        destroy(PREFIX);
        const caPem = pebble.makeFiles();
        await startKnot(secret);
        await pebble.start();
        intermediate = pebble.intermediate();
        config = liveConfig(
            {
                "mailserver:tls": {
                    acme: {
                        directory: pebble.directory,
                        email: "hostmaster@example.test",
                        names: [EXTRA],
                        challenge: "dns-01",
                        dnsProvider: "rfc2136",
                        dnsSettings: {
                            RFC2136_NAMESERVER: KNOT_DNS,
                            RFC2136_TSIG_KEY: TSIG_KEY,
                            RFC2136_TSIG_ALGORITHM: "hmac-sha256.",
                            RFC2136_POLLING_INTERVAL: "1",
                            RFC2136_PROPAGATION_TIMEOUT: "30",
                            // One name after the other without lego's default minute between them.
                            RFC2136_SEQUENCE_INTERVAL: "1",
                        },
                        // Knot answers for the zone itself; its NS (port 53) is not asked.
                        dnsResolvers: [KNOT_DNS],
                        dnsCheckAllNameservers: false,
                        retrySeconds: 5,
                        caCertPem: caPem,
                    },
                },
                "mailserver:tlsAcmeDnsCredentials": { RFC2136_TSIG_SECRET: secret },
                "mailserver:spamFilter": { enabled: false },
            },
            PREFIX,
            35000,
        );
    });

    after(() => {
        pebble.stop();
        knot?.kill();
        keepLogs(PREFIX, ["acme", "acme-config", "postfix", "dovecot"]);
        destroy(PREFIX);
        assert.deepEqual(stackContainers(PREFIX), [], "containers left behind");
    });

    test("every port serves Pebble's certificate, validated over DNS; lego never listens", async () => {
        // lego runs during the deployment already: its listening sockets are sampled from the start.
        const listening: Array<{ line: string; cgroup: string }> = [];
        const sample = setInterval(() => listening.push(...legoListening()), 250);
        const started = Date.now();
        let all;
        try {
            const r = await deployAsync(config);
            assert.ok(r.outputs, "deployed");
            id = acmeId();
            all = await waitForAll(
                TLS_PORTS,
                HOSTNAME,
                "Pebble's certificate",
                s => s.issuer === intermediate,
                180_000,
            );
        } finally {
            clearInterval(sample);
        }
        process.stdout.write(
            `# Pebble's certificate ${all[0].serial} after ${(Date.now() - started) / 1000}s; ` +
                `Knot: ${signedUpdates().length} signed updates, zone serial ${zoneSerial()}\n`,
        );
        assert.equal(new Set(all.map(s => s.serial)).size, 1, "the same certificate on every port");
        assert.deepEqual(all[0].names, [EXTRA, HOSTNAME].sort());
        firstSerial = all[0].serial;
        // Only this stack's ACME container counts (its id is in its processes' cgroup paths).
        const ours = listening.filter(l => l.cgroup.includes(id)).map(l => l.line);
        assert.deepEqual(ours, [], "lego listened on a port");
        const inspect = JSON.parse(docker(["inspect", `${PREFIX}-acme`]))[0];
        assert.deepEqual(inspect.HostConfig.PortBindings ?? {}, {}, "published ports");
        const env: string[] = inspect.Config.Env;
        assert.ok(env.includes("ACME_CHALLENGE=dns-01") && env.includes("ACME_DNS_PROVIDER=rfc2136"), env.join(" "));
        assert.ok(!env.some(e => e.startsWith("ACME_HTTP_LISTEN=")), "an HTTP-01 listen address");
        assert.ok(env.includes("RFC2136_TSIG_SECRET_FILE=/credentials/current/RFC2136_TSIG_SECRET"), "the _FILE path");
        assert.ok(!env.some(e => e.startsWith("RFC2136_TSIG_SECRET=")), "the secret itself");
        // lego solved DNS-01 for both names, and Pebble validated them (asking Knot).
        const lego = dockerLogs(`${PREFIX}-acme`);
        for (const name of [HOSTNAME, EXTRA]) {
            assert.ok(lego.includes(`[${name}] acme: use dns-01 solver`), lego);
            // lego itself says it has no HTTP-01 server to offer.
            assert.ok(lego.includes(`[${name}] acme: Could not find solver for: http-01`), lego);
        }
        const valid = fs.readFileSync(path.join(WORK, "pebble.log"), "utf8").match(/set VALID by completed challenge/g);
        assert.ok(valid && valid.length >= 2, "Pebble's validations");
        // Knot: signed updates for both names (publish and clean up), the zone file rewritten.
        const updates = signedUpdates();
        assert.ok(updates.length >= 2, `signed updates in Knot's log:\n${knotLog()}`);
        assert.ok(zoneSerial() > 1, "the zone's serial moved on");
    });

    test("the credential is a root-only file, and in no environment, label, log or plain in the state", () => {
        const stat = docker([
            "exec",
            `${PREFIX}-acme`,
            "stat",
            "-L",
            "-c",
            "%a %U",
            "/credentials/current/RFC2136_TSIG_SECRET",
        ]);
        assert.equal(stat, "400 root");
        const ids = stackContainers(PREFIX);
        assert.ok(ids.length >= 5, "the stack's containers, the config job among them");
        for (const c of ids) {
            assert.ok(!docker(["inspect", c]).includes(secret), `docker inspect ${c}`);
            assert.ok(!dockerLogs(c).includes(secret), `docker logs ${c}`);
        }
        const state = spawnSync("grep", ["-rlF", secret, engineDir(PREFIX)], { encoding: "utf8" });
        assert.equal(state.stdout.trim(), "", "the secret plain in the engine's state or config");
        const engineLog = fs.readFileSync(path.join(ARTIFACTS, `engine-${PREFIX}.log`), "utf8");
        assert.ok(!engineLog.includes(secret), "the secret in the engine's output (preview diff)");
    });

    test("a new secret replaces only its config job; the ACME container orders again with it", async () => {
        const before = signedUpdates().length;
        secret = tsigSecret();
        rotateKnotKey(secret);
        const r = deploy({ ...config, "mailserver:tlsAcmeDnsCredentials": { RFC2136_TSIG_SECRET: secret } });
        assert.deepEqual(r.replaced, [`${PREFIX}-acme-config`], "replaced containers");
        assert.equal(acmeId(), id, "the ACME container is the same");
        docker(["exec", `${PREFIX}-acme`, "/usr/local/lib/mail/acme", "renew-now"]);
        const [now] = await waitForAll(
            TLS_PORTS,
            HOSTNAME,
            "the new certificate",
            s => s.issuer === intermediate && s.serial !== firstSerial,
        );
        // Knot knows only the new secret now: each name's record added and removed with it.
        assert.ok(signedUpdates().length >= before + 4, `updates signed with the new secret:\n${knotLog()}`);
        assert.ok(!/ACL, denied|TSIG|BADSIG|BADKEY/.test(knotLog()), "an update Knot refused");
        assert.equal(docker(["inspect", "-f", "{{.RestartCount}}", id]), "0", "restarts");
        const logs = dockerLogs(`${PREFIX}-acme`);
        assert.ok(!logs.includes(secret), "the new secret in the ACME container's log");
        process.stdout.write(`# after the new secret: ${firstSerial} -> ${now.serial}\n`);
    });
});
