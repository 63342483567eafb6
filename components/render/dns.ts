// The DNS records a mail domain needs, as data and as zone-file text, and its MTA-STS policy.
// Pure and deterministic: the DKIM public keys come in as PEM (from @pulumi/tls) and are turned
// into their TXT values with node:crypto.
import { createHash, createPublicKey } from "node:crypto";
import { reverseDnsName } from "../model/net";
import { ClientPorts, DnsRecord, DnsSpec, MtaStsMode, wellKnownHosts } from "../model/dns";
import type { DkimAlgorithm } from "../model/spec";

/** TTL of every record in the zone text: an hour, short enough for a key rotation's week. */
export const DNS_TTL = 3600;

/** The SRV services of RFC 6186 and RFC 8314, implicit TLS preferred (RFC 8314 section 5.1: lower priority). */
const CLIENT_SERVICES: Array<{ key: keyof ClientPorts; service: string; priority: number; what: string }> = [
    { key: "submissions", service: "_submissions._tcp", priority: 0, what: "mail submission over implicit TLS" },
    { key: "submission", service: "_submission._tcp", priority: 10, what: "mail submission with STARTTLS" },
    { key: "imaps", service: "_imaps._tcp", priority: 0, what: "IMAP over implicit TLS" },
    { key: "imap", service: "_imap._tcp", priority: 10, what: "IMAP with STARTTLS" },
    { key: "pop3s", service: "_pop3s._tcp", priority: 0, what: "POP3 over implicit TLS" },
    { key: "pop3", service: "_pop3._tcp", priority: 10, what: "POP3 with STARTTLS" },
];

/**
 * The TXT value of a DKIM key: RSA publishes the DER SubjectPublicKeyInfo (RFC 6376), Ed25519 the
 * raw 32-byte public key (RFC 8463), both base64.
 */
export function dkimTxtValue(algorithm: DkimAlgorithm, publicKeyPem: string): string {
    const key = createPublicKey(publicKeyPem);
    if (key.asymmetricKeyType !== algorithm)
        throw new Error(`DKIM key: expected an ${algorithm} public key, got ${key.asymmetricKeyType}`);
    const p =
        algorithm === "rsa"
            ? key.export({ type: "spki", format: "der" }).toString("base64")
            : Buffer.from(key.export({ format: "jwk" }).x as string, "base64url").toString("base64");
    return `v=DKIM1; k=${algorithm}; p=${p}`;
}

/** The MTA-STS policy (RFC 8461 section 3.2), served at https://mta-sts.<domain>/.well-known/mta-sts.txt. */
export function renderMtaStsPolicy(mode: MtaStsMode, mxHosts: string[], maxAge: number): string {
    return ["version: STSv1", `mode: ${mode}`, ...mxHosts.map(h => `mx: ${h}`), `max_age: ${maxAge}`, ""].join("\n");
}

/** The policy's id for the _mta-sts TXT record: changes exactly when the policy text does (1-32 alphanumerics). */
export function mtaStsId(policy: string): string {
    return createHash("sha256").update(policy).digest("hex").slice(0, 20);
}

/** The value of a DMARC record (RFC 7489); pct only below 100 and only where it means something. */
export function dmarcValue(dmarc: DnsSpec["dmarc"]): string {
    const parts = ["v=DMARC1", `p=${dmarc.policy}`];
    if (dmarc.policy !== "none" && dmarc.percent < 100) parts.push(`pct=${dmarc.percent}`);
    if (dmarc.reportAddress !== undefined) parts.push(`rua=mailto:${dmarc.reportAddress}`);
    return parts.join("; ");
}

/**
 * Every record the domain needs: MX, SPF, DKIM (signing and retired selectors), DMARC, MTA-STS,
 * TLS-RPT, the client SRV records, the first MX host's A/AAAA with the PTR each address should have,
 * and with wellKnown the endpoint's names (A/AAAA like the mail host, or a CNAME to it).
 */
export function renderDnsRecords(s: DnsSpec): DnsRecord[] {
    const d = s.domain;
    const host = s.mxHosts[0];
    const records: DnsRecord[] = [
        ...s.mxHosts.map((h, i) => ({
            name: d,
            type: "MX",
            value: `${h}.`,
            priority: 10 * (i + 1),
            purpose: i === 0 ? "where mail for the domain is delivered" : "backup mail exchanger",
        })),
        { name: d, type: "TXT", value: s.spf, purpose: "SPF: which hosts may send mail as the domain" },
        ...s.dkimKeys.map(k => ({
            name: `${k.selector}._domainkey.${d}`,
            type: "TXT",
            value: dkimTxtValue(k.algorithm, k.publicKeyPem),
            purpose: k.retired
                ? `DKIM ${k.algorithm} key of a retired selector: verifies mail signed before the rotation`
                : k.next
                  ? `DKIM ${k.algorithm} key of the next selector: in DNS before it signs`
                  : `DKIM ${k.algorithm} key that verifies the domain's signatures`,
        })),
        {
            name: `_dmarc.${d}`,
            type: "TXT",
            value: dmarcValue(s.dmarc),
            purpose: "DMARC: what receivers do with mail failing SPF and DKIM",
        },
    ];
    // A _mta-sts record with no policy behind it makes senders fetch (and fail to fetch) a policy.
    if (s.mtaSts.published) {
        const policy = renderMtaStsPolicy(s.mtaSts.mode, s.mxHosts, s.mtaSts.maxAge);
        records.push({
            name: `_mta-sts.${d}`,
            type: "TXT",
            value: `v=STSv1; id=${mtaStsId(policy)}`,
            purpose: `MTA-STS: senders fetch the policy at https://mta-sts.${d}/.well-known/mta-sts.txt`,
        });
    }
    if (s.tlsReportAddress !== undefined)
        records.push({
            name: `_smtp._tls.${d}`,
            type: "TXT",
            value: `v=TLSRPTv1; rua=mailto:${s.tlsReportAddress}`,
            purpose: "TLS-RPT: where senders report TLS failures",
        });
    for (const c of CLIENT_SERVICES) {
        const port = s.clientPorts[c.key];
        records.push({
            name: `${c.service}.${d}`,
            type: "SRV",
            // RFC 6186 section 4: target "." says the service is not offered.
            value: port === 0 ? "0 0 ." : `1 ${port} ${s.clientHost}.`,
            priority: port === 0 ? 0 : c.priority,
            purpose: port === 0 ? `no ${c.what} (client autodiscovery)` : `${c.what} (client autodiscovery)`,
        });
    }
    for (const a of s.mailHostAddresses) {
        records.push({
            name: host,
            type: a.includes(":") ? "AAAA" : "A",
            value: a,
            purpose: "address of the mail host",
        });
    }
    // The endpoint runs on the mail host: its addresses where known, else an alias of its name.
    if (s.wellKnown) {
        const [mtaSts, autoconfig] = wellKnownHosts(d);
        for (const [name, what] of [
            [mtaSts, "MTA-STS policy host (MailServer wellKnown)"],
            [autoconfig, "Thunderbird autoconfig host (MailServer wellKnown)"],
        ]) {
            if (s.mailHostAddresses.length === 0)
                records.push({ name, type: "CNAME", value: `${host}.`, purpose: `${what}, on the mail host` });
            for (const a of s.mailHostAddresses)
                records.push({ name, type: a.includes(":") ? "AAAA" : "A", value: a, purpose: what });
        }
    }
    for (const a of s.mailHostAddresses) {
        records.push({
            name: reverseDnsName(a),
            type: "PTR",
            value: `${host}.`,
            purpose: `reverse DNS of ${a}, set by whoever holds the address (your hosting provider)`,
        });
    }
    return records;
}

/** Whether `name` is `origin` or below it (both without trailing dots). */
function inZone(name: string, origin: string): boolean {
    const n = name.toLowerCase(),
        o = origin.toLowerCase();
    return n === o || n.endsWith(`.${o}`);
}

/**
 * A TXT value as zone-file character-strings: each at most 255 bytes (RFC 1035 section 3.3.14),
 * quotes and backslashes escaped, bytes outside printable ASCII as \DDD.
 */
export function zoneTxtData(value: string): string {
    const bytes = Buffer.from(value, "utf8");
    const strings: string[] = [];
    for (let i = 0; i === 0 || i < bytes.length; i += 255) {
        let text = "";
        for (const b of bytes.subarray(i, i + 255)) {
            if (b === 0x22 || b === 0x5c) text += `\\${String.fromCharCode(b)}`;
            else if (b < 0x20 || b > 0x7e) text += `\\${String(b).padStart(3, "0")}`;
            else text += String.fromCharCode(b);
        }
        strings.push(`"${text}"`);
    }
    return strings.join(" ");
}

function zoneLine(r: DnsRecord, ttl: number): string {
    const data = r.type === "TXT" ? zoneTxtData(r.value) : r.value;
    return `${r.name}. ${ttl} IN ${r.type} ${r.priority !== undefined ? `${r.priority} ` : ""}${data}`;
}

/**
 * The records as a zone file for `origin` (absolute names, one TTL), for a DNS provider's import or
 * an authoritative server (NSD, Knot) once the provider's SOA and NS records are added. Records
 * outside the zone (PTR records, a mail host of another domain) are listed as comments saying
 * where they belong.
 */
export function renderDnsZone(origin: string, records: DnsRecord[], ttl = DNS_TTL): string {
    const lines = [
        `; Mail records of ${origin} (mailserver VirtualDomain). No SOA or NS: those are your DNS provider's.`,
        `$ORIGIN ${origin}.`,
        `$TTL ${ttl}`,
    ];
    const outside: DnsRecord[] = [];
    for (const r of records) {
        if (!inZone(r.name, origin)) {
            outside.push(r);
            continue;
        }
        lines.push(`; ${r.purpose}`, zoneLine(r, ttl));
    }
    for (const r of outside) {
        const where = r.type === "PTR" ? "the reverse zone of the address" : "its own zone";
        lines.push(`; Not in this zone, publish in ${where}: ${r.purpose}`, `; ${zoneLine(r, ttl)}`);
    }
    return lines.join("\n") + "\n";
}
