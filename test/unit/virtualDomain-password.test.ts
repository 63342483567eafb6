// The password length check lives in the VirtualDomain component (not in validateDomain), so this
// file constructs the component under Pulumi mocks. It runs in its own process (node --test runs
// each file separately), so the mocks do not leak into other tests.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { hashPassword } from "../../components/model/password";
import { Credential } from "../../components/model/spec";
import { MailConfigError } from "../../components/model/validator";
import { MIN_PASSWORD_LENGTH, VirtualDomain } from "../../components/virtualDomain";
import { mockKeyState } from "../components/mock-keys";

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

function resolve<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise(res =>
        output.apply(value => {
            res(value);
            return value;
        }),
    );
}

describe("VirtualDomain password check", () => {
    test("a password shorter than 12 characters is refused without printing it", () => {
        assert.equal(MIN_PASSWORD_LENGTH, 12);
        const password = "Short-Pw-11";
        assert.equal(password.length, 11);
        let error: unknown;
        try {
            new VirtualDomain("corp", { domain: "example.com", mailboxes: [{ address: "alice", password }] });
        } catch (e) {
            error = e;
        }
        assert.ok(error instanceof MailConfigError, `expected a MailConfigError, got ${String(error)}`);
        assert.ok(error.message.startsWith("VirtualDomain corp: mailboxes[0].password = "), error.message);
        assert.ok(error.message.includes("(a secret of 11 characters)"));
        assert.match(error.message, /expected a password of at least 12 characters/);
        assert.ok(!error.message.includes(password), "the message prints the password");
        assert.ok(!error.message.includes("Short"), "the message prints part of the password");
    });

    test("the second mailbox's short password names its own field", () => {
        assert.throws(
            () =>
                new VirtualDomain("corp2", {
                    domain: "example.com",
                    mailboxes: [
                        { address: "alice", password: "a-long-enough-password" },
                        { address: "bob", password: "" },
                    ],
                }),
            (e: unknown) =>
                e instanceof MailConfigError &&
                e.message.startsWith("VirtualDomain corp2: mailboxes[1].password = ") &&
                e.message.includes("(a secret of 0 characters)"),
        );
    });

    test("a missing password is refused before any resource is registered", () => {
        assert.throws(
            () => new VirtualDomain("corp3", { domain: "example.com", mailboxes: [{ address: "alice" } as any] }),
            (e: unknown) =>
                e instanceof MailConfigError &&
                e.message ===
                    "VirtualDomain corp3: mailboxes[0].password = (missing) is not accepted; every mailbox needs a password (a Pulumi secret) or a passwordHash",
        );
    });

    test("a 12-character password is accepted and only its stable hash is exposed", async () => {
        const password = "Exactly-12ch";
        assert.equal(password.length, 12);
        const d = new VirtualDomain("ok", {
            domain: "Example.com",
            mailboxes: [{ address: "Alice", password, quota: "1G" }],
        });
        assert.equal(d.spec.mailboxes[0].address, "alice@example.com");
        assert.ok(!JSON.stringify(d.spec).includes(password), "the spec holds no password");
        const credentials: Credential[] = await resolve(d.credentials);
        assert.deepEqual(credentials, [
            { address: "alice@example.com", hash: hashPassword("alice@example.com", password) },
        ]);
        assert.ok(!JSON.stringify(credentials).includes(password));
    });
});
