// Keys survive the stack (issue 21): a stack's DKIM private keys are kept outside it (its secret
// dkimKeys output, as `npm run stack -- export-keys` writes it), the stack is lost entirely
// (containers, volumes and the engine's state), and a new stack given those keys signs with the keys
// whose records the domain published before: dkimpy verifies a message signed after the re-creation
// against the records of the first stack. Then the namePrefix guard: a preview with another prefix
// is refused, naming the data volumes it would leave behind, unless allowNamePrefixChange.
// Stack prefix keytest, port base 29500 (ports 29525, 30087, 29965, 29643, 30493, 29690).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as fs from "fs";
import * as path from "path";
import type { DnsRecord } from "../../components/model/dns";
import { caFile, fetchBySubject, OUTSIDER, smtp, uniqueSubject } from "./clients";
import { describeDkim, dkimVerify } from "./dkim";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom, stackContainers, stackVolumes, USERS } from "./stack";

const PREFIX = "keytest";
const OTHER_PREFIX = "keytestb";
const PORTS = portsFrom(29500);
const KEYS_FILE = path.join(ARTIFACTS, "keytest-dkim-keys.json");
const { alice, bob } = USERS;
const report = (line: string) => process.stdout.write(`# ${line}\n`);

const CONFIG = liveConfig({ "mailserver:dns": "none" }, PREFIX, PORTS.smtp - 25);
const dkimRecords = (records: DnsRecord[]) =>
    records.filter(r => r.type === "TXT" && r.name.includes("._domainkey.")).map(r => `${r.name} ${r.value}`);

/** alice submits to bob; bob's copy, as read over IMAPS (signed by rspamd on the way). */
async function signedMessage(label: string, certificatePem: string): Promise<string> {
    const ca = caFile(certificatePem, PREFIX);
    const subject = uniqueSubject(label);
    const r = smtp({
        port: PORTS.submission,
        source: OUTSIDER,
        tls: "starttls",
        ca,
        auth: alice,
        from: alice.address,
        to: bob.address,
        subject,
    });
    assert.equal(r.status, 0, r.transcript);
    return fetchBySubject(bob, subject, "imaps", ca, "INBOX", 30_000, PORTS);
}

let first: { records: DnsRecord[]; certificatePem: string };

before(() => {
    destroy(PREFIX);
    destroy(OTHER_PREFIX);
    fs.rmSync(KEYS_FILE, { force: true });
});

after(() => {
    destroy(PREFIX);
    destroy(OTHER_PREFIX);
    fs.rmSync(KEYS_FILE, { force: true });
});

describe("keys survive the stack", () => {
    test("a first stack signs with keys of its own; they are kept outside it (0600)", async () => {
        const t0 = Date.now();
        const r = deploy(CONFIG, true, { keysFile: KEYS_FILE });
        report(`first up: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        first = { records: r.outputs.dnsRecords, certificatePem: r.outputs.certificatePem };
        assert.equal(fs.statSync(KEYS_FILE).mode & 0o777, 0o600);
        const kept = JSON.parse(fs.readFileSync(KEYS_FILE, "utf8")) as Record<string, Array<{ selector: string }>>;
        assert.deepEqual(Object.fromEntries(Object.entries(kept).map(([d, keys]) => [d, keys.map(k => k.selector)])), {
            "example.test": ["mail-rsa", "mail-ed25519"],
            "example.org": ["mail-rsa", "mail-ed25519"],
        });
        const results = dkimVerify(await signedMessage("before", first.certificatePem), first.records);
        report(`before: ${describeDkim(results)}`);
        assert.deepEqual(results.map(x => [x.domain, x.algorithm, x.valid]).sort(), [
            ["example.test", "ed25519-sha256", true],
            ["example.test", "rsa-sha256", true],
        ]);
    });

    test("the stack is lost; a new one given the kept keys publishes the same records and signs with them", async () => {
        destroy(PREFIX);
        assert.deepEqual(stackContainers(PREFIX), []);
        assert.deepEqual(stackVolumes(PREFIX), []);
        const keys = JSON.parse(fs.readFileSync(KEYS_FILE, "utf8"));
        const t0 = Date.now();
        const r = deploy({ ...CONFIG, "mailserver:dkimKeys": keys });
        report(`re-created with the kept keys: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        const madeKeys = r.steps.filter(s => s.type === "tls:index/privateKey:PrivateKey" && s.name.includes("-dkim-"));
        assert.deepEqual(madeKeys, [], "no DKIM key is made anew");
        assert.ok(
            r.steps.some(s => s.type === "tls:index/privateKey:PrivateKey"),
            "the stack's steps were recorded",
        );
        assert.deepEqual(dkimRecords(r.outputs.dnsRecords), dkimRecords(first.records));
        assert.notEqual(r.outputs.certificatePem, first.certificatePem, "a new stack (a new self-signed certificate)");
        const message = await signedMessage("after", r.outputs.certificatePem);
        // Against the records published before the stack was lost.
        const results = dkimVerify(message, first.records);
        report(`after, against the first stack's records: ${describeDkim(results)}`);
        assert.deepEqual(results.map(x => [x.domain, x.algorithm, x.valid]).sort(), [
            ["example.test", "ed25519-sha256", true],
            ["example.test", "rsa-sha256", true],
        ]);
        const again = deploy({ ...CONFIG, "mailserver:dkimKeys": keys }, false);
        const changed = Object.entries(again.changeSummary).filter(([kind, n]) => kind !== "same" && n > 0);
        assert.deepEqual(changed, [], `a second preview with the kept keys: ${JSON.stringify(again.changeSummary)}`);
    });

    test("another namePrefix is refused at preview, naming the volumes it would leave; allowed, it plans new ones", () => {
        const keys = JSON.parse(fs.readFileSync(KEYS_FILE, "utf8"));
        const moved = { ...CONFIG, "mailserver:namePrefix": OTHER_PREFIX, "mailserver:dkimKeys": keys };
        let message = "";
        try {
            deploy(moved, false, { stack: PREFIX });
        } catch (e) {
            message = (e as Error).message;
        }
        assert.match(
            message,
            /MailServer mail: namePrefix = "keytestb" is not accepted; expected "keytest", the prefix of the deployed stack: its data volumes \(keytest-queue, keytest-rspamd-data, keytest-valkey-data, keytest-mtasts-cache, keytest-mail\)/,
        );
        const allowed = deploy({ ...moved, "mailserver:allowNamePrefixChange": true }, false, { stack: PREFIX });
        const volumes = allowed.steps.filter(s => s.type === "docker:index/volume:Volume");
        report(`allowed: ${volumes.map(s => `${s.change} ${s.name}`).join(", ")}`);
        assert.ok(
            volumes.some(s => s.change === "create" && s.name === `${OTHER_PREFIX}-mail`),
            JSON.stringify(volumes),
        );
        // A preview creates nothing.
        assert.deepEqual(stackContainers(OTHER_PREFIX), []);
        assert.deepEqual(stackVolumes(OTHER_PREFIX), []);
    });
});
