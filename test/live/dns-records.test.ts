// A VirtualDomain's DNS records served by a real authoritative server (NSD, test/live/dns-server.ts)
// from the zone text the renderer makes, and read back through node's resolver: every MX, TXT,
// SRV, A, AAAA and PTR record answers as dnsRecords says, TXT values longer than 255 bytes
// included, and each DKIM key in DNS verifies a signature made with its private key and no other.
// No Pulumi engine: the keys are made here with node:crypto, in the PEM forms @pulumi/tls gives.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from "node:crypto";
import { Resolver } from "node:dns/promises";
import { DKIM_ALGORITHMS, validateVirtualDomain } from "../../components/options/virtualDomain";
import { DkimPublicKey, DmarcPolicy, DnsRecord, renderDnsRecords, renderDnsZone } from "../../components/render/dns";
import { Validator } from "../../components/validate";
import { DnsServer, startDnsServer } from "./dns-server";

const ADDRESS = "127.0.0.53";
const PORT = 15353;
const DOMAIN = "example.com";

const ARGS = {
    domain: DOMAIN,
    mailboxes: [{ address: "postmaster", password: "a-long-enough-password" }],
    aliases: [{ address: "dmarc-reports", targets: ["postmaster@example.com"] }],
    dkimSelector: "s2026",
    dkimRetiredSelectors: ["s2025"],
    dmarcPolicy: "quarantine" as DmarcPolicy,
    dmarcPercent: 25,
    dmarcReportAddress: "dmarc-reports@example.com",
    mtaStsMode: "enforce" as const,
    clientPorts: { imap: 143 },
    mxHosts: ["mail.example.com", "backup.example.net"],
    mailHostAddresses: ["192.0.2.10", "2001:db8::10"],
    // A long SPF policy: its TXT record is split into 255-byte strings.
    spf: `v=spf1 mx ${Array.from({ length: 14 }, (_, i) => `ip4:198.51.100.${i + 1}`).join(" ")} -all`,
};

interface Key {
    selector: string;
    algorithm: "rsa" | "ed25519";
    privateKey: KeyObject;
    publicKeyPem: string;
    retired: boolean;
}

function render(args: typeof ARGS) {
    const { dkim, dns } = validateVirtualDomain(new Validator("VirtualDomain live"), args);
    return { dkim, dns };
}

const { dkim, dns } = render(ARGS);
const keys: Key[] = [dkim.selector, ...dkim.retiredSelectors].flatMap(s =>
    DKIM_ALGORITHMS.map(algorithm => {
        const pair =
            algorithm === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ed25519");
        return {
            selector: `${s}-${algorithm}`,
            algorithm,
            privateKey: pair.privateKey,
            publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString(),
            retired: s !== dkim.selector,
        };
    }),
);
const dkimKeys: DkimPublicKey[] = keys.map(({ selector, algorithm, publicKeyPem, retired }) => ({
    selector,
    algorithm,
    publicKeyPem,
    retired,
}));
const records: DnsRecord[] = renderDnsRecords({ ...dns, dkimKeys });
const zone = renderDnsZone(DOMAIN, records);
const ptrs = records.filter(r => r.type === "PTR");

let server: DnsServer;
const resolver = new Resolver({ timeout: 2000, tries: 2 });

before(async () => {
    server = await startDnsServer({ address: ADDRESS, port: PORT, zones: [zone], reverse: ptrs });
    resolver.setServers([server.server]);
});
after(async () => {
    await server?.stop();
});

const of = (type: string) => records.filter(r => r.type === type);
const bare = (host: string) => host.replace(/\.$/, "");

describe("a VirtualDomain's records from a real authoritative server (NSD)", () => {
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
        for (const a of ARGS.mailHostAddresses) assert.deepEqual(await resolver.reverse(a), ["mail.example.com"]);
        assert.equal(ptrs.length, 2);
        // Not in example.com's zone: the zone text lists them as comments only.
        for (const p of ptrs) assert.match(zone, new RegExp(`^; ${p.name.replace(/\./g, "\\.")}\\. 3600 IN PTR`, "m"));
    });

    test("DKIM: each key in DNS verifies a signature of its own private key, and not another key's", async () => {
        const message = Buffer.from("From: postmaster@example.com\r\nSubject: dkim\r\n");
        const published = new Map<string, KeyObject>();
        for (const k of keys) {
            const [strings] = await resolver.resolveTxt(`${k.selector}._domainkey.${DOMAIN}`);
            const tags = Object.fromEntries(
                strings
                    .join("")
                    .split(";")
                    .map(t => t.trim().split("=", 2) as [string, string]),
            );
            assert.equal(tags.v, "DKIM1");
            assert.equal(tags.k, k.algorithm);
            const raw = Buffer.from(tags.p, "base64");
            // RFC 8463: an Ed25519 record holds the bare 32-byte key; RFC 6376: RSA the DER SubjectPublicKeyInfo.
            const key =
                k.algorithm === "rsa"
                    ? createPublicKey({ key: raw, format: "der", type: "spki" })
                    : createPublicKey({
                          key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), raw]),
                          format: "der",
                          type: "spki",
                      });
            if (k.algorithm === "ed25519") assert.equal(raw.length, 32);
            published.set(k.selector, key);
        }
        const digest = (k: Key) => (k.algorithm === "rsa" ? "sha256" : null);
        for (const k of keys) {
            const signature = sign(digest(k), message, k.privateKey);
            assert.ok(verify(digest(k), message, published.get(k.selector)!, signature), `${k.selector} verifies`);
            const other = keys.find(o => o.algorithm === k.algorithm && o.selector !== k.selector)!;
            assert.ok(
                !verify(digest(k), message, published.get(other.selector)!, signature),
                `${other.selector}'s key must not verify ${k.selector}'s signature`,
            );
        }
    });

    test("reload: a changed zone is served (DMARC quarantine -> reject, the retired selector removed)", async () => {
        const next = render({ ...ARGS, dmarcPolicy: "reject", dmarcPercent: 100, dkimRetiredSelectors: [] });
        const nextRecords = renderDnsRecords({ ...next.dns, dkimKeys: dkimKeys.filter(k => !k.retired) });
        await server.reload(
            [renderDnsZone(DOMAIN, nextRecords)],
            nextRecords.filter(r => r.type === "PTR"),
        );
        assert.deepEqual(await resolver.resolveTxt(`_dmarc.${DOMAIN}`), [
            ["v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com"],
        ]);
        await assert.rejects(resolver.resolveTxt(`s2025-rsa._domainkey.${DOMAIN}`), { code: "ENOTFOUND" });
        assert.equal((await resolver.resolveTxt(`s2026-rsa._domainkey.${DOMAIN}`)).length, 1);
    });
});
