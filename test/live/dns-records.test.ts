// A VirtualDomain deployed by the real Pulumi engine (its DKIM keys made by the real tls provider),
// its zone text (dnsZone) served by a real authoritative server (NSD, test/live/dns-server.ts), and
// read back through node's resolver: every MX, TXT, SRV, A, AAAA and PTR record answers as
// dnsRecords says, TXT values longer than 255 bytes included, and each DKIM key in DNS verifies a
// signature made with its private key (dkimSigningKeys) and no other. The key rotation runs as
// docs/operations.md ("Rotating DKIM keys") describes it: the old selector retired keeps its keys
// (no replacement), then removed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, KeyObject, sign, verify } from "node:crypto";
import { Resolver } from "node:dns/promises";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import type { VirtualDomainArgs } from "../../components/args";
import type { DnsRecord } from "../../components/model/dns";
import type { DkimSigningKey } from "../../components/model/spec";
import { VirtualDomain } from "../../components/virtualDomain";
import { engineEnv, PROJECT } from "../../scripts/lib/engine";
import { DnsServer, startDnsServer } from "./dns-server";

const ADDRESS = "127.0.0.53";
const PORT = 15353;
const DOMAIN = "example.com";

const ARGS: VirtualDomainArgs = {
    domain: DOMAIN,
    mailboxes: [{ address: "postmaster", password: "a-long-enough-password" }],
    aliases: [{ address: "dmarc-reports", targets: ["postmaster@example.com"] }],
    dmarcPolicy: "quarantine",
    dmarcPercent: 25,
    dmarcReportAddress: "dmarc-reports@example.com",
    mtaStsMode: "enforce",
    mtaStsPolicyServedElsewhere: true,
    clientPorts: { imap: 143 },
    mxHosts: ["mail.example.com", "backup.example.net"],
    mailHostAddresses: ["192.0.2.10", "2001:db8::10"],
    // A long SPF policy: its TXT record is split into 255-byte strings.
    spf: `v=spf1 mx ${Array.from({ length: 14 }, (_, i) => `ip4:198.51.100.${i + 1}`).join(" ")} -all`,
};

interface Deployed {
    records: DnsRecord[];
    zone: string;
    keys: DkimSigningKey[];
    mtaStsPolicy: string;
    /** Resource changes of the up, by operation ("create", "delete", "replace", "same", ...). */
    changes: Record<string, number>;
}

let dir: string;
let stack: Stack;

/** `pulumi up` of a program holding one VirtualDomain with these args. */
async function deploy(args: VirtualDomainArgs): Promise<Deployed> {
    const program = async () => {
        const d = new VirtualDomain(DOMAIN, args);
        return { records: d.dnsRecords, zone: d.dnsZone, keys: d.dkimSigningKeys, mtaStsPolicy: d.mtaStsPolicy };
    };
    const up = await stack.up({ program });
    const o = up.outputs;
    assert.equal(o.keys.secret, true, "dkimSigningKeys is a secret stack output");
    assert.equal(o.records.secret, false, "dnsRecords is not secret");
    return {
        records: o.records.value,
        zone: o.zone.value,
        keys: o.keys.value,
        mtaStsPolicy: o.mtaStsPolicy.value,
        changes: up.summary.resourceChanges ?? {},
    };
}

let first: Deployed; // dkimSelector "s2025"
let announced: Deployed; // dkimSelector "s2025", dkimNextSelector "s2026"
let rotated: Deployed; // dkimSelector "s2026", "s2025" retired
let server: DnsServer;
const resolver = new Resolver({ timeout: 2000, tries: 2 });

before(async () => {
    const engine = engineEnv();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailtest-dnsrecords-"));
    const envVars = {
        ...engine,
        PULUMI_BACKEND_URL: `file://${dir}/state`,
        PULUMI_CONFIG_PASSPHRASE: "dns-records-test",
    };
    fs.mkdirSync(path.join(dir, "state"));
    fs.mkdirSync(path.join(dir, "workspace"));
    Object.assign(process.env, envVars);
    const pulumiCommand = await PulumiCommand.get({ root: engine.PULUMI_ROOT, skipVersionCheck: true });
    stack = await LocalWorkspace.createOrSelectStack(
        { stackName: "dnsrecords", projectName: PROJECT, program: async () => ({}) },
        {
            workDir: path.join(dir, "workspace"),
            pulumiCommand,
            envVars,
            projectSettings: { name: PROJECT, runtime: "nodejs", backend: { url: `file://${dir}/state` } },
        },
    );
    first = await deploy({ ...ARGS, dkimSelector: "s2025" });
    announced = await deploy({ ...ARGS, dkimSelector: "s2025", dkimNextSelector: "s2026" });
    rotated = await deploy({ ...ARGS, dkimSelector: "s2026", dkimRetiredSelectors: ["s2025"] });
    server = await startDnsServer({
        address: ADDRESS,
        port: PORT,
        zones: [rotated.zone],
        reverse: rotated.records.filter(r => r.type === "PTR"),
        stackLabel: "dnsrecords",
    });
    resolver.setServers([server.server]);
});

after(async () => {
    await server?.stop();
    if (stack) await stack.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const of = (type: string) => rotated.records.filter(r => r.type === type);
const bare = (host: string) => host.replace(/\.$/, "");

describe("a VirtualDomain's records, deployed by the engine, from a real authoritative server (NSD)", () => {
    test("DKIM keys from @pulumi/tls: RSA 2048 as PKCS#1 PEM, Ed25519 as PKCS#8 PEM, for the signing selector only", () => {
        assert.deepEqual(
            rotated.keys.map(k => [k.selector, k.algorithm, k.privateKeyPem.split("\n")[0]]),
            [
                ["s2026-rsa", "rsa", "-----BEGIN RSA PRIVATE KEY-----"],
                ["s2026-ed25519", "ed25519", "-----BEGIN PRIVATE KEY-----"],
            ],
        );
        assert.equal(createPrivateKey(rotated.keys[0].privateKeyPem).asymmetricKeyDetails?.modulusLength, 2048);
        assert.equal(createPrivateKey(rotated.keys[1].privateKeyPem).asymmetricKeyType, "ed25519");
    });

    test("rotation: the next selector's keys are made and published before they sign; then they sign, the retired one's kept (not replaced), its records still published", () => {
        assert.equal(first.changes.create, 4, "stack, VirtualDomain and two keys");
        assert.equal(announced.changes.create, 2, "the two keys of s2026, published ahead");
        assert.deepEqual(
            announced.keys.map(k => k.selector),
            ["s2025-rsa", "s2025-ed25519"],
            "s2025 still signs",
        );
        for (const algorithm of ["rsa", "ed25519"]) {
            const next = announced.records.find(r => r.name === `s2026-${algorithm}._domainkey.${DOMAIN}`);
            assert.match(next?.purpose ?? "", /next selector/);
            const published = rotated.records.find(r => r.name === `s2026-${algorithm}._domainkey.${DOMAIN}`);
            assert.equal(published?.value, next?.value, "the key announced is the key that signs");
        }
        assert.equal(rotated.changes.create ?? 0, 0, "no key made at the switch");
        assert.equal(rotated.changes.replace ?? 0, 0);
        assert.equal(rotated.changes.delete ?? 0, 0);
        for (const algorithm of ["rsa", "ed25519"]) {
            const name = `s2025-${algorithm}._domainkey.${DOMAIN}`;
            const before = first.records.find(r => r.name === name)!;
            const after = rotated.records.find(r => r.name === name)!;
            assert.equal(after.value, before.value, `${name}: same key`);
            assert.match(before.purpose, /verifies the domain's signatures/);
            assert.match(after.purpose, /retired selector/);
        }
    });

    test("MX: every mxHost with its preference", async () => {
        const answer = await resolver.resolveMx(DOMAIN);
        assert.deepEqual(
            answer.sort((a, b) => a.priority - b.priority),
            of("MX").map(r => ({ exchange: bare(r.value), priority: r.priority })),
        );
        assert.equal(answer.length, 2);
    });

    test("TXT: SPF, DKIM (signing and retired), DMARC, MTA-STS and TLS-RPT, long values in 255-byte strings", async () => {
        const txt = of("TXT");
        assert.deepEqual(
            txt.map(r => r.name),
            [
                DOMAIN,
                `s2026-rsa._domainkey.${DOMAIN}`,
                `s2026-ed25519._domainkey.${DOMAIN}`,
                `s2025-rsa._domainkey.${DOMAIN}`,
                `s2025-ed25519._domainkey.${DOMAIN}`,
                `_dmarc.${DOMAIN}`,
                `_mta-sts.${DOMAIN}`,
                `_smtp._tls.${DOMAIN}`,
            ],
        );
        for (const r of txt) {
            const answer = await resolver.resolveTxt(r.name);
            assert.equal(answer.length, 1, `${r.name}: one TXT record`);
            for (const s of answer[0]) assert.ok(Buffer.byteLength(s) <= 255, `${r.name}: a string over 255 bytes`);
            assert.equal(answer[0].join(""), r.value, r.name);
            if (r.value.length > 255) assert.ok(answer[0].length > 1, `${r.name} is split`);
        }
        const value = (name: string) => txt.find(r => r.name === name)!.value;
        assert.equal(value(`_dmarc.${DOMAIN}`), "v=DMARC1; p=quarantine; pct=25; rua=mailto:dmarc-reports@example.com");
        assert.equal(value(`_smtp._tls.${DOMAIN}`), "v=TLSRPTv1; rua=mailto:postmaster@example.com");
        assert.match(value(`_mta-sts.${DOMAIN}`), /^v=STSv1; id=[0-9a-f]{20}$/);
        assert.ok(value(DOMAIN).length > 255, "the SPF policy of this test is longer than one string");
        assert.equal(
            rotated.mtaStsPolicy,
            "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: backup.example.net\nmax_age: 604800\n",
        );
    });

    test("SRV: submission, IMAP and POP3 for clients; services that are off answer 0 0 0 .", async () => {
        const srv = of("SRV");
        assert.equal(srv.length, 6);
        for (const r of srv) {
            const [answer, ...more] = await resolver.resolveSrv(r.name);
            assert.equal(more.length, 0);
            const [weight, port, target] = r.value.split(" ");
            assert.deepEqual(answer, {
                priority: r.priority,
                weight: Number(weight),
                port: Number(port),
                name: bare(target),
            });
        }
        const port = async (s: string) => (await resolver.resolveSrv(`${s}._tcp.${DOMAIN}`))[0];
        assert.deepEqual(await port("_submissions"), { priority: 0, weight: 1, port: 465, name: "mail.example.com" });
        assert.deepEqual(await port("_submission"), { priority: 10, weight: 1, port: 587, name: "mail.example.com" });
        assert.deepEqual(await port("_imaps"), { priority: 0, weight: 1, port: 993, name: "mail.example.com" });
        assert.deepEqual(await port("_imap"), { priority: 10, weight: 1, port: 143, name: "mail.example.com" });
        // RFC 6186: target "." says the service is not offered (c-ares reports the root as "").
        assert.deepEqual(await port("_pop3s"), { priority: 0, weight: 0, port: 0, name: "" });
        assert.deepEqual(await port("_pop3"), { priority: 0, weight: 0, port: 0, name: "" });
    });

    test("A and AAAA of the first MX host, and the PTR of each address pointing back at it", async () => {
        assert.deepEqual(await resolver.resolve4("mail.example.com"), ["192.0.2.10"]);
        assert.deepEqual(await resolver.resolve6("mail.example.com"), ["2001:db8::10"]);
        assert.deepEqual(
            of("A")
                .concat(of("AAAA"))
                .map(r => [r.name, r.value]),
            [
                ["mail.example.com", "192.0.2.10"],
                ["mail.example.com", "2001:db8::10"],
            ],
        );
        for (const a of ["192.0.2.10", "2001:db8::10"])
            assert.deepEqual(await resolver.reverse(a), ["mail.example.com"]);
        const ptrs = of("PTR");
        assert.equal(ptrs.length, 2);
        // Not in example.com's zone: its zone text lists them as comments only.
        for (const p of ptrs)
            assert.match(rotated.zone, new RegExp(`^; ${p.name.replace(/\./g, "\\.")}\\. 3600 IN PTR`, "m"));
    });

    test("DKIM: each key in DNS verifies a signature of its own private key, and not another key's", async () => {
        const message = Buffer.from("From: postmaster@example.com\r\nSubject: dkim\r\n");
        const published = async (selector: string, algorithm: string): Promise<KeyObject> => {
            const [strings] = await resolver.resolveTxt(`${selector}._domainkey.${DOMAIN}`);
            const tags = Object.fromEntries(
                strings
                    .join("")
                    .split(";")
                    .map(t => t.trim().split("=", 2) as [string, string]),
            );
            assert.equal(tags.v, "DKIM1");
            assert.equal(tags.k, algorithm);
            const raw = Buffer.from(tags.p, "base64");
            if (algorithm === "rsa") return createPublicKey({ key: raw, format: "der", type: "spki" });
            // RFC 8463: the bare 32-byte key (RFC 6376 RSA records hold the DER SubjectPublicKeyInfo).
            assert.equal(raw.length, 32);
            const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), raw]);
            return createPublicKey({ key: spki, format: "der", type: "spki" });
        };
        // The retired selector's private keys are those s2025 signed with before the rotation.
        const all = [...rotated.keys, ...first.keys];
        assert.deepEqual(
            all.map(k => k.selector),
            ["s2026-rsa", "s2026-ed25519", "s2025-rsa", "s2025-ed25519"],
        );
        for (const k of all) {
            const digest = k.algorithm === "rsa" ? "sha256" : null;
            const signature = sign(digest, message, createPrivateKey(k.privateKeyPem));
            assert.ok(verify(digest, message, await published(k.selector, k.algorithm), signature), k.selector);
            const other = all.find(o => o.algorithm === k.algorithm && o.selector !== k.selector)!;
            assert.ok(
                !verify(digest, message, await published(other.selector, other.algorithm), signature),
                `${other.selector}'s key must not verify ${k.selector}'s signature`,
            );
        }
    });

    test("the rotation ends: the retired selector removed deletes its keys; the reloaded zone no longer has them", async () => {
        const done = await deploy({ ...ARGS, dkimSelector: "s2026", dmarcPolicy: "reject", dmarcPercent: 100 });
        assert.equal(done.changes.delete, 2, "the two keys of s2025");
        assert.equal(done.changes.create ?? 0, 0);
        assert.deepEqual(
            done.keys.map(k => k.privateKeyPem),
            rotated.keys.map(k => k.privateKeyPem),
        );
        await server.reload(
            [done.zone],
            done.records.filter(r => r.type === "PTR"),
        );
        assert.deepEqual(await resolver.resolveTxt(`_dmarc.${DOMAIN}`), [
            ["v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com"],
        ]);
        await assert.rejects(resolver.resolveTxt(`s2025-rsa._domainkey.${DOMAIN}`), { code: "ENOTFOUND" });
        assert.equal((await resolver.resolveTxt(`s2026-rsa._domainkey.${DOMAIN}`)).length, 1);
    });
});
