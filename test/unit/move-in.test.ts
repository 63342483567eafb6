// The move-in plan (scripts/lib/move-in.ts): what is accepted, what doveadm is given. The copy
// itself is proven on real Dovecots by test/live/movein.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { doveadmArgs, imapcConfig, readMoveInPlan } from "../../scripts/lib/move-in";

const PASSWORD = 'pa"ss\\word-Old-1';
const plan = (
    source: Record<string, unknown>,
    mailboxes: unknown = [{ address: "Alice@Example.com", login: "alice", password: PASSWORD }],
) => ({ source, mailboxes });
const refusal = (json: unknown) => {
    try {
        readMoveInPlan(json);
    } catch (e) {
        return (e as Error).message;
    }
    return "accepted";
};

describe("move-in plan", () => {
    test("defaults: imaps on 993; addresses lower-cased", () => {
        assert.deepEqual(readMoveInPlan(plan({ host: "imap.old.example" })), {
            source: { host: "imap.old.example", port: 993, tls: "imaps" },
            mailboxes: [{ address: "alice@example.com", login: "alice", password: PASSWORD }],
        });
        assert.equal(readMoveInPlan(plan({ host: "imap.old.example", tls: "starttls" })).source.port, 143);
    });

    test("no clear-text logins across a network; bad fields named, passwords never shown", () => {
        assert.match(
            refusal(plan({ host: "imap.old.example", tls: "none" })),
            /^move-in plan: source.tls = "none" is not accepted; expected "imaps" or "starttls": the passwords would cross the network/,
        );
        assert.equal(readMoveInPlan(plan({ host: "127.0.0.91", port: 32643, tls: "none" })).source.tls, "none");
        assert.match(refusal(plan({ host: "imap.old.example", port: 0 })), /source.port = 0 is not accepted/);
        const noPassword = refusal(
            plan({ host: "x.example" }, [{ address: "a@example.com", login: "a", password: "" }]),
        );
        assert.match(noPassword, /mailboxes\[0\]\.password = "\(a secret\)" is not accepted/);
        assert.match(
            refusal(
                plan({ host: "x.example" }, [
                    { address: "a@example.com", login: "a", password: "p" },
                    { address: "A@example.com", login: "b", password: "q" },
                ]),
            ),
            /mailboxes\[1\]\.address = "a@example.com" is not accepted; each mailbox may be listed once/,
        );
    });

    test("the config includes the stack's and quotes the login and password; doveadm gets no secret", () => {
        const p = readMoveInPlan(plan({ host: "127.0.0.91", port: 32643, tls: "none" }));
        const conf = imapcConfig(p.source, p.mailboxes[0], "/tmp/x.conf");
        assert.deepEqual(conf.split("\n").slice(0, 2), [
            "dovecot_config_version = 2.4.0",
            "!include /etc/dovecot/dovecot.conf",
        ]);
        assert.ok(conf.includes('imapc_password = "pa\\"ss\\\\word-Old-1"'), conf);
        assert.ok(conf.includes("imapc_ssl = no\n") && conf.includes("imapc_port = 32643\n"));
        const args = doveadmArgs("/tmp/x.conf", "alice@example.com", false);
        assert.deepEqual(args, ["doveadm", "-c", "/tmp/x.conf", "backup", "-R", "-u", "alice@example.com", "imapc:"]);
        assert.deepEqual(doveadmArgs("/tmp/x.conf", "alice@example.com", true).slice(3, 6), ["sync", "-1", "-R"]);
        assert.ok(!args.join(" ").includes("word"));
        assert.ok(conf.includes("ssl_client_ca_dir = /etc/ssl/certs\n"), "the system's CAs by default");
    });

    test("a source CA of the plan's own: checked, and the only CA the source's certificate may chain to", () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        const p = readMoveInPlan(plan({ host: "imap.old.example", caPem: pem }));
        const conf = imapcConfig(p.source, p.mailboxes[0], "/tmp/x.conf");
        assert.ok(conf.includes("ssl_client_ca_file = /tmp/x.conf.ca.pem\n") && !conf.includes("ssl_client_ca_dir"));
        assert.ok(conf.includes("ssl_client_require_valid_cert = yes\n") && conf.includes("imapc_ssl = imaps\n"));
        assert.match(
            refusal(plan({ host: "imap.old.example", caPem: "not a certificate" })),
            /source\.caPem = "not a certificate" is not accepted; expected the PEM of the CA/,
        );
        assert.match(
            refusal(plan({ host: "127.0.0.1", tls: "none", caPem: pem })),
            /source\.caPem = "\(given\)" is not accepted; expected no CA with tls "none"/,
        );
    });
});
