// The PROXY protocol (HAProxy's header carrying the real client address) on the listeners behind a
// TCP load balancer, declared once for MailServer (Postfix) and DovecotImap, and the rules that
// keep it safe. Postfix believes the header from whoever connects (it has no trusted-networks
// setting), so its PROXY listeners must be reachable by the balancer alone: what preview can check
// is checked here; the firewall that makes it true is the operator's (docs/proxy-protocol.md).
import {
    isLoopbackAddress,
    MAX_PRIVATE_WIDTH,
    overlaps,
    parseNetwork,
    PRIVATE_RANGES,
    trustRisk,
    within,
} from "../model/net";
import type { ProxyProtocolSettings } from "../model/settings";
import { Validator } from "../model/validator";
import { list, object, oneOf, Pinned, SameType, text, Values } from "./declare";

export const SMTP_LISTENERS = ["smtp", "submission", "smtps"] as const;
export const DOVECOT_LISTENERS = ["imap", "imaps", "pop3", "pop3s", "managesieve"] as const;
export type DovecotListener = (typeof DOVECOT_LISTENERS)[number];

/**
 * A network a balancer connects from, in Dovecot's notation ("10.0.0.0/24", "2001:db8::5/128").
 * It may claim any client address, mynetworks' included, so it is held to mynetworks' limits.
 */
function balancerNetwork(v: Validator, field: string, value: string): string {
    const n = parseNetwork(value);
    if (n === undefined)
        v.fail(field, value, "expected a network such as 10.0.0.5/32, 192.0.2.0/28 or [2001:db8::5]/128");
    const risk = trustRisk(n);
    if (risk)
        v.fail(
            field,
            value,
            `${risk}; a host here may claim any client address (a trusted relay's too), so list the balancer's own ` +
                `addresses: loopback, single public hosts (/32, IPv6 /128) or private networks no wider than ` +
                `/${MAX_PRIVATE_WIDTH[4]} (IPv6 /${MAX_PRIVATE_WIDTH[6]})`,
        );
    return `${n.address}/${n.prefix}`;
}

const trustedNetworks = (doc: string) =>
    list(text({ doc: "A network in CIDR form", check: balancerNetwork }), { doc, default: [] });

export const PROXY_PROTOCOL_OPTIONS = {
    listeners: list(oneOf("SmtpListener", SMTP_LISTENERS, { doc: '"smtp", "submission" or "smtps"' }), {
        doc:
            "The smtpd listeners (ports.smtp, ports.submission, ports.smtps) that expect a PROXY header (v1 or v2) " +
            "before SMTP: behind a TCP load balancer they then see the real client's address; empty: none",
        default: [],
    }),
    trustedNetworks: trustedNetworks(
        "Where the balancer connects from; Postfix cannot check it (anyone who reaches a PROXY listener can claim " +
            "any address), so these networks must be the only ones that reach those ports (docs/proxy-protocol.md; " +
            "on Kubernetes the platform's NetworkPolicy admits only them); " +
            "DovecotImap's proxyProtocol trusts them unless it names its own",
    ),
};

export const PROXY_PROTOCOL_GROUP = object("ProxyProtocolArgs", PROXY_PROTOCOL_OPTIONS, {
    doc: "The PROXY protocol on Postfix's listeners behind a TCP load balancer; off by default",
    default: {},
});

export const DOVECOT_PROXY_PROTOCOL_OPTIONS = {
    listeners: list(oneOf("DovecotListener", DOVECOT_LISTENERS, { doc: "A listener of ports" }), {
        doc:
            "The listeners (of ports) that expect a PROXY header (haproxy = yes); connections to them from outside " +
            "trustedNetworks are refused",
        default: [],
    }),
    trustedNetworks: {
        ...list(text({ doc: "A network in CIDR form", check: balancerNetwork }), {
            doc: "Dovecot haproxy_trusted_networks: the only networks whose PROXY header Dovecot believes",
        }),
        defaultText: "the MailServer's proxyProtocol.trustedNetworks",
    },
};

export const DOVECOT_PROXY_PROTOCOL_GROUP = object("DovecotProxyProtocolArgs", DOVECOT_PROXY_PROTOCOL_OPTIONS, {
    doc: "The PROXY protocol on Dovecot's listeners behind a TCP load balancer; off by default",
    default: {},
});

const HOST_MODE_ONLY =
    'expected networkMode "host" with PROXY listeners: in bridge mode connections can arrive from the Docker ' +
    "network's gateway (docker-proxy) instead of the balancer, so the balancer's address cannot be told apart " +
    "(on Kubernetes, with kubernetes set, a NetworkPolicy admits only trustedNetworks to the PROXY listeners)";

/** Not public: loopback, or inside the private ranges (model/net.ts PRIVATE_RANGES). */
function reachableFromInternet(address: string): boolean {
    if (isLoopbackAddress(address)) return false;
    const n = parseNetwork(address);
    return n === undefined || !PRIVATE_RANGES.some(r => within(n, r));
}

/**
 * MailServer's rules: host mode (on Docker); trusted networks given; Postfix listening on no public
 * address (on Docker: nothing but the balancer may reach a listener that believes any header; on
 * Kubernetes the NetworkPolicy admits only trustedNetworks to the proxied ports); the balancer not in
 * mynetworks (its own connections, such as health checks with a LOCAL header, would relay without
 * AUTH); no internal client of the stack sent to a PROXY listener without a header.
 */
export function checkProxyProtocol(
    v: Validator,
    o: ProxyProtocolSettings,
    server: {
        networkMode: string;
        /** On Kubernetes: pods (bridge), and a NetworkPolicy, not the listen address, guards the ports. */
        kubernetes: boolean;
        inetInterfaces: string[];
        mynetworks: string[];
        ports: { smtp: number; submission: number; smtps: number };
        reportsSent: { dmarc: boolean; tls: boolean };
        monitoring: { metrics: boolean; alerts: boolean };
    },
): void {
    if (o.listeners.length === 0) return;
    if (server.networkMode !== "host" && !server.kubernetes)
        v.fail("proxyProtocol.listeners", o.listeners, HOST_MODE_ONLY);
    if (o.trustedNetworks.length === 0)
        v.fail(
            "proxyProtocol.trustedNetworks",
            o.trustedNetworks,
            "expected the networks the balancer connects from (at least one) while proxyProtocol.listeners is set",
        );
    server.inetInterfaces.forEach((a, i) => {
        if (server.kubernetes || a === "loopback-only" || (a !== "all" && !reachableFromInternet(a))) return;
        v.fail(
            `inetInterfaces[${i}]`,
            a,
            "expected loopback or private addresses only while proxyProtocol.listeners is set: Postfix believes a " +
                "PROXY header from anyone who connects, so a listener on a public address (or all addresses) lets " +
                "any client claim any address, a trusted relay's too; listen on the address the balancer reaches",
        );
    });
    o.trustedNetworks.forEach((t, i) => {
        const balancer = parseNetwork(t)!;
        const trusted = server.mynetworks.find(m => overlaps(balancer, parseNetwork(m)!));
        if (trusted !== undefined)
            v.fail(
                `proxyProtocol.trustedNetworks[${i}]`,
                t,
                `expected no overlap with mynetworks (${trusted}): the balancer's own connections (health checks, a ` +
                    "header without an address) would relay without AUTH; remove the balancer's addresses from mynetworks",
            );
    });
    const proxied = new Set<string>(o.listeners);
    const internal: Array<[boolean, string, string]> = [
        [
            proxied.has("smtp") && (server.reportsSent.dmarc || server.reportsSent.tls),
            "reports",
            "expected reports.tls and reports.dmarc false while smtp is a PROXY listener: the reports enter Postfix " +
                "on ports.smtp from the host's own address, without a PROXY header",
        ],
        [
            proxied.has("smtp") && server.monitoring.alerts,
            "monitoring.alerts",
            "expected false while smtp is a PROXY listener: Alertmanager mails through ports.smtp without a PROXY header",
        ],
        [
            server.monitoring.metrics && proxied.has(server.ports.smtps > 0 ? "smtps" : "submission"),
            "monitoring.metrics",
            `expected false while ${server.ports.smtps > 0 ? "smtps" : "submission"} is a PROXY listener: the ` +
                "certificate check connects to it without a PROXY header",
        ],
    ];
    const conflict = internal.find(([clash]) => clash);
    if (conflict) v.fail(conflict[1], true, conflict[2]);
}

/** DovecotImap's rules: host mode (on Docker), listeners that are on, networks to trust. Returns the networks. */
export function checkDovecotProxyProtocol(
    v: Validator,
    o: { listeners: DovecotListener[]; trustedNetworks: string[] | undefined },
    server: { networkMode: string; kubernetes: boolean; trustedNetworks: string[] },
    ports: Record<DovecotListener, number>,
): string[] {
    const networks = o.trustedNetworks ?? server.trustedNetworks;
    if (o.listeners.length === 0) return networks;
    if (server.networkMode !== "host" && !server.kubernetes)
        v.fail("proxyProtocol.listeners", o.listeners, HOST_MODE_ONLY);
    o.listeners.forEach((l, i) => {
        if (ports[l] === 0)
            v.fail(`proxyProtocol.listeners[${i}]`, l, `expected a listener that is on: ports.${l} is 0 (off)`);
    });
    if (networks.length === 0)
        v.fail(
            "proxyProtocol.trustedNetworks",
            o.trustedNetworks,
            "expected the networks the balancer connects from (here, or the MailServer's proxyProtocol.trustedNetworks): " +
                "without them Dovecot refuses every connection to a PROXY listener",
        );
    return networks;
}

export type _ProxyProtocolPinned = Pinned<SameType<ProxyProtocolSettings, Values<typeof PROXY_PROTOCOL_OPTIONS>>>;
