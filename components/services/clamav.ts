// ClamAV (MailServer antivirus, off by default): clamd on a unix socket in a volume only rspamd
// shares, asked by rspamd's antivirus module for every message (rspamd's files: services/rspamd.ts
// through RspamdSpec); freshclam beside it keeps ClamAV's databases current (antivirus.updates).
// Its files: render/clamav.ts; its image: images/clamav.
import type { AntivirusSettings, ClamavSpec } from "../model/antivirus";
import { CLAMAV_DATABASE_DIR, CLAMAV_SOCKET_DIR, renderClamavFiles, renderClamdConf } from "../render/clamav";
import { COMMON_HEALTHCHECK, CONFIG, MailServerService, SERVICE_STATUS } from "./definition";

/** What the ClamAV files are rendered from. */
export function clamavSpec(a: AntivirusSettings): ClamavSpec {
    return {
        updates: a.updates,
        checksPerDay: a.checksPerDay,
        signatures: a.signatures,
        onScanFailure: a.onScanFailure,
    };
}

/** clamd.conf's settings on one line: clamd reads them only when it starts. */
const clamdStartupSettings = () =>
    renderClamdConf()
        .split("\n")
        .filter(l => l.trim() !== "" && !l.startsWith("#"))
        .join("; ");

export const clamav: MailServerService = {
    name: "clamav",
    component: "MailServer",
    image: "A prebuilt ClamAV image to use instead of building images/clamav (antivirus)",
    runs: s => s.antivirus.enabled,
    security: {
        user: "root",
        // The entrypoint (root) makes the socket and database directories clamav's and copies the
        // operator's signature files as clamav (setpriv); clamd switches to clamav (its User), and
        // root signals it and freshclam.
        capabilities: ["CAP_CHOWN", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"],
        tmpfs: ["/run/mail", "/tmp"],
    },
    // freshclam reaches ClamAV's mirrors; clamd itself listens on its unix socket only.
    network: "stack",
    volumes: [
        // ClamAV's databases (a few hundred MB) outlive the container: a new one starts at once.
        { name: "clamav-db", path: CLAMAV_DATABASE_DIR, kind: "data" },
        { name: "clamav-run", path: CLAMAV_SOCKET_DIR, kind: "socket" },
    ],
    mounts: [CONFIG, "clamav-db", "clamav-run", SERVICE_STATUS],
    // No dependent waits for it: while clamd is not ready rspamd defers mail (onScanFailure "defer"),
    // so a first start that downloads ClamAV's databases holds up no other service.
    config: { files: s => renderClamavFiles(clamavSpec(s.antivirus)) },
    startupSettings: clamdStartupSettings,
    healthcheck: COMMON_HEALTHCHECK,
    reload:
        "signature files: copied into the database volume, then clamd's RELOAD; a new freshclam.conf restarts " +
        "freshclam; clamd.conf is read at start only (startupSettings: a change replaces the container)",
};
