// npm run import-dms: a docker-mailserver configuration folder written in its documented formats
// (the files its setup commands write: addmailuser, addalias, setquota, opendkim-genkey,
// `setup config dkim`), read back into this package's stack config with hashes and keys kept.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { encrypt } from "unixcrypt";
import { verifyPassword, weakHashReason } from "../../components/model/password";
import { checkDkimPrivateKey } from "../../components/model/dkimKey";
import { dkimTxtValue } from "../../components/render/dns";
import { validateVirtualDomain } from "../../components/options/validateVirtualDomain";
import { Validator } from "../../components/model/validator";
import { DmsImport, dkimRecordValue, importDms, stackConfig } from "../../scripts/lib/dms-import";
import { readFolder } from "../../scripts/import-dms";

const PASSWORDS = { alice: "alice-old-Password-1", bob: "bob-old-Password-22", erin: "erin-old-Password-333" };
// doveadm pw -s SHA512-CRYPT: 5000 rounds (no rounds= field), a 16-character salt.
const sha512 = (password: string, salt: string) => encrypt(password, `$6$${salt}`);

const rsaPair = (bits: number) => crypto.generateKeyPairSync("rsa", { modulusLength: bits });
const b64spki = (k: crypto.KeyObject) => k.export({ format: "der", type: "spki" }).toString("base64");

/** opendkim-genkey's <selector>.txt: zone text, the value split into quoted strings. */
function opendkimTxt(selector: string, domain: string, p: string): string {
    return (
        `${selector}._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; "\n` +
        `\t  "p=${p.slice(0, 250)}"\n\t  "${p.slice(250)}" )  ; ----- DKIM key ${selector} for ${domain}\n`
    );
}

let dir: string;
let imported: DmsImport;
const odKey = rsaPair(2048);
const edKey = crypto.generateKeyPairSync("ed25519");
const staleKey = rsaPair(1024);

before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dms-config-"));
    const write = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), text);
    };
    write(
        "postfix-accounts.cf",
        [
            "# docker-mailserver accounts",
            `alice@example.com|{SHA512-CRYPT}${sha512(PASSWORDS.alice, "Qm9KsX1vL2wB7zYc")}`,
            // A line with Windows line ending, as docker-mailserver tolerates (it strips \r).
            `Bob@Example.com|{SHA512-CRYPT}${sha512(PASSWORDS.bob, "aaaaaaaaaaaaaaaa")}\r`,
            "",
            // doveadm pw -s BLF-CRYPT's default cost 5: too cheap here, so carol gets a new password.
            `carol@example.org|{BLF-CRYPT}$2y$05$${"A".repeat(53)}`,
            `erin@example.org|{SHA512-CRYPT}${sha512(PASSWORDS.erin, "bbbbbbbbbbbbbbbb")}|userdb_mail=maildir:~/Mail`,
            `frank@example.org|{PLAIN}frank-in-clear`,
            "",
        ].join("\n"),
    );
    write(
        "postfix-virtual.cf",
        [
            "# aliases",
            "info@example.com alice@example.com",
            "team@example.com alice@example.com,bob@example.com",
            "alice@example.com alice@example.com,alice@elsewhere.example",
            "bob@example.com bob@elsewhere.example",
            "@example.org carol@example.org",
            "sales@alias-only.example alice@example.com, erin@example.org",
            "user1 other@example.net",
            "",
        ].join("\n"),
    );
    write("postfix-aliases.cf", "postmaster: alice@example.com\ndevs: alice, bob\n");
    write("postfix-regexp.cf", "/^test[0-9]+@example.com/ alice@example.com\n");
    // What the importer does not carry over: each must be named in a warning.
    write("alice@example.com.dovecot.sieve", 'require ["fileinto"];\nfileinto "Lists";\n');
    write("postfix-relaymap.cf", "@example.org [smtp.relay.example]:587\n");
    write("postfix-sasl-password.cf", "@example.org user:relay-password-in-clear\n");
    write("user-patches.sh", "#!/bin/bash\necho patched\n");
    write(
        "dovecot-quotas.cf",
        "alice@example.com:2G\nbob@example.com:0\nerin@example.org:500k\nghost@example.com:1G\n",
    );
    write(
        "opendkim/keys/example.com/mail.private",
        odKey.privateKey.export({ format: "pem", type: "pkcs1" }).toString(),
    );
    write("opendkim/keys/example.com/mail.txt", opendkimTxt("mail", "example.com", b64spki(odKey.publicKey)));
    // rspamd's Ed25519 key: the base64 of seed + public key; its record as `setup config dkim` prints it.
    const edDer = edKey.privateKey.export({ format: "der", type: "pkcs8" });
    const edRaw = edKey.publicKey.export({ format: "der", type: "spki" }).subarray(12);
    write(
        "rspamd/dkim/ed25519-2024-ed-example.org.private.txt",
        Buffer.concat([edDer.subarray(edDer.length - 32), edRaw]).toString("base64") + "\n",
    );
    write(
        "rspamd/dkim/ed25519-2024-ed-example.org.public.dns.txt",
        `v=DKIM1; k=ed25519; p=${edRaw.toString("base64")}\n`,
    );
    // A key whose published record is another key's: not imported.
    write(
        "rspamd/dkim/rsa-1024-old-example.org.private.txt",
        staleKey.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    );
    write(
        "rspamd/dkim/rsa-1024-old-example.org.public.txt",
        `old._domainkey IN TXT ( "v=DKIM1; k=rsa; " "p=${b64spki(rsaPair(1024).publicKey)}" ) ;\n`,
    );
    imported = importDms(readFolder(dir));
});

describe("import-dms", () => {
    test("accounts become mailboxes with their SHA512-CRYPT hashes, which still verify the old passwords", () => {
        const hashes = imported.passwordHashes;
        assert.deepEqual(Object.keys(hashes).sort(), ["alice@example.com", "bob@example.com", "erin@example.org"]);
        assert.ok(verifyPassword(PASSWORDS.alice, hashes["alice@example.com"]));
        assert.ok(verifyPassword(PASSWORDS.bob, hashes["bob@example.com"]));
        assert.ok(verifyPassword(PASSWORDS.erin, hashes["erin@example.org"]));
        for (const h of Object.values(hashes)) assert.equal(weakHashReason(h), undefined);
        assert.ok(!hashes["alice@example.com"].startsWith("{"), "Dovecot's {SCHEME} prefix is dropped");
    });

    test("aliases, forwards, catch-alls and quotas land where this package has them", () => {
        const byName = Object.fromEntries(imported.domains.map(d => [d.domain, d]));
        assert.deepEqual(Object.keys(byName), ["alias-only.example", "example.com", "example.org"]);
        assert.deepEqual(byName["example.com"].mailboxes, [
            { address: "alice@example.com", quota: "2G", aliases: ["info@example.com"] },
            { address: "bob@example.com" },
        ]);
        assert.deepEqual(byName["example.com"].aliases, [
            { address: "team@example.com", targets: ["alice@example.com", "bob@example.com"] },
        ]);
        assert.deepEqual(byName["example.com"].forwards, [
            { address: "alice@example.com", targets: ["alice@elsewhere.example"], keepCopy: true },
            { address: "bob@example.com", targets: ["bob@elsewhere.example"], keepCopy: false },
        ]);
        assert.equal(byName["example.org"].catchAll, "carol@example.org");
        assert.deepEqual(
            byName["example.org"].mailboxes.map(m => [m.address, m.quota]),
            [
                ["carol@example.org", undefined],
                ["erin@example.org", "500K"],
                ["frank@example.org", undefined],
            ],
        );
        assert.deepEqual(byName["alias-only.example"].aliases, [
            { address: "sales@alias-only.example", targets: ["alice@example.com", "erin@example.org"] },
        ]);
        assert.equal(imported.adminAddress, "alice@example.com");
    });

    test("DKIM keys are kept only when they are the key their record publishes", () => {
        const keys = imported.dkimKeys;
        assert.deepEqual(Object.keys(keys).sort(), ["example.com", "example.org"]);
        assert.deepEqual(
            keys["example.com"].map(k => [k.selector, k.algorithm]),
            [["mail", "rsa"]],
        );
        assert.deepEqual(
            keys["example.org"].map(k => [k.selector, k.algorithm]),
            [["2024-ed", "ed25519"]],
        );
        // What the component accepts, publishing the very record docker-mailserver's DNS has.
        const v = new Validator("VirtualDomain test");
        const od = checkDkimPrivateKey(v, "k", keys["example.com"][0].privateKeyPem, "rsa");
        assert.equal(dkimTxtValue("rsa", od.publicKeyPem), `v=DKIM1; k=rsa; p=${b64spki(odKey.publicKey)}`);
        const published = dkimRecordValue(
            fs.readFileSync(path.join(dir, "opendkim/keys/example.com/mail.txt"), "utf8"),
        );
        assert.ok(published.endsWith(`p=${b64spki(odKey.publicKey)}`), published);
        const ed = checkDkimPrivateKey(v, "k", keys["example.org"][0].privateKeyPem, "ed25519");
        assert.equal(
            dkimTxtValue("ed25519", ed.publicKeyPem),
            fs.readFileSync(path.join(dir, "rspamd/dkim/ed25519-2024-ed-example.org.public.dns.txt"), "utf8").trim(),
        );
    });

    test("what is not imported is said, without a hash or a key", () => {
        const w = imported.warnings.join("\n");
        for (const expected of [
            /carol@example\.org: its \{BLF-CRYPT\} hash is not accepted here \(bcrypt with cost 05 is too fast/,
            /frank@example\.org: its \{PLAIN\} hash is not accepted here; it gets a new password/,
            /erin@example\.org: its extra userdb fields are not imported/,
            /"user1" is not an address/,
            /local alias "devs" is not imported/,
            /postfix-regexp\.cf: regular-expression aliases are not imported/,
            /dovecot-quotas\.cf: ghost@example\.com is no account/,
            /rsa-1024-old-example\.org\.private\.txt: its public key is not the one .*\.public\.txt publishes; not imported/,
            /alice@example\.com\.dovecot\.sieve: a user's Sieve script is not imported; upload it after the move with ManageSieve/,
            /postfix-relaymap\.cf: relay settings are not imported; give them as a Relayhost/,
            /postfix-sasl-password\.cf: relay settings are not imported/,
            /user-patches\.sh: not imported \(this package has no equivalent of it\)/,
        ])
            assert.match(w, expected);
        assert.ok(!w.includes("frank-in-clear"), "a password in a warning");
        assert.ok(!w.includes("relay-password-in-clear"), "a relay password in a warning");
        assert.ok(!w.includes("$6$"), "a hash in a warning");
        assert.ok(!w.includes("PRIVATE KEY"), "a key in a warning");
    });

    test("the stack config is accepted by VirtualDomain as it is, hashes and keys given as secrets", () => {
        const config = stackConfig(imported, "mail.example.com");
        assert.equal(config["mailserver:hostname"], "mail.example.com");
        assert.equal(config["mailserver:adminAddress"], "alice@example.com");
        const text = JSON.stringify(config);
        assert.ok(!text.includes("$6$") && !text.includes("PRIVATE KEY"), "secrets in the plain stack config");
        for (const d of config["mailserver:domains"] as Array<Record<string, any>>) {
            const args = {
                ...d,
                mailboxes: (d.mailboxes ?? []).map((m: Record<string, unknown>) => ({
                    ...m,
                    passwordHash: imported.passwordHashes[m.address as string] ?? "$6$x$" + "a".repeat(86),
                })),
                dkimKeys: imported.dkimKeys[d.domain] ?? [],
            };
            assert.doesNotThrow(
                () => validateVirtualDomain(new Validator(`VirtualDomain ${d.domain}`), args),
                d.domain,
            );
        }
    });
});
