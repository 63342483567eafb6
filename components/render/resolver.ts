// Renders the stack's validating resolver (MailServer outboundTls.resolver): unbound.conf. Pure and
// deterministic. unbound listens on one loopback address (port 53: Postfix's resolver, libc, knows
// no other port), answers only loopback clients, validates DNSSEC from the root's trust anchor
// (kept current per RFC 5011 in its data volume) and the operator's own anchors.
import type { StubZoneSpec } from "../model/outboundTls";
import { RESOLVER_DATA_DIR } from "../model/outboundTls";
import { publicFile, RenderedFile } from "../model/spec";
import { renderProbe } from "./probe";

export interface ResolverSpec {
    address: string;
    stubZones: StubZoneSpec[];
    trustAnchors: string[];
}

/** unbound-control's socket: reloads and the cache dump that outlives a restart (images/resolver). */
export const RESOLVER_CONTROL_SOCKET = "/run/unbound/control.sock";

const HEADER =
    "# Rendered by the mailserver package (components/render/resolver.ts). Do not edit here:\n" +
    "# every deploy replaces this file. Change the component's arguments instead.\n";

/** Names unbound answers itself by default (its local-zone defaults, RFC 6761 and RFC 8375). */
const SPECIAL_USE_ZONES = ["test", "invalid", "onion", "localhost", "home.arpa"];

const isLoopbackServer = (server: string) => /^(127\.|::1$|::1@)/.test(server);

export function renderUnboundConf(s: ResolverSpec): string {
    const loopbackStubs = s.stubZones.some(z => z.servers.some(isLoopbackServer));
    // A stub zone under a name unbound answers itself (RFC 6761: test., invalid., ...) is asked of
    // its servers only once that default is off: the default zone answers NXDOMAIN first.
    const defaults = [
        ...new Set(s.stubZones.flatMap(z => SPECIAL_USE_ZONES.filter(d => z.zone === d || z.zone.endsWith(`.${d}`)))),
    ];
    return `${HEADER}server:
  interface: ${s.address}
  port: 53
  # Only this host's own clients (the stack's services); anything else is refused.
  access-control: 0.0.0.0/0 refuse
  access-control: ::/0 refuse
  access-control: 127.0.0.0/8 allow
  access-control: ::1/128 allow
  do-ip6: yes
  username: "unbound"
  chroot: ""
  directory: "${RESOLVER_DATA_DIR}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  log-time-ascii: yes
  # Why an answer failed validation (bogus) is logged: the reason a DANE delivery was deferred.
  val-log-level: 2
  verbosity: 1
  # DNSSEC: the root's anchor, updated by RFC 5011 rollovers in the data volume (images/resolver
  # seeds it from Debian's dns-root-data).
  auto-trust-anchor-file: "${RESOLVER_DATA_DIR}/anchor/root.key"
${s.trustAnchors.map(a => `  trust-anchor: "${a}"\n`).join("")}  harden-glue: yes
  harden-dnssec-stripped: yes
  harden-below-nxdomain: yes
  qname-minimisation: yes
  aggressive-nsec: yes
  # Popular answers are fetched again before they expire: no lookup waits for them.
  prefetch: yes
  prefetch-key: yes
  serve-expired: yes
  serve-expired-ttl: 86400
  cache-min-ttl: 0
${loopbackStubs ? "  # A stub zone's servers are on this host.\n  do-not-query-localhost: no\n" : ""}${defaults.map(d => `  local-zone: "${d}." nodefault\n`).join("")}
remote-control:
  control-enable: yes
  control-interface: ${RESOLVER_CONTROL_SOCKET}
${s.stubZones
    .map(z => `\nstub-zone:\n  name: "${z.zone}."\n${z.servers.map(a => `  stub-addr: ${a}\n`).join("")}`)
    .join("")}`;
}

/** The resolver's config generation: unbound.conf and the healthcheck's probe (none: no TCP greeting). */
export function renderResolverFiles(s: ResolverSpec): RenderedFile[] {
    return [publicFile("unbound.conf", renderUnboundConf(s)), renderProbe(undefined)];
}
