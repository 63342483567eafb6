// IP addresses and networks: the one module the components, the policy pack and the tests use.
// Pulumi-free. Validation is node:net's (inet_pton rules: strict dotted quads, no leading
// zeros); arithmetic and ranges are ipaddr.js's.
import * as ipaddr from "ipaddr.js";
import * as nodeNet from "node:net";

/** A dotted-quad IPv4 address: four decimal octets, no leading zeros, no CIDR suffix. */
export function isIPv4(text: string): boolean {
    return nodeNet.isIPv4(text);
}

/** A bare IPv6 address ("2001:db8::1", "::ffff:192.0.2.1"): no brackets, prefix or zone id ("%eth0"). */
export function isIPv6(text: string): boolean {
    return nodeNet.isIPv6(text) && !text.includes("%");
}

/** isIPv4 or isIPv6. */
export function isIP(text: string): boolean {
    return isIPv4(text) || isIPv6(text);
}

/**
 * The address's canonical text, or undefined if it is not a bare address: IPv4 as is, IPv6
 * as RFC 5952 (lower case, longest zero run as "::"), IPv4-mapped IPv6 in the mixed notation
 * RFC 5952 section 5 recommends ("::ffff:192.0.2.1"), as inet_ntop and so Postfix print it.
 */
export function canonicalAddress(text: string): string | undefined {
    if (isIPv4(text)) return text;
    if (!isIPv6(text)) return undefined;
    const a = ipaddr.IPv6.parse(text);
    return a.isIPv4MappedAddress() ? `::ffff:${a.toIPv4Address().toString()}` : a.toRFC5952String();
}

/** A DNS server as rspamd takes it: "192.0.2.53", "192.0.2.53:5353", "2001:db8::53" or "[2001:db8::53]:5353". */
export function isNameserver(text: string): boolean {
    if (isIP(text)) return true;
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
    return m !== null && isIP(m[1]) && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
}

export interface Network {
    family: 4 | 6;
    /** The address as given, in canonical text (host bits are kept, not masked). */
    address: string;
    /** Prefix length: 32 or 128 for a single address. */
    prefix: number;
    /** Postfix mynetworks notation: "192.0.2.0/24", "[2001:db8::]/32" (IPv6 always bracketed). */
    postfix: string;
}

export interface ParseNetworkOptions {
    /**
     * Only what Postfix accepts in mynetworks: IPv6 in brackets. Without it, "2001:db8::/48"
     * (which Postfix would read as a "type:table") is also taken for the network it looks like.
     */
    strict?: boolean;
}

function network(family: 4 | 6, text: string, prefixText: string | undefined): Network | undefined {
    const address = canonicalAddress(text);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (address === undefined || (family === 4) !== isIPv4(text) || prefix > max) return undefined;
    return { family, address, prefix, postfix: family === 4 ? `${address}/${prefix}` : `[${address}]/${prefix}` };
}

/**
 * A network in any of the forms mynetworks and the components accept: "192.0.2.0/24",
 * "192.0.2.1", "[2001:db8::]/48", "[::1]", "[2001:db8::/48]" and (unless strict)
 * "2001:db8::/48". Undefined for anything else (lookup tables, file names, host names).
 */
export function parseNetwork(entry: string, options: ParseNetworkOptions = {}): Network | undefined {
    const v4 = /^([0-9.]+)(?:\/(\d{1,2}))?$/.exec(entry);
    if (v4) return network(4, v4[1], v4[2]);
    const bracketed = /^\[([0-9A-Fa-f:.]+)(?:\/(\d{1,3}))?\](?:\/(\d{1,3}))?$/.exec(entry);
    if (bracketed)
        return bracketed[2] !== undefined && bracketed[3] !== undefined
            ? undefined
            : network(6, bracketed[1], bracketed[2] ?? bracketed[3]);
    const bare = options.strict ? null : /^([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(?:\/(\d{1,3}))?$/.exec(entry);
    if (bare) return network(6, bare[1], bare[2]);
    return undefined;
}

/** Whether every address of `inner` lies in `outer` (same family). */
export function within(inner: Network, outer: Network): boolean {
    if (inner.family !== outer.family || inner.prefix < outer.prefix) return false;
    return ipaddr.parse(inner.address).match(ipaddr.parse(outer.address), outer.prefix);
}

const MAPPED = parseNetwork("[::ffff:0.0.0.0]/96")!;

/**
 * The IPv4 network an IPv4-mapped IPv6 network denotes ("[::ffff:192.0.2.0]/120" is
 * 192.0.2.0/24), or undefined for any other network. Mapped networks wider than /96 are not
 * all mapped addresses, so they have no IPv4 view.
 */
export function mappedIPv4(n: Network): Network | undefined {
    if (!within(n, MAPPED)) return undefined;
    const v4 = ipaddr.IPv6.parse(n.address).toIPv4Address().toString();
    return network(4, v4, String(n.prefix - 96));
}

const LOOPBACK = [parseNetwork("127.0.0.0/8")!, parseNetwork("[::1]/128")!];

/** Whether the whole network is loopback (inside 127.0.0.0/8, ::1, or their IPv4-mapped form). */
export function isLoopbackNetwork(n: Network): boolean {
    const n4 = mappedIPv4(n) ?? n;
    return LOOPBACK.some(l => within(n4, l));
}

/** Widest private network mynetworks may trust: 65,536 addresses (IPv4), one site (IPv6). */
export const MAX_PRIVATE_WIDTH = { 4: 16, 6: 48 } as const;

/**
 * Address space no Internet host has: RFC 1918, shared (RFC 6598) and link-local IPv4, unique
 * local (RFC 4193) and link-local IPv6. Everything else but loopback is public here.
 */
export const PRIVATE_RANGES: readonly Network[] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "[fc00::]/7",
    "[fe80::]/10",
].map(p => parseNetwork(p)!);

/**
 * Why mynetworks must not trust this network, or undefined: the one check of the components'
 * validation and the policy pack. Clients in mynetworks relay without authentication, so loopback
 * may be trusted whole, public address space only host by host, and private space up to /16
 * (IPv6 /48): wider private ranges hold other people's hosts too (a provider's carrier NAT, a
 * campus, Docker's gateways). IPv4-mapped IPv6 networks are judged as the IPv4 network they denote.
 */
export function trustRisk(n: Network): string | undefined {
    const n4 = mappedIPv4(n) ?? n;
    if (isLoopbackNetwork(n4)) return undefined;
    const host = n4.family === 4 ? 32 : 128;
    if (n4.prefix === 0) return `it is the whole IPv${n4.family} Internet`;
    const size = n4.family === 4 ? `${(2 ** (host - n4.prefix)).toLocaleString("en-US")} addresses` : `a /${n4.prefix}`;
    const range = PRIVATE_RANGES.find(r => within(n4, r));
    if (range !== undefined) {
        const limit = MAX_PRIVATE_WIDTH[n4.family];
        if (n4.prefix >= limit) return undefined;
        return `it is private address space (in ${range.postfix}) wider than /${limit} (${size})`;
    }
    if (n4.prefix === host) return undefined;
    return `it is public address space wider than a single host (${size})`;
}

/** Whether a bare address is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z). */
export function isLoopbackAddress(text: string): boolean {
    const n = isIP(text) ? parseNetwork(text) : undefined;
    return n !== undefined && isLoopbackNetwork(n);
}

/**
 * The name a PTR record of the address lives at, without the trailing dot:
 * "10.2.0.192.in-addr.arpa" for 192.0.2.10, 32 nibbles under ip6.arpa for IPv6 (RFC 3596).
 */
export function reverseDnsName(address: string): string {
    if (isIPv4(address)) return `${address.split(".").reverse().join(".")}.in-addr.arpa`;
    if (!isIPv6(address)) throw new Error(`not an IP address: ${address}`);
    const nibbles = ipaddr.IPv6.parse(address)
        .toByteArray()
        .flatMap(b => [b >> 4, b & 15])
        .map(n => n.toString(16));
    return `${nibbles.reverse().join(".")}.ip6.arpa`;
}

/**
 * Why an address cannot be a mail server's public address, or undefined. Private and loopback
 * addresses pass: a LAN, or a stack on one machine with DNS of its own (the live tests), uses them.
 */
export function notPublicReason(address: string): string | undefined {
    const range = ipaddr.parse(address).range();
    const refused: Record<string, string> = {
        unspecified: "the unspecified address",
        linkLocal: "a link-local address",
        multicast: "a multicast address",
        broadcast: "the broadcast address",
        ipv4Mapped: "an IPv4-mapped IPv6 address (give the IPv4 address itself)",
    };
    return refused[range];
}

/** Whether the two networks share at least one address (same family; IPv4-mapped IPv6 as IPv4). */
export function overlaps(a: Network, b: Network): boolean {
    const a4 = mappedIPv4(a) ?? a;
    const b4 = mappedIPv4(b) ?? b;
    if (a4.family !== b4.family) return false;
    const prefix = Math.min(a4.prefix, b4.prefix);
    return ipaddr.parse(a4.address).match(ipaddr.parse(b4.address), prefix);
}

/**
 * Where Docker takes bridge networks' subnets, and so their gateway addresses, unless its
 * daemon.json says otherwise: the local-scope default-address-pools (172.17.0.0/16 to
 * 172.31.0.0/16 and 192.168.0.0/16 in /20s, all inside 172.16.0.0/12 and 192.168.0.0/16), and
 * for IPv6 networks without a subnet of their own the ULA range fd00::/8 (Docker 27+ derives a
 * ULA prefix there from its engine id).
 */
export const DOCKER_ADDRESS_POOLS: readonly Network[] = ["172.16.0.0/12", "192.168.0.0/16", "[fd00::]/8"].map(p =>
    parseNetwork(p)!,
);

/** The Docker address pool this network shares addresses with (it may contain a bridge gateway), if any. */
export function dockerPoolOverlap(n: Network): Network | undefined {
    return DOCKER_ADDRESS_POOLS.find(pool => overlaps(n, pool));
}

/**
 * Why a mynetworks entry must not be trusted in Docker bridge mode, or undefined: there clients
 * can arrive from the network's gateway (docker-proxy; measured: every client, on an engine with
 * iptables off), whose address lies in Docker's pools, so an entry that can contain it may trust
 * the whole Internet. One text for validation and policy.
 */
export function bridgeGatewayRisk(n: Network): string | undefined {
    if (isLoopbackNetwork(n)) return undefined;
    const pool = dockerPoolOverlap(n);
    if (pool === undefined) return undefined;
    return (
        `it overlaps ${pool.postfix}, where Docker allocates bridge networks, and in bridge mode clients can arrive ` +
        "from the Docker network's gateway (through docker-proxy: every client when Docker's iptables is off), so " +
        'trusting it can make an open relay; use networkMode "host" to trust networks by address'
    );
}

/**
 * The address a client on the daemon's own host (a probe, or rspamd handing Postfix its reports)
 * reaches it at, given what the daemon listens on.
 */
export function probeAddress(listen: string[]): string {
    if (listen.some(a => ["all", "*", "::", "0.0.0.0", "loopback-only", "127.0.0.1", "localhost"].includes(a)))
        return "127.0.0.1";
    const v4 = listen.find(a => /^\d+\.\d+\.\d+\.\d+$/.test(a));
    return v4 ?? listen[0] ?? "127.0.0.1";
}
