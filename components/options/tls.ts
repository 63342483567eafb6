// The server certificate's options (MailServer tls) and the container images' (MailServer and
// DovecotImap images), declared once; the checks that span fields follow the declarations.
import type { Input } from "@pulumi/pulumi";
import { X509Certificate, createPrivateKey } from "crypto";
import { isIP } from "net";
import { Validator } from "../validate";
import { integer, list, object, oneOf, passthrough, readOptions, required, text, Values } from "./declare";

/** Validity of generated certificates when none is given: one year. */
export const DEFAULT_VALIDITY_HOURS = 24 * 365;

const validityHours = integer({
    doc: "Validity of the generated certificate in hours",
    default: DEFAULT_VALIDITY_HOURS,
    check: (v, field, value) => v.positiveInteger(field, value, "expected a whole number of hours > 0"),
});

/** Let's Encrypt's production directory; its staging directory is LETS_ENCRYPT_STAGING. */
export const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";
export const LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

const ACME_OPTIONS = {
    directory: text({
        doc: "The ACME server's directory URL; Let's Encrypt staging for trials: " + LETS_ENCRYPT_STAGING,
        default: LETS_ENCRYPT,
        defaultText: "Let's Encrypt (production)",
        accepted: "expected an https:// URL of an ACME directory",
        check: (v, field, value) => {
            if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(value))
                v.fail(field, value, "expected an https:// URL of an ACME directory");
            return value;
        },
    }),
    email: required(
        text({
            doc: "The ACME account's e-mail address (expiry notices)",
            check: (v, f, x) => v.address(f, x),
        }),
        "expected the ACME account's e-mail address, e.g. hostmaster@example.com",
    ),
    names: list(text({ doc: "A host name", check: (v, f, x) => v.hostname(f, x) }), {
        doc: "Names on the certificate besides hostname (e.g. imap.example.com)",
        default: [],
    }),
    challenge: oneOf("AcmeChallenge", ["http-01", "dns-01"], {
        doc: 'How the ACME server checks the names: "http-01" (port 80 of every name must reach this host); "dns-01" is not supported yet',
        default: "http-01",
    }),
    httpPort: integer({
        doc: "Port of the HTTP-01 server (the ACME server always asks port 80: forward it here if not 80)",
        default: 80,
        check: (v, f, x) => v.port(f, x),
    }),
    httpAddress: text({
        doc: "Host address of the HTTP-01 server (host mode: bound; bridge mode: published on); default: all (publishAddress)",
        accepted: "expected an IP address",
        check: (v, f, x) => {
            if (isIP(x) === 0) v.fail(f, x, "expected an IP address such as 0.0.0.0 or 192.0.2.10");
            return x;
        },
    }),
    keyType: oneOf("AcmeKeyType", ["ECDSA", "RSA"], {
        doc: "The certificate's key: ECDSA (P-256) or RSA (3072 bits)",
        default: "ECDSA",
    }),
    renewDaysBefore: integer({
        doc: "Renew when the certificate expires in fewer days than this (checked daily)",
        default: 30,
        check: (v, f, x) => {
            if (typeof x !== "number" || !Number.isInteger(x) || x < 1 || x > 60)
                v.fail(
                    f,
                    x,
                    "expected a whole number of days from 1 to 60 (Let's Encrypt certificates last 90 days or less)",
                );
            return x as number;
        },
    }),
    retrySeconds: integer({
        doc: "Wait after a failed attempt (ACME server unreachable) before the next one",
        default: 600,
        check: (v, f, x) => {
            if (typeof x !== "number" || !Number.isInteger(x) || x < 5 || x > 86400)
                v.fail(f, x, "expected a whole number of seconds from 5 to 86400");
            return x as number;
        },
    }),
    caCertPem: text({
        doc: "The CA of a private ACME server's HTTPS certificate (PEM), e.g. a test server's; default: the system's CAs",
    }),
};

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

export type TlsSettings = Values<typeof TLS_OPTIONS>;

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
    if (tls.acme?.challenge === "dns-01")
        v.fail(
            "tls.acme.challenge",
            "dns-01",
            'expected "http-01": dns-01 is not supported yet (no DNS provider); port 80 must reach this host',
        );
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
    if (tls.acme) return { acme: tls.acme };
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
    acme: imageRef("A prebuilt ACME client image to use instead of building images/acme (tls.acme)"),
    web: imageRef("A prebuilt nginx image to use instead of building images/web (wellKnown)"),
    baseImage: { ...imageRef("Base image of the builds"), defaultText: '`"debian:trixie-slim"`' },
    buildNetworkMode: imageRef('Docker build network mode, e.g. "host" where the default bridge has no route out'),
};
