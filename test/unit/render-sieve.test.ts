// Sieve per mailbox: the typed options and raw scripts VirtualDomain accepts, the scripts the
// renderer writes, and the Dovecot settings that run them, enforce quotas and limit sizes.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { DovecotImap } from "../../components/dovecotImap";
import { MailServer } from "../../components/mailServer";
import {
    LMTP_SIZE_ALLOWANCE,
    renderDovecotConf,
    renderDovecotFiles,
    renderDovecotUsers,
} from "../../components/render/dovecot";
import { renderMailboxSieve, renderSieveFiles, sieveString } from "../../components/render/sieve";
import { SIEVE_EXTENSIONS, sieveRequires } from "../../components/model/sieve";
import { DomainSpec } from "../../components/model/spec";
import { paths } from "../../components/model/paths";
import { MailConfigError, Validator } from "../../components/model/validator";
import { MailboxArgs } from "../../components/args";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import { VirtualDomain } from "../../components/virtualDomain";
import { dovecotSpec } from "./fixtures";
import { mockKeyState } from "../components/mock-keys";

const PW = "a-long-enough-password";
const domain = (mailboxes: Array<Omit<MailboxArgs, "password">>): DomainSpec =>
    validateDomain(new Validator("VirtualDomain corp"), {
        domain: "example.com",
        mailboxes: mailboxes.map(m => ({ ...m, password: PW })),
    });

function refusal(mailboxes: Array<Omit<MailboxArgs, "password">>): MailConfigError {
    try {
        domain(mailboxes);
    } catch (e) {
        assert.ok(e instanceof MailConfigError, `expected a MailConfigError, got ${String(e)}`);
        return e;
    }
    assert.fail("expected the mailboxes to be refused");
}

describe("Sieve options of a mailbox: validation", () => {
    test("an unknown extension in a raw script is refused, naming component, field, value and the accepted extensions", () => {
        const e = refusal([
            { address: "alice" },
            { address: "bob", sieveScript: 'require ["fileinto", "nonexistent"];\nkeep;\n' },
        ]);
        assert.ok(
            e.message.startsWith(
                'VirtualDomain corp: mailboxes[1].sieveScript = "require \\"nonexistent\\"" is not accepted',
            ),
            e.message,
        );
        for (const ext of SIEVE_EXTENSIONS) assert.ok(e.message.includes(ext), `lists ${ext}: ${e.message}`);
        assert.match(e.message, /Pigeonhole 2\.4/);
    });

    test("known extensions pass, also when written in comments and strings elsewhere", () => {
        const script = [
            '# require "nonexistent"; in a comment is no command',
            'require ["fileinto", "vacation", "comparator-i;ascii-numeric"];',
            '/* require "bogus"; */',
            'if header :contains "Subject" "require \\"bogus\\";" { fileinto "X"; }',
            "vacation text:",
            'require "bogus";',
            ".",
            ";",
        ].join("\n");
        const d = domain([{ address: "alice", sieveScript: script }]);
        assert.equal(d.mailboxes[0].sieve?.script, script);
    });

    test("a raw script and typed options together are refused", () => {
        const e = refusal([
            { address: "alice", sieveScript: "keep;", vacation: { subject: "Away", body: "Back soon" } },
        ]);
        assert.match(e.message, /mailboxes\[0\]\.sieveScript .* either sieveScript or the typed options/);
    });

    test("bad typed options name their field", () => {
        assert.match(
            refusal([{ address: "a", vacation: { subject: "two\nlines", body: "x" } }]).message,
            /mailboxes\[0\]\.vacation\.subject = .*single line/,
        );
        assert.match(
            refusal([{ address: "a", vacation: { subject: "Away", body: "" } }]).message,
            /mailboxes\[0\]\.vacation\.body = "" .*non-empty/,
        );
        assert.match(
            refusal([{ address: "a", vacation: { subject: "Away", body: "x", days: 0 } }]).message,
            /vacation\.days = 0 .*whole number of days/,
        );
        assert.match(
            refusal([{ address: "a", vacation: { subject: "Away", body: "x", days: 1.5 } }]).message,
            /vacation\.days = 1\.5/,
        );
        assert.match(
            refusal([{ address: "a", fileInto: [{ header: "Sub ject", contains: "x", folder: "X" }] }]).message,
            /fileInto\[0\]\.header = "Sub ject"/,
        );
        assert.match(
            refusal([{ address: "a", fileInto: [{ header: "Subject", contains: "x", folder: "/X" }] }]).message,
            /fileInto\[0\]\.folder = "\/X"/,
        );
        assert.match(
            refusal([{ address: "a", fileInto: [{ header: "Subject", contains: "", folder: "X" }] }]).message,
            /fileInto\[0\]\.contains = ""/,
        );
        assert.match(
            refusal([{ address: "a", sieveScript: "  " }]).message,
            /mailboxes\[0\]\.sieveScript = " {2}" .*Sieve script/,
        );
    });

    test("typed options become the spec; vacation answers for the mailbox's aliases too", () => {
        const d = domain([
            {
                address: "alice",
                aliases: ["info"],
                vacation: { subject: "Away", body: "Back on Monday", days: 3 },
                fileInto: [{ header: "List-Id", contains: "dev.lists.example", folder: "Lists/dev" }],
            },
            { address: "bob" },
        ]);
        assert.deepEqual(d.mailboxes[0].sieve, {
            vacation: { subject: "Away", body: "Back on Monday", days: 3, addresses: ["info@example.com"] },
            fileInto: [{ header: "List-Id", contains: "dev.lists.example", folder: "Lists/dev" }],
        });
        assert.equal("sieve" in d.mailboxes[1], false, "no rules: no sieve field at all");
    });
});

describe("Sieve scripts: rendering", () => {
    test("quoted strings escape backslashes and quotes and keep line breaks", () => {
        assert.equal(sieveString('a "b" c\\d'), '"a \\"b\\" c\\\\d"');
        assert.equal(sieveString("one\r\ntwo"), '"one\ntwo"');
    });

    test("vacation first, then the fileinto rules, first match wins", () => {
        const script = renderMailboxSieve("alice@example.com", {
            vacation: {
                subject: 'Out "of" office',
                body: "Back on Monday.\nUrgent: bob@example.com",
                days: 3,
                addresses: ["info@example.com"],
            },
            fileInto: [
                { header: "Subject", contains: "[newsletter]", folder: "Newsletters" },
                { header: "List-Id", contains: "dev", folder: "Lists/dev" },
            ],
        });
        assert.ok(script);
        const lines = script.split("\n").filter(l => !l.startsWith("#"));
        assert.deepEqual(lines, [
            'require ["fileinto", "vacation"];',
            'vacation :days 3 :subject "Out \\"of\\" office" :addresses "info@example.com"',
            '  "Back on Monday.',
            'Urgent: bob@example.com";',
            'if header :contains "Subject" "[newsletter]" {',
            '  fileinto "Newsletters";',
            "  stop;",
            "}",
            'if header :contains "List-Id" "dev" {',
            '  fileinto "Lists/dev";',
            "  stop;",
            "}",
            "",
        ]);
        assert.deepEqual(sieveRequires(script), ["fileinto", "vacation"]);
    });

    test("vacation without days leaves the period to Dovecot; without aliases, no :addresses", () => {
        const script = renderMailboxSieve("bob@example.com", {
            vacation: { subject: "Away", body: "x", addresses: [] },
            fileInto: [],
        })!;
        assert.match(script, /^vacation :subject "Away"$/m);
        assert.match(script, /^require "vacation";$/m);
    });

    test("a raw script is written byte for byte, so sievec's line numbers are the user's", () => {
        const raw = 'require "reject";\r\nreject "no";';
        assert.equal(renderMailboxSieve("bob@example.com", { script: raw, fileInto: [] }), raw);
    });

    test("one file per mailbox with rules, sieve/<address>.sieve, sorted, deterministic", () => {
        const d = domain([
            { address: "zed", sieveScript: "keep;" },
            { address: "alice", vacation: { subject: "Away", body: "x" } },
            { address: "bob" },
            { address: "carol", fileInto: [] },
        ]);
        const files = renderSieveFiles([d]);
        assert.deepEqual(
            files.map(f => f.path),
            ["sieve/alice@example.com.sieve", "sieve/zed@example.com.sieve"],
        );
        assert.ok(files.every(f => f.mode === "0644" && f.owner === "root"));
        assert.deepEqual(renderSieveFiles([d]), files);
        const spec = dovecotSpec();
        spec.domains = [d];
        // The global junk script (spam filter on) comes before the mailboxes' own.
        assert.deepEqual(
            renderDovecotFiles(spec).map(f => f.path),
            ["dovecot.conf", "probe", "sieve-global/junk.sieve", ...files.map(f => f.path)],
        );
        assert.deepEqual(
            renderDovecotFiles({ ...spec, junkSpam: false }).map(f => f.path),
            ["dovecot.conf", "probe", ...files.map(f => f.path)],
        );
    });
});

describe("dovecot.conf: Sieve, quota and size settings", () => {
    const conf = renderDovecotConf({ ...dovecotSpec(), reinjectSocket: "/run/lmtp/reinject/smtp" });

    test("the deployment's script runs before the personal (ManageSieve) one, keyed by user", () => {
        assert.match(
            conf,
            /sieve_script personal \{\n {2}driver = file\n {2}path = ~\/sieve\n {2}active_path = ~\/\.dovecot\.sieve\n\}/,
        );
        assert.match(
            conf,
            /sieve_script mailbox-rules \{\n {2}type = before\n {2}driver = file\n {2}path = \/config\/current\/sieve\/%\{user\}\.sieve\n {2}bin_path = ~\/\.sieve-bin\n\}/,
        );
    });

    test("Sieve's own mail goes to Postfix; folders fileinto names are created and subscribed", () => {
        // Over Postfix's unix socket through msmtp (--host only names the server, so msmtp reads
        // no configuration file); never over TCP (submission_host), which others could reach.
        assert.match(
            conf,
            /^sendmail_path = \/usr\/bin\/msmtp --host=localhost --socket=\/run\/lmtp\/reinject\/smtp --domain=mail\.example\.com$/m,
        );
        assert.doesNotMatch(conf, /^submission_host/m);
        assert.doesNotMatch(renderDovecotConf(dovecotSpec()), /sendmail_path/, "no socket given: none rendered");
        const lmtp = /protocol lmtp \{([\s\S]*?)\n\}/.exec(conf)?.[1] ?? "";
        assert.match(lmtp, /lda_mailbox_autocreate = yes/);
        assert.match(lmtp, /lda_mailbox_autosubscribe = yes/);
    });

    test("quota: enforced strictly and permanently, checked at RCPT, visible over IMAP", () => {
        assert.match(conf, /^quota "User quota" \{\n {2}driver = count\n\}/m);
        assert.match(conf, /^quota_storage_grace = 0$/m);
        assert.match(conf, /^quota_full_tempfail = no$/m);
        assert.match(conf, /^quota_exceeded_message = Quota exceeded: .*%\{user\}/m);
        assert.match(conf, /^lmtp_rcpt_check_quota = yes$/m);
        assert.match(conf, /protocol imap \{\n {2}mail_plugins \{\n {4}imap_quota = yes\n {2}\}\n\}/);
        const users = renderDovecotUsers([{ address: "alice@example.com", hash: "$6$x$y" }], dovecotSpec().domains);
        assert.match(users, /^alice@example\.com:\{SHA512-CRYPT\}\$6\$x\$y::::::userdb_quota_storage_size=2G$/m);
    });

    test("LMTP's size limit is Postfix's plus room for the delivery headers", () => {
        assert.equal(LMTP_SIZE_ALLOWANCE, 65536);
        assert.match(conf, new RegExp(`^quota_mail_size = ${31457280 + 65536}$`, "m"));
    });
});

describe("DovecotImap: where Sieve sends mail, and the vacation limits", () => {
    before(async () => {
        await pulumi.runtime.setMocks(
            {
                newResource: args => ({ id: `${args.name}-id`, state: mockKeyState(args) }),
                call: args => args.inputs,
            },
            "mailserver",
            "unit",
            false,
        );
    });
    const server = (name: string, networkMode: string, inetInterfaces?: string[]) =>
        new MailServer(name, {
            hostname: "mail.example.com",
            networkMode: networkMode as any,
            inetInterfaces,
            ports: { smtp: 2525 },
            domains: [
                new VirtualDomain(`${name}-domain`, {
                    domain: "example.com",
                    mailboxes: [{ address: "alice", password: PW }],
                }),
            ],
        });

    test("Sieve's mail goes to Postfix's reinject socket in the LMTP volume, in host and bridge mode alike", () => {
        for (const [name, mode, interfaces] of [
            ["host", "host", undefined],
            ["host6", "host", ["2001:db8::25"]],
            ["bridge", "bridge", undefined],
        ] as const) {
            const imap = new DovecotImap(`${name}-imap`, {
                mailServer: server(`${name}-mx`, mode, interfaces && [...interfaces]),
            });
            assert.equal(imap.spec.reinjectSocket, "/run/lmtp/reinject/smtp", name);
            assert.ok(
                imap.spec.reinjectSocket!.startsWith(`${paths.lmtpSocketDir}/`),
                "on the volume only the two share",
            );
        }
    });

    test("vacation limits out of order, or a zero maximum, are refused at preview", () => {
        assert.throws(
            () =>
                new DovecotImap("bad-order", {
                    mailServer: server("bad-order-mx", "host"),
                    vacation: { minPeriod: "10d", defaultPeriod: "2d" },
                }),
            (e: Error) =>
                e instanceof MailConfigError &&
                /^DovecotImap bad-order: vacation = .*"minPeriod":"10d".*minPeriod <= defaultPeriod <= maxPeriod/.test(
                    e.message,
                ),
        );
        assert.throws(
            () =>
                new DovecotImap("zero-max", {
                    mailServer: server("zero-max-mx", "host"),
                    vacation: { minPeriod: "0d", defaultPeriod: "0d", maxPeriod: "0d" },
                }),
            (e: Error) => e instanceof MailConfigError && /vacation\.maxPeriod = "0d" .*longer than 0/.test(e.message),
        );
        assert.deepEqual(
            new DovecotImap("same", {
                mailServer: server("same-mx", "host"),
                vacation: { minPeriod: "1d", defaultPeriod: "1d", maxPeriod: "1d" },
            }).spec.vacation,
            { minPeriod: "1d", defaultPeriod: "1d", maxPeriod: "1d" },
        );
    });
});
