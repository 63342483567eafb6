// policy/parse.ts as a parser: the syntax of main.cf, master.cf and dovecot.conf beyond what the
// renderers emit. The expectations are what postconf -n/-F/-P (Postfix 3.10) and doveconf -n
// (Dovecot 2.4.1) print for the same text; test/live/config-parsers.test.ts checks the deployed
// generation against them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseMainCf, readDovecotConf, readMainCf, readMasterCf } from "../../policy/parse";

describe("main.cf", () => {
    test("comments, blank lines, continuation lines, every assignment in order, the last one wins", () => {
        const main = readMainCf(
            [
                "# a comment",
                "myhostname = mail.example.com",
                "   # an indented comment line is still a comment",
                "",
                "mynetworks = 127.0.0.0/8,",
                "    [::1]/128",
                "\t192.0.2.0/24",
                "smtpd_banner = $myhostname ESMTP # not a comment: Postfix keeps it",
                "relayhost =",
                "myhostname=mx.example.com  ",
            ].join("\n"),
        );
        assert.deepEqual(main.errors, []);
        assert.deepEqual(
            main.assignments.map(a => [a.key, a.line]),
            [
                ["myhostname", 2],
                ["mynetworks", 5],
                ["smtpd_banner", 8],
                ["relayhost", 9],
                ["myhostname", 10],
            ],
        );
        assert.equal(main.values.get("mynetworks"), "127.0.0.0/8, [::1]/128 192.0.2.0/24");
        assert.equal(main.values.get("smtpd_banner"), "$myhostname ESMTP # not a comment: Postfix keeps it");
        assert.equal(main.values.get("relayhost"), "");
        assert.equal(main.values.get("myhostname"), "mx.example.com");
    });

    test("lines that are not key = value are errors (and skipped by the lenient parseMainCf)", () => {
        const text = "  leading = continuation\nmyhostname = a.example\njust words\n= value\n";
        const main = readMainCf(text);
        assert.equal(main.errors.length, 3, main.errors.join("\n"));
        assert.match(main.errors[0], /^line 1: continuation/);
        assert.match(main.errors[1], /^line 3: not "key = value"/);
        assert.deepEqual([...parseMainCf(text)], [["myhostname", "a.example"]]);
    });
});

describe("master.cf", () => {
    test("columns, arguments, -o overrides including Postfix 3 { } groups", () => {
        const master = readMasterCf(
            [
                "# service type private unpriv chroot wakeup maxproc command + args",
                "submission inet n - n - - smtpd",
                "  -o syslog_name=postfix/submission",
                "  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }",
                "  -o smtpd_tls_security_level=encrypt -o smtpd_tls_security_level=may",
                "pipe-it unix - n n - - pipe flags=F user=nobody argv=/bin/cat ${recipient}",
            ].join("\n"),
        );
        assert.deepEqual(master.errors, []);
        const [sub, pipe] = master.services;
        assert.deepEqual(sub.columns, ["submission", "inet", "n", "-", "n", "-", "-", "smtpd"]);
        assert.equal(sub.command, "smtpd");
        assert.equal(sub.line, 2);
        assert.deepEqual(
            sub.overrides.map(o => [o.key, o.value]),
            [
                ["syslog_name", "postfix/submission"],
                ["smtpd_client_restrictions", "permit_sasl_authenticated, reject"],
                ["smtpd_tls_security_level", "encrypt"],
                ["smtpd_tls_security_level", "may"],
            ],
        );
        assert.equal(sub.options.get("smtpd_tls_security_level"), "may", "the last -o wins");
        assert.deepEqual(pipe.args, ["flags=F", "user=nobody", "argv=/bin/cat", "${recipient}"]);
        assert.equal(pipe.options.size, 0);
    });

    test("short lines, an unclosed { and a bare -o are errors", () => {
        const master = readMasterCf("smtp inet n - n - - smtpd -o\nshort inet n\nx unix - - n - - smtp -o { a = b\n");
        assert.equal(master.errors.length, 3, master.errors.join("\n"));
        assert.match(master.errors[0], /^line 1: "-o" without/);
        assert.match(master.errors[1], /^line 2: fewer than 8 columns/);
        assert.match(master.errors[2], /^line 3: unclosed "\{"/);
        assert.deepEqual(
            master.services.map(s => s.name),
            ["smtp"],
        );
    });
});

describe("dovecot.conf", () => {
    test("sections, quotes, comments outside quotes, continuation lines", () => {
        const conf = readDovecotConf(
            [
                "# comment",
                "protocols = imap lmtp # a trailing comment",
                'login_greeting = "ready # not a comment"',
                "quota_exceeded_message = 'over \\quota'",
                "auth_mechanisms = plain \\",
                "  login",
                "namespace inbox {",
                "  mailbox Drafts {",
                "    special_use = \\Drafts",
                "  }",
                "}",
                'quota   "User quota"   {',
                "  driver = count",
                "}",
                'escaped = "a \\"b\\" \\\\c"',
                "empty =",
                "!include_try /etc/dovecot/local.conf",
            ].join("\n"),
        );
        assert.deepEqual(conf.errors, []);
        const got = conf.settings.map(s => [[...s.sections, s.key].join(" > "), s.value, s.line]);
        assert.deepEqual(got, [
            ["protocols", "imap lmtp", 2],
            ["login_greeting", "ready # not a comment", 3],
            ["quota_exceeded_message", "over quota", 4],
            ["auth_mechanisms", "plain login", 5],
            ["namespace inbox > mailbox Drafts > special_use", "\\Drafts", 9],
            ['quota "User quota" > driver', "count", 13],
            ["escaped", 'a "b" \\c', 15],
            ["empty", "", 16],
        ]);
    });

    test("unbalanced braces and unreadable lines are errors", () => {
        assert.deepEqual(readDovecotConf("}\n").errors, ['line 1: "}" without an open section']);
        assert.match(readDovecotConf("service imap {\n  port = 1\n").errors[0], /unclosed section: service imap/);
        assert.match(readDovecotConf("just words\n").errors[0], /^line 1: not "key = value"/);
    });
});
