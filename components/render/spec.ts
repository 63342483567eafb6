// Plain, fully validated descriptions of what to render. The renderers in this folder turn
// these into file text; they import nothing from Pulumi so they can be read and tested alone.

/** One mail domain, after validation (addresses lower-cased, defaults applied). */
export interface DomainSpec {
    name: string;
    mailboxes: MailboxSpec[];
    aliases: AliasSpec[];
    /** Where mail to an address of the domain that exists nowhere else goes; undefined: rejected. */
    catchAll?: string;
    forwards: ForwardSpec[];
}

export interface MailboxSpec {
    address: string;
    /** Dovecot quota, e.g. "2G"; undefined: no quota. */
    quota?: string;
    /** Extra addresses of this domain that deliver into this mailbox. */
    aliases: string[];
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
    recipientDelimiter: string;
    /** Mailbox that receives mail for root, postmaster, abuse and MAILER-DAEMON. */
    adminAddress: string;
    ports: { smtp: number; submission: number; smtps: number };
    domains: DomainSpec[];
    relayhosts: RelayhostSpec[];
}

/** Paths shared by the renderers, the images' scripts and the components. */
export const paths = {
    /** The config volume, as the service containers see it; "current" links the active generation. */
    config: "/config/current",
    /** Where the config job finds the files it was given. */
    staging: "/staging",
    lmtpSocketDir: "/run/lmtp",
    lmtpSocket: "/run/lmtp/lmtp",
    saslauthdDir: "/run/saslauthd",
    mailRoot: "/var/mail/vhosts",
    postfixQueue: "/var/spool/postfix",
} as const;

/** A rendered file: where it goes under the config root, its text, and who may read it. */
export interface RenderedFile {
    path: string;
    content: string;
    mode: string;
    owner: string;
    group: string;
}
