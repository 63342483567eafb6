// Live test: a certificate change in the modes without ACME (a new supplied PEM, a certificate
// signed by the user's CA, a new CA-signed one) reaches Postfix (25 STARTTLS, 465, 587 STARTTLS)
// and Dovecot (993, 4190 STARTTLS) through `pulumi up` on the real engine, without a container
// being replaced or restarted, while SMTP and IMAP sessions run: no refused connection, no failed
// session. Stack "tlsrot", port base 36000. (tls.acme's switches: acme.test.ts.)
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as path from "path";
import { containerIds, docker } from "./clients";
import { ARTIFACTS, deploy, deployAsync, destroy, liveConfig, portsFrom, stackContainers, USERS } from "./stack";
import { loadSummary, makeCert as makeTestCert, served, Served, startLoad, tlsPorts, waitForAll } from "./tls-sessions";

const PREFIX = "tlsrot";
const PORTS = portsFrom(36000);
const HOSTNAME = "mail.example.test";
const TLS_PORTS = tlsPorts(PORTS);
const WORK = path.join(ARTIFACTS, "tls-rotation");
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** A certificate for the stack's host name: self-signed, or signed by the test's CA. */
const makeCert = (name: string, subject: string, ca?: string) =>
    makeTestCert(WORK, name, { subject, san: `DNS:${HOSTNAME}`, ca });

const serviceIds = () => containerIds(PREFIX);

describe("certificate changes without ACME reach every TLS port under load, without restarts", () => {
    let ids: Record<string, string>;
    let ca: ReturnType<typeof makeCert>;
    const config = (tls: Record<string, unknown>) =>
        liveConfig({ ...tls, "mailserver:spamFilter": { enabled: false } }, PREFIX, 36000);

    before(() => {
        destroy(PREFIX);
        ca = makeCert("ca", "/CN=tlsrot test CA");
    });

    after(() => {
        destroy(PREFIX);
        assert.deepEqual(stackContainers(PREFIX), [], "containers left behind");
    });

    /** Deploys `cfg` while the load runs; every port must end up serving a certificate `ok` accepts. */
    async function switchUnderLoad(what: string, cfg: Record<string, unknown>, ok: (s: Served) => boolean) {
        const load = startLoad({ ports: PORTS, servername: HOSTNAME, user: USERS.alice });
        let all: Served[];
        let replaced: string[];
        try {
            await sleep(2000);
            replaced = (await deployAsync(cfg)).replaced;
            all = await waitForAll(TLS_PORTS, HOSTNAME, what, ok);
            // Sessions go on a little after the switch, on the new certificate.
            await sleep(3000);
        } finally {
            await load.stop();
        }
        process.stdout.write(`# ${what}: ${all[0].serial} (${all[0].issuer}); ${loadSummary(load)}\n`);
        // Config jobs are containers made anew for every change of their files; the services are not.
        assert.deepEqual(
            replaced.filter(n => !n.endsWith("-config")),
            [],
            "replaced service containers",
        );
        assert.equal(new Set(all.map(s => s.serial)).size, 1, "the same certificate on every port");
        assert.deepEqual(all[0].names, [HOSTNAME]);
        assert.equal(load.refused, 0, "refused connections");
        assert.deepEqual(load.failed, [], "failed sessions");
        assert.ok(load.ok > 20, `sessions ran (${load.ok})`);
        assert.deepEqual(serviceIds(), ids, "no container was replaced or recreated");
        return all[0];
    }

    test("a supplied certificate is served on every port", async () => {
        const first = makeCert("first", `/CN=${HOSTNAME}`);
        deploy(config({ "mailserver:tlsCertPem": first.cert, "mailserver:tlsKeyPem": first.key }));
        ids = serviceIds();
        for (const p of TLS_PORTS) assert.equal((await served(p, HOSTNAME))?.serial, first.serial, p.name);
    });

    test("a new supplied certificate", async () => {
        const second = makeCert("second", `/CN=${HOSTNAME}`);
        await switchUnderLoad(
            "a new supplied certificate",
            config({ "mailserver:tlsCertPem": second.cert, "mailserver:tlsKeyPem": second.key }),
            s => s.serial === second.serial,
        );
    });

    test("a certificate signed by the user's CA, then a new one", async () => {
        const caTls = (validityHours: number) =>
            // The CA's key as a secret stack key of its own (a key in plain config is refused).
            config({
                "mailserver:tls": { ca: { certPem: ca.cert, validityHours } },
                "mailserver:tlsCaKeyPem": ca.key,
            });
        const signed = await switchUnderLoad(
            "a CA-signed certificate",
            caTls(48),
            s => s.issuer === "CN = tlsrot test CA",
        );
        await switchUnderLoad(
            "a new CA-signed certificate",
            caTls(72),
            s => s.issuer === "CN = tlsrot test CA" && s.serial !== signed.serial,
        );
        const restarts = docker(["inspect", "-f", "{{.RestartCount}}", ...Object.values(ids)]);
        assert.deepEqual(new Set(restarts.split("\n")), new Set(["0"]), "restart counts");
    });
});
