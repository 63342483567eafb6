// Advisory: the aggregate reports (rua) a DMARC record asks for reach a mailbox of the stack.
import { ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { collectStrings, VIRTUAL_DOMAIN_TYPE, virtualDomains } from "../resources";
import { DmarcPolicy } from "../../components/model/dns";
import { dmarcValue } from "../../components/render/dns";

/** The p= and rua= addresses of a DMARC record's text, or undefined when it is none. */
function parseDmarc(text: string): { policy?: string; rua: string[] } | undefined {
    const t = text.trim().replace(/^"|"$/g, "");
    if (!/^v=DMARC1\s*(;|$)/i.test(t)) return undefined;
    const tags = new Map(
        t
            .split(";")
            .map(x => x.trim())
            .filter(x => x.includes("="))
            .map(x => [x.slice(0, x.indexOf("=")).trim().toLowerCase(), x.slice(x.indexOf("=") + 1).trim()]),
    );
    const rua = (tags.get("rua") ?? "")
        .split(",")
        .map(u => u.trim())
        .filter(u => /^mailto:/i.test(u))
        // A size limit may follow the address: mailto:a@example.com!10m.
        .map(u => u.slice("mailto:".length).replace(/!.*$/, "").toLowerCase());
    return { policy: tags.get("p")?.toLowerCase(), rua };
}

export interface DmarcReportsConfig {
    /** Report addresses outside the stack that are read (e.g. a DMARC report service that authorised the domain). */
    externalReportAddresses?: string[];
}

export const dmarcReportAddress: StackValidationPolicy = {
    name: "mail-dmarc-report-address",
    description:
        "A DMARC policy that quarantines or rejects, or that asks for reports, needs its aggregate reports (rua) to reach someone: " +
        "an address that is a mailbox or alias of a VirtualDomain of the stack (or listed in externalReportAddresses).",
    enforcementLevel: "advisory",
    severity: "low",
    configSchema: {
        properties: {
            externalReportAddresses: {
                type: "array",
                items: { type: "string" },
                default: [],
                description:
                    "rua addresses outside the stack that someone reads (a DMARC report service, another server).",
            },
        },
    },
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
        const domains = virtualDomains(args.resources);
        if (domains.length === 0) return;
        const external = new Set(
            (args.getConfig<DmarcReportsConfig>().externalReportAddresses ?? []).map(a => a.toLowerCase()),
        );
        const defined = new Set(domains.flatMap(d => d.addresses));
        const catchAll = new Set(domains.filter(d => d.catchAll).map(d => d.domain));
        const reaches = (a: string) =>
            defined.has(a) || external.has(a) || catchAll.has(a.slice(a.lastIndexOf("@") + 1));
        const judge = (what: string, policy: string | undefined, rua: string[], urn: string) => {
            const enforcing = policy === "quarantine" || policy === "reject";
            if (!enforcing && rua.length === 0) return;
            if (rua.length === 0) {
                reportViolation(
                    `${what} has p=${policy} and no report address (rua): mail it quarantines or rejects goes unseen. ` +
                        "Set dmarcReportAddress to a mailbox or alias of the stack.",
                    urn,
                );
                return;
            }
            for (const a of rua.filter(x => !reaches(x)))
                reportViolation(
                    `${what} sends its aggregate reports to ${a}, which no VirtualDomain of this stack defines as a mailbox or alias: ` +
                        "nobody here reads them (and another domain must authorise them, RFC 7489 section 7.1). Use a mailbox or " +
                        "alias of the stack, or list the address in this policy's externalReportAddresses.",
                    urn,
                );
        };
        const seen = new Set<string>();
        for (const d of domains) {
            if (d.dmarcPolicy === undefined) continue;
            seen.add(
                dmarcValue({ policy: d.dmarcPolicy as DmarcPolicy, percent: 100, reportAddress: d.dmarcReportAddress }),
            );
            judge(
                `The DMARC policy of ${d.domain}`,
                d.dmarcPolicy,
                d.dmarcReportAddress === undefined ? [] : [d.dmarcReportAddress.toLowerCase()],
                d.resource.urn,
            );
        }
        // DMARC records elsewhere: a DNS provider's record resource, a stack output.
        for (const r of args.resources.filter(x => x.type !== VIRTUAL_DOMAIN_TYPE)) {
            const strings: string[] = [];
            collectStrings(r.props, strings);
            for (const text of new Set(strings)) {
                const record = parseDmarc(text);
                // A VirtualDomain's own record, e.g. in the stack's dnsRecords output, was judged above.
                if (record === undefined || seen.has(text.trim())) continue;
                seen.add(text.trim());
                judge(`The DMARC record "${text.trim()}" (${r.name})`, record.policy, record.rua, r.urn);
            }
        }
    },
};
