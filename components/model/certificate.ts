// Where the services find the server certificate, decided in one place for every service that
// takes it (Postfix, Dovecot, the well-known endpoint): in their own config generation, staged by
// the config job; or, with tls.acme, in the certs volume the ACME container renews at run time.
import { paths } from "./paths";

/** What a service's configuration says about the certificate. */
export interface CertificateSpec {
    /** tls.acme: the ACME container installs each new pair in the certs volume (never Pulumi). */
    acme: boolean;
    /** The directory of cert.pem and key.pem (with tls.acme also chain.pem: key and chain in one file). */
    dir: string;
}

/** The pair's files in a config generation (without tls.acme), relative to the config root. */
export const CERTIFICATE_FILES = { cert: "tls/cert.pem", key: "tls/key.pem" } as const;

/** Where the services mount the certs volume (read-only); paths.acmeCerts is its "current" link. */
export const CERTS_MOUNT = "/certs";

export function certificateSpec(acme: boolean): CertificateSpec {
    return { acme, dir: acme ? paths.acmeCerts : `${paths.config}/tls` };
}

/** tls.acme: the ACME client's service, and its volume of certificates (services/acme.ts). */
export const ACME_SERVICE = "acme";
export const CERTS_VOLUME = "certs";

/** Besides its configuration's paths, what a service that takes the certificate gets from the platform. */
export interface CertificateDelivery {
    /** Its config generation holds the pair (tls/cert.pem, tls/key.pem): not with tls.acme. */
    staged: boolean;
    /** Volumes it mounts: with tls.acme, the certs volume (read-only). */
    mounts: string[];
    /** Services it waits for: with tls.acme, the ACME client, healthy once a certificate is installed. */
    dependsOn: string[];
}

export function certificateDelivery(spec: CertificateSpec): CertificateDelivery {
    return spec.acme
        ? { staged: false, mounts: [CERTS_VOLUME], dependsOn: [ACME_SERVICE] }
        : { staged: true, mounts: [], dependsOn: [] };
}
