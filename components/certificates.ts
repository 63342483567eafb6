// The server certificate, and what each service that takes it gets, decided in one place: its
// directory and whether it is ACME's (model/certificate.ts), the pair staged in its config
// generation, or with tls.acme the certs volume it mounts and the ACME client it waits for.
// Supplied, signed by the user's CA, or self-signed (@pulumi/tls); with tls.acme a container
// obtains and renews it (services/acme.ts) and the key never passes through Pulumi.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CERTIFICATE_FILES, CertificateDelivery, certificateDelivery, CertificateSpec } from "./model/certificate";
import { TlsSettings } from "./model/settings";
import { Validator } from "./model/validator";
import { checkPair, DEFAULT_VALIDITY_HOURS } from "./options/tls";
import type { StagedFile } from "./services/definition";

export interface ServerCertificate {
    certPem: pulumi.Output<string>;
    /** A Pulumi secret. */
    keyPem: pulumi.Output<string>;
}

export function serverCertificate(
    parent: pulumi.Resource,
    prefix: string,
    hostname: string,
    names: string[],
    args: TlsSettings,
    v: Validator,
): ServerCertificate {
    if (args.certPem !== undefined && args.keyPem !== undefined) {
        const pair = pulumi.all([args.certPem, pulumi.secret(args.keyPem)]).apply(([c, k]) => {
            checkPair(v, c, k);
            return [c, k];
        });
        // The certificate is public: only the key stays secret.
        return { certPem: pulumi.unsecret(pair.apply(p => p[0])), keyPem: pulumi.secret(pair.apply(p => p[1])) };
    }
    const rsa = args.keyAlgorithm === "RSA";
    const key = new tls.PrivateKey(
        `${prefix}-tls-key`,
        rsa ? { algorithm: "RSA", rsaBits: 3072 } : { algorithm: "ECDSA", ecdsaCurve: "P256" },
        { parent },
    );
    const subject = { commonName: hostname };
    const dnsNames = [...new Set([hostname, ...names])];
    const allowedUses = ["key_encipherment", "digital_signature", "server_auth"];
    if (args.ca) {
        const csr = new tls.CertRequest(
            `${prefix}-tls-csr`,
            { privateKeyPem: key.privateKeyPem, subject, dnsNames },
            { parent },
        );
        const cert = new tls.LocallySignedCert(
            `${prefix}-tls-cert`,
            {
                certRequestPem: csr.certRequestPem,
                caCertPem: args.ca.certPem,
                caPrivateKeyPem: pulumi.secret(args.ca.keyPem),
                validityPeriodHours: args.ca.validityHours ?? DEFAULT_VALIDITY_HOURS,
                earlyRenewalHours: 24 * 30,
                allowedUses,
            },
            { parent },
        );
        return {
            certPem: pulumi.interpolate`${cert.certPem}${args.ca.certPem}`,
            keyPem: pulumi.secret(key.privateKeyPem),
        };
    }
    const cert = new tls.SelfSignedCert(
        `${prefix}-tls-cert`,
        {
            privateKeyPem: key.privateKeyPem,
            subject,
            dnsNames,
            validityPeriodHours: args.selfSigned?.validityHours ?? DEFAULT_VALIDITY_HOURS,
            earlyRenewalHours: 24 * 30,
            allowedUses,
        },
        { parent },
    );
    return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
}

/** What every service that takes the certificate gets: the delivery, and the pair's files when staged. */
export interface ServiceCertificate extends CertificateDelivery {
    files: StagedFile[];
}

/** The one decision, for every such service of a stack: `pair` is undefined with tls.acme. */
export function serviceCertificate(spec: CertificateSpec, pair: ServerCertificate | undefined): ServiceCertificate {
    const delivery = certificateDelivery(spec);
    if (delivery.staged && !pair) throw new Error("a certificate to stage, but no certificate");
    const file = (path: string, content: pulumi.Output<string>, mode: string): StagedFile => ({
        path,
        content,
        mode,
        owner: "root",
        group: "root",
    });
    return {
        ...delivery,
        files:
            delivery.staged && pair
                ? [file(CERTIFICATE_FILES.cert, pair.certPem, "0644"), file(CERTIFICATE_FILES.key, pair.keyPem, "0600")]
                : [],
    };
}
