// MailServer's antivirus option (ClamAV, asked by rspamd), declared once, and its rules on other
// options. Off by default: clamd holds its databases in memory (about 1 GB with ClamAV's own).
import { ANTIVIRUS_FAILURE_ACTIONS, AntivirusSettings, SIGNATURE_EXTENSIONS } from "../model/antivirus";
import { Validator } from "../model/validator";
import { boolean, integer, list, object, oneOf, Pinned, required, SameType, text, Values } from "./declare";

const SIGNATURE_NAME = new RegExp(`^[A-Za-z0-9][A-Za-z0-9_-]*\\.(${SIGNATURE_EXTENSIONS.join("|")})$`);
const SIGNATURE_NAME_ACCEPTED =
    `expected a file name of letters, digits, "-" and "_" with a ClamAV signature extension ` +
    `(${SIGNATURE_EXTENSIONS.map(e => `.${e}`).join(", ")}), e.g. "local.ndb"`;

export const SIGNATURE_FILE_OPTIONS = {
    name: required(
        text({
            doc: 'File name; its extension says the signature format, e.g. "local.ndb" (body-based) or "local.hdb" (MD5 hashes)',
            accepted: SIGNATURE_NAME_ACCEPTED,
            check: (v, f, x) => (SIGNATURE_NAME.test(x) ? x : v.fail(f, x, SIGNATURE_NAME_ACCEPTED)),
        }),
    ),
    content: required(
        text({
            doc: "The signatures, one a line, in ClamAV's format for that extension",
            accepted: "expected the signatures as text, one a line",
            check: (v, f, x) =>
                x.trim() !== ""
                    ? x
                    : v.fail(f, x, "expected at least one signature line (an empty file loads nothing)"),
        }),
    ),
};

export const ANTIVIRUS_OPTIONS = {
    enabled: boolean({
        doc:
            "ClamAV (clamd, a container of its own) scans every message through rspamd; a virus is refused at SMTP " +
            "time (554 naming it). Needs spamFilter.enabled and about 1 GB of memory with ClamAV's databases",
        default: false,
    }),
    updates: boolean({
        doc:
            "freshclam in the clamav container downloads ClamAV's databases (a few hundred MB, before clamd first " +
            "starts) into a volume kept across deployments and updates them checksPerDay times a day; false: clamd " +
            "uses only what that volume holds and the signatures given here",
        default: true,
    }),
    checksPerDay: integer({
        doc: "How often a day freshclam asks ClamAV's mirrors for new signatures",
        default: 12,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 50
                ? x
                : v.fail(f, x, "expected a whole number from 1 to 50 (freshclam's Checks)"),
    }),
    signatures: list(
        object("AntivirusSignatureFile", SIGNATURE_FILE_OPTIONS, {
            doc: "A signature file of your own (name and content)",
        }),
        {
            doc:
                "Signature files of your own, loaded beside ClamAV's (a detection is the signature's name + \".UNOFFICIAL\"); " +
                "a change reloads clamd",
            default: [],
        },
    ),
    onScanFailure: oneOf("AntivirusFailureAction", ANTIVIRUS_FAILURE_ACTIONS, {
        doc:
            '"defer": a message clamd could not scan (down, timed out) is refused with 451 and retried by its ' +
            'sender; "accept": it passes unscanned',
        default: "defer",
    }),
};

// The model's settings type is the declaration's values (a compile error otherwise).
export type _AntivirusPinned = Pinned<SameType<AntivirusSettings, Values<typeof ANTIVIRUS_OPTIONS>>>;

/**
 * The antivirus's rules on other options (validateMailServer calls it); returns what to warn about.
 */
export function checkAntivirus(v: Validator, antivirus: AntivirusSettings, spamFilterEnabled: boolean): string[] {
    if (!antivirus.enabled) return [];
    if (!spamFilterEnabled)
        v.fail("antivirus.enabled", true, "expected false with spamFilter.enabled false: rspamd is what asks ClamAV");
    const seen = new Set<string>();
    antivirus.signatures.forEach((s, i) => {
        if (seen.has(s.name))
            v.fail(`antivirus.signatures[${i}].name`, s.name, "expected a name no other signature file has");
        seen.add(s.name);
    });
    return !antivirus.updates && antivirus.signatures.length === 0
        ? [
              `${v.component}: antivirus.updates is false and no signatures are given: clamd starts only if its ` +
                  "database volume already holds ClamAV's databases",
          ]
        : [];
}
