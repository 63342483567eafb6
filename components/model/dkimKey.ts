// DKIM private keys given by the user (VirtualDomain dkimKeys): checked and put in the form the
// generated ones have, so a key that went out of a stack and comes back renders byte-identical files.
import * as crypto from "crypto";
import type { DkimAlgorithm } from "./spec";
import { Validator } from "./validator";

/** RSA keys shorter than this are refused by verifiers (RFC 8301). */
export const MIN_DKIM_RSA_BITS = 1024;

export interface DkimKeyPair {
    /** RSA as PKCS#1 ("BEGIN RSA PRIVATE KEY"), Ed25519 as PKCS#8, like @pulumi/tls gives them. */
    privateKeyPem: string;
    /** SubjectPublicKeyInfo PEM, what the TXT record is made from. */
    publicKeyPem: string;
}

/**
 * A given private key of `algorithm`, normalised; fails naming the field (never the key) when it is
 * no PEM private key, another algorithm, or an RSA key under 1024 bits.
 */
export function checkDkimPrivateKey(v: Validator, field: string, pem: unknown, algorithm: DkimAlgorithm): DkimKeyPair {
    const shown = "(a secret)";
    if (typeof pem !== "string" || !pem.includes("PRIVATE KEY-----"))
        v.fail(
            field,
            shown,
            "expected a private key in PEM (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)",
        );
    let key: crypto.KeyObject;
    try {
        key = crypto.createPrivateKey(pem);
    } catch (e) {
        v.fail(field, shown, `expected a readable PEM private key (${(e as Error).message})`);
    }
    if (key.asymmetricKeyType !== algorithm)
        v.fail(field, shown, `expected an ${algorithm} key, got an ${key.asymmetricKeyType} key`);
    if (algorithm === "rsa") {
        const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
        if (bits < MIN_DKIM_RSA_BITS)
            v.fail(field, shown, `expected an RSA key of at least ${MIN_DKIM_RSA_BITS} bits, got ${bits}`);
    }
    const privateKeyPem = key.export({ format: "pem", type: algorithm === "rsa" ? "pkcs1" : "pkcs8" }).toString();
    const publicKeyPem = crypto.createPublicKey(key).export({ format: "pem", type: "spki" }).toString();
    return { privateKeyPem, publicKeyPem };
}
