// dovecot.conf's listeners (components/render/dovecot.ts includes them), with the PROXY protocol
// behind a TCP load balancer, and the healthcheck's probe of port imap. Pure and deterministic.
import { parseNetwork, within } from "../model/net";
import { DovecotSpec } from "../model/spec";
import { Probe, probeAddress } from "./probe";

export function renderDovecotListeners(spec: DovecotSpec): string {
    const p = spec.ports;
    const proxy = spec.proxyProtocol;
    // The listener reads a PROXY header first, believed only from haproxy_trusted_networks (other
    // clients are disconnected), so logins, logs and the brute-force policy see the real client.
    const haproxy = (listener: keyof DovecotSpec["ports"]) =>
        proxy?.listeners.includes(listener) ? "\n    haproxy = yes" : "";
    return `# --- listeners
${
    proxy
        ? `# PROXY headers are believed from the load balancer's networks only.
haproxy_trusted_networks = ${proxy.trustedNetworks.join(" ")}
`
        : ""
}# One connection per login process (Dovecot's default, stated because certificate changes rely on
# it: images/dovecot/service.sh restarts only the config process, and each new login process
# reads the new certificate from it).
service imap-login {
  restart_request_count = 1
  inet_listener imap {
    port = ${p.imap}${haproxy("imap")}
  }
  inet_listener imaps {
    port = ${p.imaps}
    ssl = yes${haproxy("imaps")}
  }
}
service pop3-login {
  restart_request_count = 1
  inet_listener pop3 {
    port = ${p.pop3}${haproxy("pop3")}
  }
  inet_listener pop3s {
    port = ${p.pop3s}
    ssl = yes${haproxy("pop3s")}
  }
}
service managesieve-login {
  restart_request_count = 1
  inet_listener sieve {
    port = ${p.managesieve}${haproxy("managesieve")}
  }
}
`;
}

/**
 * The healthcheck's probe of port imap. Behind a load balancer it sends a PROXY header, which
 * Dovecot believes only from its trusted networks: from elsewhere there is no TCP probe.
 */
export function imapProbe(spec: DovecotSpec): Probe | undefined {
    const address = probeAddress(spec.listen);
    if (spec.ports.imap === 0) return undefined;
    const proxied = spec.proxyProtocol?.listeners.includes("imap") === true;
    const probe = { address, port: spec.ports.imap, greeting: "* OK", goodbye: "a LOGOUT" };
    if (!proxied) return probe;
    const from = parseNetwork(address)!;
    const trusted = spec.proxyProtocol!.trustedNetworks.some(n => within(from, parseNetwork(n)!));
    return trusted ? { ...probe, proxyHeader: true } : undefined;
}
