import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { HASH_ROUNDS, hashPassword, stableSalt, verifyPassword } from "../../components/render/password";

const SHA512_CRYPT = /^\$6\$rounds=50000\$([./0-9A-Za-z]{16})\$[./0-9A-Za-z]{86}$/;

function saltOf(hash: string): string {
    const m = SHA512_CRYPT.exec(hash);
    assert.ok(m, `not a SHA512-CRYPT hash with 50000 rounds: ${hash}`);
    return m[1];
}

function opensslCrypt(password: string, salt: string): string {
    return execFileSync("openssl", ["passwd", "-6", "-salt", `rounds=${HASH_ROUNDS}$${salt}`, password], {
        encoding: "utf8",
    }).trim();
}

describe("hashPassword", () => {
    const alicePw = "correct horse battery staple";
    const aliceHash = hashPassword("alice@example.com", alicePw);

    test("gives a $6$rounds=50000$ SHA512-CRYPT hash with a 16-character salt", () => {
        assert.equal(HASH_ROUNDS, 50000);
        assert.ok(aliceHash.startsWith("$6$rounds=50000$"));
        assert.equal(saltOf(aliceHash).length, 16);
        assert.ok(!aliceHash.includes(alicePw));
    });

    test("is stable: the same address and password give the same hash", () => {
        assert.equal(hashPassword("alice@example.com", alicePw), aliceHash);
        assert.equal(stableSalt("alice@example.com", alicePw), saltOf(aliceHash));
    });

    test("a different password gives a different salt and hash", () => {
        const other = hashPassword("alice@example.com", alicePw + "!");
        assert.notEqual(saltOf(other), saltOf(aliceHash));
        assert.notEqual(other, aliceHash);
    });

    test("a different address gives a different salt and hash", () => {
        const other = hashPassword("bob@example.com", alicePw);
        assert.notEqual(saltOf(other), saltOf(aliceHash));
        assert.notEqual(other, aliceHash);
    });

    test("stableSalt uses only the crypt salt alphabet and varies with its inputs", () => {
        const salts = new Set<string>();
        for (let i = 0; i < 200; i++) {
            const s = stableSalt(`user${i}@example.com`, "same password");
            assert.match(s, /^[./0-9A-Za-z]{16}$/);
            salts.add(s);
        }
        assert.equal(salts.size, 200);
    });

    test("matches glibc-style crypt (openssl passwd -6) for the same salt", () => {
        assert.equal(opensslCrypt(alicePw, saltOf(aliceHash)), aliceHash);
        // Characters a shell or a passwd-file could mangle, and non-ASCII (UTF-8 bytes).
        const tricky = "p@ss:w$rd 'with' \"quotes\" ünïcødé";
        const h = hashPassword("dave@example.org", tricky);
        assert.equal(opensslCrypt(tricky, saltOf(h)), h);
    });

    test("openssl gives a different hash for a wrong password (the cross-check can fail)", () => {
        assert.notEqual(opensslCrypt("wrong password", saltOf(aliceHash)), aliceHash);
    });
});

describe("verifyPassword", () => {
    const pw = "correct horse battery staple";
    const hash = hashPassword("alice@example.com", pw);

    test("accepts the right password and rejects a wrong one", () => {
        assert.equal(verifyPassword(pw, hash), true);
        assert.equal(verifyPassword("wrong password", hash), false);
        assert.equal(verifyPassword(pw + " ", hash), false);
    });

    test("also verifies a glibc hash without a rounds= field", () => {
        const plain = execFileSync("openssl", ["passwd", "-6", "-salt", "abcdefgh12345678", pw], {
            encoding: "utf8",
        }).trim();
        assert.equal(verifyPassword(pw, plain), true);
        assert.equal(verifyPassword("wrong password", plain), false);
    });
});
