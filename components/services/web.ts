// The well-known HTTPS endpoint (MailServer wellKnown): Debian's nginx (images/web) serving each
// served domain's MTA-STS policy and autoconfig file. It serves the mail services' certificate.
import { WebSpec, renderWebFiles } from "../render/web";
import type { MailServerSettings, WellKnownSettings } from "../model/settings";
import { CertificateSpec } from "../model/certificate";
import { CERTIFICATE, COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";

/**
 * nginx's spec: in host mode it binds wellKnown.address (all addresses if none); in bridge mode
 * every IPv4 address of its own network namespace, and Docker publishes the port on the address.
 */
export function webSpec(w: WellKnownSettings, networkMode: string, certificate: CertificateSpec): WebSpec {
    return {
        port: w.httpsPort,
        address: networkMode === "host" ? w.address : "0.0.0.0",
        certificate,
        domains: w.domains,
    };
}

const wellKnown = (s: MailServerSettings) => s.wellKnown!;

export const web: MailServerService = {
    name: "web",
    component: "MailServer",
    image: "A prebuilt nginx image to use instead of building images/web (wellKnown)",
    // Only when a VirtualDomain is served.
    runs: s => s.wellKnown !== undefined,
    security: {
        user: "root",
        // nginx's master (root, to read the key) starts its workers as www-data.
        capabilities: ["CAP_SETGID", "CAP_SETUID"],
        tmpfs: ["/run/mail", "/run/nginx", "/tmp"],
        lowPortCapability: true,
    },
    network: "stack",
    ports: s => [wellKnown(s).httpsPort],
    publishAddress: s => wellKnown(s).address ?? s.placement.publishAddress,
    certificate: true,
    mounts: [CONFIG, CERTIFICATE, SERVICE_STATUS],
    config: {
        files: s => renderWebFiles(webSpec(wellKnown(s), s.placement.networkMode, s.certificate)),
    },
    healthcheck: COMMON_HEALTHCHECK,
    reload: "nginx -s reload; a new certificate (tls.acme) too",
};
