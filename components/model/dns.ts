// What a mail domain publishes in DNS and serves on the well-known endpoint, as data: the
// validated description VirtualDomain renders its records from (render/dns.ts).
import type { DkimAlgorithm } from "./spec";

export interface DnsRecord {
    /** Owner name, fully qualified, without the trailing dot: "example.com", "_dmarc.example.com". */
    name: string;
    /** "MX", "TXT", "SRV", "A", "AAAA", "CNAME" or "PTR". */
    type: string;
    /**
     * The record data after the priority, as in a zone file: host names end with "." ("mail.example.com."),
     * SRV is "weight port target", TXT is the whole text, unquoted and unsplit.
     */
    value: string;
    /** MX preference or SRV priority. */
    priority?: number;
    /** What the record is for, in a few words. */
    purpose: string;
}

export type DmarcPolicy = "none" | "quarantine" | "reject";
export type MtaStsMode = "none" | "testing" | "enforce";

/** Ports mail clients are told about (RFC 6186/8314 SRV records); 0: the service is not offered. */
export interface ClientPorts {
    submission: number;
    submissions: number;
    imap: number;
    imaps: number;
    pop3: number;
    pop3s: number;
}

/** A DKIM public key to publish: `<selector>._domainkey.<domain>`. */
export interface DkimPublicKey {
    /** The selector as published, e.g. "mail-rsa". */
    selector: string;
    algorithm: DkimAlgorithm;
    /** The public key, PEM (SubjectPublicKeyInfo), as @pulumi/tls publicKeyPem gives it. */
    publicKeyPem: string;
    /** Still published, no longer signing (key rotation). */
    retired: boolean;
    /** Published ahead of a rotation, not signing yet. */
    next?: boolean;
}

/** Everything the records of one domain depend on, validated. */
export interface DnsSpec {
    domain: string;
    /** Most preferred first. */
    mxHosts: string[];
    spf: string;
    dkimKeys: DkimPublicKey[];
    dmarc: { policy: DmarcPolicy; percent: number; reportAddress?: string };
    /** published: a policy is served (wellKnown, or by the user elsewhere), so _mta-sts is in DNS. */
    mtaSts: { mode: MtaStsMode; maxAge: number; published: boolean };
    /** Where TLS reports go (RFC 8460); undefined: no TLS-RPT record. */
    tlsReportAddress?: string;
    /** The host mail clients connect to (SRV targets). */
    clientHost: string;
    clientPorts: ClientPorts;
    /** Public addresses of the first MX host: its A/AAAA records and the PTR each should have. */
    mailHostAddresses: string[];
    /** Served by MailServer's HTTPS endpoint: mta-sts.<domain> and autoconfig.<domain> need records. */
    wellKnown?: boolean;
}

/** The host names MailServer's HTTPS endpoint answers for a domain (wellKnown): in DNS and on the certificate. */
export function wellKnownHosts(domain: string): string[] {
    return [`mta-sts.${domain}`, `autoconfig.${domain}`];
}

/** What the well-known endpoint serves for one domain: the policy's inputs and where its mail clients connect. */
export interface WebDomain {
    domain: string;
    mxHosts: string[];
    mtaSts: { mode: MtaStsMode; maxAge: number };
    clientHost: string;
    clientPorts: ClientPorts;
}

/** The endpoint's host names of every served domain: they go on the mail services' certificate, which it serves too. */
export function wellKnownNames(domains: WebDomain[]): string[] {
    return domains.flatMap(d => wellKnownHosts(d.domain));
}
