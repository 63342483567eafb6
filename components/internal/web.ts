// MailServer's well-known HTTPS endpoint (wellKnown): Debian's nginx (images/web) serving each
// served domain's MTA-STS policy and autoconfig file, its config volume and config job. It serves
// the mail services' certificate: the config volume's copy, or with tls.acme the certs volume's.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ImageArgs } from "../args";
import type { MailServerSettings } from "../model/settings";
import { WebSpec } from "../render/web";
import type { RenderedFile } from "../model/spec";
import { paths } from "../model/paths";
import type { ServerCertificate } from "../tls";
import { CERTS_MOUNT } from "./acme";
import { configJob, NetworkPlacement, serviceContainer, serviceImage, StagedFile, volumeMount } from "./docker";

export type WellKnownSettings = NonNullable<MailServerSettings["wellKnown"]>;

/**
 * nginx's spec: in host mode it binds wellKnown.address (all addresses if none); in bridge mode
 * every IPv4 address of its own network namespace, and Docker publishes the port on the address.
 */
export function webSpec(w: WellKnownSettings, networkMode: string, acme: boolean): WebSpec {
    return {
        port: w.httpsPort,
        address: networkMode === "host" ? w.address : "0.0.0.0",
        certDir: acme ? paths.acmeCerts : "/config/current/tls",
        domains: w.domains,
    };
}

export interface WebArgs {
    prefix: string;
    wellKnown: WellKnownSettings;
    /** renderWebFiles(webSpec(...)), as MailServer registers them. */
    rendered: RenderedFile[];
    /** The pair the config job installs; undefined with tls.acme. */
    certificate: ServerCertificate | undefined;
    /** tls.acme: the certs volume and the ACME container that fills it. */
    acme: { certsVolume: pulumi.Output<string>; container: docker.Container } | undefined;
    images: ImageArgs | undefined;
    placement: NetworkPlacement;
    restart: string;
    labels: Record<string, string>;
}

/** Creates the endpoint; a domain or certificate change reaches it through its config job (a reload). */
export function wellKnownEndpoint(parent: pulumi.Resource, a: WebArgs) {
    const { prefix, labels } = a;
    const config = new docker.Volume(`${prefix}-web-config`, { name: `${prefix}-web-config` }, { parent });
    const files: StagedFile[] = [...a.rendered];
    if (a.certificate)
        files.push(
            { path: "tls/cert.pem", content: a.certificate.certPem, mode: "0644", owner: "root", group: "root" },
            { path: "tls/key.pem", content: a.certificate.keyPem, mode: "0600", owner: "root", group: "root" },
        );
    const image = serviceImage(parent, prefix, "web", a.images);
    const job = configJob(parent, `${prefix}-web-config`, {
        service: "web",
        image,
        configVolume: config.name,
        files,
        labels,
    });
    const container = serviceContainer(
        parent,
        `${prefix}-web`,
        {
            service: "web",
            image,
            placement: { ...a.placement, publishAddress: a.wellKnown.address ?? a.placement.publishAddress },
            ports: [a.wellKnown.httpsPort],
            mounts: [
                volumeMount(config.name, "/config", true),
                ...(a.acme ? [volumeMount(a.acme.certsVolume, CERTS_MOUNT, true)] : []),
            ],
            healthcheck: ["/usr/local/lib/mail/healthcheck"],
            restart: a.restart,
            labels,
            extraCapabilities: a.wellKnown.httpsPort < 1024 ? ["CAP_NET_BIND_SERVICE"] : [],
        },
        [job.container, ...(a.acme ? [a.acme.container] : [])],
    );
    return { container, applied: job.applied, configVolume: config.name };
}
