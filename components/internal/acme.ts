// tls.acme: the ACME client container (images/acme, Debian's lego), its account volume and the
// certs volume through which Postfix and Dovecot read the certificate it installs; with dns-01,
// the volume of the DNS provider's credentials and the config job that installs them.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ImageArgs } from "../args";
import type { TlsSettings } from "../model/settings";
import { configJob, NetworkPlacement, serviceContainer, serviceImage, volumeMount } from "./docker";

export type AcmeSettings = NonNullable<TlsSettings["acme"]>;

/** Where the services mount the certs volume (read-only); paths.acmeCerts is its "current" link. */
export const CERTS_MOUNT = "/certs";

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
    const dns = a.acme.challenge === "dns-01";
    const credentials = dns ? dnsCredentials(parent, prefix, image, a) : undefined;
    const container = serviceContainer(
        parent,
        `${prefix}-acme`,
        {
            service: "acme",
            image,
            // Its HTTP-01 server must be reachable on the host's port (published in bridge mode);
            // dns-01 opens no port at all.
            placement: { ...a.placement, publishAddress: a.acme.httpAddress ?? a.placement.publishAddress },
            ports: dns ? [] : [a.acme.httpPort],
            mounts: [
                volumeMount(account.name, "/acme"),
                volumeMount(certs.name, CERTS_MOUNT),
                ...(credentials ? [volumeMount(credentials.volume, CREDENTIALS_MOUNT, true)] : []),
            ],
            healthcheck: ["/usr/local/lib/mail/acme", "check"],
            restart: a.restart,
            labels: a.labels,
            envs: acmeEnv(a.acme, a.hostname, a.placement.networkMode),
            extraCapabilities: !dns && a.acme.httpPort < 1024 ? ["CAP_NET_BIND_SERVICE"] : [],
        },
        credentials ? [credentials.job] : [],
    );
    // The job's exit code: MailServer registers it, so that rejected credentials fail the deployment.
    const credentialsApplied = credentials?.applied ?? pulumi.output(undefined);
    return { container, certsVolume: certs.name, accountVolume: account.name, credentialsApplied };
}

/**
 * dns-01: the provider's credentials as files (root, 0400) in a volume of their own, installed by
 * a config job of the ACME image. A changed value replaces only the job; the ACME container reads
 * the files at each lego run, so it is neither restarted nor replaced (a credential added or
 * removed changes its environment, and so replaces it alone).
 */
function dnsCredentials(parent: pulumi.Resource, prefix: string, image: pulumi.Input<string>, a: AcmeArgs) {
    const given = a.acme.dnsCredentials ?? {};
    if (Object.keys(given).length === 0) return undefined;
    const volume = new docker.Volume(`${prefix}-acme-credentials`, { name: `${prefix}-acme-credentials` }, { parent });
    const job = configJob(parent, `${prefix}-acme-config`, {
        service: "acme",
        image,
        configVolume: volume.name,
        files: Object.keys(given)
            .sort()
            // Secret whatever way it was given: in the state the uploads are then encrypted.
            .map(name => ({
                path: name,
                mode: "0400",
                owner: "root",
                group: "root",
                content: pulumi.secret(given[name]),
            })),
        labels: a.labels,
    });
    return { volume: volume.name, job: job.container, applied: job.applied };
}
