import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
    cachedHash,
    HASH_ROUNDS,
    hashPassword,
    stableSalt,
    verifyPassword,
    weakHashReason,
} from "../../components/model/password";

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
        assert.equal(stableSalt("alice@example.com"), saltOf(aliceHash));
    });

    test("a different password gives a different hash; the salt never depends on the password", () => {
        // A salt derived from the password by a fast function would let a guess be checked
        // without the 50,000 rounds.
        const other = hashPassword("alice@example.com", alicePw + "!");
        assert.equal(saltOf(other), saltOf(aliceHash));
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
            const s = stableSalt(`user${i}@example.com`);
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

describe("cachedHash", () => {
    const pw = "correct horse battery staple";

    test("reuses a cached hash made from the same password, without hashing again", () => {
        const first = cachedHash("alice@example.com", pw, undefined);
        assert.equal(verifyPassword(pw, first.hash), true);
        const started = process.hrtime.bigint();
        const again = cachedHash("alice@example.com", pw, { "alice@example.com": first });
        const micros = Number(process.hrtime.bigint() - started) / 1000;
        assert.deepEqual(again, first);
        // A hash takes tens of milliseconds; a fingerprint check, well under one.
        assert.ok(micros < 5000, `${micros} µs`);
    });

    test("hashes again when the password changed or the entry is not trustworthy", () => {
        const first = cachedHash("alice@example.com", pw, undefined);
        const changed = cachedHash("alice@example.com", pw + "!", { "alice@example.com": first });
        assert.notEqual(changed.hash, first.hash);
        assert.equal(verifyPassword(pw + "!", changed.hash), true);
        // A forged entry (someone else's hash, a wrong fingerprint) is never taken.
        const forged = cachedHash("alice@example.com", pw, {
            "alice@example.com": { hash: changed.hash, fingerprint: first.fingerprint },
        });
        assert.equal(verifyPassword(pw, forged.hash), true);
        assert.equal(
            cachedHash("bob@example.com", pw, { "alice@example.com": first }).hash,
            hashPassword("bob@example.com", pw),
        );
    });
});

describe("weakHashReason", () => {
    test("accepts yescrypt, SHA512-CRYPT with 5000+ rounds and bcrypt cost 10+, which crypt(3) verifies", () => {
        const yescrypt = execFileSync("mkpasswd", ["-m", "yescrypt", "a password"], { encoding: "utf8" }).trim();
        assert.equal(weakHashReason(yescrypt), undefined, yescrypt);
        assert.equal(weakHashReason(hashPassword("a@example.com", "x")), undefined);
        const sha512 = execFileSync("openssl", ["passwd", "-6", "-salt", "abcdefgh", "pw"], {
            encoding: "utf8",
        }).trim();
        assert.equal(weakHashReason(sha512), undefined, "5000 rounds by default");
        assert.equal(weakHashReason(`$2b$12$${"a".repeat(53)}`), undefined);
    });

    test("refuses fast or unknown schemes", () => {
        const md5 = execFileSync("openssl", ["passwd", "-1", "-salt", "abcdefgh", "pw"], { encoding: "utf8" }).trim();
        assert.match(weakHashReason(md5)!, /expected a crypt\(3\) hash/);
        assert.match(weakHashReason(`$6$rounds=1000$abcdefgh$${"a".repeat(86)}`)!, /1000 rounds/);
        assert.match(weakHashReason(`$2b$04$${"a".repeat(53)}`)!, /cost 04/);
        assert.match(weakHashReason("plain text")!, /expected a crypt\(3\) hash/);
    });
});
