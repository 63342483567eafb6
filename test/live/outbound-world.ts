// A small fake internet of remote mail destinations, to test the outbound TLS of our Postfix: DANE
// (RFC 7672) and MTA-STS (RFC 8461). Each destination is a DNSSEC-signed zone served by Knot DNS
// on loopback (the product's unbound is given a stub zone and a trust anchor per zone), an SMTP
// receiver for its MX and, with MTA-STS, an HTTPS server for its policy. The receivers listen on
// real addresses (198.51.100.0/24, TEST-NET-2) inside a network namespace of the world's own,
// reached from the host (and so from a container on the host network) through a veth pair.
//
//   const world = await startOutboundWorld({ work, label: "obw", destinations: DESTINATIONS });
//   // unbound: stub-zone per world.zones to world.authServer, trust-anchor: per world.trustAnchors;
//   // the MTA-STS resolver trusts world.caPem.
//   ... Postfix sends to someone@dane-ok.test ...
//   assert.equal(world.received("mx.dane-ok.test")[0].secure, true);
//   await world.stop();
//
// Two worlds may run at once on a host when each has a subnet and a Knot address of its own
// (options subnet, authAddress, authPort): the host routes each subnet through its world's veth.
// Never 192.0.2.0/24 or 203.0.113.0/24: on the test machines the host's own network and the package
// registries (deb.debian.org, PyPI, npm at 203.0.113.80) are there, and a world's route would take
// their traffic while it runs (image builds of other suites fail).
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { LogLine, ServersSpec } from "./outbound-world-servers";
import { makeCert } from "./tls-sessions";

const ROOT = path.resolve(__dirname, "..", "..");
const SERVERS_SCRIPT = path.join(__dirname, "outbound-world-servers.ts");
/** The default subnet (TEST-NET-2), the outbound TLS test's; DESTINATIONS are in it. */
const SUBNET = "198.51.100";
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export interface DestinationSpec {
    /** The zone, e.g. "dane-ok.test"; its MX record names mx.<domain>. */
    domain: string;
    /** The address of mx.<domain>, inside the world's namespace: 198.51.100.2-254. */
    mxAddress: string;
    /**
     * What the MX offers: STARTTLS with a certificate for mx.<domain> signed by the world's CA ("ca"),
     * STARTTLS with a self-signed certificate for another name ("self-signed"), or no STARTTLS ("none").
     */
    starttls: "ca" | "self-signed" | "none";
    /**
     * Publishes _25._tcp.mx.<domain> TLSA 3 1 1: the SHA-256 of the key the MX serves ("match"), or
     * of another key ("mismatch").
     */
    tlsa?: "match" | "mismatch";
    /**
     * An MTA-STS policy: _mta-sts.<domain> TXT "v=STSv1; id=<id>", and mta-sts.<domain> at `address`
     * serving it on 443 with a certificate signed by the world's CA. `mx` defaults to [mx.<domain>].
     */
    mtaSts?: { address: string; mode: "enforce" | "testing" | "none"; id: string; maxAge?: number; mx?: string[] };
    /** Publishes _smtp._tls.<domain> TXT "v=TLSRPTv1; rua=<tlsRpt>" (RFC 8460). */
    tlsRpt?: string;
    /** More records of the zone, in zone-file form relative to it, e.g. `_dmarc TXT "v=DMARC1; p=none"`. */
    records?: string[];
}

/** The outbound test's destinations: one per case of DANE and MTA-STS, a plain one, and a report collector. */
export const DESTINATIONS: DestinationSpec[] = [
    { domain: "dane-ok.test", mxAddress: `${SUBNET}.10`, starttls: "ca", tlsa: "match" },
    { domain: "dane-bad.test", mxAddress: `${SUBNET}.11`, starttls: "ca", tlsa: "mismatch" },
    {
        domain: "sts-badcert.test",
        mxAddress: `${SUBNET}.12`,
        starttls: "self-signed",
        mtaSts: { address: `${SUBNET}.20`, mode: "enforce", id: "20261207" },
        tlsRpt: "mailto:tlsrpt@reports.test",
    },
    {
        domain: "sts-notls.test",
        mxAddress: `${SUBNET}.13`,
        starttls: "none",
        mtaSts: { address: `${SUBNET}.21`, mode: "enforce", id: "20261207" },
    },
    { domain: "plain.test", mxAddress: `${SUBNET}.14`, starttls: "self-signed" },
    { domain: "reports.test", mxAddress: `${SUBNET}.15`, starttls: "ca" },
];

export interface ReceivedMessage {
    from: string;
    to: string[];
    /** The message as sent after DATA (headers and body, CRLF line ends). */
    data: string;
    /** The session had switched to TLS (STARTTLS) before the message. */
    secure: boolean;
    /** The name the client sent in TLS SNI, if any. */
    servername?: string;
}

export interface OutboundWorld {
    /**
     * Where unbound's stub-zone of each zone sends its queries: Knot DNS, e.g. 127.0.0.61 port 49053.
     * unbound also needs `do-not-query-localhost: no`, and `local-zone: "test." nodefault`: by default
     * it answers NXDOMAIN for all of test. itself (RFC 6761).
     */
    authServer: { address: string; port: number };
    /** The zones served (one per destination), e.g. ["dane-ok.test", ...]. */
    zones: string[];
    /** One DS per zone, as unbound's trust-anchor takes it: "dane-ok.test. DS 12345 13 2 e6e2fe...". */
    trustAnchors: string[];
    /** The CA of the MTA-STS policy servers' certificates and of the MX certificates that should verify. */
    caPem: string;
    /** The network namespace the receivers listen in. */
    namespace: string;
    /** Messages the MX of this destination got, oldest first: give the domain, the MX's name or its address. */
    received(host: string): ReceivedMessage[];
    /** Requests to a destination's MTA-STS policy server (domain or mta-sts.<domain>), oldest first. */
    policyRequests(host: string): Array<{ path: string; servername?: string; status: number }>;
    /** Stops Knot and the servers, removes the namespace and the veth. */
    stop(): Promise<void>;
}

export interface OutboundWorldOptions {
    /** The artifact folder; the world's files (Knot's, the certificates) go in <work>/outbound-world. */
    work: string;
    /** Names the namespace ow-<label> and the veth owh-<label>: at most 11 of [a-z0-9-]. */
    label: string;
    destinations: DestinationSpec[];
    /** Knot's loopback address and port. Default: 127.0.0.61, 49053. */
    authAddress?: string;
    authPort?: number;
    /** The first three octets of the /24 the receivers listen in (x.y.z.1 is the host's end). Default: 198.51.100. */
    subnet?: string;
}

/** Runs a command; a failure throws with its output. */
function sh(cmd: string, args: string[], timeout = 30_000): string {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout });
    if (r.status !== 0)
        throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
    return r.stdout;
}

/** Runs a command whose failure is expected at times (removing what is already gone). */
const trySh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });

/** The TLSA 3 1 1 data of a key: SHA-256 of its DER SubjectPublicKeyInfo. */
function spkiSha256(keyPem: string): string {
    const spki = createPublicKey(keyPem).export({ type: "spki", format: "der" });
    return createHash("sha256").update(spki).digest("hex").toUpperCase();
}

function policyText(d: DestinationSpec): string {
    const sts = d.mtaSts!;
    const mx = sts.mx ?? [`mx.${d.domain}`];
    return `version: STSv1\nmode: ${sts.mode}\n${mx.map(m => `mx: ${m}\n`).join("")}max_age: ${sts.maxAge ?? 86400}\n`;
}

function zoneText(d: DestinationSpec, authAddress: string, tlsa: string | undefined): string {
    const lines = [
        `$ORIGIN ${d.domain}.`,
        "$TTL 60",
        "@ SOA ns hostmaster 1 3600 600 86400 60",
        "@ NS ns",
        `ns A ${authAddress}`,
        "@ MX 10 mx",
        `mx A ${d.mxAddress}`,
    ];
    if (tlsa) lines.push(`_25._tcp.mx TLSA 3 1 1 ${tlsa}`);
    if (d.mtaSts) lines.push(`_mta-sts TXT "v=STSv1; id=${d.mtaSts.id}"`, `mta-sts A ${d.mtaSts.address}`);
    if (d.tlsRpt) lines.push(`_smtp._tls TXT "v=TLSRPTv1; rua=${d.tlsRpt}"`);
    lines.push(...(d.records ?? []));
    return lines.join("\n") + "\n";
}

/**
 * knotd as root, everything in `dir`: each zone signed automatically (ECDSA P-256, algorithm 13,
 * NSEC), with keys that never roll, so the trust anchors stay valid while the world runs.
 */
function knotConfig(dir: string, listen: string, zones: string[]): string {
    return `server:
    rundir: "${dir}/run"
    listen: ${listen}
log:
  - target: "${dir}/knot.log"
    any: info
database:
    storage: "${dir}/db"
    kasp-db: "${dir}/keys"
control:
    listen: "${dir}/run/knot.sock"
policy:
  - id: world
    algorithm: ecdsap256sha256
    ksk-lifetime: 0
    zsk-lifetime: 0
    nsec3: off
template:
  - id: default
    storage: "${dir}/zones"
    file: "%s.zone"
    dnssec-signing: on
    dnssec-policy: world
zone:
${zones.map(z => `  - domain: ${z}\n`).join("")}`;
}

/** The zone answers with signatures: its SOA comes with an RRSIG, and its DNSKEY set is published. */
function signedAnswer(address: string, port: number, zone: string): boolean {
    const ask = (type: string) =>
        trySh("kdig", [`@${address}`, "-p", String(port), "+dnssec", "+norec", "+time=1", "+retry=0", type, zone]);
    return /\sRRSIG\s+SOA\s/.test(ask("SOA").stdout) && /\sDNSKEY\s+257\s/.test(ask("DNSKEY").stdout);
}

/** The zone's DS (SHA-256 digest) of its KSK, as keymgr computes it from the KASP database. */
function dsOf(conf: string, zone: string): string {
    const ds = sh("keymgr", ["-c", conf, zone, "ds"])
        .split("\n")
        .map(l => l.trim().split(/\s+/))
        .filter(f => f[1] === "DS" && f[4] === "2");
    if (ds.length !== 1) throw new Error(`keymgr ${zone} ds: expected one SHA-256 DS, got ${JSON.stringify(ds)}`);
    return ds[0].join(" ");
}

/**
 * Removes the namespace (with the processes in it), the veth and the knotd of this world: on stop,
 * and before a start, in case a run that died left them.
 */
function removeLeftovers(namespace: string, veth: string, knotPidFile: string): void {
    const inside = trySh("ip", ["netns", "pids", namespace]);
    if (inside.status === 0) {
        for (const pid of inside.stdout.split(/\s+/).filter(Boolean)) trySh("kill", ["-KILL", pid]);
        trySh("ip", ["netns", "del", namespace]);
    }
    trySh("ip", ["link", "del", veth]);
    if (fs.existsSync(knotPidFile)) {
        const pid = fs.readFileSync(knotPidFile, "utf8").trim();
        // Only the knotd that wrote this file; a pid reused by another program is left alone.
        if (/^\d+$/.test(pid) && trySh("cat", [`/proc/${pid}/comm`]).stdout.trim() === "knotd")
            trySh("kill", ["-KILL", pid]);
    }
}

/**
 * The namespace with every address of the destinations, joined to the host by a veth pair whose
 * host end (hostSide) is the namespace's default route and the source of the host's connections.
 */
function makeNamespace(namespace: string, veth: string, peer: string, hostSide: string, addresses: string[]): void {
    const inNs = (...args: string[]) => sh("ip", ["-n", namespace, ...args]);
    sh("ip", ["netns", "add", namespace]);
    sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", peer, "netns", namespace]);
    sh("ip", ["addr", "add", `${hostSide}/24`, "dev", veth]);
    sh("ip", ["link", "set", veth, "up"]);
    inNs("link", "set", "lo", "up");
    for (const a of addresses) inNs("addr", "add", `${a}/24`, "dev", peer);
    inNs("link", "set", peer, "up");
    inNs("route", "add", "default", "via", hostSide);
}

async function startKnot(dir: string, conf: string, zones: string[], address: string, port: number) {
    const out = fs.openSync(path.join(dir, "knotd.out"), "a");
    const knot = spawn("knotd", ["-c", conf], { stdio: ["ignore", out, out] });
    fs.closeSync(out);
    const deadline = Date.now() + 30_000;
    for (;;) {
        if (knot.exitCode !== null) throw new Error(`knotd exited (${knot.exitCode}); see ${dir}/knotd.out`);
        if (zones.every(z => signedAnswer(address, port, z))) return knot;
        if (Date.now() > deadline) {
            knot.kill("SIGKILL");
            throw new Error(`Knot did not serve signed zones within 30 s; see ${dir}/knot.log`);
        }
        await sleep(200);
    }
}

/** Starts the receivers in the namespace; resolves when they all listen (the script prints "ready"). */
async function startServers(namespace: string, dir: string, spec: ServersSpec): Promise<ChildProcess> {
    const specFile = path.join(dir, "servers.json");
    fs.writeFileSync(specFile, JSON.stringify(spec, null, 2));
    const log = path.join(dir, "servers.log");
    const err = fs.openSync(log, "a");
    // stdin stays an open pipe: the script exits when it closes, that is when this process ends.
    const child = spawn(
        "ip",
        ["netns", "exec", namespace, process.execPath, "--import", "tsx", SERVERS_SCRIPT, specFile],
        {
            cwd: ROOT,
            stdio: ["pipe", "pipe", err],
        },
    );
    fs.closeSync(err);
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
            () => reject(new Error(`the world's servers did not start within 60 s; see ${log}`)),
            60_000,
        );
        let out = "";
        child.stdout!.setEncoding("utf8").on("data", d => {
            out += d;
            if (out.includes("ready\n")) {
                clearTimeout(timer);
                resolve();
            }
        });
        child.once("exit", code => {
            clearTimeout(timer);
            reject(new Error(`the world's servers exited (${code}): ${fs.readFileSync(log, "utf8")}`));
        });
    });
    child.stdout!.resume();
    return child;
}

export async function startOutboundWorld(opts: OutboundWorldOptions): Promise<OutboundWorld> {
    if (!/^[a-z0-9-]{1,11}$/.test(opts.label)) throw new Error(`label "${opts.label}": at most 11 of [a-z0-9-]`);
    const authAddress = opts.authAddress ?? "127.0.0.61";
    const authPort = opts.authPort ?? 49053;
    const subnet = opts.subnet ?? SUBNET;
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new Error(`subnet "${subnet}": expected three octets`);
    const hostSide = `${subnet}.1`;
    const namespace = `ow-${opts.label}`;
    const veth = `owh-${opts.label}`;
    const dir = path.join(opts.work, "outbound-world");
    const knotDir = path.join(dir, "knot");
    const conf = path.join(knotDir, "knot.conf");
    const certs = path.join(dir, "certs");
    const logFile = path.join(dir, "received.jsonl");
    const dests = opts.destinations;

    const addresses = [...new Set(dests.flatMap(d => [d.mxAddress, ...(d.mtaSts ? [d.mtaSts.address] : [])]))];
    for (const a of addresses)
        if (!a.startsWith(`${subnet}.`) || a === hostSide) throw new Error(`${a}: not in ${subnet}.2-254`);

    removeLeftovers(namespace, veth, path.join(knotDir, "run", "knot.pid"));
    fs.rmSync(dir, { recursive: true, force: true });
    for (const d of ["run", "db", "keys", "zones"]) fs.mkdirSync(path.join(knotDir, d), { recursive: true });
    fs.writeFileSync(logFile, "");

    // Certificates: the CA's, then per destination its MX's and its policy server's.
    const ca = makeCert(certs, "ca", { subject: `/CN=${opts.label} outbound world CA`, strict: true });
    const spec: ServersSpec = { log: logFile, smtp: [], https: [] };
    for (const d of dests) {
        const mx = `mx.${d.domain}`;
        const cert =
            d.starttls === "self-signed"
                ? makeCert(certs, mx, { subject: "/CN=wrong.invalid", san: "DNS:wrong.invalid" })
                : makeCert(certs, mx, { subject: `/CN=${mx}`, san: `DNS:${mx}`, ca: "ca", strict: true });
        spec.smtp.push({
            host: mx,
            address: d.mxAddress,
            port: 25,
            starttls: d.starttls !== "none",
            certFile: cert.certFile,
            keyFile: cert.keyFile,
        });
        const tlsa =
            d.tlsa === "match"
                ? spkiSha256(cert.key)
                : d.tlsa === "mismatch"
                  ? spkiSha256(
                        generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
                            type: "pkcs8",
                            format: "pem",
                        }) as string,
                    )
                  : undefined;
        fs.writeFileSync(path.join(knotDir, "zones", `${d.domain}.zone`), zoneText(d, authAddress, tlsa));
        if (d.mtaSts) {
            const host = `mta-sts.${d.domain}`;
            const policyCert = makeCert(certs, host, {
                subject: `/CN=${host}`,
                san: `DNS:${host}`,
                ca: "ca",
                strict: true,
            });
            spec.https.push({
                host,
                address: d.mtaSts.address,
                port: 443,
                certFile: policyCert.certFile,
                keyFile: policyCert.keyFile,
                policy: policyText(d),
            });
        }
    }

    const zones = dests.map(d => d.domain);
    fs.writeFileSync(conf, knotConfig(knotDir, `${authAddress}@${authPort}`, zones));

    let knot: ChildProcess | undefined;
    let servers: ChildProcess | undefined;
    // Synchronous, so that it also runs on the way out of a process that ends abruptly.
    const teardown = () => {
        servers?.kill("SIGKILL");
        knot?.kill("SIGTERM");
        removeLeftovers(namespace, veth, path.join(knotDir, "run", "knot.pid"));
    };
    const onSignal = (signal: NodeJS.Signals) => {
        teardown();
        process.kill(process.pid, signal);
    };
    process.on("exit", teardown);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const forget = () => {
        process.off("exit", teardown);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    };

    let trustAnchors: string[];
    try {
        knot = await startKnot(knotDir, conf, zones, authAddress, authPort);
        trustAnchors = zones.map(z => dsOf(conf, z));
        makeNamespace(namespace, veth, `own-${opts.label}`, hostSide, addresses);
        servers = await startServers(namespace, dir, spec);
    } catch (e) {
        teardown();
        forget();
        throw e;
    }

    const lines = (): LogLine[] =>
        fs
            .readFileSync(logFile, "utf8")
            .split("\n")
            .filter(Boolean)
            .map(l => JSON.parse(l) as LogLine);
    /** The MX name a domain, MX name or MX address stands for. */
    const mxOf = (host: string) => {
        const d = dests.find(x => host === x.domain || host === `mx.${x.domain}` || host === x.mxAddress);
        if (!d) throw new Error(`${host}: no destination of this world`);
        return `mx.${d.domain}`;
    };

    return {
        authServer: { address: authAddress, port: authPort },
        zones,
        trustAnchors,
        caPem: ca.cert,
        namespace,
        received(host) {
            const mx = mxOf(host);
            return lines().flatMap(l =>
                l.kind === "smtp" && l.host === mx
                    ? [{ from: l.from, to: l.to, data: l.data, secure: l.secure, servername: l.servername }]
                    : [],
            );
        },
        policyRequests(host) {
            const name = host.startsWith("mta-sts.") ? host : `mta-sts.${host}`;
            return lines().flatMap(l =>
                l.kind === "https" && l.host === name
                    ? [{ path: l.path, servername: l.servername, status: l.status }]
                    : [],
            );
        },
        async stop() {
            const exited = (c: ChildProcess | undefined) =>
                c && c.exitCode === null && c.signalCode === null
                    ? new Promise<void>(resolve => c.once("exit", () => resolve()))
                    : Promise.resolve();
            const both = Promise.all([exited(knot), exited(servers)]);
            teardown();
            await Promise.race([both, sleep(10_000)]);
            forget();
        },
    };
}

/** MailServer outboundTls for a stack whose own resolver (at `address`) trusts this world's zones. */
export function worldResolver(world: OutboundWorld, address: string) {
    const { address: knot, port } = world.authServer;
    return {
        resolver: true,
        resolverAddress: address,
        stubZones: world.zones.map(zone => ({ zone, servers: [`${knot}@${port}`] })),
        trustAnchors: world.trustAnchors,
    };
}
