// The DNS records a mail domain needs, as data. Pure.

export interface DnsRecord {
    name: string;
    type: string;
    value: string;
    priority?: number;
}

/** MX records (most preferred first, priorities 10, 20, ...) and the SPF policy. */
export function renderDnsRecords(domain: string, mxHosts: string[], spf: string): DnsRecord[] {
    return [
        ...mxHosts.map((h, i) => ({ name: domain, type: "MX", value: `${h}.`, priority: 10 * (i + 1) })),
        { name: domain, type: "TXT", value: spf },
    ];
}
