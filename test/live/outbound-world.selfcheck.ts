// Checks test/live/outbound-world.ts by itself, with real clients: the zones are signed and a
// validating resolver (unbound-host) finds them secure under the world's trust anchors (and bogus
// under a wrong one); each TLSA record matches, or on purpose does not match, the key its MX
// serves; the policy servers serve their policies under the world's CA; the MXs offer STARTTLS, or
// not, as their destination says, and what they receive is recorded.
// Not a *.test.ts: run it by hand, as root, when changing the world:
//
//   node --import tsx --test test/live/outbound-world.selfcheck.ts
import assert from "node:assert/strict";
import { createHash, createPublicKey } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { DESTINATIONS, OutboundWorld, startOutboundWorld } from "./outbound-world";
import { ARTIFACTS } from "./stack";
import { run, runAsync } from "./tls-sessions";

const WORK = path.join(ARTIFACTS, "outbound-world-selfcheck");
let world: OutboundWorld;
let caFile: string;

const kdig = (...args: string[]) =>
    run("kdig", [`@${world.authServer.address}`, "-p", String(world.authServer.port), "+norec", ...args]);

/** The leaf certificate an MX serves after STARTTLS, and openssl's verdict on it under the world's CA. */
async function starttlsCert(address: string, verifyName: string): Promise<{ pem: string; verified: boolean }> {
    const r = await runAsync("openssl", [
        ...["s_client", "-starttls", "smtp", "-connect", `${address}:25`, "-servername", verifyName],
        ...["-CAfile", caFile, "-verify_hostname", verifyName],
    ]);
    return {
        pem: r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0] ?? "",
        verified: r.status === 0 && /Verify return code: 0 \(ok\)/.test(r.stdout),
    };
}

const spkiSha256 = (certPem: string) =>
    createHash("sha256")
        .update(createPublicKey(certPem).export({ type: "spki", format: "der" }))
        .digest("hex")
        .toUpperCase();

/** unbound-host with a stub zone per world zone and the given trust anchors; its verbose answer. */
function unboundHost(trustAnchors: string[], type: string, name: string): string {
    const conf = path.join(WORK, `unbound-${createHash("sha256").update(trustAnchors.join()).digest("hex")}.conf`);
    fs.writeFileSync(
        conf,
        [
            "server:",
            // Knot listens on loopback, which unbound does not ask unless told to.
            "    do-not-query-localhost: no",
            // unbound answers NXDOMAIN for all of test. by itself (RFC 6761) unless told not to.
            '    local-zone: "test." nodefault',
            ...trustAnchors.map(a => `    trust-anchor: "${a}"`),
            ...world.zones.flatMap(z => [
                "stub-zone:",
                `    name: "${z}"`,
                `    stub-addr: ${world.authServer.address}@${world.authServer.port}`,
            ]),
        ].join("\n") + "\n",
    );
    return run("unbound-host", ["-C", conf, "-v", "-t", type, name]);
}

describe("outbound world", { timeout: 180_000 }, () => {
    before(async () => {
        world = await startOutboundWorld({ work: WORK, label: "selfcheck", destinations: DESTINATIONS });
        caFile = path.join(WORK, "world-ca.pem");
        fs.writeFileSync(caFile, world.caPem);
    });
    after(async () => {
        await world?.stop();
        assert.ok(!run("ip", ["netns", "list"]).includes(world.namespace), "the namespace is gone");
    });

    test("every zone is signed: answers come with RRSIGs", () => {
        assert.deepEqual(
            world.zones,
            DESTINATIONS.map(d => d.domain),
        );
        assert.match(kdig("+dnssec", "MX", "dane-ok.test"), /\sRRSIG\s+MX\s+13\s/);
        for (const z of world.zones) assert.match(kdig("+dnssec", "SOA", z), /\sRRSIG\s+SOA\s/, z);
        assert.equal(world.trustAnchors.length, world.zones.length);
        world.zones.forEach((z, i) =>
            assert.match(world.trustAnchors[i], new RegExp(`^${z}\\. DS \\d+ 13 2 [0-9a-f]{64}$`)),
        );
    });

    test("a validating resolver finds every zone secure under the trust anchors, bogus under a wrong one", () => {
        assert.match(
            unboundHost(world.trustAnchors, "A", "mx.dane-ok.test"),
            /has address 198\.51\.100\.10 \(secure\)/,
        );
        assert.match(unboundHost(world.trustAnchors, "TLSA", "_25._tcp.mx.dane-ok.test"), /\(secure\)/);
        for (const z of world.zones) assert.match(unboundHost(world.trustAnchors, "MX", z), /\(secure\)/, z);
        // The same DS with its digest's last digit changed: the resolver must refuse the zone.
        const wrong = world.trustAnchors.map(a => a.replace(/.$/, c => (c === "0" ? "1" : "0")));
        assert.match(unboundHost(wrong, "A", "mx.dane-ok.test"), /BOGUS/);
    });

    test("the TLSA of dane-ok matches the key its MX serves; dane-bad's does not", async () => {
        const tlsa = (name: string) => kdig("+short", "TLSA", name).trim().replace(/\s+/g, " ").toUpperCase();
        const ok = await starttlsCert("198.51.100.10", "mx.dane-ok.test");
        assert.ok(ok.pem, "dane-ok's MX offers STARTTLS");
        assert.equal(tlsa("_25._tcp.mx.dane-ok.test"), `3 1 1 ${spkiSha256(ok.pem)}`);
        assert.ok(ok.verified, "dane-ok's MX certificate also verifies under the CA");
        const bad = await starttlsCert("198.51.100.11", "mx.dane-bad.test");
        assert.ok(bad.pem, "dane-bad's MX offers STARTTLS");
        assert.match(tlsa("_25._tcp.mx.dane-bad.test"), /^3 1 1 [0-9A-F]{64}$/);
        assert.notEqual(tlsa("_25._tcp.mx.dane-bad.test"), `3 1 1 ${spkiSha256(bad.pem)}`);
        assert.equal(kdig("+short", "TLSA", "_25._tcp.mx.plain.test").trim(), "", "no TLSA for plain.test");
    });

    test("the MTA-STS policy servers serve their policies under the world's CA", () => {
        for (const [domain, address] of [
            ["sts-badcert.test", "198.51.100.20"],
            ["sts-notls.test", "198.51.100.21"],
        ]) {
            const host = `mta-sts.${domain}`;
            const r = run("curl", [
                ...["-sS", "--fail", "--cacert", caFile, "--resolve", `${host}:443:${address}`],
                ...["-w", "\n%{content_type}", `https://${host}/.well-known/mta-sts.txt`],
            ]);
            assert.equal(r, `version: STSv1\nmode: enforce\nmx: mx.${domain}\nmax_age: 86400\n\ntext/plain`);
            assert.deepEqual(world.policyRequests(domain), [
                { path: "/.well-known/mta-sts.txt", servername: host, status: 200 },
            ]);
            assert.match(kdig("+short", "TXT", `_mta-sts.${domain}`), /"v=STSv1; id=20261207"/);
            assert.match(kdig("+short", "A", host), new RegExp(address.replace(/\./g, "\\.")));
        }
        assert.match(
            kdig("+short", "TXT", "_smtp._tls.sts-badcert.test"),
            /"v=TLSRPTv1; rua=mailto:tlsrpt@reports.test"/,
        );
    });

    test("sts-badcert's MX serves a certificate the CA does not vouch for; sts-notls's offers no STARTTLS", async () => {
        const badcert = await starttlsCert("198.51.100.12", "mx.sts-badcert.test");
        assert.ok(badcert.pem, "sts-badcert's MX offers STARTTLS");
        assert.equal(badcert.verified, false);
        const ehlo = run("swaks", ["--server", "198.51.100.13:25", "--quit-after", "EHLO", "--ehlo", "selfcheck.test"]);
        assert.match(ehlo, /250[ -]/);
        assert.doesNotMatch(ehlo, /STARTTLS/);
        const tls = await runAsync("swaks", [
            ...["--server", "198.51.100.13:25", "--tls", "--to", "a@sts-notls.test", "--from", "b@selfcheck.test"],
        ]);
        assert.notEqual(tls.status, 0, "swaks --tls fails without STARTTLS");
        assert.deepEqual(world.received("sts-notls.test"), []);
    });

    test("mail over STARTTLS to plain.test's MX is received and recorded as secure, plain mail as not", () => {
        const send = (...extra: string[]) =>
            run("swaks", [
                ...["--server", "198.51.100.14:25", "--to", "rcpt@plain.test", "--from", "sender@selfcheck.test"],
                ...["--header", "Subject: selfcheck", "--body", "hello world", ...extra],
            ]);
        send("--tls", "--tls-sni", "mx.plain.test");
        send();
        const got = world.received("mx.plain.test");
        assert.equal(got.length, 2);
        assert.equal(got[0].from, "sender@selfcheck.test");
        assert.deepEqual(got[0].to, ["rcpt@plain.test"]);
        assert.match(got[0].data, /^Subject: selfcheck\r?$/m);
        assert.match(got[0].data, /hello world/);
        assert.equal(got[0].secure, true);
        assert.equal(got[0].servername, "mx.plain.test");
        assert.equal(got[1].secure, false);
        assert.deepEqual(world.received("198.51.100.14"), got);
        assert.deepEqual(world.received("dane-ok.test"), []);
    });
});
