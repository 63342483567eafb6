// Outbound TLS (MailServer outboundTls): how Postfix's SMTP client decides how much TLS a
// destination gets. DANE (RFC 7672) where the destination publishes DNSSEC-signed TLSA records,
// else its MTA-STS policy (RFC 8461) when it publishes one, else opportunistic TLS. The resolver
// that validates DNSSEC is a service of the stack (unbound), and the MTA-STS policies are fetched
// and cached by another (postfix-mta-sts-resolver).

/** A zone the stack's resolver asks its own servers about (a private or test zone). */
export interface StubZoneSpec {
    zone: string;
    /** "address" or "address@port" of its authoritative servers. */
    servers: string[];
}

/** MailServer outboundTls after validation. */
export interface OutboundTlsSettings {
    dane: boolean;
    mtaSts: boolean;
    resolver: boolean;
    resolverAddress: string;
    stubZones: StubZoneSpec[];
    trustAnchors: string[];
    trustedCaPem: string | undefined;
}

/** The MTA-STS policy daemon's socketmap socket, in a volume only it and Postfix mount. */
export const MTA_STS_SOCKET_DIR = "/run/mta-sts";
export const MTA_STS_SOCKET = `${MTA_STS_SOCKET_DIR}/policy.sock`;
/** Its policy cache (sqlite): cached policies outlive the container, as RFC 8461 wants them kept. */
export const MTA_STS_CACHE_DIR = "/var/lib/mta-sts";
/** The resolver's root trust anchor (RFC 5011 updates) and its cache dump across restarts. */
export const RESOLVER_DATA_DIR = "/var/lib/unbound";
/** Where Postfix finds the extra CAs of outboundTls.trustedCaPem in its config generation. */
export const OUTBOUND_CA_FILE = "outbound-ca.pem";

/** A trust anchor as unbound's trust-anchor line takes it: "<zone>. [TTL] [IN] DS|DNSKEY <rdata>". */
export const TRUST_ANCHOR =
    /^([a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|\.)\s+(\d+\s+)?(IN\s+)?(DS|DNSKEY)\s+\d+\s+\d+\s+\d+\s+[0-9A-Za-z+/=\s]+$/i;
