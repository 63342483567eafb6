// saslauthd (relay mode only): checks the relay users' SMTP AUTH passwords for Postfix, through
// PAM and a passwd file of hashes. Internet mode's Postfix asks Dovecot's auth service instead,
// which sees client addresses and bans brute force for every protocol.
import { paths } from "../model/paths";
import { NO_LOGINS, renderSaslauthdFiles, renderSaslauthdPasswd, saslauthdPasswdFile } from "../render/saslauthd";
import { COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";

export const saslauthd: MailServerService = {
    name: "saslauthd",
    component: "MailServer",
    image: "A prebuilt saslauthd image to use instead of building images/saslauthd",
    runs: s => s.postfix.mode === "relay",
    // root reading root-owned files and serving a unix socket needs no capability at all.
    security: { user: "root", capabilities: [], tmpfs: ["/run/mail", "/tmp"] },
    network: "none",
    volumes: [{ name: "saslauthd-run", path: paths.saslauthdDir, kind: "socket" }],
    mounts: [CONFIG, "saslauthd-run", SERVICE_STATUS],
    config: {
        files: () => renderSaslauthdFiles(),
        // Relay mode's SMTP AUTH users are checked like mailboxes (internet mode has none).
        secretFiles: (_s, secrets) => [
            {
                ...saslauthdPasswdFile(""),
                content: secrets.logins.apply(c => (c.length > 0 ? renderSaslauthdPasswd(c) : NO_LOGINS)),
            },
        ],
        registerSecretFiles: true,
    },
    healthcheck: COMMON_HEALTHCHECK,
    reload: "none needed: PAM reads the files at each login",
};
