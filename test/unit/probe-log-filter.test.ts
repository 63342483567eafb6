// images/common/drop-probe-lines: it drops exactly the log lines the container's own healthcheck
// causes, keeps every other line whole and in order. Run with the same mawk the images use.
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const FILTER = path.resolve(__dirname, "..", "..", "images", "common", "drop-probe-lines");

/** Runs the filter over `lines` with /run/mail/probe-address replaced by a temporary file. */
function filter(lines: string[], probeAddress: string | undefined): string[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "probe-filter-"));
    const probeFile = path.join(dir, "probe-address");
    if (probeAddress !== undefined) fs.writeFileSync(probeFile, `${probeAddress}\n`);
    const program = fs.readFileSync(FILTER, "utf8").replace('"/run/mail/probe-address"', JSON.stringify(probeFile));
    const r = spawnSync("mawk", ["-W", "interactive", program], { input: lines.join("\n") + "\n", encoding: "utf8" });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean);
}

const probeSmtp = (pid: number, addr = "127.0.0.1") => [
    `Nov 28 07:33:54 mail postfix/smtp/smtpd[${pid}]: connect from localhost[${addr}]`,
    `Nov 28 07:33:54 mail postfix/smtp/smtpd[${pid}]: disconnect from localhost[${addr}] quit=1 commands=1`,
];
const probeImap = (addr = "127.0.0.1") =>
    `imap-login: Info: Login aborted: Logged out (no auth attempts in 0 secs) (no_auth_attempts): user=<>, rip=${addr}, lip=${addr}, secured, session=<Hkw3MFFh6sF/AAAB>`;

test("the probe's SMTP session and IMAP logout are dropped", () => {
    assert.deepEqual(filter([...probeSmtp(304), probeImap(), ...probeSmtp(304)], "127.0.0.1"), []);
    assert.deepEqual(filter([...probeSmtp(7, "::1"), probeImap("::1")], "::1"), []);
});

test("a real session from the same address is kept whole and in order", () => {
    const real = [
        "Nov 28 mail postfix/smtp/smtpd[305]: connect from localhost[127.0.0.1]",
        "Nov 28 mail postfix/smtp/smtpd[305]: 4XyZ: client=localhost[127.0.0.1]",
        "Nov 28 mail postfix/smtp/smtpd[305]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
    ];
    assert.deepEqual(filter(real, "127.0.0.1"), real);
    // A session that said more than QUIT, or a QUIT-only session with more commands, is kept.
    const ehloOnly = [
        real[0],
        "Nov 28 mail postfix/smtp/smtpd[305]: disconnect from localhost[127.0.0.1] ehlo=1 quit=1 commands=2",
    ];
    assert.deepEqual(filter(ehloOnly, "127.0.0.1"), ehloOnly);
    const tenCommands = [
        real[0],
        "Nov 28 mail postfix/smtp/smtpd[305]: disconnect from localhost[127.0.0.1] quit=1 commands=10",
    ];
    assert.deepEqual(filter(tenCommands, "127.0.0.1"), tenCommands);
});

test("sessions from other addresses, and every line when no probe ran yet, are kept", () => {
    const outsider = [...probeSmtp(9, "127.0.0.2"), probeImap("127.0.0.2")];
    assert.deepEqual(filter(outsider, "127.0.0.1"), outsider);
    const lines = [...probeSmtp(9), probeImap()];
    assert.deepEqual(filter(lines, undefined), lines);
    // A failed login from the probe's address is not a probe.
    const failed =
        "imap-login: Info: Login aborted: Logged out (auth failed, 1 attempts in 2 secs) (auth_failed): user=<bob>, rip=127.0.0.1, lip=127.0.0.1";
    assert.deepEqual(filter([failed], "127.0.0.1"), [failed]);
});

test("a connect line held back is printed when its session goes on, other sessions interleaved", () => {
    const lines = [
        "a postfix/smtpd[1]: connect from localhost[127.0.0.1]",
        "b postfix/qmgr[2]: 4XyZ: removed",
        "c postfix/smtpd[1]: lost connection after CONNECT from localhost[127.0.0.1]",
        "d postfix/smtpd[1]: disconnect from localhost[127.0.0.1] commands=0/0",
    ];
    assert.deepEqual(filter(lines, "127.0.0.1"), [lines[1], lines[0], lines[2], lines[3]]);
});

const rspamdProbe = (tag: string) => [
    `2026-12-07 02:46:20 #3275(normal) <${tag}>; task; rspamd_task_write_log: id: <undef>, qid: <mailserver-healthcheck>, (default: F (no action): [0.00/15.00] []), len: 48, time: 0.494ms, dns req: 0, digest: <dc82308a03ec934b81f1a0bdab7cd4f8>, file: stdin`,
    `2026-12-07 02:46:20 #3275(normal) <${tag}>; task; rspamd_protocol_http_reply: regexp statistics: 0 pcre regexps scanned, 0 regexps matched, 180 regexps total, 0 regexps cached, 0B scanned using pcre, 0B scanned total`,
];

test("rspamd: the probe's scan (queue id mailserver-healthcheck) leaves no line; a real scan keeps both", () => {
    assert.deepEqual(filter([...rspamdProbe("17c30e"), ...rspamdProbe("ede9c5")], undefined), []);
    const real = [
        "2026-12-07 02:47:01 #3275(normal) <a1b2c3>; task; rspamd_task_write_log: id: <m1@example.com>, qid: <4XyZ>, ip: 192.0.2.1, (default: F (no action): [1.10/15.00] [R_SPF_ALLOW(-0.20)]), len: 900, time: 31.2ms, dns req: 4, digest: <00>, mime_rcpts: <bob@example.test>",
        "2026-12-07 02:47:01 #3275(normal) <a1b2c3>; task; rspamd_protocol_http_reply: regexp statistics: 3 pcre regexps scanned, 1 regexps matched, 180 regexps total, 0 regexps cached, 2KB scanned using pcre, 2KB scanned total",
    ];
    assert.deepEqual(filter([rspamdProbe("17c30e")[0], ...real, rspamdProbe("17c30e")[1]], undefined), real);
});
