// The example program's stack config keys (index.ts, namespace "mailserver:"), beside the program
// and outside the library (components/): most are
// MailServer options under the same name; the rest say how domains, relays, users, passwords,
// the supplied certificate and Dovecot's settings come from stack config. Pulumi.yaml's config
// block and the README's stack config table are generated from this list.
import { list, object, Option, passthrough, text } from "../components/options/declare";
import { isCredentialName } from "../components/options/acme";
import { DOVECOT_IMAP_OPTIONS } from "../components/options/dovecotImap";
import { MAIL_SERVER_OPTIONS } from "../components/options/mailServer";
import { RELAYHOST_OPTIONS } from "../components/options/relayhost";
import { MAILBOX_OPTIONS } from "../components/options/virtualDomainFields";
import { VIRTUAL_DOMAIN_OPTIONS } from "../components/options/virtualDomain";

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
const { passwordHashCache: _dc, dkimKeys: _dk, ...domainConfig } = VIRTUAL_DOMAIN_OPTIONS;
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
    dkimKeys: secretMap(
        "DKIM private keys to keep (VirtualDomain dkimKeys), domain -> [{selector, algorithm, privateKeyPem}]: " +
            "`npm run stack -- export-keys` writes them from a stack, `npm run import-dms` from docker-mailserver",
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
    tlsCaKeyPem: passthrough<unknown, { doc: string }>(
        "string",
        { type: "string", secret: true },
        {
            doc: "The private key of tls.ca (MailServer tls.ca.keyPem), a secret; tls.ca.certPem stays in tls",
        },
    ),
    tlsAcmeDnsCredentials: secretMap(
        "tls.acme dns-01: the DNS provider's secret lego variables (MailServer tls.acme.dnsCredentials), name -> value: " +
            "`pulumi config set --secret --path 'tlsAcmeDnsCredentials.RFC2136_TSIG_SECRET' ...`",
    ),
    backupSecrets: secretMap(
        "backup: the repository's password and the store's credentials (MailServer backup's secret fields), name -> value: " +
            "`pulumi config set --secret --path 'backupSecrets.password' ...` (also s3AccessKeyId, s3SecretAccessKey, " +
            "restUsername, restPassword, sftpPrivateKey)",
    ),
    imapPorts: DOVECOT_IMAP_OPTIONS.ports,
    imapListen: DOVECOT_IMAP_OPTIONS.listen,
    imapPublishAddress: DOVECOT_IMAP_OPTIONS.publishAddress,
    imapBruteForce: DOVECOT_IMAP_OPTIONS.bruteForce,
    imapProxyProtocol: DOVECOT_IMAP_OPTIONS.proxyProtocol,
    vacation: DOVECOT_IMAP_OPTIONS.vacation,
};

/** The stack config keys whose values are Pulumi secrets (`pulumi config set --secret`): their declarations say so. */
export const SECRET_CONFIG_KEYS = Object.entries(STACK_CONFIG)
    .filter(([, o]) => "secret" in o.config && o.config.secret === true)
    .map(([k]) => k);

/** The example program's config namespace (Pulumi.yaml's project name). */
export const PROJECT = "mailserver";
/** The same keys as the engine names them, e.g. "mailserver:passwords". */
export const SECRET_KEYS = SECRET_CONFIG_KEYS.map(k => `${PROJECT}:${k}`);

/**
 * Private keys and credentials written into ordinary (non-secret) stack config keys, where they sit
 * in plain text in stacks/Pulumi.<stack>.yaml: one message per value, each with the commands that
 * move it into the secret key of its own. `tls` and the lists are ordinary object keys, so
 * `--secret --path` inside them is not what the program reads.
 */
export function plaintextSecrets(values: Record<string, any>): string[] {
    const found: string[] = [];
    const move = (path: string, secretKey: string, what: string, value: string) =>
        found.push(
            `mailserver:${path} is ${what} in plain text in the stack's config file; move it into a secret: ` +
                `pulumi config rm --path 'mailserver:${path}' && pulumi config set --secret ${secretKey} ${value}`,
        );
    const tls = values.tls ?? {};
    if (tls.keyPem !== undefined) move("tls.keyPem", "mailserver:tlsKeyPem", "a private key", `-- "$(cat key.pem)"`);
    if (tls.ca?.keyPem !== undefined)
        move("tls.ca.keyPem", "mailserver:tlsCaKeyPem", "a private key", `-- "$(cat ca-key.pem)"`);
    for (const name of Object.keys(tls.acme?.dnsCredentials ?? {}))
        move(
            `tls.acme.dnsCredentials.${name}`,
            `--path 'mailserver:tlsAcmeDnsCredentials.${name}'`,
            "a DNS credential",
            "'<value>'",
        );
    for (const name of Object.keys(tls.acme?.dnsSettings ?? {}).filter(isCredentialName))
        move(
            `tls.acme.dnsSettings.${name}`,
            `--path 'mailserver:tlsAcmeDnsCredentials.${name}'`,
            "a DNS credential",
            "'<value>'",
        );
    ((values.relayhosts ?? []) as Array<Record<string, any>>).forEach((r, i) => {
        if (r?.password !== undefined)
            move(
                `relayhosts[${i}].password`,
                `--path 'mailserver:relayPasswords["${r.name ?? r.host}"]'`,
                "a relay password",
                "'<password>'",
            );
    });
    ((values.domains ?? []) as Array<Record<string, any>>).forEach((d, i) =>
        ((d?.mailboxes ?? []) as Array<Record<string, any>>).forEach((m, j) => {
            const address = String(m?.address ?? "").includes("@") ? m.address : `${m?.address}@${d?.domain}`;
            for (const field of ["password", "passwordHash"] as const)
                if (m?.[field] !== undefined)
                    move(
                        `domains[${i}].mailboxes[${j}].${field}`,
                        `--path 'mailserver:${field === "password" ? "passwords" : "passwordHashes"}["${address}"]'`,
                        field === "password" ? "a password" : "a password hash",
                        "'<value>'",
                    );
        }),
    );
    return found;
}
