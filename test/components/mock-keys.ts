// Keys for mocked tls PrivateKeys. Pulumi-free: run-program.ts loads it before @pulumi/pulumi.
import { createPrivateKey } from "node:crypto";

/** A certificate's PEM form, its content a placeholder (nothing parses it under the mocks). */
export const MOCK_CERT_PEM = "-----BEGIN CERTIFICATE-----\nFAKE-CERTIFICATE-3b9e\n-----END CERTIFICATE-----\n";

/** Real public keys (no private half anywhere), so the DKIM records render under mocks: one per algorithm. */
export const MOCK_PUBLIC_KEY_PEM: Record<string, string> = {
    RSA:
        [
            "-----BEGIN PUBLIC KEY-----",
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlCbKjSRWjjsbAvYwTUM1",
            "8zK324lH74reyysriIbyaZRdQcCn2WXAT23N0aoAtXT3BCTmB4eXoeTeMti+GDYf",
            "3lRTXsWpgwgrZJnj/PpZkJ/ypw7Nvjz14m8gzOu1jlzJPCMZaVWWOh4UCtqQpMA3",
            "d7KgjFMpIpWrcMK6o4lPlIVpeLyq3MqqM8DKbNGbXgKmlBs8s0usE2B5NhZzQJ3D",
            "gcdxdMfy2yEZpFQPvIZxSYGeGV2LK7+fsBKqMipoNThwIMKmvd45Iz0gKCJSIE7/",
            "uq4b/QCo3OUngDUVcdSGAHmvVpnLJBt/yjMqC6ayMsqmRZG0khviuJiZQgZWNjzR",
            "zwIDAQAB",
            "-----END PUBLIC KEY-----",
        ].join("\n") + "\n",
    ED25519:
        [
            "-----BEGIN PUBLIC KEY-----",
            "MCowBQYDK2VwAyEAmLa0reN7hHJ/l7Yi11N7gOewtpgdVopVThLzFu5p5ps=",
            "-----END PUBLIC KEY-----",
        ].join("\n") + "\n",
    ECDSA:
        [
            "-----BEGIN PUBLIC KEY-----",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECBM4UfoiC9L1uw5n1gSoMH1K6giN",
            "2dmKm+t3o5XFhcZoAkNA+YOC8+ANDIpD3RIwG3mxHzQgL0ei+DjsYg2uMA==",
            "-----END PUBLIC KEY-----",
        ].join("\n") + "\n",
};

/**
 * A mocked Ed25519 private key, which must parse: rspamd's key file holds its seed. A throwaway
 * key from a fixed seed, built here so that no private key PEM is committed. It is not the private
 * half of MOCK_PUBLIC_KEY_PEM.ED25519 (that one has none anywhere): nothing under mocks signs or
 * verifies, so the pair need not match.
 */
export const MOCK_ED25519_SEED = Buffer.from("mailserver-mock-ed25519-seed-000", "latin1");
export const MOCK_ED25519_PRIVATE_KEY_PEM = createPrivateKey({
    // PKCS#8 of Ed25519 (RFC 8410): a fixed 16-byte header, then the 32-byte seed.
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), MOCK_ED25519_SEED]),
    format: "der",
    type: "pkcs8",
})
    .export({ format: "pem", type: "pkcs8" })
    .toString();
/** What a bare mock gives for an RSA or ECDSA private key: not a key, only a recognisable text. */
export const MOCK_PRIVATE_KEY_TEXT =
    "-----BEGIN PRIVATE KEY-----\nFAKE-PRIVATE-KEY-MATERIAL-mock\n-----END PRIVATE KEY-----\n";

/** A resource's state in a bare mock: its inputs, plus a tls PrivateKey's keys (DKIM records, rspamd's key files). */
export function mockKeyState(args: { type: string; inputs: any }): Record<string, unknown> {
    // Certificates: a PEM of the right form, so the files made of them are known as in a deployment.
    if (
        args.type === "tls:index/selfSignedCert:SelfSignedCert" ||
        args.type === "tls:index/locallySignedCert:LocallySignedCert"
    )
        return { ...args.inputs, certPem: MOCK_CERT_PEM };
    if (args.type !== "tls:index/privateKey:PrivateKey") return args.inputs;
    const algorithm = String(args.inputs.algorithm);
    const privateKeyPem = algorithm === "ED25519" ? MOCK_ED25519_PRIVATE_KEY_PEM : MOCK_PRIVATE_KEY_TEXT;
    return {
        ...args.inputs,
        publicKeyPem: MOCK_PUBLIC_KEY_PEM[algorithm],
        privateKeyPem,
        privateKeyPemPkcs8: privateKeyPem,
    };
}
