// The server certificate's options (MailServer tls), declared once; the checks that span fields
// follow the declarations. tls.acme's own options are in acme.ts.
import type { Input } from "@pulumi/pulumi";
import { X509Certificate, createPrivateKey } from "crypto";
import type { TlsSettings } from "../model/settings";
import { Validator } from "../model/validator";
import { integer, object, oneOf, passthrough, Pinned, readOptions, required, SameType, Values } from "./declare";
import { ACME_OPTIONS, checkChallenge } from "./acme";

/** Validity of generated certificates when none is given: one year. */
export const DEFAULT_VALIDITY_HOURS = 24 * 365;

const validityHours = integer({
    doc: "Validity of the generated certificate in hours",
    default: DEFAULT_VALIDITY_HOURS,
    check: (v, field, value) => v.positiveInteger(field, value, "expected a whole number of hours > 0"),
});

const pem = (doc: string, secret = false) =>
    passthrough<Input<string>, { doc: string }>("pulumi.Input<string>", { type: "string", secret }, { doc });

export const TLS_OPTIONS = {
    selfSigned: object(
        "SelfSignedTlsArgs",
        { validityHours },
        {
            doc: "A self-signed certificate (the default when no other way is given)",
        },
    ),
    ca: object(
        "CaTlsArgs",
        {
            certPem: required(pem("The CA's certificate (PEM)")),
            keyPem: required(pem("The CA's private key (PEM), a Pulumi secret", true)),
            validityHours,
        },
        { doc: "Sign the server certificate with a CA you hold" },
    ),
    acme: object("AcmeTlsArgs", ACME_OPTIONS, {
        doc: "Obtain and renew the certificate from an ACME server (Let's Encrypt) in a container of its own",
    }),
    certPem: pem("A certificate chain obtained elsewhere (e.g. ACME), server certificate first"),
    keyPem: pem("The private key of certPem, a Pulumi secret", true),
    keyAlgorithm: oneOf("KeyAlgorithm", ["ECDSA", "RSA"], {
        doc: "Key type of generated certificates: ECDSA (P-256) or RSA (3072 bits)",
        default: "ECDSA",
    }),
};

// The model's TLS settings are the declarations' values (a compile error otherwise).
export type _TlsPinned = Pinned<SameType<TlsSettings, Values<typeof TLS_OPTIONS>>>;

/** Exactly one way to get the certificate; a supplied pair must match (checked now if known). */
export function validateTls(v: Validator, args: unknown): TlsSettings {
    const tls = readOptions(v, TLS_OPTIONS, args, "tls.");
    const given = (args ?? {}) as Record<string, unknown>;
    const ways = [
        given.selfSigned ? "selfSigned" : "",
        given.ca ? "ca" : "",
        given.acme ? "acme" : "",
        given.certPem || given.keyPem ? "certPem/keyPem" : "",
    ].filter(Boolean);
    if (ways.length > 1)
        v.fail("tls", ways, "choose one of tls.selfSigned, tls.ca, tls.acme or tls.certPem + tls.keyPem");
    if (tls.acme) checkChallenge(v, tls.acme, (given.acme ?? {}) as Record<string, unknown>);
    if ((tls.certPem === undefined) !== (tls.keyPem === undefined)) {
        v.fail("tls.keyPem", "(only one of certPem/keyPem)", "a supplied certificate needs both certPem and keyPem");
    }
    if (typeof tls.certPem === "string" && typeof tls.keyPem === "string") checkPair(v, tls.certPem, tls.keyPem);
    return tls;
}

/** Throws unless the certificate parses and belongs to the key. Never prints the key. */
export function checkPair(v: Validator, certPem: string, keyPem: string): void {
    let cert: X509Certificate;
    try {
        cert = new X509Certificate(certPem);
    } catch {
        return v.fail("tls.certPem", "(unparsable PEM)", "expected a PEM certificate chain, server certificate first");
    }
    let ok: boolean;
    try {
        ok = cert.checkPrivateKey(createPrivateKey(keyPem));
    } catch {
        return v.fail("tls.keyPem", "(unparsable PEM)", "expected the PEM private key of tls.certPem");
    }
    if (!ok)
        v.fail(
            "tls.keyPem",
            "(a key that does not match)",
            `expected the private key of the certificate for ${cert.subject.replace(/\n/g, ", ")}`,
        );
}
