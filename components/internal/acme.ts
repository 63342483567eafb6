// tls.acme: the ACME client container (images/acme, Debian's lego), its account volume and the
// certs volume through which Postfix and Dovecot read the certificate it installs.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ImageArgs } from "../args";
import type { TlsSettings } from "../options/tls";
import { NetworkPlacement, serviceContainer, serviceImage, volumeMount } from "./docker";

export type AcmeSettings = NonNullable<TlsSettings["acme"]>;

/** Where the services mount the certs volume (read-only); paths.acmeCerts is its "current" link. */
export const CERTS_MOUNT = "/certs";

/** The client's environment: nothing secret (the account key and certificate keys stay on /acme). */
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
        `ACME_HTTP_LISTEN=${port}`,
        `ACME_RENEW_DAYS=${acme.renewDaysBefore}`,
        `ACME_RETRY_SECONDS=${acme.retrySeconds}`,
        // A public certificate: fine in the environment, and it needs no writable root filesystem.
        ...(acme.caCertPem !== undefined ? [`ACME_CA_PEM=${acme.caCertPem}`] : []),
    ];
}

export interface AcmeArgs {
    prefix: string;
    hostname: string;
    acme: AcmeSettings;
    images: ImageArgs | undefined;
    placement: NetworkPlacement;
    restart: string;
    labels: Record<string, string>;
}

/**
 * Creates the ACME client. It is healthy once a certificate is installed in the certs volume
 * (a temporary self-signed one while the ACME server cannot be reached), so a deployment never
 * waits for the ACME server; services that mount `certsVolume` depend on `container`.
 */
export function acmeClient(parent: pulumi.Resource, a: AcmeArgs) {
    const { prefix } = a;
    // The ACME account and every certificate obtained outlive replacement and destroy: a new
    // container renews instead of ordering again (rate limits).
    const account = new docker.Volume(`${prefix}-acme`, { name: `${prefix}-acme` }, { parent, retainOnDelete: true });
    const certs = new docker.Volume(`${prefix}-certs`, { name: `${prefix}-certs` }, { parent, retainOnDelete: true });
    const image = serviceImage(parent, prefix, "acme", a.images);
    const container = serviceContainer(
        parent,
        `${prefix}-acme`,
        {
            service: "acme",
            image,
            // Its HTTP-01 server must be reachable on the host's port (published in bridge mode).
            placement: { ...a.placement, publishAddress: a.acme.httpAddress ?? a.placement.publishAddress },
            ports: [a.acme.httpPort],
            mounts: [volumeMount(account.name, "/acme"), volumeMount(certs.name, CERTS_MOUNT)],
            healthcheck: ["/usr/local/lib/mail/acme", "check"],
            restart: a.restart,
            labels: a.labels,
            envs: acmeEnv(a.acme, a.hostname, a.placement.networkMode),
        },
        [],
    );
    return { container, certsVolume: certs.name, accountVolume: account.name };
}
