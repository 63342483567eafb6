// SHA512-CRYPT password hashes that Dovecot and saslauthd (pam_pwdfile, glibc crypt) both verify.
// The salt is derived from the address and the password, so the same password gives the same
// hash on every run and a second `pulumi preview` shows no change; a new password, a new salt.
import { createHmac } from "crypto";
import { encrypt, verify } from "unixcrypt";

export const HASH_ROUNDS = 50000;
const SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function stableSalt(address: string, password: string): string {
    const digest = createHmac("sha256", password).update(`mailserver-salt:${address}`).digest();
    return Array.from(digest.subarray(0, 16), b => SALT_ALPHABET[b % 64]).join("");
}

export function hashPassword(address: string, password: string): string {
    return encrypt(password, `$6$rounds=${HASH_ROUNDS}$${stableSalt(address, password)}`);
}

export function verifyPassword(password: string, hash: string): boolean {
    return verify(password, hash);
}
