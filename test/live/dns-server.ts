// A real authoritative DNS server for live tests: NSD from Debian 13 (test/tools/nsd) in a Docker
// container on the host network, bound to one loopback address and a high port. It serves the zone
// texts VirtualDomain.dnsZone gives (adding the SOA and NS records a zone needs, which dnsZone leaves
// to the DNS provider), and PTR records from zones of their own, as a reverse zone would.
//
//   const dns = await startDnsServer({ address: "127.0.0.53", port: 15353, zones: [zoneText], reverse });
//   resolver.setServers(["127.0.0.53:15353"]);
//   await dns.reload([newZoneText]);
//   await dns.stop();
import { spawnSync } from "node:child_process";
import { Resolver } from "node:dns/promises";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DnsRecord } from "../../components/model/dns";

const ROOT = path.resolve(__dirname, "..", "..");
export const DNS_SERVER_IMAGE = "mailtest-nsd:latest";

export interface DnsServerOptions {
    /** A loopback address to bind, e.g. "127.0.0.53". */
    address: string;
    port: number;
    /** Zone texts with an $ORIGIN line (VirtualDomain.dnsZone); SOA and NS are added. */
    zones: string[];
    /** PTR records (VirtualDomain.dnsRecords of type PTR): each name is served by a zone of its own. */
    reverse?: DnsRecord[];
    /** The container's label mailserver.stack (test/run-all.sh checks none is left). Default: "dns-<port>". */
    stackLabel?: string;
}

export interface DnsServer {
    /** "127.0.0.53:15353", for Resolver.setServers. */
    server: string;
    /** Serves these zones instead (NSD restarts; resolves once every zone answers). */
    reload(zones: string[], reverse?: DnsRecord[]): Promise<void>;
    /** Removes the container and its files. */
    stop(): Promise<void>;
}

function docker(args: string[], timeout = 120_000) {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout, maxBuffer: 16 << 20 });
    if (r.status !== 0)
        throw new Error(`docker ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
}

function originOf(zone: string): string {
    const m = /^\$ORIGIN\s+(\S+)\s*$/m.exec(zone);
    if (!m) throw new Error("a zone text needs an $ORIGIN line");
    return m[1].endsWith(".") ? m[1] : `${m[1]}.`;
}

/** The zone with the SOA and NS records its provider would add, right after $ORIGIN/$TTL. */
function withSoa(zone: string, origin: string): string {
    const soa = [
        `${origin} 3600 IN SOA ns.${origin} hostmaster.${origin} 1 3600 600 86400 300`,
        `${origin} 3600 IN NS ns.${origin}`,
    ];
    const lines = zone.split("\n");
    const at = lines.findIndex(l => l.startsWith("$TTL"));
    lines.splice(at === -1 ? lines.findIndex(l => l.startsWith("$ORIGIN")) + 1 : at + 1, 0, ...soa);
    return lines.join("\n");
}

/** One zone per PTR name: served as its own apex, as a classless reverse delegation would. */
function reverseZones(records: DnsRecord[]): string[] {
    const byName = new Map<string, DnsRecord[]>();
    for (const r of records) {
        if (r.type !== "PTR") throw new Error(`reverse: expected PTR records, got ${r.type} ${r.name}`);
        byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
    }
    return [...byName].map(
        ([name, rs]) => `$ORIGIN ${name}.\n$TTL 3600\n${rs.map(r => `${name}. 3600 IN PTR ${r.value}`).join("\n")}\n`,
    );
}

function writeConfig(dir: string, o: { address: string; port: number }, zones: string[]): string[] {
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
    const origins: string[] = [];
    const conf = [
        "server:",
        `    ip-address: ${o.address}`,
        `    port: ${o.port}`,
        "    do-ip6: no",
        // Root inside the container, no privilege drop: the zone files are the test's.
        '    username: ""',
        '    chroot: ""',
        '    zonesdir: "/zones"',
        '    database: ""',
        '    pidfile: "/tmp/nsd.pid"',
        '    zonelistfile: "/tmp/zone.list"',
        '    xfrdfile: "/tmp/xfrd.state"',
        '    xfrdir: "/tmp"',
        "    server-count: 1",
        "    verbosity: 1",
        "remote-control:",
        "    control-enable: no",
    ];
    zones.forEach((zone, i) => {
        const origin = originOf(zone);
        if (origins.includes(origin)) throw new Error(`two zones for ${origin}`);
        origins.push(origin);
        fs.writeFileSync(path.join(dir, `z${i}.zone`), withSoa(zone, origin), { mode: 0o644 });
        conf.push("zone:", `    name: "${origin}"`, `    zonefile: "z${i}.zone"`);
    });
    fs.writeFileSync(path.join(dir, "nsd.conf"), conf.join("\n") + "\n", { mode: 0o644 });
    return origins;
}

async function waitUntilServing(name: string, server: string, origins: string[]): Promise<void> {
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([server]);
    const deadline = Date.now() + 30_000;
    for (;;) {
        const state = docker(["inspect", "-f", "{{.State.Status}}", name]);
        if (state === "exited" || state === "dead") {
            const logs = spawnSync("docker", ["logs", name], { encoding: "utf8" });
            throw new Error(`NSD stopped: ${logs.stdout}${logs.stderr}`);
        }
        const answered = await Promise.all(
            origins.map(o =>
                resolver.resolveSoa(o).then(
                    () => true,
                    () => false,
                ),
            ),
        );
        if (answered.every(Boolean)) return;
        if (Date.now() > deadline) {
            const logs = spawnSync("docker", ["logs", name], { encoding: "utf8" });
            throw new Error(`NSD did not answer for ${origins.join(", ")} within 30 s: ${logs.stdout}${logs.stderr}`);
        }
        await new Promise(r => setTimeout(r, 200));
    }
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
    const { address, port } = options;
    const name = `mailtest-dns-${address.replace(/\./g, "-")}-${port}`;
    const server = `${address}:${port}`;
    docker(
        ["build", "-q", "--network", "host", "-t", DNS_SERVER_IMAGE, path.join(ROOT, "test", "tools", "nsd")],
        600_000,
    );
    spawnSync("docker", ["rm", "-f", name], { encoding: "utf8" });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailtest-dns-"));
    fs.chmodSync(dir, 0o755);
    let origins = writeConfig(dir, options, [...options.zones, ...reverseZones(options.reverse ?? [])]);
    docker([
        "run",
        "-d",
        "--name",
        name,
        "--label",
        `mailserver.stack=${options.stackLabel ?? `dns-${port}`}`,
        "--network",
        "host",
        "-v",
        `${dir}:/zones:ro`,
        DNS_SERVER_IMAGE,
    ]);
    const stop = async () => {
        spawnSync("docker", ["rm", "-f", name], { encoding: "utf8" });
        fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
        await waitUntilServing(name, server, origins);
    } catch (e) {
        await stop();
        throw e;
    }
    return {
        server,
        async reload(zones: string[], reverse: DnsRecord[] = []) {
            origins = writeConfig(dir, options, [...zones, ...reverseZones(reverse)]);
            docker(["restart", "-t", "1", name]);
            await waitUntilServing(name, server, origins);
        },
        stop,
    };
}
