// What a service's healthcheck probes, shipped as a file of the configuration generation
// (images/common/healthcheck reads /config/current/probe). A port or listen-address change then
// reaches the probe together with the configuration: the container's own healthcheck input never
// changes (Docker cannot change a running container's healthcheck, and the provider would only
// record the change), and the probe always checks the generation the daemon runs.
import { publicFile, RenderedFile } from "../model/spec";

export interface Probe {
    address: string;
    port: number;
    /** The start of the daemon's greeting line, e.g. "220 " or "* OK". */
    greeting: string;
    /** What the probe says before it hangs up, so the daemon logs no aborted session. */
    goodbye: string;
    /**
     * The port expects a PROXY header (behind a load balancer): the probe sends a v1 header naming
     * its own address as the client's.
     */
    proxyHeader?: boolean;
}

/** The probe file; without a probe (no TCP port to check) only the daemon and generation are checked. */
export function renderProbe(probe: Probe | undefined): RenderedFile {
    const content = probe
        ? `address=${probe.address}\nport=${probe.port}\ngreeting=${probe.greeting}\ngoodbye=${probe.goodbye}\n` +
          (probe.proxyHeader ? "proxy=v1\n" : "")
        : "# no TCP probe: the daemon and its configuration generation are checked\n";
    return publicFile("probe", content);
}

// Where it is decided: model/net.ts (the options check the same address against mynetworks).
export { probeAddress } from "../model/net";
