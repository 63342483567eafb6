// Shared by the tls.acme live suites: Pebble (Debian's `pebble`, a local ACME test server) with
// its own HTTPS CA, and the certificate a mail port serves, read with openssl s_client.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { HOST } from "./clients";

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export function run(cmd: string, args: string[], input?: string): string {
    const r = spawnSync(cmd, args, { input, encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
}

export interface TlsPort {
    name: string;
    port: number;
    /** How openssl starts TLS there (smtp, sieve); none: implicit TLS. */
    starttls?: string;
}

export interface Served {
    serial: string;
    issuer: string;
    names: string[];
}

/** The leaf certificate a new TLS session on this port sees (openssl s_client, then x509). */
export function served(p: TlsPort, servername: string): Served | undefined {
    const r = spawnSync(
        "openssl",
        [
            "s_client",
            "-connect",
            `${HOST}:${p.port}`,
            "-servername",
            servername,
            ...(p.starttls ? ["-starttls", p.starttls] : []),
        ],
        { input: "", encoding: "utf8", timeout: 20_000 },
    );
    const pem = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
    if (!pem) return undefined;
    const x = run("openssl", ["x509", "-noout", "-serial", "-issuer", "-ext", "subjectAltName"], pem);
    return {
        serial: x.match(/serial=(\S+)/)![1],
        issuer: x.match(/issuer=(.*)/)![1].trim(),
        names: [...x.matchAll(/DNS:([^,\s]+)/g)].map(m => m[1]).sort(),
    };
}

/** Polls until every port serves a certificate that `ok` accepts; bounded in time. */
export async function waitForAll(
    ports: TlsPort[],
    servername: string,
    what: string,
    ok: (s: Served) => boolean,
    timeoutMs = 120_000,
): Promise<Served[]> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        const all = ports.map(p => served(p, servername));
        last = all;
        if (all.every(s => s && ok(s))) return all as Served[];
        await sleep(1000);
    }
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}: ${JSON.stringify(last)}`);
}

export interface PebbleOptions {
    /** Folder of its files and logs (test/.artifacts/...). */
    work: string;
    /** Loopback address of its HTTPS (directory on port base+14, management on base+15). */
    address: string;
    portBase: number;
    /** The DNS server Pebble's validation asks ("address:port"). */
    dnsServer: string;
    /** A prefix for the test CA's name. */
    label: string;
    /** Percentage of orders that reuse a valid authorization (Pebble's default: 50). */
    authzReuse?: number;
}

export class Pebble {
    readonly directory: string;
    private process: ChildProcess | undefined;

    constructor(readonly o: PebbleOptions) {
        this.directory = `https://${o.address}:${o.portBase + 14}/dir`;
    }

    private file(n: string): string {
        return path.join(this.o.work, n);
    }

    /** A CA and a certificate for its HTTPS (the ACME client trusts only this CA), its config; returns the CA. */
    makeFiles(): string {
        fs.mkdirSync(this.o.work, { recursive: true });
        const f = (n: string) => this.file(n);
        const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        const subj = `/CN=${this.o.label} Pebble TLS CA`;
        run("openssl", [
            "req",
            "-x509",
            ...ec,
            "-days",
            "2",
            "-subj",
            subj,
            "-keyout",
            f("ca.key"),
            "-out",
            f("ca.pem"),
        ]);
        run("openssl", [
            "req",
            ...ec,
            "-subj",
            `/CN=${this.o.address}`,
            "-keyout",
            f("pebble.key"),
            "-out",
            f("pebble.csr"),
        ]);
        fs.writeFileSync(f("ext"), `subjectAltName=IP:${this.o.address}\n`);
        run("openssl", [
            "x509",
            "-req",
            "-in",
            f("pebble.csr"),
            "-CA",
            f("ca.pem"),
            "-CAkey",
            f("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f("ext"),
            "-out",
            f("pebble.pem"),
        ]);
        const base = this.o.portBase;
        fs.writeFileSync(
            f("pebble.json"),
            JSON.stringify({
                pebble: {
                    listenAddress: `${this.o.address}:${base + 14}`,
                    managementListenAddress: `${this.o.address}:${base + 15}`,
                    certificate: f("pebble.pem"),
                    privateKey: f("pebble.key"),
                    // HTTP-01 validation asks this port of the name's address.
                    httpPort: base + 80,
                    tlsPort: base + 443,
                    ocspResponderURL: "",
                    externalAccountBindingRequired: false,
                },
            }),
        );
        return fs.readFileSync(f("ca.pem"), "utf8");
    }

    /** Starts Pebble and waits (bounded) until its directory answers. */
    async start(): Promise<void> {
        const log = fs.openSync(this.file("pebble.log"), "a");
        this.process = spawn("pebble", ["-config", this.file("pebble.json"), "-dnsserver", this.o.dnsServer], {
            stdio: ["ignore", log, log],
            env: {
                ...process.env,
                PEBBLE_VA_NOSLEEP: "1",
                PEBBLE_WFE_NONCEREJECT: "0",
                ...(this.o.authzReuse !== undefined ? { PEBBLE_AUTHZREUSE: String(this.o.authzReuse) } : {}),
            },
        });
        for (let i = 0; i < 50; i++) {
            const r = spawnSync("curl", ["-sf", "--cacert", this.file("ca.pem"), this.directory], { timeout: 5000 });
            if (r.status === 0) return;
            await sleep(200);
        }
        throw new Error(`Pebble did not start; see ${this.file("pebble.log")}`);
    }

    /** Subject of Pebble's intermediate, the issuer every certificate it signs names. */
    intermediate(): string {
        const url = `https://${this.o.address}:${this.o.portBase + 15}/intermediates/0`;
        const pem = run("curl", ["-sf", "--cacert", this.file("ca.pem"), url]);
        return run("openssl", ["x509", "-noout", "-subject"], pem)
            .replace(/^subject=/, "")
            .trim();
    }

    stop(): void {
        this.process?.kill();
    }
}
