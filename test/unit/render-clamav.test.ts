// The antivirus: its renderer (components/render/clamav.ts: clamd.conf, freshclam.conf, the
// operator's signature files, rspamd's antivirus and force_actions files) and its option
// (components/options/antivirus.ts): defaults, and bad values refused naming field, value and
// what is accepted.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ANTIVIRUS_OPTIONS, checkAntivirus } from "../../components/options/antivirus";
import { readOptions } from "../../components/options/declare";
import type { ClamavSpec } from "../../components/model/antivirus";
import {
    CLAMAV_SOCKET,
    renderClamavFiles,
    renderClamdConf,
    renderFreshclamConf,
    renderRspamdAntivirusFiles,
} from "../../components/render/clamav";
import { Validator } from "../../components/model/validator";

const SPEC: ClamavSpec = {
    updates: true,
    checksPerDay: 12,
    signatures: [{ name: "local.ndb", content: "Local-Test:0:*:4d41494c" }],
    onScanFailure: "defer",
};

/** A UCL/clamd "Key value" file's settings, comments and blank lines left out. */
const settings = (text: string) =>
    text
        .split("\n")
        .filter(l => l.trim() !== "" && !l.startsWith("#"))
        .map(l => l.trim());

describe("ClamAV files", () => {
    test("clamd listens only on the socket rspamd mounts, scans as clamav, loads from the database volume", () => {
        assert.deepEqual(settings(renderClamdConf()), [
            "Foreground yes",
            `LocalSocket ${CLAMAV_SOCKET}`,
            "LocalSocketMode 666",
            "FixStaleSocket yes",
            "User clamav",
            "DatabaseDirectory /var/lib/clamav",
            "TemporaryDirectory /tmp",
            "LogSyslog no",
            "LogTime yes",
            "ExtendedDetectionInfo yes",
            "SelfCheck 3600",
        ]);
        assert.doesNotMatch(renderClamdConf(), /^TCP(Socket|Addr)/m);
    });

    test("freshclam: checksPerDay checks into the database volume, clamd told through its clamd.conf", () => {
        const conf = settings(renderFreshclamConf({ ...SPEC, checksPerDay: 3 }));
        assert.ok(conf.includes("Checks 3"));
        assert.ok(conf.includes("DatabaseDirectory /var/lib/clamav"));
        assert.ok(conf.includes("DatabaseOwner clamav"));
        assert.ok(conf.includes("NotifyClamd /config/current/clamd.conf"));
    });

    test("the generation: clamd.conf, freshclam.conf only with updates, each signature file under signatures/", () => {
        assert.deepEqual(
            renderClamavFiles(SPEC).map(f => [f.path, f.mode, f.owner]),
            [
                ["clamd.conf", "0644", "root"],
                ["freshclam.conf", "0644", "root"],
                ["signatures/local.ndb", "0644", "root"],
            ],
        );
        const off = renderClamavFiles({ ...SPEC, updates: false, signatures: [] });
        assert.deepEqual(
            off.map(f => f.path),
            ["clamd.conf"],
        );
        // A signature file ends with a newline, or ClamAV would read its last line as truncated.
        assert.equal(renderClamavFiles(SPEC)[2].content, "Local-Test:0:*:4d41494c\n");
    });
});

describe("rspamd's antivirus files", () => {
    test("the clamav rule asks clamd's socket, scans every part and forces reject with the virus's name", () => {
        const [antivirus] = renderRspamdAntivirusFiles(SPEC);
        assert.equal(antivirus.path, "local.d/antivirus.conf");
        const lines = settings(antivirus.content);
        assert.equal(lines[0], "clamav {");
        for (const l of [
            'type = "clamav";',
            `servers = "${CLAMAV_SOCKET}";`,
            'symbol = "CLAM_VIRUS";',
            'action = "reject";',
            "message = '${SCANNER}: virus found: \"${VIRUS}\"';",
            "scan_mime_parts = true;",
            "scan_text_mime = true;",
            "scan_image_mime = true;",
        ])
            assert.ok(lines.includes(l), `${l} in ${antivirus.content}`);
    });

    test('onScanFailure "defer": a failed scan is a soft reject (451) unless the message is already refused', () => {
        const files = renderRspamdAntivirusFiles(SPEC);
        assert.deepEqual(
            files.map(f => f.path),
            ["local.d/antivirus.conf", "local.d/force_actions.conf"],
        );
        const force = files[1].content;
        assert.match(force, /expression = "CLAM_VIRUS_FAIL";/);
        assert.match(force, /action = "soft reject";/);
        assert.match(force, /honor_action = \["reject"\];/);
        assert.deepEqual(
            renderRspamdAntivirusFiles({ ...SPEC, onScanFailure: "accept" }).map(f => f.path),
            ["local.d/antivirus.conf"],
        );
    });
});

const V = new Validator("MailServer mx");
const read = (args: unknown) => readOptions(V, ANTIVIRUS_OPTIONS, args, "antivirus.");
/** The error an antivirus argument fails with, for MailServer mx. */
function refusal(args: unknown, spamFilterEnabled = true): string {
    try {
        checkAntivirus(V, read(args), spamFilterEnabled);
    } catch (e) {
        return (e as Error).message;
    }
    assert.fail(`accepted: ${JSON.stringify(args)}`);
}

describe("the antivirus option", () => {
    test("off by default; on: updates 12 times a day, no own signatures, a failed scan deferred", () => {
        assert.deepEqual(read(undefined), {
            enabled: false,
            updates: true,
            checksPerDay: 12,
            signatures: [],
            onScanFailure: "defer",
        });
        assert.deepEqual(checkAntivirus(V, read(undefined), false), []);
        assert.deepEqual(checkAntivirus(V, read({ enabled: true }), true), []);
    });

    test("without updates and own signatures it warns: clamd needs a database in its volume", () => {
        const warnings = checkAntivirus(V, read({ enabled: true, updates: false }), true);
        assert.match(warnings.join("\n"), /^MailServer mx: antivirus\.updates is false and no signatures are given/);
        assert.deepEqual(
            checkAntivirus(V, read({ enabled: true, updates: false, signatures: [SPEC.signatures[0]] }), true),
            [],
        );
    });

    const rows: Array<{ what: string; args: unknown; message: RegExp; spamFilter?: boolean }> = [
        {
            what: "on without rspamd",
            args: { enabled: true },
            spamFilter: false,
            message:
                /^MailServer mx: antivirus\.enabled = true is not accepted; expected false with spamFilter\.enabled false: rspamd is what asks ClamAV$/,
        },
        {
            what: "a signature file without a ClamAV extension",
            args: { enabled: true, signatures: [{ name: "local.txt", content: "x" }] },
            message:
                /^MailServer mx: antivirus\.signatures\[0\]\.name = "local\.txt" is not accepted; expected a file name .* with a ClamAV signature extension \(\.hdb, .*\.ndb.*\), e\.g\. "local\.ndb"$/,
        },
        {
            what: "a signature file name that is a path",
            args: { enabled: true, signatures: [{ name: "../clamd.conf.ndb", content: "x" }] },
            message:
                /antivirus\.signatures\[0\]\.name = "\.\.\/clamd\.conf\.ndb" is not accepted; expected a file name/,
        },
        {
            what: "an empty signature file",
            args: { enabled: true, signatures: [{ name: "a.ndb", content: " \n" }] },
            message:
                /antivirus\.signatures\[0\]\.content = " \\n" is not accepted; expected at least one signature line/,
        },
        {
            what: "a signature file without content",
            args: { enabled: true, signatures: [{ name: "a.ndb" }] },
            message:
                /antivirus\.signatures\[0\]\.content = \(missing\) is not accepted; expected the signatures as text, one a line$/,
        },
        {
            what: "two signature files of the same name",
            args: {
                enabled: true,
                signatures: [
                    { name: "a.ndb", content: "A:0:*:41" },
                    { name: "a.ndb", content: "B:0:*:42" },
                ],
            },
            message:
                /antivirus\.signatures\[1\]\.name = "a\.ndb" is not accepted; expected a name no other signature file has/,
        },
        {
            what: "no checks a day",
            args: { enabled: true, checksPerDay: 0 },
            message:
                /antivirus\.checksPerDay = 0 is not accepted; expected a whole number from 1 to 50 \(freshclam's Checks\)/,
        },
        {
            what: "an unknown failure action",
            args: { enabled: true, onScanFailure: "reject" },
            message: /antivirus\.onScanFailure = "reject" is not accepted; expected one of "defer", "accept"/,
        },
        {
            what: "a misspelt field",
            args: { enabled: true, update: false },
            message:
                /antivirus\.update = false is not accepted; expected one of the known fields: enabled, updates, checksPerDay, signatures, onScanFailure/,
        },
    ];
    for (const row of rows)
        test(`refused: ${row.what}`, () => assert.match(refusal(row.args, row.spamFilter ?? true), row.message));
});
