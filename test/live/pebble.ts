// Shared by the tls.acme live suites: Pebble (Debian's `pebble`, a local ACME test server) with
// its own HTTPS CA.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { makeCert, run } from "./tls-sessions";

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

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
        const ca = makeCert(this.o.work, "ca", { subject: `/CN=${this.o.label} Pebble TLS CA` });
        const own = makeCert(this.o.work, "pebble", {
            subject: `/CN=${this.o.address}`,
            san: `IP:${this.o.address}`,
            ca: "ca",
        });
        const base = this.o.portBase;
        fs.writeFileSync(
            this.file("pebble.json"),
            JSON.stringify({
                pebble: {
                    listenAddress: `${this.o.address}:${base + 14}`,
                    managementListenAddress: `${this.o.address}:${base + 15}`,
                    certificate: own.certFile,
                    privateKey: own.keyFile,
                    // HTTP-01 validation asks this port of the name's address.
                    httpPort: base + 80,
                    tlsPort: base + 443,
                    ocspResponderURL: "",
                    externalAccountBindingRequired: false,
                },
            }),
        );
        return ca.cert;
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
