// Public keys for mocked tls PrivateKeys. Pulumi-free: run-program.ts loads it before @pulumi/pulumi.

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
/** A resource's state in a bare mock: its inputs, plus a public key for a tls PrivateKey (its DKIM record renders). */
export function mockKeyState(args: { type: string; inputs: any }): Record<string, unknown> {
    if (args.type !== "tls:index/privateKey:PrivateKey") return args.inputs;
    return { ...args.inputs, publicKeyPem: MOCK_PUBLIC_KEY_PEM[String(args.inputs.algorithm)] };
}
