// Postfix: the MTA (25, 587, 465), fed by the lookup tables it renders; it delivers to Dovecot
// over LMTP, asks saslauthd (relay mode) or Dovecot (internet mode) about SMTP AUTH, and hands
// every message to rspamd as its milter.
import { OUTBOUND_CA_FILE } from "../model/outboundTls";
import { paths } from "../model/paths";
import { PostfixSpec, publicFile } from "../model/spec";
import { postfixTables } from "../render/postfixShared";
import { relaySaslEntries, renderSaslPasswords } from "../render/postfixTables";
import { renderPostfixFiles } from "../render/postfix";
import { CERTIFICATE, COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";
import { resolverDns } from "./resolver";

/** inet_interfaces and inet_protocols when not Postfix's defaults ("all", "all"), else undefined. */
export function postfixStartupSettings(p: Pick<PostfixSpec, "inetInterfaces" | "inetProtocols">): string | undefined {
    const interfaces = p.inetInterfaces.join(", ");
    if (interfaces === "all" && p.inetProtocols === "all") return undefined;
    return `inet_interfaces = ${interfaces}; inet_protocols = ${p.inetProtocols}`;
}

export const postfix: MailServerService = {
    name: "postfix",
    component: "MailServer",
    image: "A prebuilt Postfix image to use instead of building images/postfix",
    security: {
        user: "root",
        // master (root) manages queue permissions and signals its unprivileged children.
        capabilities: [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETGID",
            "CAP_SETUID",
        ],
        tmpfs: ["/run/mail", "/tmp", "/var/lib/postfix"],
    },
    network: "stack",
    ports: s => [s.postfix.ports.smtp, s.postfix.ports.submission, s.postfix.ports.smtps],
    volumes: [
        // The queue outlives the stack: `pulumi destroy` must never lose mail.
        { name: "queue", path: paths.postfixQueue, kind: "data" },
        // Dovecot's LMTP and auth sockets, and Postfix's reinject socket for Sieve's mail.
        { name: "lmtp", path: paths.lmtpSocketDir, kind: "socket" },
    ],
    // With monitoring.metrics: the volume its log is copied into, for the Postfix exporter.
    // With outboundTls.mtaSts: the policy daemon's socket.
    mounts: [
        CONFIG,
        "queue",
        "lmtp",
        "saslauthd-run",
        "rspamd-milter",
        "mtasts-run",
        CERTIFICATE,
        "postfix-log",
        SERVICE_STATUS,
    ],
    dependsOn: ["saslauthd", "rspamd", "resolver", "mtasts"],
    // DANE needs a resolver that validates: the stack's own when it runs.
    dns: resolverDns,
    certificate: true,
    config: {
        files: s => [
            ...renderPostfixFiles(s.postfix),
            ...(s.outboundTls.trustedCaPem ? [publicFile(OUTBOUND_CA_FILE, s.outboundTls.trustedCaPem)] : []),
        ],
        // The relays' passwords, which Postfix must present in clear: root's alone, never registered.
        secretFiles: (_s, secrets) => [
            {
                path: postfixTables.saslPasswords,
                content: secrets.relayCredentials.apply(c => renderSaslPasswords(relaySaslEntries(c))),
                mode: "0600",
                owner: "root",
                group: "root",
            },
        ],
        postmap: [
            postfixTables.virtualMailboxes,
            postfixTables.virtualAliases,
            postfixTables.senderLogins,
            postfixTables.senderRelays,
            postfixTables.relayRecipients,
            postfixTables.saslPasswords,
            postfixTables.senderTransports,
            postfixTables.transports,
            postfixTables.tlsPolicies,
            postfixTables.ownSenderDomains,
            postfixTables.submissionSenders,
        ],
        postalias: [postfixTables.systemAliases],
        // Validates inet_interfaces against the addresses the service will have (::1, the host's own).
        hostNetworkInHostMode: true,
    },
    // Postfix binds its listeners once: "postfix reload" keeps the old addresses (postconf(5): stop
    // and start Postfix after changing these).
    startupSettings: s => postfixStartupSettings(s.postfix),
    healthcheck: COMMON_HEALTHCHECK,
    reload: "postfix reload; a new certificate (tls.acme) too",
};
