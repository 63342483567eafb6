// Sieve's outgoing mail on Kubernetes: Dovecot's pod cannot reach Postfix's reinject socket in this
// phase, so the mailbox rules that would send mail are refused at preview (options/kubernetes.ts),
// naming the mailbox, the field and what is accepted; rules that send nothing pass.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { MailServerArgs } from "../../components/args";
import { sieveSendsMail } from "../../components/model/sieve";
import { MailConfigError, Validator } from "../../components/model/validator";
import { applyKubernetes } from "../../components/options/kubernetes";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateDomain } from "../../components/options/validateVirtualDomain";

const IMAGES = { postfix: "p:1", rspamd: "r:1", valkey: "v:1", dovecot: "d:1" };
const mailbox = (extra: Record<string, unknown>) => ({
    address: "alice",
    password: "a-long-enough-password",
    ...extra,
});
function server(box: Record<string, unknown>, kubernetes: unknown = { namespace: "mail" }) {
    const spec = validateDomain(new Validator("VirtualDomain corp"), {
        domain: "example.com",
        mailboxes: [mailbox(box)],
    });
    const v = new Validator("MailServer t");
    const args = {
        hostname: "mail.example.com",
        domains: [{ spec }],
        images: IMAGES,
        ...(kubernetes === null ? {} : { kubernetes }),
        outboundTls: { mtaSts: false },
    } as unknown as MailServerArgs;
    return applyKubernetes(v, validateMailServer(v, "t", args), kubernetes ?? undefined, IMAGES);
}
const ACCEPTED = /is not accepted; expected Sieve rules that send no mail on Kubernetes.*reinject socket.*forwards/;

describe("Sieve mail on Kubernetes: refused at preview", () => {
    test("a typed vacation reply", () => {
        assert.throws(
            () => server({ vacation: { subject: "Away", body: "Back on Monday" } }),
            (e: unknown) => {
                assert.ok(e instanceof MailConfigError, String(e));
                assert.ok(
                    e.message.startsWith(
                        'MailServer t: domains[0] (example.com) mailboxes[0] (alice@example.com).vacation = "Away" ',
                    ),
                    e.message,
                );
                assert.match(e.message, ACCEPTED);
                return true;
            },
        );
    });
    test("a script that redirects, replies or rejects", () => {
        for (const [script, uses] of [
            ['redirect "bob@example.org";\n', "redirect"],
            ['require "vacation";\nvacation "Away";\n', "vacation"],
            ['require ["fileinto", "reject"];\nreject "no";\n', "reject"],
        ])
            assert.throws(
                () => server({ sieveScript: script }),
                new RegExp(
                    `mailboxes\\[0\\] \\(alice@example\\.com\\)\\.sieveScript = "\\(a script using ${uses}\\)" ${ACCEPTED.source}`,
                ),
            );
    });
    test("rules that send nothing pass, and on Docker everything passes", () => {
        const filing = 'require "fileinto";\n# redirect "x@example.org"; (a comment)\nfileinto "Lists";\n';
        assert.ok(server({ sieveScript: filing }));
        assert.ok(server({ fileInto: [{ header: "List-Id", contains: "dev", folder: "Lists" }] }));
        assert.ok(server({ vacation: { subject: "Away", body: "Back on Monday" } }, null));
    });
    test("sieveSendsMail reads commands, not strings or comments", () => {
        assert.deepEqual(sieveSendsMail('require ["vacation", "enotify"];\nredirect "a@b.c";\n'), [
            "vacation",
            "enotify",
            "redirect",
        ]);
        assert.deepEqual(sieveSendsMail('if header :contains "subject" "redirect" { keep; }\n'), []);
    });
});
