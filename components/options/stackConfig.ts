// The example program's stack config keys (index.ts, namespace "mailserver:"): most are
// MailServer options under the same name; the rest say how domains, relays, users, passwords,
// the supplied certificate and Dovecot's settings come from stack config. Pulumi.yaml's config
// block and the README's stack config table are generated from this list.
import { list, object, Option, passthrough, text } from "./declare";
import { DOVECOT_IMAP_OPTIONS } from "./dovecotImap";
import { MAIL_SERVER_OPTIONS } from "./mailServer";
import { RELAYHOST_OPTIONS } from "./relayhost";
import { MAILBOX_OPTIONS, VIRTUAL_DOMAIN_OPTIONS } from "./virtualDomain";

/** MailServer options that are stack config keys as they are. */
// The program wires the hash caches itself, from the stack's previous outputs.
const {
    domains: _d,
    relayhosts: _r,
    users: _u,
    passwordHashCache: _c,
    namePrefix,
    ...serverKeys
} = MAIL_SERVER_OPTIONS;
const { password: _p, passwordHash: _h, ...mailboxConfig } = MAILBOX_OPTIONS;
const { passwordHashCache: _dc, ...domainConfig } = VIRTUAL_DOMAIN_OPTIONS;
const { password: _rp, username, ...relayConfig } = RELAYHOST_OPTIONS;

const secretMap = (doc: string) =>
    passthrough<unknown, { doc: string }>("object", { type: "object", secret: true }, { doc });

export const STACK_CONFIG: Record<string, Option<any>> = {
    ...serverKeys,
    namePrefix: { ...namePrefix, defaultText: "`mail-<stack>`" },
    domains: list(
        object(
            "DomainConfig",
            {
                ...domainConfig,
                mailboxes: list(
                    object("MailboxConfig", mailboxConfig, { doc: "A mailbox; its password comes from passwords" }),
                    {
                        doc: "The domain's mailboxes",
                        default: [],
                    },
                ),
            },
            { doc: "A VirtualDomain" },
        ),
        {
            doc: "The VirtualDomains (options as in VirtualDomain; mailbox passwords come from `passwords`); mxHosts default to [hostname]",
            default: [],
        },
    ),
    passwords: secretMap(
        "Mailbox and relay-user passwords, address -> password: " +
            "`pulumi config set --secret --path 'passwords[\"alice@example.com\"]' ...`",
    ),
    passwordHashes: secretMap(
        "Instead of passwords: crypt(3) hashes made elsewhere (MailboxArgs.passwordHash), address -> hash: " +
            '`pulumi config set --secret --path \'passwordHashes["alice@example.com"]\' "$(mkpasswd -m yescrypt)"`',
    ),
    passwordHashCache: secretMap(
        "The hashes of the previous up (its passwordHashCache output), so unchanged passwords are not hashed " +
            "again; `npm run stack -- up` keeps it current",
    ),
    relayhosts: list(
        object(
            "RelayhostConfig",
            {
                name: text({
                    doc: "Resource name and key in relayPasswords (default: host); needed when two relays share a host",
                }),
                ...relayConfig,
                username,
            },
            { doc: "A Relayhost" },
        ),
        {
            doc: "The Relayhosts (options as in Relayhost; passwords come from `relayPasswords`)",
            default: [],
        },
    ),
    relayPasswords: secretMap(
        "Relay passwords, relay name (default: its host) -> password: " +
            "`pulumi config set --secret --path 'relayPasswords[\"smtp.relay.example.net\"]' ...`",
    ),
    users: list(text({ doc: "An SMTP AUTH login", check: (v, f, x) => v.address(f, x) }), {
        doc: "Relay mode: the SMTP AUTH logins (MailServer users); their passwords come from `passwords`",
        default: [],
    }),
    tlsCertPem: text({ doc: "A supplied certificate chain (MailServer tls.certPem), with tlsKeyPem" }),
    tlsKeyPem: passthrough<unknown, { doc: string }>(
        "string",
        { type: "string", secret: true },
        {
            doc: "The supplied certificate's private key (MailServer tls.keyPem), a secret",
        },
    ),
    tlsAcmeDnsCredentials: secretMap(
        "tls.acme dns-01: the DNS provider's secret lego variables (MailServer tls.acme.dnsCredentials), name -> value: " +
            "`pulumi config set --secret --path 'tlsAcmeDnsCredentials.RFC2136_TSIG_SECRET' ...`",
    ),
    imapPorts: DOVECOT_IMAP_OPTIONS.ports,
    imapListen: DOVECOT_IMAP_OPTIONS.listen,
    imapPublishAddress: DOVECOT_IMAP_OPTIONS.publishAddress,
    imapBruteForce: DOVECOT_IMAP_OPTIONS.bruteForce,
    vacation: DOVECOT_IMAP_OPTIONS.vacation,
};
