// VirtualDomain dkimKeys: keys kept from a former stack or imported from another server sign
// instead of new ones, and the records dnsRecords publishes are made from them. Under Pulumi mocks
// (its own process), with real keys made by node:crypto.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { MailConfigError } from "../../components/model/validator";
import { VirtualDomain } from "../../components/virtualDomain";
import { dkimTxtValue } from "../../components/render/dns";
import { mockKeyState } from "../components/mock-keys";

const registered: Array<{ type: string; name: string }> = [];

before(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource: args => {
                registered.push({ type: args.type, name: args.name });
                return { id: `${args.name}-id`, state: mockKeyState(args) };
            },
            call: args => args.inputs,
        },
        "mailserver",
        "unit",
        false,
    );
});

const resolve = <T>(output: pulumi.Output<T>): Promise<T> => new Promise(res => output.apply(x => (res(x), x)));

const rsa = (bits: number, type: "pkcs1" | "pkcs8" = "pkcs8") =>
    crypto.generateKeyPairSync("rsa", { modulusLength: bits }).privateKey.export({ format: "pem", type }).toString();
const ed25519 = () =>
    crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
const publicPem = (pem: string) => crypto.createPublicKey(pem).export({ format: "pem", type: "spki" }).toString();

const MAILBOXES = [{ address: "alice", passwordHash: `$6$abcdefgh$${"a".repeat(86)}` }];

describe("VirtualDomain dkimKeys", () => {
    test("a kept key replaces the one the domain would make; another selector's key signs beside them", async () => {
        const keptRsa = rsa(2048, "pkcs8");
        const imported = rsa(1024, "pkcs1");
        const d = new VirtualDomain("kept.example", {
            domain: "kept.example",
            mailboxes: MAILBOXES,
            dkimKeys: [
                { selector: "mail-rsa", algorithm: "rsa", privateKeyPem: pulumi.secret(keptRsa) },
                { selector: "mail", algorithm: "rsa", privateKeyPem: pulumi.secret(imported) },
            ],
        });
        const [signing, records, all] = await Promise.all([
            resolve(d.dkimSigningKeys),
            resolve(d.dnsRecords),
            resolve(d.dkimKeys),
        ]);
        const keyNames = registered.filter(r => r.type === "tls:index/privateKey:PrivateKey").map(r => r.name);
        assert.deepEqual(keyNames, ["kept.example-dkim-mail-ed25519"], "only the Ed25519 key is made");
        assert.deepEqual(
            signing.map(k => [k.selector, k.algorithm]),
            [
                ["mail-rsa", "rsa"],
                ["mail-ed25519", "ed25519"],
                ["mail", "rsa"],
            ],
        );
        // Normalised to what @pulumi/tls gives for RSA (PKCS#1), the same key.
        assert.match(signing[0].privateKeyPem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
        assert.equal(publicPem(signing[0].privateKeyPem), publicPem(keptRsa));
        assert.equal(signing[2].privateKeyPem, imported);
        const txt = (selector: string) =>
            records.find(r => r.type === "TXT" && r.name === `${selector}._domainkey.kept.example`)?.value;
        assert.equal(txt("mail-rsa"), dkimTxtValue("rsa", publicPem(keptRsa)));
        assert.equal(txt("mail"), dkimTxtValue("rsa", publicPem(imported)));
        // The output gives every key back in the form the option takes.
        assert.deepEqual(
            all.map(k => k.selector),
            ["mail-rsa", "mail-ed25519", "mail"],
        );
        assert.equal(all[0].privateKeyPem, signing[0].privateKeyPem);
    });

    test("the secrets stay secrets; the records do not", async () => {
        const d = new VirtualDomain("secret.example", {
            domain: "secret.example",
            mailboxes: MAILBOXES,
            dkimKeys: [{ selector: "mail-ed25519", algorithm: "ed25519", privateKeyPem: pulumi.secret(ed25519()) }],
        });
        assert.equal(await pulumi.isSecret(d.dkimKeys), true);
        assert.equal(await pulumi.isSecret(d.dkimSigningKeys), true);
        assert.equal(await pulumi.isSecret(d.dnsRecords), false);
    });

    test("a key of another algorithm than its selector's is refused, without printing it", () => {
        const pem = ed25519();
        let error: unknown;
        try {
            new VirtualDomain("wrong.example", {
                domain: "wrong.example",
                mailboxes: MAILBOXES,
                dkimKeys: [{ selector: "mail-rsa", algorithm: "rsa", privateKeyPem: pem }],
            });
        } catch (e) {
            error = e;
        }
        assert.ok(error instanceof MailConfigError, String(error));
        assert.equal(
            error.message,
            'VirtualDomain wrong.example: dkimKeys[0].privateKeyPem = "(a secret)" is not accepted; expected an rsa key, got an ed25519 key',
        );
        assert.ok(!error.message.includes(pem.split("\n")[1]));
    });

    test("the algorithm must be the selector's; short RSA keys, non-keys and dkim: false are refused", () => {
        const fails = (dkimKeys: unknown, extra: Record<string, unknown> = {}) => {
            try {
                new VirtualDomain(`bad-${Math.random()}`, {
                    domain: "bad.example",
                    mailboxes: MAILBOXES,
                    dkimKeys,
                    ...extra,
                } as any);
            } catch (e) {
                return (e as Error).message.replace(/^VirtualDomain [^:]+: /, "");
            }
            return "accepted";
        };
        assert.equal(
            fails([{ selector: "mail-ed25519", algorithm: "rsa", privateKeyPem: rsa(2048) }]),
            'dkimKeys[0].algorithm = "rsa" is not accepted; expected ed25519: selector mail-ed25519 is this domain\'s ed25519 key',
        );
        assert.equal(
            fails([{ selector: "old", algorithm: "rsa", privateKeyPem: rsa(512) }]),
            'dkimKeys[0].privateKeyPem = "(a secret)" is not accepted; expected an RSA key of at least 1024 bits, got 512',
        );
        assert.match(
            fails([{ selector: "old", algorithm: "rsa", privateKeyPem: "not a key" }]),
            /^dkimKeys\[0\]\.privateKeyPem = "\(a secret\)" is not accepted; expected a private key in PEM/,
        );
        assert.equal(
            fails([
                { selector: "old", algorithm: "rsa", privateKeyPem: rsa(1024) },
                { selector: "old", algorithm: "rsa", privateKeyPem: rsa(1024) },
            ]),
            'dkimKeys[1].selector = "old" is not accepted; each selector may be given one key',
        );
        assert.equal(
            fails([{ selector: "old", algorithm: "rsa", privateKeyPem: rsa(1024) }], { dkim: false }),
            'dkimKeys[0].selector = "old" is not accepted; expected no DKIM keys with dkim: false',
        );
        assert.match(
            fails([{ selector: "Old_1", algorithm: "rsa", privateKeyPem: rsa(1024) }]),
            /^dkimKeys\[0\]\.selector = "Old_1" is not accepted; expected a selector of lower-case letters/,
        );
    });
});
