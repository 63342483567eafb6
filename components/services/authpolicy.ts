// The brute-force policy service (images/authpolicy): Dovecot asks it before every
// authentication and reports the outcome. No network: one socket in a volume only Dovecot shares.
import { paths } from "../model/paths";
import { ImapService } from "./definition";

export const authpolicy: ImapService = {
    name: "authpolicy",
    component: "DovecotImap",
    image: "A prebuilt brute-force policy image to use instead of building images/authpolicy (DovecotImap bruteForce)",
    runs: s => s.imap.bruteForce !== undefined,
    // The image's authpolicy user, no network, one socket.
    security: { user: "authpolicy", capabilities: [], tmpfs: ["/tmp"] },
    network: "none",
    volumes: [{ name: "authpolicy-run", path: paths.authPolicyDir, kind: "socket" }],
    healthcheck: ["python3", "/usr/local/lib/mail/authpolicy.py", "--check", paths.authPolicySocket],
    reload: "none: its thresholds come with each request from dovecot.conf, so a reload of Dovecot changes them",
};
