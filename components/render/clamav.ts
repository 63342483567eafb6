// Renders the antivirus (MailServer antivirus): ClamAV's clamd.conf and freshclam.conf, the
// operator's own signature files, and rspamd's files that point its antivirus module at clamd.
// rspamd asks clamd over a unix socket in a volume only the two containers mount; a virus makes
// rspamd answer "reject", which Postfix's milter turns into a 554 naming the virus.
import type { ClamavSpec } from "../model/antivirus";
import { publicFile, RenderedFile } from "../model/spec";

/** The volume of clamd's socket, mounted by the clamav and rspamd containers. */
export const CLAMAV_SOCKET_DIR = "/run/clamav";
export const CLAMAV_SOCKET = `${CLAMAV_SOCKET_DIR}/clamd.sock`;
/** The signature databases: a volume that outlives the container (freshclam's downloads). */
export const CLAMAV_DATABASE_DIR = "/var/lib/clamav";
/** Where the config job installs clamd.conf (freshclam's NotifyClamd reads the socket from it). */
export const CLAMD_CONF = "/config/current/clamd.conf";
/** The rspamd symbol of a virus; `${CLAMAV_SYMBOL}_FAIL` when clamd could not scan. */
export const CLAMAV_SYMBOL = "CLAM_VIRUS";

const HEADER =
    "# Rendered by the mailserver package (components/render/clamav.ts). Do not edit here:\n" +
    "# every deploy replaces this file. Change the component's arguments instead.\n";

/** clamd.conf: settings clamd reads when it starts (a change replaces the container). */
export function renderClamdConf(): string {
    return `${HEADER}Foreground yes
# rspamd's workers (the _rspamd user of another image) connect; only the clamav and rspamd
# containers mount the socket's directory.
LocalSocket ${CLAMAV_SOCKET}
LocalSocketMode 666
FixStaleSocket yes
# Started as root by the entrypoint, clamd scans as clamav.
User clamav
DatabaseDirectory ${CLAMAV_DATABASE_DIR}
TemporaryDirectory /tmp
# Logs go to the container's output (no LogFile, no syslog).
LogSyslog no
LogTime yes
ExtendedDetectionInfo yes
# New signature files (freshclam's, the operator's) are also picked up without a RELOAD.
SelfCheck 3600
`;
}

/** freshclam.conf (with updates only): it runs in the clamav container and tells clamd to reload. */
export function renderFreshclamConf(s: ClamavSpec): string {
    return `${HEADER}Foreground yes
DatabaseDirectory ${CLAMAV_DATABASE_DIR}
DatabaseOwner clamav
DatabaseMirror database.clamav.net
Checks ${s.checksPerDay}
NotifyClamd ${CLAMD_CONF}
LogSyslog no
LogTime yes
`;
}

/** The files of the clamav container's config generations. */
export function renderClamavFiles(s: ClamavSpec): RenderedFile[] {
    return [
        publicFile("clamd.conf", renderClamdConf()),
        ...(s.updates ? [publicFile("freshclam.conf", renderFreshclamConf(s))] : []),
        ...s.signatures.map(f =>
            publicFile(`signatures/${f.name}`, f.content.endsWith("\n") ? f.content : `${f.content}\n`),
        ),
    ];
}

/**
 * rspamd's local.d/antivirus.conf (inside its `antivirus { }` section): every MIME part, text and
 * images included, goes to clamd on its own (decoded), and a virus forces "reject" with a message
 * naming it. rspamd caches the verdict per part in Valkey.
 */
export function renderRspamdAntivirusConf(): string {
    return `${HEADER}clamav {
  type = "clamav";
  servers = "${CLAMAV_SOCKET}";
  symbol = "${CLAMAV_SYMBOL}";
  action = "reject";
  message = '\${SCANNER}: virus found: "\${VIRUS}"';
  scan_mime_parts = true;
  scan_text_mime = true;
  scan_image_mime = true;
  # A big attachment on a busy clamd takes seconds (rspamd extends the task's own timeout, 8 s,
  # by this symbol's); a second try only after a failure to connect or a timeout.
  timeout = 10.0;
  retransmits = 1;
  log_clean = false;
}
`;
}

/** onScanFailure "defer": rspamd's force_actions answers "soft reject" (451) when clamd failed. */
export function renderRspamdForceActionsConf(): string {
    return `${HEADER}rules {
  # clamd unreachable, timed out or in error: the sender retries later instead of the message
  # passing unscanned. A virus's reject stays a reject.
  ANTIVIRUS_UNAVAILABLE {
    action = "soft reject";
    expression = "${CLAMAV_SYMBOL}_FAIL";
    message = "Try again later: the virus scanner is not available";
    honor_action = ["reject"];
  }
}
`;
}

/** The files the antivirus adds to rspamd's config generations. */
export function renderRspamdAntivirusFiles(s: ClamavSpec): RenderedFile[] {
    return [
        publicFile("local.d/antivirus.conf", renderRspamdAntivirusConf()),
        ...(s.onScanFailure === "defer"
            ? [publicFile("local.d/force_actions.conf", renderRspamdForceActionsConf())]
            : []),
    ];
}
