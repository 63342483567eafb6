// Live proof of the classic Postfix guide features: virtual domains (catch-all, aliases,
// delimiter, postmaster/abuse), system aliases and admin notices, limits and timers,
// masquerading, VRFY, listening addresses, and the queue operations CLI.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import {
    assertCleanLogs,
    caFile,
    countBySubject,
    dialog,
    fetchBySubject,
    OUTSIDER,
    smtp,
    uniqueSubject,
} from "./clients";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom, ROOT } from "./stack";

const PREFIX = "pftest";
const PORTS = portsFrom(26000);
const SIZE_LIMIT = 1024 * 1024;
const alice = { address: "alice@example.test", password: "alice-Secret-2026!" };
const bob = { address: "bob@example.test", password: "bob-Secret-2026!xx" };
const carol = { address: "carol@example.org", password: "carol-Secret-2026!" };
const dave = { address: "dave@example.org", password: "dave-Secret-2026!!" };
let ca: string;

const config = liveConfig(
    {
        "mailserver:domains": [
            {
                domain: "example.test",
                mailboxes: [{ address: "alice", aliases: ["info"] }, { address: "bob" }],
                aliases: [{ address: "team", targets: [alice.address, bob.address] }],
            },
            {
                domain: "example.org",
                mailboxes: [{ address: "carol" }, { address: "dave" }],
                aliases: [{ address: "sales", targets: [carol.address] }],
                catchAll: "dave",
            },
        ],
        "mailserver:passwords": Object.fromEntries([alice, bob, carol, dave].map(u => [u.address, u.password])),
        "mailserver:adminAddress": bob.address,
        "mailserver:notifyClasses": ["bounce", "2bounce", "delay", "resource", "software"],
        "mailserver:messageSizeLimit": SIZE_LIMIT,
        "mailserver:maximalQueueLifetime": "2d",
        "mailserver:bounceQueueLifetime": "1d",
        "mailserver:delayWarningTime": "20s",
        "mailserver:masqueradeDomains": ["example.test"],
    },
    PREFIX,
    26000,
);

const read = (user: { address: string; password: string }, subject: string, mailbox = "INBOX") =>
    fetchBySubject(user, subject, "imaps", ca, mailbox, 20_000, PORTS);
const report = (line: string) => process.stdout.write(`# ${line}\n`);
const exec = (...argv: string[]) => spawnSync("docker", ["exec", `${PREFIX}-postfix`, ...argv], { encoding: "utf8" });
const queue = (...argv: string[]) =>
    spawnSync(
        path.join(ROOT, "node_modules", ".bin", "tsx"),
        [path.join(ROOT, "scripts", "queue.ts"), ...argv, "--container", `${PREFIX}-postfix`],
        { encoding: "utf8", cwd: ROOT },
    );

function queuedIds(): string[] {
    const out = exec("postqueue", "-j").stdout.trim();
    return out ? out.split("\n").map(l => JSON.parse(l).queue_id) : [];
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (check()) return;
        await new Promise(r => setTimeout(r, 500));
    }
    assert.fail(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

describe("Postfix features, live", () => {
    before(() => {
        destroy(PREFIX);
        ca = caFile(deploy(config).outputs.certificatePem, PREFIX);
    });
    after(() => destroy(PREFIX));

    test("the running Postfix has the configured limits and timers (postconf -n)", () => {
        const r = exec("postconf", "-n");
        assert.equal(r.status, 0, r.stderr);
        for (const line of [
            `message_size_limit = ${SIZE_LIMIT}`,
            "maximal_queue_lifetime = 2d",
            "bounce_queue_lifetime = 1d",
            "delay_warning_time = 20s",
            "masquerade_domains = example.test",
            "disable_vrfy_command = yes",
            "recipient_delimiter = +",
            "inet_interfaces = 127.0.0.1",
            "mynetworks = 127.0.0.1/32",
        ]) {
            assert.ok(r.stdout.split("\n").includes(line), `postconf -n lacks "${line}"`);
        }
    });

    test("a message over message_size_limit gets 552 at DATA", () => {
        const body = path.join(ARTIFACTS, "big-body.txt");
        fs.writeFileSync(body, ("x".repeat(76) + "\r\n").repeat(Math.ceil((SIZE_LIMIT * 1.2) / 78)));
        const r = smtp({
            port: PORTS.smtp,
            source: OUTSIDER,
            from: "big@sender.example",
            to: alice.address,
            body: `@${body}`,
        });
        const reply = r.replies.find(l => /^552 /.test(l));
        assert.ok(reply, r.transcript.slice(-2000));
        assert.match(reply!, /^552 5\.3\.4 .*(too big|size exceeds)/i);
    });

    test("VRFY answers 502", async () => {
        const lines = await dialog(PORTS.smtp, ["EHLO client.example", "VRFY alice@example.test", "QUIT"]);
        assert.match(lines.find(l => l.startsWith("502")) ?? lines.join("\n"), /^502 5\.5\.1 VRFY command is disabled/);
    });

    test("Postfix listens on the configured address only (inet_interfaces)", async () => {
        assert.equal(await canConnect("127.0.0.1", PORTS.smtp), true);
        assert.equal(await canConnect("127.0.0.3", PORTS.smtp), false);
    });

    test("aliases with several targets, sub-addresses and mailbox aliases deliver where they should", async () => {
        const subject = uniqueSubject("to team");
        assert.equal(
            smtp({ port: PORTS.smtp, source: OUTSIDER, from: "x@sender.example", to: "team@example.test", subject })
                .status,
            0,
        );
        await read(alice, subject);
        await read(bob, subject);
        const tagged = uniqueSubject("tagged");
        assert.equal(
            smtp({
                port: PORTS.smtp,
                source: OUTSIDER,
                from: "x@sender.example",
                to: "alice+news@example.test",
                subject: tagged,
            }).status,
            0,
        );
        // Delivered into alice's own mailbox; the tag stays visible to her (and to her Sieve rules).
        assert.match(await read(alice, tagged), /^Delivered-To: alice\+news@example\.test/m);
        const info = uniqueSubject("to info");
        assert.equal(
            smtp({
                port: PORTS.smtp,
                source: OUTSIDER,
                from: "x@sender.example",
                to: "info@example.test",
                subject: info,
            }).status,
            0,
        );
        await read(alice, info);
    });

    test("the catch-all takes unknown addresses only, never mailboxes or aliases", async () => {
        const subjects = {
            carol: uniqueSubject("to carol"),
            sales: uniqueSubject("to sales"),
            other: uniqueSubject("to someone"),
        };
        for (const [to, subject] of [
            [carol.address, subjects.carol],
            ["sales@example.org", subjects.sales],
            ["someone-else@example.org", subjects.other],
        ]) {
            assert.equal(smtp({ port: PORTS.smtp, source: OUTSIDER, from: "x@sender.example", to, subject }).status, 0);
        }
        await read(carol, subjects.carol);
        await read(carol, subjects.sales);
        await read(dave, subjects.other);
        assert.equal(
            await countBySubject(dave, subjects.carol, ca, PORTS),
            0,
            "the catch-all must not take a mailbox's mail",
        );
        assert.equal(
            await countBySubject(dave, subjects.sales, ca, PORTS),
            0,
            "the catch-all must not take an alias's mail",
        );
    });

    test("postmaster@ and abuse@ of every domain, and root@ the host, reach the admin mailbox", async () => {
        for (const to of [
            "postmaster@example.test",
            "abuse@example.org",
            "postmaster@example.org",
            "root@mail.example.test",
        ]) {
            const subject = uniqueSubject(`to ${to}`);
            const r = smtp({ port: PORTS.smtp, source: OUTSIDER, from: "x@sender.example", to, subject });
            assert.equal(r.status, 0, r.transcript);
            await read(bob, subject);
        }
    });

    test("masquerade_domains rewrites user@host.example.test to user@example.test", async () => {
        const subject = uniqueSubject("masquerade");
        const r = smtp({
            port: PORTS.smtp,
            from: "clerk@host.example.test",
            to: alice.address,
            subject,
            headers: ["From: clerk@host.example.test"],
        });
        assert.equal(r.status, 0, r.transcript);
        const source = await read(alice, subject);
        assert.match(source, /^Return-Path: <clerk@example\.test>/m);
        assert.match(source, /^From: clerk@example\.test/m);
    });

    test("submission privacy: 587 and 465 drop the client's HELO, address and mail-client headers; port 25 and attached messages keep them", async () => {
        const CLIENT = "127.0.0.6"; // an address no other scenario uses, so finding it means it leaked
        const message = (subject: string) =>
            [
                `From: ${alice.address}`,
                `To: ${bob.address}`,
                `Subject: ${subject}`,
                "User-Agent: SecretMailer/1.0 (secret-laptop)",
                "X-Mailer: SecretMailer 1.0",
                "X-Originating-IP: [198.51.100.77]",
                "MIME-Version: 1.0",
                'Content-Type: multipart/mixed; boundary="b1"',
                "",
                "--b1",
                "Content-Type: text/plain",
                "",
                "See the forwarded message.",
                "--b1",
                "Content-Type: message/rfc822",
                "",
                "Received: from inner.example by relay.example; Mon, 1 Jan 2024 00:00:00 +0000",
                "User-Agent: InnerAgent/2.0",
                "X-Mailer: InnerMailer",
                "X-Originating-IP: [203.0.113.9]",
                "Subject: the attached one",
                "",
                "inner body",
                "--b1--",
                "",
            ].join("\r\n");
        const headerBlock = (source: string) => source.split(/\r?\n\r?\n/)[0];
        const attached = (source: string) => source.slice(source.indexOf("Content-Type: message/rfc822"));
        const sent: Record<string, string> = {};
        for (const [name, port, tls] of [
            ["587", PORTS.submission, "starttls"],
            ["465", PORTS.smtps, "implicit"],
        ] as const) {
            const subject = uniqueSubject(`private via ${name}`);
            const file = path.join(ARTIFACTS, `privacy-${name}.eml`);
            fs.writeFileSync(file, message(subject));
            const r = smtp({
                port,
                source: CLIENT,
                tls,
                ca,
                auth: alice,
                from: alice.address,
                to: bob.address,
                args: ["--ehlo", "secret-laptop.example", "--data", `@${file}`],
            });
            assert.equal(r.status, 0, r.transcript);
            sent[name] = subject;
        }
        for (const [name, subject] of Object.entries(sent)) {
            const source = await read(bob, subject);
            const headers = headerBlock(source);
            assert.doesNotMatch(headers, /secret-laptop/, `${name}: the HELO name leaked:\n${headers}`);
            assert.doesNotMatch(headers, /127\.0\.0\.6/, `${name}: the client address leaked:\n${headers}`);
            assert.doesNotMatch(headers, /^(User-Agent|X-Mailer|X-Originating-IP):/im, `${name}:\n${headers}`);
            // Dovecot's own Received line (LMTP delivery) is all that is left of the trace.
            assert.ok(headers.split(/\r?\n/).filter(l => /^Received:/i.test(l)).length <= 1, `${name}:\n${headers}`);
            // The attached message is someone else's record: untouched (nested_header_checks off).
            const inner = attached(source);
            for (const h of [
                /^Received: from inner\.example/m,
                /^User-Agent: InnerAgent/m,
                /^X-Mailer: InnerMailer/m,
                /^X-Originating-IP: \[203\.0\.113\.9\]/m,
            ])
                assert.match(inner, h, `${name}: attached message`);
            report(
                `via ${name}: no HELO name, client address, User-Agent, X-Mailer or X-Originating-IP; attached message intact`,
            );
        }

        // Port 25 (other servers' mail): the trace and the headers stay.
        const subject = uniqueSubject("not private via 25");
        const file = path.join(ARTIFACTS, "privacy-25.eml");
        fs.writeFileSync(file, message(subject).replace(`From: ${alice.address}`, "From: x@sender.example"));
        const r = smtp({
            port: PORTS.smtp,
            source: CLIENT,
            from: "x@sender.example",
            to: bob.address,
            args: ["--ehlo", "secret-laptop.example", "--data", `@${file}`],
        });
        assert.equal(r.status, 0, r.transcript);
        const headers = headerBlock(await read(bob, subject));
        assert.match(headers, /^Received: from secret-laptop\.example \(.*\[127\.0\.0\.6\]\)/m, headers);
        assert.match(headers, /^User-Agent: SecretMailer/m);
        assert.match(headers, /^X-Mailer: SecretMailer/m);
        assert.match(headers, /^X-Originating-IP: \[198\.51\.100\.77\]/m);
    });

    test("a bounce reaches the sender, and a copy reaches the admin", async () => {
        const subject = uniqueSubject("will bounce");
        const r = spawnSync(
            "docker",
            ["exec", "-i", `${PREFIX}-postfix`, "sendmail", "-f", alice.address, "nobody@example.test"],
            { input: `Subject: ${subject}\n\nno such user\n`, encoding: "utf8" },
        );
        assert.equal(r.status, 0, r.stderr);
        const bounce = await read(alice, "Undelivered Mail Returned to Sender");
        assert.match(bounce, new RegExp(subject.split(" ").pop()!));
        assert.match(await read(bob, "Postmaster Copy: Undelivered Mail"), /nobody@example\.test/);
    });

    test("queue operations: a deferred message is listed, warns of delay, is flushed, deleted; delete-all; reload", async () => {
        // From a trusted client to an address literal nobody listens on: deferred, never bounced.
        const subject = uniqueSubject("deferred");
        const sent = smtp({ port: PORTS.smtp, from: alice.address, to: "someone@[127.0.0.9]", subject });
        assert.equal(sent.status, 0, sent.transcript);
        await waitFor("the message to be deferred", () => queuedIds().length === 1);
        const [id] = queuedIds();
        const listed = queue("list");
        assert.equal(listed.status, 0, listed.stderr);
        assert.match(listed.stdout, new RegExp(`^${id}\\*?\\s`, "m"));
        assert.match(listed.stdout, /someone@\[127\.0\.0\.9\]/);

        // delay_warning_time is 20s: after that, a retry (flush) sends the delay notice.
        await new Promise(r => setTimeout(r, 21_000));
        assert.equal(queue("flush").status, 0);
        assert.match(await read(alice, "Delayed Mail (still being retried)", "INBOX"), /someone@\[127\.0\.0\.9\]/);
        assert.match(await read(bob, "Postmaster Warning: Delayed Mail"), /someone@\[127\.0\.0\.9\]/);
        assert.deepEqual(queuedIds(), [id], "still queued after the flush: deferred, not bounced");

        const del = queue("delete", id);
        assert.equal(del.status, 0, del.stderr);
        assert.match(del.stderr, /postsuper: Deleted: 1 message/);
        assert.deepEqual(queuedIds(), []);

        for (let i = 0; i < 2; i++) smtp({ port: PORTS.smtp, from: alice.address, to: `someone${i}@[127.0.0.9]` });
        await waitFor("two deferred messages", () => queuedIds().length === 2);
        const all = queue("delete-all");
        assert.match(all.stderr, /postsuper: Deleted: 2 messages/);
        assert.deepEqual(queuedIds(), []);

        const reload = queue("reload");
        assert.equal(reload.status, 0, reload.stderr);
        assert.equal(queue("bogus").status, 2);
    });

    test("the logs hold no unexpected warnings or errors", () => {
        assertCleanLogs(PREFIX, {
            postfix: [
                // the over-size scenario
                /smtpd\[\d+\]: warning: [0-9A-F]+: queue file size limit exceeded/,
                /cleanup\[\d+\]: warning: mail_stream_cleanup: close error/,
                // the deferred-delivery scenario: nothing listens on 127.0.0.9:25, on purpose
                /connect to 127\.0\.0\.9\[127\.0\.0\.9\]:25: Connection refused/,
                // delay_warning_time of 20s (a test setting) shows as "0 hours" in the notice template
                /bounce\[\d+\]: warning: \[built-in\]: zero result in delay template conversion of parameter "delay_warning_time_hours"/,
                /bounce\[\d+\]: warning: please reduce time unit "hours" of "delay_warning_time_hours" in delay template/,
                /bounce\[\d+\]: warning: for instructions see the bounce\(5\) manual/,
            ],
            dovecot: [],
        });
    });
});

function canConnect(host: string, port: number): Promise<boolean> {
    return new Promise(resolve => {
        const s = net.connect({ host, port });
        const done = (ok: boolean) => {
            s.destroy();
            resolve(ok);
        };
        s.setTimeout(3000, () => done(false));
        s.on("connect", () => done(true));
        s.on("error", () => done(false));
    });
}
