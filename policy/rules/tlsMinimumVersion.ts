// Mandatory: TLS 1.2 or newer, in Postfix (server and client side) and Dovecot.
import { ResourceValidationPolicy } from "@pulumi/policy";
import { MasterService, parseDovecotConf, PostfixConfig, weakProtocols } from "../parse";
import { Finding, finding, inListener, onPostfixAndDovecot, section } from "../subjects";

function postfixTlsFindings(pf: PostfixConfig): Finding[] {
    const findings: Finding[] = [];
    const check = (services: MasterService[], keys: string[]) => {
        for (const service of services) {
            for (const key of keys) {
                const value = pf.get(key, service);
                const weak = weakProtocols(value);
                if (weak.length === 0) continue;
                const setting = pf.isSet(key, service)
                    ? `${key} = "${value}"`
                    : `${key} is not set; Postfix's default ("${value}")`;
                findings.push(
                    finding(service, [key], `${setting} enables ${weak.join(", ")}. Set ${key} = >=TLSv1.2.`),
                );
            }
        }
    };
    check(pf.smtpdServices(), ["smtpd_tls_protocols", "smtpd_tls_mandatory_protocols"]);
    check(pf.smtpClientServices(), ["smtp_tls_protocols", "smtp_tls_mandatory_protocols"]);
    return findings;
}

const DOVECOT_MIN_OK = ["tlsv1.2", "tlsv1.3", "latest"];

function dovecotTlsProblems(text: string): string[] {
    const settings = parseDovecotConf(text).filter(s => !inListener(s));
    const problems: string[] = [];
    const mins = settings.filter(s => s.key === "ssl_min_protocol");
    for (const s of mins) {
        if (!DOVECOT_MIN_OK.includes(s.value.toLowerCase())) {
            problems.push(
                `${section(s)}: ssl_min_protocol = ${s.value} allows protocols older than TLS 1.2. Set ssl_min_protocol = TLSv1.2.`,
            );
        }
    }
    if (!mins.some(s => s.sections.length === 0)) {
        const legacy = settings.filter(s => s.key === "ssl_protocols" && s.sections.length === 0).pop();
        const weak = legacy ? weakProtocols(legacy.value) : [];
        if (!legacy) {
            problems.push(
                "dovecot.conf: ssl_min_protocol is not set, so the minimum is the Dovecot build's default (TLSv1 in older releases). Set ssl_min_protocol = TLSv1.2.",
            );
        } else if (weak.length > 0) {
            problems.push(
                `dovecot.conf: ssl_protocols = ${legacy.value} enables ${weak.join(", ")}. Set ssl_min_protocol = TLSv1.2.`,
            );
        }
    }
    return problems;
}

export const tlsMinimumVersion: ResourceValidationPolicy = {
    name: "mail-tls-1.2-minimum",
    description:
        "TLS 1.0/1.1 and SSL are deprecated (RFC 8996): Postfix's smtpd_/smtp_tls_protocols and _mandatory_protocols must enable " +
        'nothing below TLSv1.2 (e.g. ">=TLSv1.2"; Postfix\'s defaults and lists like "!SSLv2, !SSLv3" leave TLSv1 on), and ' +
        "Dovecot's ssl_min_protocol must be TLSv1.2 or newer.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: onPostfixAndDovecot(postfixTlsFindings, dovecotTlsProblems),
};
