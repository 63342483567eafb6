import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { X509Certificate, createPrivateKey } from "crypto";
import { Validator } from "./validate";

/** Exactly one way to get the server certificate; none given means self-signed. */
export interface TlsArgs {
    /** Self-signed certificate (the default). */
    selfSigned?: { validityHours?: number };
    /** Sign the server certificate with a CA you hold (PEM). */
    ca?: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string>; validityHours?: number };
    /** A certificate chain and key obtained elsewhere (e.g. ACME); the key as a Pulumi secret. */
    certPem?: pulumi.Input<string>;
    keyPem?: pulumi.Input<string>;
    /** "ECDSA" (P-256, default) or "RSA" (3072 bits) for generated keys. */
    keyAlgorithm?: string;
}

export interface ServerCertificate {
    certPem: pulumi.Output<string>;
    /** A Pulumi secret. */
    keyPem: pulumi.Output<string>;
}

/** Validity of generated certificates when none is given: one year. */
export const DEFAULT_VALIDITY_HOURS = 24 * 365;

/**
 * The certificate settings as MailServer registers them: the way the certificate is obtained,
 * with defaults applied, and the (public) certificates given; never a private key.
 */
export function tlsSettings(args: TlsArgs | undefined) {
    if (args?.certPem !== undefined) return { certPem: args.certPem };
    const keyAlgorithm = args?.keyAlgorithm ?? "ECDSA";
    if (args?.ca) return { ca: { certPem: args.ca.certPem, validityHours: args.ca.validityHours ?? DEFAULT_VALIDITY_HOURS }, keyAlgorithm };
    return { selfSigned: { validityHours: args?.selfSigned?.validityHours ?? DEFAULT_VALIDITY_HOURS }, keyAlgorithm };
}

export function validateTls(v: Validator, args: TlsArgs | undefined): void {
    if (!args) return;
    const ways = [args.selfSigned ? "selfSigned" : "", args.ca ? "ca" : "", args.certPem || args.keyPem ? "certPem/keyPem" : ""].filter(Boolean);
    if (ways.length > 1) v.fail("tls", ways, "choose one of tls.selfSigned, tls.ca or tls.certPem + tls.keyPem");
    if ((args.certPem === undefined) !== (args.keyPem === undefined)) v.fail("tls.keyPem", "(only one of certPem/keyPem)", "a supplied certificate needs both certPem and keyPem");
    if (args.keyAlgorithm !== undefined) v.oneOf("tls.keyAlgorithm", args.keyAlgorithm, ["ECDSA", "RSA"]);
    const hours = args.selfSigned?.validityHours ?? args.ca?.validityHours;
    if (hours !== undefined) v.positiveInteger("tls validityHours", hours, "expected a whole number of hours > 0");
    if (typeof args.certPem === "string" && typeof args.keyPem === "string") checkPair(v, args.certPem, args.keyPem);
}

/** Throws unless the certificate parses and belongs to the key. Never prints the key. */
export function checkPair(v: Validator, certPem: string, keyPem: string): void {
    let cert: X509Certificate;
    try { cert = new X509Certificate(certPem); } catch { return v.fail("tls.certPem", "(unparsable PEM)", "expected a PEM certificate chain, server certificate first"); }
    let ok = false;
    try { ok = cert.checkPrivateKey(createPrivateKey(keyPem)); } catch { return v.fail("tls.keyPem", "(unparsable PEM)", "expected the PEM private key of tls.certPem"); }
    if (!ok) v.fail("tls.keyPem", "(a key that does not match)", `expected the private key of the certificate for ${cert.subject.replace(/\n/g, ", ")}`);
}

export function serverCertificate(parent: pulumi.Resource, prefix: string, hostname: string, names: string[], args: TlsArgs | undefined, v: Validator): ServerCertificate {
    if (args?.certPem !== undefined && args.keyPem !== undefined) {
        const pair = pulumi.all([args.certPem, pulumi.secret(args.keyPem)]).apply(([c, k]) => { checkPair(v, c, k); return [c, k]; });
        // The certificate is public: only the key stays secret.
        return { certPem: pulumi.unsecret(pair.apply(p => p[0])), keyPem: pulumi.secret(pair.apply(p => p[1])) };
    }
    const rsa = args?.keyAlgorithm === "RSA";
    const key = new tls.PrivateKey(`${prefix}-tls-key`, rsa ? { algorithm: "RSA", rsaBits: 3072 } : { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
    const subject = { commonName: hostname };
    const dnsNames = [...new Set([hostname, ...names])];
    const allowedUses = ["key_encipherment", "digital_signature", "server_auth"];
    if (args?.ca) {
        const csr = new tls.CertRequest(`${prefix}-tls-csr`, { privateKeyPem: key.privateKeyPem, subject, dnsNames }, { parent });
        const cert = new tls.LocallySignedCert(`${prefix}-tls-cert`, {
            certRequestPem: csr.certRequestPem,
            caCertPem: args.ca.certPem,
            caPrivateKeyPem: pulumi.secret(args.ca.keyPem),
            validityPeriodHours: args.ca.validityHours ?? DEFAULT_VALIDITY_HOURS,
            earlyRenewalHours: 24 * 30,
            allowedUses,
        }, { parent });
        return { certPem: pulumi.interpolate`${cert.certPem}${args.ca.certPem}`, keyPem: pulumi.secret(key.privateKeyPem) };
    }
    const cert = new tls.SelfSignedCert(`${prefix}-tls-cert`, {
        privateKeyPem: key.privateKeyPem,
        subject,
        dnsNames,
        validityPeriodHours: args?.selfSigned?.validityHours ?? DEFAULT_VALIDITY_HOURS,
        earlyRenewalHours: 24 * 30,
        allowedUses,
    }, { parent });
    return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
}
