// Mandatory: no authentication without TLS, in Postfix (SMTP AUTH) and Dovecot (IMAP/POP3 logins).
import { ResourceValidationPolicy } from "@pulumi/policy";
import { isYes, parseDovecotConf, PostfixConfig } from "../parse";
import { Finding, finding, inListener, onPostfixAndDovecot, section } from "../subjects";

function postfixAuthFindings(pf: PostfixConfig): Finding[] {
    const findings: Finding[] = [];
    for (const service of pf.smtpdServices()) {
        if (!isYes(pf.get("smtpd_sasl_auth_enable", service))) continue;
        const wrapper = isYes(pf.get("smtpd_tls_wrappermode", service));
        const level = pf.get("smtpd_tls_security_level", service).trim();
        const enforced = level === "encrypt" || (level === "" && isYes(pf.get("smtpd_enforce_tls", service)));
        const authOnly = isYes(pf.get("smtpd_tls_auth_only", service));
        if (!wrapper && !enforced && !authOnly) {
            findings.push(
                finding(
                    service,
                    [
                        "smtpd_sasl_auth_enable",
                        "smtpd_tls_wrappermode",
                        "smtpd_tls_security_level",
                        "smtpd_enforce_tls",
                        "smtpd_tls_auth_only",
                    ],
                    `smtpd_sasl_auth_enable = yes, but TLS is not required before AUTH (smtpd_tls_auth_only = ` +
                        `"${pf.get("smtpd_tls_auth_only", service)}", smtpd_tls_security_level = "${level}", no smtpd_tls_wrappermode): passwords can cross ` +
                        "the network in clear text. Set smtpd_tls_auth_only = yes, or smtpd_tls_security_level = encrypt on this service.",
                ),
            );
        }
    }
    return findings;
}

function dovecotAuthProblems(text: string): string[] {
    const settings = parseDovecotConf(text);
    const problems: string[] = [];
    for (const s of settings) {
        if (s.key === "auth_allow_cleartext" && isYes(s.value)) {
            problems.push(
                `${section(s)}: auth_allow_cleartext = ${s.value} lets IMAP/POP3 clients send passwords without TLS. Set auth_allow_cleartext = no.`,
            );
        }
        if (s.key === "disable_plaintext_auth" && !isYes(s.value)) {
            problems.push(
                `${section(s)}: disable_plaintext_auth = ${s.value} lets IMAP/POP3 clients send passwords without TLS. Set disable_plaintext_auth = yes.`,
            );
        }
    }
    const ssl = settings.filter(s => s.key === "ssl" && !inListener(s));
    if (!ssl.some(s => s.sections.length === 0)) {
        problems.push(
            'dovecot.conf: ssl is not set, so it is "yes": clients may log in before STARTTLS. Set ssl = required.',
        );
    }
    for (const s of ssl) {
        if (s.value.toLowerCase() !== "required") {
            problems.push(`${section(s)}: ssl = ${s.value}; clients may log in without TLS. Set ssl = required.`);
        }
    }
    return problems;
}

export const authRequiresTls: ResourceValidationPolicy = {
    name: "mail-auth-requires-tls",
    description:
        "Passwords must not cross the network in clear text: Postfix services with SMTP AUTH need smtpd_tls_auth_only = yes, " +
        "smtpd_tls_security_level = encrypt or wrapper mode; Dovecot needs ssl = required and no cleartext authentication.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: onPostfixAndDovecot(postfixAuthFindings, dovecotAuthProblems),
};
