// The server certificate's options (MailServer tls) and the container images' (MailServer and
// DovecotImap images), declared once; the checks that span fields follow the declarations.
import type { Input } from "@pulumi/pulumi";
import { X509Certificate, createPrivateKey } from "crypto";
import { Validator } from "../validate";
import { integer, object, oneOf, passthrough, readOptions, required, Values } from "./declare";

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
    certPem: pem("A certificate chain obtained elsewhere (e.g. ACME), server certificate first"),
    keyPem: pem("The private key of certPem, a Pulumi secret", true),
    keyAlgorithm: oneOf("KeyAlgorithm", ["ECDSA", "RSA"], {
        doc: "Key type of generated certificates: ECDSA (P-256) or RSA (3072 bits)",
        default: "ECDSA",
    }),
};

export type TlsSettings = Values<typeof TLS_OPTIONS>;

/** Exactly one way to get the certificate; a supplied pair must match (checked now if known). */
export function validateTls(v: Validator, args: unknown): TlsSettings {
    const tls = readOptions(v, TLS_OPTIONS, args, "tls.");
    const given = (args ?? {}) as Record<string, unknown>;
    const ways = [
        given.selfSigned ? "selfSigned" : "",
        given.ca ? "ca" : "",
        given.certPem || given.keyPem ? "certPem/keyPem" : "",
    ].filter(Boolean);
    if (ways.length > 1) v.fail("tls", ways, "choose one of tls.selfSigned, tls.ca or tls.certPem + tls.keyPem");
    if ((tls.certPem === undefined) !== (tls.keyPem === undefined)) {
        v.fail("tls.keyPem", "(only one of certPem/keyPem)", "a supplied certificate needs both certPem and keyPem");
    }
    if (typeof tls.certPem === "string" && typeof tls.keyPem === "string") checkPair(v, tls.certPem, tls.keyPem);
    return tls;
}

/**
 * The certificate settings as MailServer registers them: the way the certificate is obtained,
 * with defaults applied, and the (public) certificates given; never a private key.
 */
export function tlsSettings(tls: TlsSettings) {
    if (tls.certPem !== undefined) return { certPem: tls.certPem };
    if (tls.ca)
        return { ca: { certPem: tls.ca.certPem, validityHours: tls.ca.validityHours }, keyAlgorithm: tls.keyAlgorithm };
    return {
        selfSigned: { validityHours: tls.selfSigned?.validityHours ?? DEFAULT_VALIDITY_HOURS },
        keyAlgorithm: tls.keyAlgorithm,
    };
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

const imageRef = (doc: string) =>
    passthrough<Input<string>, { doc: string }>("pulumi.Input<string>", { type: "string" }, { doc });

export const IMAGE_OPTIONS = {
    postfix: imageRef("A prebuilt Postfix image to use instead of building images/postfix"),
    dovecot: imageRef("A prebuilt Dovecot image to use instead of building images/dovecot"),
    saslauthd: imageRef("A prebuilt saslauthd image to use instead of building images/saslauthd"),
    rspamd: imageRef("A prebuilt rspamd image to use instead of building images/rspamd"),
    valkey: imageRef("A prebuilt Valkey image to use instead of building images/valkey"),
    baseImage: { ...imageRef("Base image of the builds"), defaultText: '`"debian:trixie-slim"`' },
    buildNetworkMode: imageRef('Docker build network mode, e.g. "host" where the default bridge has no route out'),
};
