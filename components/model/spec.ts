// Plain, fully validated descriptions of what to render. The renderers in this folder turn
// these into file text; they import nothing from Pulumi so they can be read and tested alone.
import type { CertificateSpec } from "./certificate";
import type { ShardSettings } from "./shards";

/** One mail domain, after validation (addresses lower-cased, defaults applied). */
export interface DomainSpec {
    name: string;
    mailboxes: MailboxSpec[];
    aliases: AliasSpec[];
    /** Where mail to an address of the domain that exists nowhere else goes; undefined: rejected. */
    catchAll?: string;
    forwards: ForwardSpec[];
    /**
     * The DKIM selectors that sign this domain's mail, as published in DNS (`<dkimSelector>-rsa`,
     * `<dkimSelector>-ed25519`); empty when DKIM is off. Retired selectors are not listed (they no
     * longer sign). The private keys are VirtualDomain.dkimSigningKeys (a secret), in the same order.
     */
    dkimSelectors: DkimSelectorSpec[];
}

export type DkimAlgorithm = "rsa" | "ed25519";

/** A DKIM selector that signs: RSA 2048 or Ed25519 (RFC 8463). */
export interface DkimSelectorSpec {
    /** The selector as published: the TXT record is `<selector>._domainkey.<domain>`. */
    selector: string;
    algorithm: DkimAlgorithm;
}

/** A signing key (VirtualDomain.dkimSigningKeys, a Pulumi secret). */
export interface DkimSigningKey {
    /** The selector as published, e.g. "mail-rsa". */
    selector: string;
    algorithm: DkimAlgorithm;
    /**
     * PEM of the private key: RSA as @pulumi/tls privateKeyPem ("BEGIN RSA PRIVATE KEY", PKCS#1),
     * Ed25519 as privateKeyPemPkcs8 ("BEGIN PRIVATE KEY", PKCS#8).
     */
    privateKeyPem: string;
}

export interface MailboxSpec {
    address: string;
    /** Dovecot quota, e.g. "2G"; undefined: no quota. */
    quota?: string;
    /** Extra addresses of this domain that deliver into this mailbox. */
    aliases: string[];
    /** Sieve rules run on every delivery, before the mailbox's own (ManageSieve) script; undefined: none. */
    sieve?: SieveSpec;
    /** DovecotImap kubernetes.shards: the backend pinned for this mailbox; undefined: its address's hash. */
    shard?: number;
}

/** A mailbox's Sieve rules: either a script given as is, or typed rules rendered into one. */
export interface SieveSpec {
    /** A complete Sieve script given by the user; when set, vacation and fileInto are empty. */
    script?: string;
    vacation?: VacationSpec;
    fileInto: FileIntoSpec[];
}

export interface VacationSpec {
    subject: string;
    body: string;
    /** Days between two replies to one sender; undefined: Dovecot's default period. */
    days?: number;
    /** The mailbox's other addresses (its aliases) that count as "me" for the reply. */
    addresses: string[];
}

export interface FileIntoSpec {
    header: string;
    contains: string;
    folder: string;
}

export interface AliasSpec {
    address: string;
    targets: string[];
}

export interface ForwardSpec {
    /** A mailbox address of the domain. */
    address: string;
    targets: string[];
    /** Keep a copy in the mailbox as well. */
    keepCopy: boolean;
}

/** A password hash ready for a crypt(3)-style passwd file. */
export interface Credential {
    address: string;
    /** "$6$rounds=...$salt$hash" (SHA512-CRYPT). */
    hash: string;
}

export interface RelayhostSpec {
    host: string;
    port: number;
    /** Postfix smtp_tls_security_level for this relay: "encrypt", "verify" or "secure". */
    tlsPolicy: string;
    /** Sender domains that use this relay; empty: every sender. */
    senderDomains: string[];
    hasCredentials: boolean;
    /**
     * TLS from the first byte (SMTPS, Postfix smtp_tls_wrappermode) instead of STARTTLS.
     * Undefined: implicit TLS exactly when port is 465.
     */
    implicitTls?: boolean;
}

/** A transport_maps entry: mail for this recipient domain goes to this next hop. */
export interface TransportSpec {
    domain: string;
    /**
     * Postfix next hop: "[host]:port", "[host]", "host:port" (MX lookup) or "host"; host may be an IPv4 literal in
     * brackets.
     */
    nexthop: string;
}

/** Everything main.cf and master.cf depend on. */
export interface PostfixSpec {
    mode: "internet" | "relay";
    hostname: string;
    mydomain: string;
    myorigin: string;
    mydestination: string[];
    mynetworks: string[];
    inetInterfaces: string[];
    inetProtocols: string;
    relayDomains: string[];
    /** Recipients accepted for relayDomains (backup MX); empty: every recipient of those domains. */
    relayRecipients: string[];
    messageSizeLimit: number;
    maximalQueueLifetime: string;
    bounceQueueLifetime: string;
    delayWarningTime: string;
    masqueradeDomains: string[];
    disableVrfy: boolean;
    /** smtpd_peername_lookup: look up the client's name (a DNS lookup before the greeting). */
    peernameLookup: boolean;
    recipientDelimiter: string;
    /** Mailbox that receives mail for root, postmaster, abuse and MAILER-DAEMON. */
    adminAddress: string;
    /** AUTH commands one client may send per minute (smtpd_client_auth_rate_limit). */
    authRateLimit: number;
    /** Postfix notify_classes: which problems the admin gets a copy of. */
    notifyClasses: string[];
    ports: { smtp: number; submission: number; smtps: number };
    /** The smtpd listeners that read a PROXY header first (smtpd_upstream_proxy_protocol); undefined: none. */
    proxyListeners?: Array<keyof PostfixSpec["ports"]>;
    domains: DomainSpec[];
    relayhosts: RelayhostSpec[];
    /** Recipient domains routed to their own next hop (transport_maps), e.g. a backup MX's primary; undefined: none. */
    transports?: TransportSpec[];
    /** rspamd runs as the milter of every smtpd and of locally submitted mail. */
    milter: boolean;
    /** smtp_bind_address (IPv4) or smtp_bind_address6; undefined: the kernel chooses. */
    outboundAddress?: string;
    /** Where main.cf finds the server certificate (model/certificate.ts). */
    certificate: CertificateSpec;
    /**
     * Direct deliveries (not through a relayhost): DANE, MTA-STS (the policy daemon's socketmap),
     * whether the config generation holds extra CAs (outboundTls.trustedCaPem), TLS-RPT (reports.tls).
     */
    outboundTls: { dane: boolean; mtaSts: boolean; trustedCa: boolean; tlsReports: boolean };
    /**
     * Dovecot's LMTP and auth services over TCP at this host name (Kubernetes: a Service in front
     * of Dovecot's pod); undefined: the unix sockets of the volume the two containers share.
     */
    dovecotTcp?: DovecotTcp;
}

/** Dovecot's TCP endpoints for Postfix (LMTP delivery, SMTP AUTH) where the two do not share a volume. */
export interface DovecotTcp {
    host: string;
    lmtpPort: number;
    authPort: number;
}

/**
 * Parallel LMTP deliveries. Postfix counts them per destination (the Dovecot socket, one
 * destination for every mailbox), at most this many; 20 is Postfix's own default concurrency.
 */
export const LMTP_CONCURRENCY = 20;

/**
 * Dovecot's limit of parallel deliveries to one mailbox, above Postfix's: a burst to one mailbox
 * must never be answered "451 Too many concurrent deliveries for user", which Postfix defers for
 * its minimal backoff (5 minutes). Equal numbers are not enough: Dovecot's anvil forgets a finished
 * delivery asynchronously, so Postfix's next connection was sometimes counted as the 21st
 * (measured: 1 of 3,000 messages to one mailbox deferred). Postfix still never opens more than
 * LMTP_CONCURRENCY, so the margin admits no more load.
 */
export const LMTP_USER_CONCURRENCY = 2 * LMTP_CONCURRENCY;

/** A rendered file: where it goes under the config root, its text, and who may read it. */
export interface RenderedFile {
    path: string;
    content: string;
    mode: string;
    owner: string;
    group: string;
}

/** A file every process of the service may read (no secret in it): root's, mode 0644. */
export function publicFile(path: string, content: string): RenderedFile {
    return { path, content, mode: "0644", owner: "root", group: "root" };
}

/** Everything dovecot.conf and the users file depend on. */
export interface DovecotSpec {
    hostname: string;
    /** Addresses Dovecot listens on ("*" and "::" for all). */
    listen: string[];
    /** Bridge mode: the host address its ports are published on (not rendered). */
    publishAddress: string;
    /** 0 turns a listener off. */
    ports: { imap: number; imaps: number; managesieve: number; pop3: number; pop3s: number };
    recipientDelimiter: string;
    /**
     * Postfix's message_size_limit. Dovecot holds every message it stores (LMTP, IMAP APPEND) to
     * it plus LMTP_SIZE_ALLOWANCE: the same limit, without deferring what SMTP accepted.
     */
    messageSizeLimit: number;
    vacation: { minPeriod: string; defaultPeriod: string; maxPeriod: string };
    /**
     * Postfix's unix socket (paths.reinjectSocket) that Sieve hands the mail it sends to
     * (redirect, vacation replies, rejections). undefined: none, and such Sieve actions fail.
     */
    reinjectSocket?: string;
    /** LMTP and auth also listen on these TCP ports (Postfix in other pods); undefined: sockets only. */
    tcpListeners?: { lmtpPort: number; authPort: number };
    /** rspamd marks spam with "X-Spam: Yes": file it into Junk before any other rule runs. */
    junkSpam: boolean;
    domains: DomainSpec[];
    /** Where dovecot.conf finds the server certificate (model/certificate.ts). */
    certificate: CertificateSpec;
    /** Brute-force protection by the auth policy service (images/authpolicy); undefined: off. */
    bruteForce?: BruteForceSpec;
    /** Listeners that read a PROXY header first, and the only networks it is believed from; undefined: none. */
    proxyProtocol?: { listeners: Array<keyof DovecotSpec["ports"]>; trustedNetworks: string[] };
    /** Kubernetes, DovecotImap kubernetes.shards > 1: backends behind the Dovecot proxy; undefined: one Dovecot. */
    shards?: ShardSettings;
}

/** What the auth policy service enforces; Dovecot sends it with every request (see renderAuthPolicy). */
export interface BruteForceSpec {
    /** Failed logins from one client address (any login, any protocol) within findTime that ban it. */
    maxFailures: number;
    /** Failed logins to one login (from any address) within findTime that close it to unknown addresses. */
    maxLoginFailures: number;
    findTime: string;
    banTime: string;
    /** Networks never banned by address (mynetworks: trusted relays, webmail, ...). */
    exempt: string[];
    /** Bridge mode: the Docker gateway, which may carry every client, is never banned by address. */
    exemptGateway: boolean;
}
