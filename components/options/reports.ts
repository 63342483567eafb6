// MailServer reports: TLS-RPT and DMARC aggregate reports, declared once, and their rules.
import { ReportsSettings } from "../model/reports";
import { parseNetwork, probeAddress, within } from "../model/net";
import type { DomainSpec } from "../model/spec";
import { Validator } from "../model/validator";
import { boolean, object, Pinned, SameType, text, Values } from "./declare";
import { address } from "./mailServerFields";

export const REPORTS_OPTIONS = {
    tls: boolean({
        doc:
            "TLS-RPT (RFC 8460): once a day, the results of our outbound TLS (successes, DANE and MTA-STS failures) go to " +
            'each destination that publishes a reporting address (_smtp._tls); direct deliveries, networkMode "host" ' +
            "only (in bridge mode the report mail would come from the Docker network, which may not relay)",
        default: true,
    }),
    dmarc: boolean({
        doc:
            "DMARC aggregate reports (RFC 7489): once a day (after 01:00 UTC), what rspamd saw of each sender domain's " +
            "mail goes to the rua of its DMARC record, DKIM-signed; needs spamFilter, internet mode and networkMode " +
            '"host" (in bridge mode rspamd\'s container is outside mynetworks, so Postfix would not relay the reports)',
        default: true,
    }),
    organization: {
        ...text({
            doc: "The organisation the reports name as their author",
            accepted: 'expected one line of text, e.g. "Example Corp"',
            check: (v, f, x) =>
                x.trim() !== "" && !/\p{Cc}/u.test(x)
                    ? x
                    : v.fail(f, x, 'expected one line of text, e.g. "Example Corp"'),
        }),
        defaultText: "hostname",
    },
    address: {
        ...address(
            "The address the reports come from (and replies go to): one of the domains, so they are DKIM-signed",
        ),
        defaultText: '"noreply-reports@" + the first domain',
    },
};

export const REPORTS_GROUP = object("ReportsArgs", REPORTS_OPTIONS, {
    doc: "The daily reports other mail servers expect: TLS-RPT about our outbound TLS, DMARC aggregate reports",
    default: {},
});

/**
 * The reporting address must be one of ours: reports from elsewhere would leave unsigned. Returns
 * a warning for each kind of report (DMARC's from rspamd, TLS-RPT's from the mtasts container) that
 * would reach Postfix from an address outside mynetworks (host mode, inetInterfaces without
 * loopback): Postfix would refuse to relay them, rspamd not sign them.
 */
export function checkReports(
    v: Validator,
    o: ReportsSettings,
    domains: DomainSpec[],
    server: { sent: { dmarc: boolean; tls: boolean }; inetInterfaces: string[]; mynetworks: string[] },
): string[] {
    checkAddress(v, o, domains);
    const sent = (["dmarc", "tls"] as const).filter(kind => server.sent[kind]);
    if (sent.length === 0) return [];
    const from = parseNetwork(probeAddress(server.inetInterfaces));
    const trusted = server.mynetworks.flatMap(n => {
        const parsed = parseNetwork(n);
        return parsed ? [parsed] : [];
    });
    if (!from || trusted.some(n => within(from, n))) return [];
    return sent.map(
        kind =>
            `${v.component}: reports.${kind}: the reports reach Postfix from ${from.address} (inetInterfaces), which ` +
            `mynetworks does not list: Postfix would refuse to relay them and rspamd would not sign them; add ` +
            `${from.postfix} to mynetworks, or set reports.${kind} false`,
    );
}

function checkAddress(v: Validator, o: ReportsSettings, domains: DomainSpec[]): void {
    if (o.address === undefined) return;
    const domain = o.address.split("@")[1];
    if (!domains.some(d => d.name === domain))
        v.fail(
            "reports.address",
            o.address,
            `expected an address of one of the server's domains (${domains.map(d => d.name).join(", ") || "none"}): ` +
                "reports are signed with its DKIM keys",
        );
}

export type _ReportsPinned = Pinned<SameType<ReportsSettings, Values<typeof REPORTS_OPTIONS>>>;
