// What rspamd's renderers (rspamd.ts, rspamdRules.ts, rspamdConditions.ts) share: the spec, the
// paths and sockets rspamd and Valkey use, the DKIM key files' form, and UCL quoting.
import * as crypto from "node:crypto";
import { paths } from "../model/paths";

import type { DkimAlgorithm } from "../model/spec";
import type { ClamavSpec } from "../model/antivirus";

export type { DkimAlgorithm };

export interface RspamdSpec {
    /** Valkey as "host:port" (Kubernetes: one Valkey Service for every rspamd); undefined: its unix socket. */
    valkeyServer?: string;
    /** mynetworks as CIDRs: trusted like authenticated users (signed, never scored). */
    trustedNetworks: string[];
    /** DNS servers ("address" or "address:port"); none: the container's /etc/resolv.conf. */
    nameservers: string[];
    /** How long one DNS answer is waited for ("1s", "500ms"), and how often a query is sent again. */
    dnsTimeout: string;
    dnsRetransmits: number;
    /** rspamd_proxy processes, each scanning the messages of the milter sessions it accepts. */
    scanProcesses: number;
    /** false (MailServer dns "none"): inbound mail is checked without the checks that ask DNS. */
    dnsLookups: boolean;
    rejectScore: number;
    addHeaderScore: number;
    /** Our own mail (logins, mynetworks) at this score is refused instead of signed and sent. */
    outboundRejectScore: number;
    /** Per SMTP AUTH login and hour (rspamd's ratelimit on Valkey); 0: no limit. */
    messagesPerHour: number;
    recipientsPerHour: number;
    greylisting: boolean;
    greylistScore: number;
    dnsbl: boolean;
    /** Each domain that signs, with its signing selectors (an RSA and an Ed25519 one, RFC 8463). */
    signing: Array<{ domain: string; keys: Array<{ selector: string; algorithm: DkimAlgorithm }> }>;
    /**
     * Internet mode: which logins own which address (senderOwners, the table Postfix checks the
     * envelope sender against), so a login's From header is checked against the same owners.
     * undefined (relay mode): relay users may send as anyone, and no From header is checked.
     */
    senderOwners?: Array<[string, string[]]>;
    /** Postfix's recipient_delimiter: user+tag@domain belongs to whoever owns user@domain. */
    recipientDelimiter: string;
    /** MailServer antivirus, when on: the antivirus module asks clamd (render/clamav.ts). */
    antivirus?: ClamavSpec;
    /** monitoring.metrics: a second controller socket (/metrics), in a volume only the metrics container shares. */
    metricsSocket?: string;
    /** reports.dmarc (internet mode): what the daily DMARC aggregate reports say and where they are handed to. */
    dmarcReporting?: DmarcReportingSpec;
}

/**
 * rspamd's dmarc { reporting { } } (rspamd 3.12): the scans record each sender domain's results in
 * Valkey; `rspamadm dmarc_report` turns a day of them into one report per domain and sends it.
 */
export interface DmarcReportingSpec {
    /** The reports' envelope sender and From address (reports.address). */
    email: string;
    /** The submitter the reports name (the reporting address's domain). */
    domain: string;
    /** report_metadata's org_name (reports.organization). */
    orgName: string;
    /** The From header's display name. */
    fromName: string;
    /** Postfix's SMTP listener, where the reports enter as local mail (so rspamd DKIM-signs them). */
    smtpHost: string;
    smtpPort: number;
    /** The name rspamadm greets Postfix with, and the right-hand side of the reports' Message-IDs. */
    helo: string;
}

/** Where Postfix finds the milter: a volume shared by the rspamd and Postfix containers only. */
export const RSPAMD_MILTER_DIR = "/run/rspamd-milter";
export const RSPAMD_MILTER_SOCKET = `${RSPAMD_MILTER_DIR}/milter.sock`;
/** rspamd's database directory (hyperscan cache, statistics), on a volume that outlives the container. */
export const RSPAMD_DB_DIR = "/var/lib/rspamd";
/** Valkey's socket directory, a volume shared by the Valkey and rspamd containers only. */
export const VALKEY_SOCKET_DIR = "/run/valkey";
export const VALKEY_DATA_DIR = "/var/lib/valkey";
/**
 * Postfix's milter_macro_daemon_name of the reinject socket (reachable by Dovecot only): rspamd
 * reads {daemon_name} as the request header "MTA-Name" and signs what comes from there.
 */
export const SIEVE_MTA_TAG = "sieve";
/**
 * The prefilter that refuses a login's message whose From header it does not own; its verdict
 * (the mempool variable OWNED_FROM_VARIABLE) is what lets the DKIM condition sign that message.
 */
export const FROM_OWNER_SYMBOL = "FROM_NOT_OWNED_BY_LOGIN";
export const OWNED_FROM_VARIABLE = "mailserver_owned_from";

export const HEADER =
    "# Rendered by the mailserver package (components/render/rspamd.ts). Do not edit here:\n" +
    "# every deploy replaces this file. Change the component's arguments instead.\n";

/** A UCL string (JSON's quoting is valid UCL). */
export const q = (s: string) => JSON.stringify(s);
export const ucl = (values: string[]) => `[${values.map(q).join(", ")}]`;

/** Where rspamd reads the key: dkimKeyPath in the active generation. */
export const installedKey = (domain: string, selector: string) => `${paths.config}/${dkimKeyPath(domain, selector)}`;

export function dkimKeyPath(domain: string, selector: string): string {
    return `dkim/${domain}.${selector}.key`;
}

/**
 * A private key as rspamd loads it: RSA as PEM; Ed25519 as the base64 of its 32-byte seed, since
 * rspamd 3.12 reads an Ed25519 PEM as RSA and fails to sign ("rsa sign error").
 */
export function rspamdDkimKey(privateKeyPem: string, algorithm: DkimAlgorithm): string {
    if (algorithm === "rsa") return privateKeyPem.endsWith("\n") ? privateKeyPem : `${privateKeyPem}\n`;
    const der = crypto.createPrivateKey(privateKeyPem).export({ format: "der", type: "pkcs8" });
    // PKCS#8 of Ed25519 (RFC 8410) ends with the 32-byte seed.
    return `${der.subarray(der.length - 32).toString("base64")}\n`;
}
