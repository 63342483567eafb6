// Mandatory: no open relay. Postfix relays for clients in mynetworks without authentication, so
// mynetworks may hold only what the components themselves accept (components/model/net.ts), and every
// smtpd service must end relaying with reject_unauth_destination.
import { ResourceValidationPolicy } from "@pulumi/policy";
import { postfixList, PostfixConfig, restrictsRelay, tooWide } from "../parse";
import { Finding, finding, onSubjects, postfixProblems } from "../subjects";
import { bridgeGatewayRisk, MAX_PRIVATE_WIDTH, parseNetwork } from "../../components/model/net";

function trustsTooMuch(entry: string, why: string): string {
    return (
        `mynetworks trusts ${entry}: ${why}. Clients in mynetworks relay without authentication (permit_mynetworks), ` +
        "so this is an open relay. Trust loopback, single public hosts (/32, IPv6 /128) and private networks no wider " +
        `than /${MAX_PRIVATE_WIDTH[4]} (IPv6 /${MAX_PRIVATE_WIDTH[6]}).`
    );
}

function trustsGateway(entry: string, risk: string): string {
    return `mynetworks trusts ${entry} in Docker bridge mode: ${risk}.`;
}

/**
 * Open-relay findings; with `bridge`, also main.cf's mynetworks entries that can contain the
 * Docker gateway (a service's own mynetworks, such as the reinject socket's 127.0.0.1, is judged
 * by width only).
 */
function openRelayFindings(pf: PostfixConfig, bridge = false): Finding[] {
    const findings: Finding[] = [];
    for (const service of pf.smtpdServices()) {
        const networkKeys = ["mynetworks", "mynetworks_style"];
        if (!pf.isSet("mynetworks", service)) {
            const level = parseFloat(pf.main.get("compatibility_level") ?? "0");
            const style = (
                service.options.get("mynetworks_style") ??
                pf.main.get("mynetworks_style") ??
                (level >= 2 ? "host" : "subnet")
            ).trim();
            if (style !== "host") {
                findings.push(
                    finding(
                        service,
                        networkKeys,
                        `mynetworks is not set, so mynetworks_style = ${style} trusts every client in the container's ${style === "class" ? "address classes" : "subnets"}. ` +
                            "In Docker bridge mode that is the bridge network, through which docker-proxy forwards outside clients: an open relay. Set mynetworks explicitly (e.g. 127.0.0.0/8 [::1]/128).",
                    ),
                );
            }
        }
        for (const entry of postfixList(pf.get("mynetworks", service))) {
            if (entry.startsWith("!")) continue;
            const network = parseNetwork(entry);
            const why = network && tooWide(network);
            if (why) findings.push(finding(service, networkKeys, trustsTooMuch(entry, why)));
            const risk = bridge && network && !service.options.has("mynetworks") && bridgeGatewayRisk(network);
            if (risk && !why) findings.push(finding(service, networkKeys, trustsGateway(entry, risk)));
        }
        const relay = pf.get("smtpd_relay_restrictions", service);
        const recipient = pf.get("smtpd_recipient_restrictions", service);
        if (!restrictsRelay(relay) && !restrictsRelay(recipient)) {
            findings.push(
                finding(
                    service,
                    ["smtpd_relay_restrictions", "smtpd_recipient_restrictions"],
                    `neither smtpd_relay_restrictions ("${relay}") nor smtpd_recipient_restrictions ("${recipient}") ends relaying with ` +
                        "reject_unauth_destination or defer_unauth_destination (or a final reject) before an unconditional permit: this smtpd relays mail " +
                        "for anyone to anywhere. Add reject_unauth_destination after your permit_* entries.",
                ),
            );
        }
    }
    return findings;
}

/** MailServer's typed mynetworks, judged like main.cf's when main.cf itself is not known. */
function mynetworksProblems(mynetworks: string[], bridge = false): string[] {
    return mynetworks.flatMap(entry => {
        const network = parseNetwork(entry);
        const why = network && tooWide(network);
        if (why) return [`MailServer settings: ${trustsTooMuch(entry, why)}`];
        const risk = bridge && network && bridgeGatewayRisk(network);
        return risk ? [`MailServer settings: ${trustsGateway(entry, risk)}`] : [];
    });
}

export const noOpenRelay: ResourceValidationPolicy = {
    name: "mail-no-open-relay",
    description:
        "Postfix must not relay for strangers. mynetworks may trust loopback, public addresses one host at a time, and " +
        `private networks no wider than IPv4 /${MAX_PRIVATE_WIDTH[4]} (65,536 addresses) or IPv6 /${MAX_PRIVATE_WIDTH[6]} (one site) — the ` +
        "components refuse the rest with the same check (components/model/net.ts trustRisk); in bridge mode no entry (but loopback) may overlap " +
        "Docker's address pools (172.16.0.0/12, 192.168.0.0/16, fd00::/8), where the gateway lives — and every smtpd service needs reject_unauth_destination " +
        "(or defer_unauth_destination) in smtpd_relay_restrictions or smtpd_recipient_restrictions.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: onSubjects(subject => [
        ...postfixProblems(subject, pf => openRelayFindings(pf, subject.bridge)),
        ...(subject.mynetworks ? mynetworksProblems(subject.mynetworks, subject.bridge) : []),
    ]),
};
