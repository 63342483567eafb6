// Renders saslauthd's PAM service and password file. saslauthd runs "-a pam -r", so Postfix's
// SASL login "user@domain" reaches pam_pwdfile whole and is looked up in this file.
import { Credential, publicFile, RenderedFile } from "../model/spec";
import { paths } from "../model/paths";

/** PAM service "smtp" (Postfix's smtpd_sasl_service). */
export function renderPamSmtp(): string {
    return [
        "# Rendered by the mailserver package (components/render/saslauthd.ts).",
        `auth    required pam_pwdfile.so pwdfile=${paths.config}/passwd`,
        "account required pam_permit.so",
        "",
    ].join("\n");
}

export function renderSaslauthdPasswd(credentials: Credential[]): string {
    return credentials.map(c => `${c.address}:${c.hash}`).join("\n") + "\n";
}

export function renderSaslauthdFiles(): RenderedFile[] {
    return [publicFile("pam-smtp", renderPamSmtp())];
}

/** The hashes: saslauthd runs as root, nobody else needs them. */
export function saslauthdPasswdFile(content: string): RenderedFile {
    return { path: "passwd", content, mode: "0600", owner: "root", group: "root" };
}

/**
 * saslauthd's passwd when nobody may log in (relay mode without users): renderSaslauthdPasswd([])
 * gives one blank line, which the image's validate-config refuses, and the docker provider refuses
 * an empty upload; so one well-formed line whose "hash" no password can produce.
 */
export const NO_LOGINS = "no-login:$6$!\n";
