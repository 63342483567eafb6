// tls.acme: the ACME client (images/acme, Debian's lego). It obtains and renews the certificate
// into the certs volume, which Postfix, Dovecot and the well-known endpoint mount read-only
// (components/certificates.ts); the key never passes through Pulumi. With dns-01, the DNS
// provider's credentials are files in a volume of their own, installed by a config job.
import { ACME_SERVICE, CERTS_MOUNT, CERTS_VOLUME } from "../model/certificate";
import { wellKnownNames } from "../model/dns";
import type { AcmeSettings } from "../model/settings";
import { CONFIG, MailServerService } from "./definition";

/** Where the ACME container mounts the credentials volume (read-only); files in current/. */
export const CREDENTIALS_MOUNT = "/credentials";

/** The dns-01 part of the environment: provider, settings as given, each credential as <NAME>_FILE. */
function dnsEnv(acme: AcmeSettings): string[] {
    const settings = acme.dnsSettings ?? {};
    return [
        "ACME_CHALLENGE=dns-01",
        `ACME_DNS_PROVIDER=${acme.dnsProvider}`,
        ...(acme.dnsResolvers?.length ? [`ACME_DNS_RESOLVERS=${acme.dnsResolvers.join(",")}`] : []),
        ...(acme.dnsCheckAllNameservers === false ? ["ACME_DNS_ALL_NAMESERVERS=false"] : []),
        ...Object.keys(settings)
            .sort()
            .map(name => `${name}=${settings[name]}`),
        ...Object.keys(acme.dnsCredentials ?? {})
            .sort()
            .map(name => `${name}_FILE=${CREDENTIALS_MOUNT}/current/${name}`),
    ];
}

/**
 * The client's environment: nothing secret (the account key and certificate keys stay on /acme;
 * dns-01 credentials are files, named here only by their paths).
 */
export function acmeEnv(acme: AcmeSettings, hostname: string, networkMode: string): string[] {
    const names = [...new Set([hostname, ...acme.names])];
    // Host mode: lego binds the host's address itself; bridge mode: Docker publishes it there.
    const bind = networkMode === "host" ? acme.httpAddress : undefined;
    const port = bind !== undefined ? `${bind}:${acme.httpPort}` : `${acme.httpPort}`;
    return [
        `ACME_SERVER=${acme.directory}`,
        `ACME_EMAIL=${acme.email}`,
        `ACME_DOMAINS=${names.join(",")}`,
        `ACME_KEY_TYPE=${acme.keyType === "RSA" ? "rsa3072" : "ec256"}`,
        ...(acme.challenge === "dns-01" ? dnsEnv(acme) : [`ACME_HTTP_LISTEN=${port}`]),
        `ACME_RENEW_DAYS=${acme.renewDaysBefore}`,
        `ACME_RETRY_SECONDS=${acme.retrySeconds}`,
        // A public certificate: fine in the environment, and it needs no writable root filesystem.
        ...(acme.caCertPem !== undefined ? [`ACME_CA_PEM=${acme.caCertPem}`] : []),
    ];
}

const dns01 = (acme: AcmeSettings) => acme.challenge === "dns-01";

/**
 * Healthy once a certificate is installed in the certs volume (a temporary self-signed one while
 * the ACME server cannot be reached), so a deployment never waits for the ACME server.
 */
export const acme: MailServerService = {
    name: ACME_SERVICE,
    component: "MailServer",
    image: "A prebuilt ACME client image to use instead of building images/acme (tls.acme)",
    runs: s => s.tls.acme !== undefined,
    // root, to own the key files the services' root processes read; it writes only its volumes.
    security: { user: "root", capabilities: [], tmpfs: ["/tmp"], lowPortCapability: true },
    network: "stack",
    // Its HTTP-01 server must be reachable on the host's port (published in bridge mode); dns-01
    // opens no port at all.
    ports: s => (dns01(s.tls.acme!) ? [] : [s.tls.acme!.httpPort]),
    publishAddress: s => s.tls.acme!.httpAddress ?? s.placement.publishAddress,
    volumes: [
        // The ACME account and every certificate obtained outlive replacement and destroy: a new
        // container renews instead of ordering again (rate limits).
        { name: "acme", path: "/acme", kind: "data" },
        { name: CERTS_VOLUME, path: CERTS_MOUNT, kind: "data", readOnlyForOthers: true },
    ],
    // The credentials (dns-01) are its config volume.
    mounts: ["acme", CERTS_VOLUME, CONFIG],
    config: {
        // dns-01's credentials (root, 0400), secret whatever way they were given. A changed value
        // replaces only the job: lego reads the files at each run, so the client is neither
        // restarted nor replaced (a credential added or removed changes its environment).
        secretFiles: (_s, secrets) =>
            Object.keys(secrets.dnsCredentials)
                .sort()
                .map(name => ({
                    path: name,
                    mode: "0400",
                    owner: "root",
                    group: "root",
                    content: secrets.dnsCredentials[name],
                })),
        volume: "acme-credentials",
        path: CREDENTIALS_MOUNT,
    },
    env: s =>
        acmeEnv(
            { ...s.tls.acme!, names: [...s.tls.acme!.names, ...wellKnownNames(s.wellKnown?.domains ?? [])] },
            s.postfix.hostname,
            s.placement.networkMode,
        ),
    healthcheck: ["/usr/local/lib/mail/acme", "check"],
    reload: "none: lego reads its credentials at each run; a renewal renames /certs/current over to the new pair",
};
