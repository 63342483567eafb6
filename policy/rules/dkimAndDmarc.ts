// Advisory: every mail domain of the stack has DKIM signing and a DMARC record.
import { PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { expand, parseMainCf, postfixList, PostfixConfig } from "../parse";
import {
    collectStrings,
    configFiles,
    isContainer,
    known,
    labelsOf,
    virtualDomains,
    VirtualDomainFacts,
} from "../resources";
import { RSPAMD_MILTER_SOCKET } from "../../components/render/rspamdShared";

const DKIM_SOFTWARE = /opendkim|rspamd|dkim/i;
/** The package's own rspamd: it signs only with VirtualDomains' keys, which the rule judges per domain. */
const OWN_MILTER = `unix:${RSPAMD_MILTER_SOCKET}`;

/** Whether a main.cf (and master.cf) passes mail through the package's own rspamd, which signs VirtualDomains' mail. */
function hasOwnMilter(mainCf: string | undefined, masterCf: string | undefined): boolean {
    const pf = new PostfixConfig(mainCf, masterCf);
    const ours = (value: string) => postfixList(value).includes(OWN_MILTER);
    return ours(pf.get("smtpd_milters")) || pf.services.some(s => ours(pf.get("smtpd_milters", s)));
}

/**
 * Whether a main.cf (and master.cf) makes Postfix pass mail through a milter (which is how DKIM signing is
 * attached) other than the package's own rspamd.
 */
function hasMilters(mainCf: string | undefined, masterCf: string | undefined): boolean {
    const pf = new PostfixConfig(mainCf, masterCf);
    const other = (value: string) => postfixList(value).some(m => m !== OWN_MILTER);
    const keys = ["smtpd_milters", "non_smtpd_milters"];
    return keys.some(k => other(pf.get(k))) || pf.services.some(s => keys.some(k => other(pf.get(k, s))));
}

function mailDomains(mainCf: string): string[] {
    const main = parseMainCf(mainCf);
    const domains = postfixList(expand(main.get("virtual_mailbox_domains") ?? "", main)).filter(
        d => !d.includes(":") && !d.startsWith("$"),
    );
    if (domains.length > 0) return domains;
    const mydomain = main.get("mydomain");
    return mydomain ? [expand(mydomain, main)] : [];
}

export const dkimAndDmarc: StackValidationPolicy = {
    name: "mail-dkim-dmarc",
    description:
        "Mail without DKIM signatures and a DMARC policy is often rejected or filed as spam (Gmail and Yahoo require both of bulk " +
        "senders), and the domain is easy to spoof.",
    enforcementLevel: "advisory",
    severity: "medium",
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
        const mailServers: Array<{ resource: PolicyResource; mainCf: string; masterCf?: string }> = [];
        let dkim = false;
        let dmarc = false;
        // The package's rspamd signs a VirtualDomain's mail only when Postfix passes mail through it.
        let ownSigner = false;
        for (const r of args.resources) {
            if (isContainer(r)) {
                const files = configFiles(r.props);
                if (files.mainCf !== undefined) {
                    mailServers.push({ resource: r, mainCf: files.mainCf, masterCf: files.masterCf });
                    if (hasMilters(files.mainCf, files.masterCf)) dkim = true;
                    if (hasOwnMilter(files.mainCf, files.masterCf)) ownSigner = true;
                }
                const identity = [known(() => r.props.name), known(() => r.props.image), r.name]
                    .filter(x => typeof x === "string")
                    .join(" ");
                // Our own rspamd container (labelled) signs with VirtualDomains' keys only.
                const ours = labelsOf(r.props).has("mailserver.role");
                if (!ours && DKIM_SOFTWARE.test(identity)) dkim = true;
            }
            // Component outputs, e.g. MailServer.mainCf.
            const mainCf = known(() => r.props.mainCf);
            if (typeof mainCf === "string" && hasMilters(mainCf, undefined)) dkim = true;
            if (typeof mainCf === "string" && hasOwnMilter(mainCf, undefined)) ownSigner = true;
            const strings: string[] = [];
            collectStrings(r.props, strings);
            if (strings.some(s => /^"?v=DMARC1\b/i.test(s.trim()) || /^_dmarc(\.|$)/i.test(s.trim()))) dmarc = true;
        }
        if (mailServers.length === 0) return;
        // The package's own: a VirtualDomain with dkim on has its keys and signs with them, and every
        // VirtualDomain publishes a DMARC record in its dnsRecords.
        const own = new Map(virtualDomains(args.resources).map(d => [d.domain, d]));
        const domains = [...new Set(mailServers.flatMap(m => mailDomains(m.mainCf)))];
        const judged = domains.length > 0 ? domains : [...own.keys()];
        const urn = mailServers[0].resource.urn;
        // Nothing judged (no domain known): the stack as a whole, as before there were VirtualDomains.
        const missing = (covered: (d: VirtualDomainFacts | undefined) => boolean) =>
            judged.length === 0 ? ["your mail domains"] : judged.filter(d => !covered(own.get(d)));
        const unsigned = dkim ? [] : missing(d => ownSigner && d?.dkim === true);
        if (unsigned.length > 0) {
            reportViolation(
                `No DKIM signing is configured for ${unsigned.join(", ")}: main.cf passes mail through no other milter, no ` +
                    "opendkim or rspamd container of your own is deployed, and the MailServer's own rspamd signs only the " +
                    `VirtualDomains with dkim on, and only when Postfix passes mail through it (${ownSigner ? "it does" : "here it does not"}). ` +
                    "Set dkim: true on its VirtualDomain (the default) with the MailServer's spamFilter enabled (the default), " +
                    "or add a DKIM signing milter and publish its selector._domainkey TXT record.",
                urn,
            );
        }
        const withoutDmarc = dmarc ? [] : missing(d => d?.dmarcPolicy !== undefined);
        if (withoutDmarc.length > 0) {
            reportViolation(
                `No DMARC record is published for ${withoutDmarc.join(", ")}: no resource or stack output holds "v=DMARC1". ` +
                    `Publish a TXT record _dmarc.<domain> such as "v=DMARC1; p=quarantine; rua=mailto:postmaster@<domain>" ` +
                    "(and export it or create it with your DNS provider).",
                urn,
            );
        }
    },
};
