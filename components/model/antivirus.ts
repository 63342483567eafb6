// MailServer antivirus (ClamAV, asked by rspamd) after validation, as its service definition and
// renderers read it (options/antivirus.ts declares it; render/clamav.ts renders it).

/** What rspamd does with a message clamd could not scan. */
export const ANTIVIRUS_FAILURE_ACTIONS = ["defer", "accept"] as const;

/** The extensions of ClamAV's own signature formats a signature file may have (ClamAV's signatures docs). */
export const SIGNATURE_EXTENSIONS = ["hdb", "hsb", "mdb", "msb", "ndb", "ldb", "cdb", "fp", "sfp", "ign2"] as const;

/** An operator's signature file, installed next to ClamAV's databases. */
export interface SignatureFile {
    /** File name with a ClamAV extension (SIGNATURE_EXTENSIONS), e.g. "local.ndb". */
    name: string;
    content: string;
}

/** MailServer antivirus, defaults applied (pinned to its declaration in options/antivirus.ts). */
export interface AntivirusSettings {
    /** The clamav service runs, and rspamd asks it. */
    enabled: boolean;
    /** freshclam in the container keeps ClamAV's databases current. */
    updates: boolean;
    /** freshclam's checks a day (its Checks). */
    checksPerDay: number;
    signatures: SignatureFile[];
    /** What rspamd does with a message clamd could not scan: tell the sender to retry (451), or pass it. */
    onScanFailure: (typeof ANTIVIRUS_FAILURE_ACTIONS)[number];
}

/** What the ClamAV files are rendered from: the settings of an antivirus that runs. */
export type ClamavSpec = Omit<AntivirusSettings, "enabled">;
