// MailServer outboundTls: DANE, MTA-STS and the stack's validating resolver, declared once
// (validateMailServer.ts checks how they fit with the network mode and dns).
import { isIP, isLoopbackAddress } from "../model/net";
import { OutboundTlsSettings, TRUST_ANCHOR } from "../model/outboundTls";
import { Validator } from "../model/validator";
import { boolean, list, object, Pinned, required, SameType, text, Values } from "./declare";

/** "address" or "address@port", unbound's way of writing a server. */
const STUB_SERVER = /^(.+?)(@(\d{1,5}))?$/;
const STUB_SERVER_ACCEPTED = 'expected an IP address, or "address@port", e.g. "192.0.2.53" or "127.0.0.1@5353"';

export const STUB_ZONE_OPTIONS = {
    zone: required(
        text({
            doc: "The zone, e.g. corp.example",
            check: (v, f, x) => v.domain(f, x.replace(/\.$/, "")),
        }),
    ),
    servers: required(
        list(
            text({
                doc: 'An authoritative server of the zone: "address" or "address@port"',
                accepted: STUB_SERVER_ACCEPTED,
                check: (v, f, x) => {
                    const m = STUB_SERVER.exec(x);
                    const port = m?.[3] === undefined ? 53 : Number(m[3]);
                    return m && isIP(m[1]) && port >= 1 && port <= 65535 ? x : v.fail(f, x, STUB_SERVER_ACCEPTED);
                },
            }),
            { doc: "Its authoritative servers, asked directly", nonEmpty: "expected at least one server of the zone" },
        ),
    ),
};

export const OUTBOUND_TLS_OPTIONS = {
    dane: boolean({
        doc:
            "DANE (RFC 7672): a destination whose DNSSEC-signed TLSA records name its certificate gets verified TLS or " +
            "no delivery (deferred); takes effect with a validating resolver (resolver, or the host's)",
        default: true,
    }),
    mtaSts: boolean({
        doc:
            "MTA-STS (RFC 8461): the policies destinations publish are fetched, cached and enforced (postfix-mta-sts-" +
            "resolver, a container of its own); a destination with TLSA records is held to DANE instead",
        default: true,
    }),
    resolver: boolean({
        doc:
            "A validating DNS resolver of the stack's own (unbound, a container of its own) for Postfix, rspamd and the " +
            "MTA-STS daemon: DNSSEC for DANE, and the private resolver DNS blocklists require. Needs networkMode " +
            '"host" and outbound DNS (port 53) to the internet',
        default: false,
    }),
    resolverAddress: text({
        doc: "Loopback address the resolver listens on (port 53), in the services' /etc/resolv.conf",
        default: "127.0.0.153",
        accepted: "expected a loopback address such as 127.0.0.153 (the resolver must not be reachable from outside)",
        check: (v, f, x) =>
            isIP(x) && isLoopbackAddress(x)
                ? x
                : v.fail(
                      f,
                      x,
                      "expected a loopback address such as 127.0.0.153 (the resolver must not be reachable from outside)",
                  ),
    }),
    stubZones: list(
        object("StubZone", STUB_ZONE_OPTIONS, {
            doc: "A zone the resolver asks its own authoritative servers about",
        }),
        {
            doc: "Zones the resolver asks given servers about instead of the public DNS (private or split-horizon zones)",
            default: [],
        },
    ),
    trustAnchors: list(
        text({
            doc: 'A DS or DNSKEY record, e.g. "corp.example. DS 12345 13 2 <hex digest>"',
            accepted: 'expected a DS or DNSKEY record such as "corp.example. DS 12345 13 2 49FD46E6C4B4..."',
            check: (v, f, x) =>
                TRUST_ANCHOR.test(x.trim())
                    ? x.trim()
                    : v.fail(
                          f,
                          x,
                          'expected a DS or DNSKEY record such as "corp.example. DS 12345 13 2 49FD46E6C4B4..."',
                      ),
        }),
        {
            doc: "DNSSEC trust anchors besides the root's, for signed zones not delegated from it (stubZones)",
            default: [],
        },
    ),
    trustedCaPem: text({
        doc:
            "CA certificates (PEM) trusted besides the public ones when a destination's certificate is verified (MTA-STS " +
            "and its policy fetch): a private PKI's",
        check: (v, f, x) =>
            /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(x)
                ? x.endsWith("\n")
                    ? x
                    : `${x}\n`
                : v.fail(
                      f,
                      "(not a PEM certificate)",
                      "expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)",
                  ),
    }),
};

export const OUTBOUND_TLS_GROUP = object("OutboundTlsArgs", OUTBOUND_TLS_OPTIONS, {
    doc: "How much TLS each destination gets: DANE, MTA-STS, the validating resolver",
    default: {},
});

export type _OutboundTlsPinned = Pinned<SameType<OutboundTlsSettings, Values<typeof OUTBOUND_TLS_OPTIONS>>>;

/** outboundTls's rules on other options: the resolver needs the host's network and DNS. */
export function checkOutboundTls(
    v: Validator,
    o: OutboundTlsSettings,
    context: { networkMode: "bridge" | "host"; dns: "available" | "none" },
): void {
    if (o.resolver && context.networkMode === "bridge")
        v.fail(
            "outboundTls.resolver",
            true,
            'expected false with networkMode "bridge", or networkMode "host": Postfix reads its resolver from ' +
                "/etc/resolv.conf (port 53, an address only), and a container on a Docker bridge network has no fixed " +
                "address to name there; on bridge, DANE works when the host's own resolver validates DNSSEC",
        );
    if (o.resolver && context.dns === "none")
        v.fail("outboundTls.resolver", true, 'expected false with dns "none": there is no DNS to resolve');
    if (!o.resolver && o.stubZones.length > 0)
        v.fail(
            "outboundTls.stubZones",
            o.stubZones.map(z => z.zone),
            "expected none without outboundTls.resolver: they configure the stack's resolver",
        );
    if (!o.resolver && o.trustAnchors.length > 0)
        v.fail(
            "outboundTls.trustAnchors",
            o.trustAnchors,
            "expected none without outboundTls.resolver: they configure the stack's resolver",
        );
}

/** What main.cf needs of outboundTls (PostfixSpec.outboundTls). */
export const postfixOutboundTls = (o: OutboundTlsSettings, tlsReports: boolean) => ({
    dane: o.dane,
    mtaSts: o.mtaSts,
    trustedCa: o.trustedCaPem !== undefined,
    tlsReports,
});
