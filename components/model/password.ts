// Password hashes that Dovecot and saslauthd (pam_pwdfile, libxcrypt's crypt(3)) both verify.
//
// Computed hashes are SHA512-CRYPT with 50,000 rounds. The salt comes from the address only, so
// the same password gives the same hash on every run (a second `pulumi preview` shows no change)
// and the salt says nothing about the password: an attacker holding a hash pays all the rounds for
// every guess. Hashing in JavaScript costs about 85 ms, so each hash is computed once per password
// change: the previous hashes come back as a cache (the stack's encrypted outputs), each with a
// fingerprint that tells, in microseconds, whether it was made from the current password.
import { createHmac, timingSafeEqual } from "crypto";
import { encrypt, verify } from "unixcrypt";

export const HASH_ROUNDS = 50000;
const SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A hash and the fingerprint of the password it was made from. */
export interface PasswordHashCacheEntry {
    hash: string;
    fingerprint: string;
}

/** address -> the hash of its current password; kept as a Pulumi secret. */
export type PasswordHashCache = Record<string, PasswordHashCacheEntry>;

/** The salt of an address's hashes: 16 characters of the crypt alphabet, never from the password. */
export function stableSalt(address: string): string {
    const digest = createHmac("sha256", "mailserver-salt").update(address).digest();
    return Array.from(digest.subarray(0, 16), b => SALT_ALPHABET[b % 64]).join("");
}

export function hashPassword(address: string, password: string): string {
    return encrypt(password, `$6$rounds=${HASH_ROUNDS}$${stableSalt(address)}`);
}

/**
 * Whether `hash` was made from `password`, without its rounds: an HMAC keyed by the hash. It is
 * as sensitive as the password (a fast check of a guess) and lives only in the encrypted cache,
 * next to which the stack config keeps the password itself.
 */
export function passwordFingerprint(hash: string, password: string): string {
    return createHmac("sha256", hash).update(password).digest("base64");
}

/** The cached hash if it was made from this password, else a new one. */
export function cachedHash(
    address: string,
    password: string,
    cache: PasswordHashCache | undefined,
): PasswordHashCacheEntry {
    const entry = cache?.[address];
    if (entry && typeof entry.hash === "string" && typeof entry.fingerprint === "string") {
        const expected = Buffer.from(passwordFingerprint(entry.hash, password));
        const stored = Buffer.from(entry.fingerprint);
        if (expected.length === stored.length && timingSafeEqual(expected, stored)) return entry;
    }
    const hash = hashPassword(address, password);
    return { hash, fingerprint: passwordFingerprint(hash, password) };
}

export function verifyPassword(password: string, hash: string): boolean {
    return verify(password, hash);
}

/**
 * Pre-computed hashes (a mailbox's passwordHash) must be a scheme both crypt(3) users verify and
 * costly to brute-force. Returns why a hash is not accepted, or undefined.
 */
export function weakHashReason(hash: string): string | undefined {
    const sha512 = /^\$6\$(?:rounds=(\d+)\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/.exec(hash);
    if (sha512) {
        const rounds = sha512[1] === undefined ? 5000 : Number(sha512[1]);
        return rounds >= 5000
            ? undefined
            : `SHA512-CRYPT with ${rounds} rounds is too fast to guess against (at least 5000)`;
    }
    if (/^\$y\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\$[./0-9A-Za-z]{43}$/.test(hash)) return undefined;
    const bcrypt = /^\$2[by]\$(\d{2})\$[./0-9A-Za-z]{53}$/.exec(hash);
    if (bcrypt) return Number(bcrypt[1]) >= 10 ? undefined : `bcrypt with cost ${bcrypt[1]} is too fast (at least 10)`;
    return "expected a crypt(3) hash: yescrypt ($y$..., `mkpasswd -m yescrypt`), SHA512-CRYPT ($6$..., at least 5000 rounds) or bcrypt ($2b$..., cost 10 or more)";
}

/** The passwd-file scheme Dovecot reads a hash with: SHA512-CRYPT for $6$, crypt(3) for the rest. */
export function dovecotScheme(hash: string): string {
    return hash.startsWith("$6$") ? "SHA512-CRYPT" : "CRYPT";
}
