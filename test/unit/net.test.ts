// components/model/net.ts: the one IP/CIDR module (addresses, networks, loopback, IPv4-mapped IPv6).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
    bridgeGatewayRisk,
    canonicalAddress,
    dockerPoolOverlap,
    isIP,
    isIPv4,
    isIPv6,
    isLoopbackAddress,
    isLoopbackNetwork,
    isNameserver,
    mappedIPv4,
    overlaps,
    parseNetwork,
    trustRisk,
    within,
} from "../../components/model/net";

describe("bare addresses", () => {
    test("isIPv4 accepts dotted quads only, without leading zeros", () => {
        for (const a of ["0.0.0.0", "127.0.0.1", "192.0.2.25", "255.255.255.255", "10.0.0.0"]) assert.ok(isIPv4(a), a);
        for (const a of [
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "010.0.0.1",
            "1.2.3.04",
            "01.2.3.4",
            " 1.2.3.4",
            "1.2.3.4 ",
            "1.2.3.4/32",
            "0x7f.0.0.1",
            "2130706433",
            "1..2.3",
            "",
            "a.b.c.d",
            "::1",
            "[1.2.3.4]",
        ]) {
            assert.ok(!isIPv4(a), a);
        }
    });

    test("isIPv6 accepts bare IPv6 addresses, not brackets, prefixes or zone ids", () => {
        for (const a of [
            "::",
            "::1",
            "2001:db8::1",
            "2001:DB8:0:0:0:0:0:1",
            "::ffff:192.0.2.1",
            "fe80::1",
            "1:2:3:4:5:6:7:8",
        ])
            assert.ok(isIPv6(a), a);
        for (const a of [
            "[::1]",
            "::1/128",
            "fe80::1%eth0",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "12345::1",
            "::ffff:01.2.3.4",
            "::ffff:256.1.1.1",
            "g::1",
            "",
            ":",
            "1.2.3.4",
        ]) {
            assert.ok(!isIPv6(a), a);
        }
    });

    test("isIP is either", () => {
        assert.ok(isIP("192.0.2.1"));
        assert.ok(isIP("2001:db8::1"));
        assert.ok(!isIP("mail.example.com"));
        assert.ok(!isIP("localhost"));
    });

    test("canonicalAddress: RFC 5952 for IPv6, mixed notation for IPv4-mapped", () => {
        assert.equal(canonicalAddress("192.0.2.1"), "192.0.2.1");
        assert.equal(canonicalAddress("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
        assert.equal(canonicalAddress("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert.equal(canonicalAddress("0:0:0:0:0:0:0:1"), "::1");
        assert.equal(canonicalAddress("::ffff:c000:0201"), "::ffff:192.0.2.1");
        assert.equal(canonicalAddress("::FFFF:192.0.2.1"), "::ffff:192.0.2.1");
        assert.equal(canonicalAddress("010.0.0.1"), undefined);
        assert.equal(canonicalAddress("[::1]"), undefined);
    });
});

describe("isNameserver: a DNS resolver as rspamd takes it", () => {
    test('"address", "address:port", and IPv6 with a port in brackets', () => {
        for (const a of [
            "192.0.2.53",
            "192.0.2.53:5353",
            "192.0.2.53:1",
            "192.0.2.53:65535",
            "2001:db8::53",
            "::1",
            "[2001:db8::53]:5353",
            "[::1]:53",
            // Brackets around IPv4 with a port are read the same way.
            "[192.0.2.53]:53",
        ])
            assert.ok(isNameserver(a), a);
    });

    test("an IPv6 address ending in a group that looks like a port is an address (brackets give a port)", () => {
        // 2001:db8::53:5353 is itself an IPv6 address: its last group is 0x5353, not port 5353.
        assert.ok(isIPv6("2001:db8::53:5353"));
        assert.ok(isNameserver("2001:db8::53:5353"));
        assert.ok(isNameserver("[2001:db8::53]:5353"));
    });

    test("names, ports out of range, brackets without a port, zone ids and stray text are refused", () => {
        for (const a of [
            "x",
            "dns.example.com",
            "dns.example.com:53",
            "192.0.2.53:0",
            "192.0.2.53:70000",
            "192.0.2.53:",
            "192.0.2.53:+53",
            "192.0.2.53:1e3",
            "[2001:db8::53]",
            "[2001:db8::53]:",
            "[fe80::1%eth0]:53",
            "fe80::1%eth0",
            " 192.0.2.53",
            "192.0.2.53 ",
            "192.0.2.0/24",
            "",
        ])
            assert.ok(!isNameserver(a), a);
    });
});

describe("parseNetwork", () => {
    test("IPv4: with and without prefix, host bits kept", () => {
        assert.deepEqual(parseNetwork("192.0.2.0/24"), {
            family: 4,
            address: "192.0.2.0",
            prefix: 24,
            postfix: "192.0.2.0/24",
        });
        assert.deepEqual(parseNetwork("192.0.2.1"), {
            family: 4,
            address: "192.0.2.1",
            prefix: 32,
            postfix: "192.0.2.1/32",
        });
        assert.deepEqual(parseNetwork("0.0.0.0/0"), { family: 4, address: "0.0.0.0", prefix: 0, postfix: "0.0.0.0/0" });
        assert.deepEqual(parseNetwork("10.1.2.3/8"), {
            family: 4,
            address: "10.1.2.3",
            prefix: 8,
            postfix: "10.1.2.3/8",
        });
    });

    test("IPv6: bracketed, prefix inside or outside, bare; normalised and bracketed for Postfix", () => {
        const db8 = { family: 6, address: "2001:db8::", prefix: 48, postfix: "[2001:db8::]/48" };
        assert.deepEqual(parseNetwork("[2001:db8::]/48"), db8);
        assert.deepEqual(parseNetwork("[2001:DB8:0::]/48"), db8);
        assert.deepEqual(parseNetwork("[2001:db8::/48]"), db8);
        assert.deepEqual(parseNetwork("2001:db8::/48"), db8);
        assert.deepEqual(parseNetwork("[::1]"), { family: 6, address: "::1", prefix: 128, postfix: "[::1]/128" });
        assert.deepEqual(parseNetwork("::/0"), { family: 6, address: "::", prefix: 0, postfix: "[::]/0" });
        assert.deepEqual(parseNetwork("[::ffff:0:0]/96"), {
            family: 6,
            address: "::ffff:0.0.0.0",
            prefix: 96,
            postfix: "[::ffff:0.0.0.0]/96",
        });
    });

    test("strict: IPv6 only in brackets, as Postfix's mynetworks requires", () => {
        assert.equal(parseNetwork("2001:db8::/48", { strict: true }), undefined);
        assert.equal(parseNetwork("::1/128", { strict: true }), undefined);
        assert.equal(parseNetwork("[2001:db8::]/48", { strict: true })?.postfix, "[2001:db8::]/48");
        assert.equal(parseNetwork("192.0.2.0/24", { strict: true })?.postfix, "192.0.2.0/24");
    });

    test("anything else is undefined", () => {
        for (const n of [
            "256.0.0.1/8",
            "10.0.0.0/33",
            "192.0.2.0/",
            "192.0.2.0/-1",
            "192.0.2.0/240",
            "010.0.0.0/8",
            "10.0.0/8",
            "[::1]/129",
            "[1234]/64",
            "[1.2.3.4]",
            "[2001:db8::/48]/48",
            "[fe80::1%eth0]",
            "1::2::3/64",
            "lmdb:/etc/postfix/network_table",
            "/etc/postfix/networks",
            "example.com",
            "!192.0.2.0/24",
            " 192.0.2.0/24",
            "",
            "[]",
            "::1/",
        ]) {
            assert.equal(parseNetwork(n), undefined, n);
        }
    });
});

describe("ranges", () => {
    const n = (s: string) => parseNetwork(s)!;

    test("within: containment by prefix, same family only", () => {
        assert.ok(within(n("192.0.2.128/25"), n("192.0.2.0/24")));
        assert.ok(within(n("192.0.2.0/24"), n("192.0.2.0/24")));
        assert.ok(!within(n("192.0.2.0/23"), n("192.0.2.0/24")));
        assert.ok(!within(n("192.0.3.0/24"), n("192.0.2.0/24")));
        assert.ok(within(n("[2001:db8:1::]/64"), n("[2001:db8::]/32")));
        assert.ok(!within(n("[::ffff:192.0.2.0]/120"), n("192.0.2.0/24")), "different families");
    });

    test("mappedIPv4: the IPv4 network an IPv4-mapped IPv6 network denotes", () => {
        assert.deepEqual(mappedIPv4(n("[::ffff:192.0.2.0]/120")), n("192.0.2.0/24"));
        assert.deepEqual(mappedIPv4(n("[::ffff:0:0]/96")), n("0.0.0.0/0"));
        assert.deepEqual(mappedIPv4(n("[::ffff:127.0.0.1]")), n("127.0.0.1/32"));
        assert.equal(mappedIPv4(n("[::]/95")), undefined, "wider than the mapped range");
        assert.equal(mappedIPv4(n("[2001:db8::]/120")), undefined);
        assert.equal(mappedIPv4(n("192.0.2.0/24")), undefined);
    });

    test("loopback: inside 127.0.0.0/8, ::1, or mapped 127/8", () => {
        for (const s of ["127.0.0.0/8", "127.0.0.1", "127.1.2.0/24", "[::1]", "[::1]/128", "[::ffff:127.0.0.0]/104"])
            assert.ok(isLoopbackNetwork(n(s)), s);
        for (const s of ["127.0.0.0/7", "0.0.0.0/0", "128.0.0.1", "[::1]/127", "[::]/0", "[::ffff:127.0.0.0]/103"])
            assert.ok(!isLoopbackNetwork(n(s)), s);
        for (const a of ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"]) assert.ok(isLoopbackAddress(a), a);
        for (const a of ["localhost", "127.0.0.1/8", "128.0.0.1", "::2", "0.0.0.0", "::", "[::1]", "127.foo"])
            assert.ok(!isLoopbackAddress(a), a);
    });
});

describe("Docker bridge gateways", () => {
    const n = (text: string) => parseNetwork(text)!;

    test("overlaps: either network holds an address of the other; IPv4-mapped IPv6 counts as IPv4", () => {
        assert.ok(overlaps(n("172.16.0.0/12"), n("172.21.0.0/16")));
        assert.ok(overlaps(n("172.21.0.0/16"), n("172.16.0.0/12")));
        assert.ok(overlaps(n("172.21.0.1"), n("172.16.0.0/12")));
        assert.ok(overlaps(n("[::ffff:172.17.0.0]/112"), n("172.16.0.0/12")));
        assert.ok(overlaps(n("172.0.0.0/8"), n("172.16.0.0/12")), "a wider network holds the pool");
        assert.ok(!overlaps(n("172.32.0.0/16"), n("172.16.0.0/12")));
        assert.ok(!overlaps(n("10.0.0.0/8"), n("172.16.0.0/12")));
        assert.ok(!overlaps(n("[::1]/128"), n("127.0.0.0/8")), "families differ");
    });

    test("dockerPoolOverlap: the default address pools and the ULA range Docker uses", () => {
        for (const [entry, pool] of [
            ["172.16.0.0/12", "172.16.0.0/12"],
            ["172.17.0.0/16", "172.16.0.0/12"],
            ["172.21.0.1/32", "172.16.0.0/12"],
            ["192.168.0.0/16", "192.168.0.0/16"],
            ["192.168.1.0/24", "192.168.0.0/16"],
            ["[fd12:3456:789a::]/48", "[fd00::]/8"],
        ])
            assert.equal(dockerPoolOverlap(n(entry))?.postfix, pool, entry);
        for (const entry of [
            "10.0.0.0/8",
            "192.0.2.0/24",
            "172.32.0.0/16",
            "[2001:db8::]/32",
            "[fc00::]/8",
            "127.0.0.0/8",
        ])
            assert.equal(dockerPoolOverlap(n(entry)), undefined, entry);
    });

    test("bridgeGatewayRisk says why and what to do; loopback is never at risk", () => {
        const why = bridgeGatewayRisk(n("172.16.0.0/12"))!;
        assert.match(why, /overlaps 172\.16\.0\.0\/12, where Docker allocates bridge networks/);
        assert.match(why, /clients can arrive from the Docker network's gateway/);
        assert.match(why, /open relay/);
        assert.match(why, /networkMode "host"/);
        assert.equal(bridgeGatewayRisk(n("127.0.0.0/8")), undefined);
        assert.equal(bridgeGatewayRisk(n("[::1]/128")), undefined);
        assert.equal(bridgeGatewayRisk(n("192.0.2.0/24")), undefined);
    });
});

describe("trustRisk: what mynetworks may trust (components and policy pack alike)", () => {
    const n = (text: string) => parseNetwork(text)!;
    test("loopback whole, public space one host at a time, private space up to /16 (IPv6 /48)", () => {
        for (const fine of [
            "127.0.0.0/8",
            "[::1]/128",
            "[::ffff:127.0.0.0]/104",
            "192.0.2.10/32",
            "198.51.100.7",
            "[2001:db8::25]/128",
            "10.1.0.0/16",
            "10.20.30.0/24",
            "172.20.0.0/16",
            "192.168.0.0/16",
            "100.64.0.0/16",
            "[fd12:3456:789a::]/48",
            "[fc00:1::]/64",
            "[::ffff:10.1.0.0]/112",
        ])
            assert.equal(trustRisk(n(fine)), undefined, fine);
        const refused: Array<[string, RegExp]> = [
            ["0.0.0.0/0", /whole IPv4 Internet/],
            ["[::]/0", /whole IPv6 Internet/],
            ["0.0.0.0/1", /public address space wider than a single host \(2,147,483,648 addresses\)/],
            ["128.0.0.0/1", /public address space wider than a single host/],
            ["192.0.2.0/31", /public address space wider than a single host \(2 addresses\)/],
            ["[2001:db8::]/127", /public address space wider than a single host \(a \/127\)/],
            ["10.0.0.0/8", /private address space \(in 10\.0\.0\.0\/8\) wider than \/16 \(16,777,216 addresses\)/],
            ["10.0.0.0/15", /private address space .* wider than \/16/],
            ["172.16.0.0/12", /private address space \(in 172\.16\.0\.0\/12\)/],
            ["100.64.0.0/10", /private address space \(in 100\.64\.0\.0\/10\)/],
            ["[fd00::]/8", /private address space \(in \[fc00::\]\/7\) wider than \/48/],
            // Neither wholly private nor one host: public.
            ["8.0.0.0/6", /public address space/],
            ["[::ffff:0.0.0.0]/97", /public address space wider than a single host/],
            ["[::ffff:0.0.0.0]/96", /whole IPv4 Internet/],
        ];
        for (const [entry, why] of refused) assert.match(trustRisk(n(entry)) ?? "(accepted)", why, entry);
    });
});
