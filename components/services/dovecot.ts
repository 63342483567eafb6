// Dovecot: the mailbox store (IMAP, POP3, ManageSieve), LMTP delivery from Postfix over a socket
// in the volume the two share, and the auth service that Postfix asks about SMTP AUTH in
// internet mode. Its brute-force bans come from authpolicy.
import { paths } from "../model/paths";
import { dovecotUsersFile, renderDovecotFiles, renderDovecotUsers } from "../render/dovecot";
import { renderDovecotProxyFiles, renderProxyUsers } from "../render/dovecotProxy";
import { DovecotMetricsSpec } from "../render/metrics";
import { CERTIFICATE, COMMON_HEALTHCHECK, CONFIG, ImapService, ImapSettings, SERVICE_STATUS } from "./definition";

/** With MailServer monitoring.metrics: where Dovecot serves its metrics (host mode: the address; bridge: all). */
function dovecotMetrics(s: ImapSettings): DovecotMetricsSpec | undefined {
    const m = s.server.monitoring;
    if (!m.metrics) return undefined;
    return { listen: s.server.placement.networkMode === "host" ? m.address : "*", port: m.ports.dovecot };
}

export const dovecot: ImapService = {
    name: "dovecot",
    component: "DovecotImap",
    image: "A prebuilt Dovecot image to use instead of building images/dovecot",
    security: {
        user: "root",
        // login processes chroot and drop to unprivileged users; mail is written as vmail.
        capabilities: [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETGID",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ],
        tmpfs: ["/run/dovecot", "/run/mail", "/tmp", "/var/lib/dovecot"],
    },
    network: "stack",
    ports: s => [
        s.imap.ports.imap,
        s.imap.ports.imaps,
        s.imap.ports.managesieve,
        s.imap.ports.pop3,
        s.imap.ports.pop3s,
    ],
    publishAddress: s => s.imap.publishAddress,
    // Bridge mode: its metrics endpoint is published where the metrics container's are.
    addressedPorts: s =>
        s.server.monitoring.metrics
            ? [{ port: s.server.monitoring.ports.dovecot, address: s.server.monitoring.address }]
            : [],
    // Mail outlives the stack: `pulumi destroy` must never lose it.
    volumes: [{ name: "mail", path: paths.mailRoot, kind: "data" }],
    mounts: [CONFIG, "mail", "lmtp", CERTIFICATE, "authpolicy-run", SERVICE_STATUS],
    dependsOn: ["authpolicy"],
    certificate: true,
    config: {
        // With shards (Kubernetes), this is the Dovecot proxy; the backends' files are
        // platform/kubernetes/shards.ts's.
        files: s => (s.imap.shards ? renderDovecotProxyFiles(s.imap) : renderDovecotFiles(s.imap, dovecotMetrics(s))),
        // The hashes: readable by root and Dovecot's auth processes only.
        secretFiles: (s, secrets) => [
            {
                ...dovecotUsersFile(""),
                content: secrets.logins.apply(c =>
                    s.imap.shards
                        ? renderProxyUsers(c, s.imap.domains, s.server.prefix, s.imap.shards.shards)
                        : renderDovecotUsers(c, s.imap.domains),
                ),
            },
        ],
        registerSecretFiles: true,
    },
    healthcheck: COMMON_HEALTHCHECK,
    reload:
        "doveadm reload when dovecot.conf changes (none for mailboxes and Sieve rules, which Dovecot reads " +
        "afresh); a new certificate restarts only the config process",
};
