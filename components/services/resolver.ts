// The stack's validating resolver (MailServer outboundTls.resolver, host mode): unbound on a
// loopback address, named in Postfix's, rspamd's and the MTA-STS daemon's /etc/resolv.conf
// (resolverDns). DNSSEC for DANE, and the private resolver DNS blocklists require.
// Its files: render/resolver.ts; its image: images/resolver.
import { RESOLVER_DATA_DIR } from "../model/outboundTls";
import type { MailServerSettings } from "../model/settings";
import { renderResolverFiles } from "../render/resolver";
import { COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";

/**
 * The nameserver of a service that asks DNS: the stack's resolver while it runs, else the
 * platform's default. Read at the container's start (a change replaces it).
 */
export function resolverDns(s: MailServerSettings): string[] | undefined {
    return s.outboundTls.resolver ? [s.outboundTls.resolverAddress] : undefined;
}

export const resolver: MailServerService = {
    name: "resolver",
    component: "MailServer",
    image: "A prebuilt unbound image to use instead of building images/resolver (outboundTls.resolver)",
    runs: s => s.outboundTls.resolver,
    security: {
        user: "root",
        // unbound binds port 53 as root, then runs as its own user; the entrypoint makes its data
        // volume unbound's.
        capabilities: ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"],
        tmpfs: ["/run/mail", "/run/unbound", "/tmp"],
    },
    network: "stack",
    volumes: [
        // The root trust anchor's RFC 5011 state, and the cache dumped when the container stops.
        { name: "resolver-data", path: RESOLVER_DATA_DIR, kind: "data" },
    ],
    mounts: [CONFIG, "resolver-data", SERVICE_STATUS],
    config: {
        files: s =>
            renderResolverFiles({
                address: s.outboundTls.resolverAddress,
                stubZones: s.outboundTls.stubZones,
                trustAnchors: s.outboundTls.trustAnchors,
            }),
    },
    healthcheck: COMMON_HEALTHCHECK,
    reload: "unbound-control reload (its cache starts anew)",
};
