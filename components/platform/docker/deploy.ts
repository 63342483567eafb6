// Service definitions (components/services) as Docker resources: for each service that runs, its
// volumes, its image, its config job and its container, wired by name to the volumes and
// containers of the services it mounts and waits for. The only place that turns a definition
// into Docker; a component calls it once for its services.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceCertificate } from "../../certificates";
import { CERTIFICATE, CONFIG, ServiceDefinition, VolumeDefinition } from "../../services/definition";
import type { PlannedService } from "../../services";
import { configJob } from "./configJob";
import { NetworkPlacement, serviceContainer, volumeMount } from "./container";
import { ImageSettings, serviceImage } from "./images";

/** What a component deployed: by name, for its outputs and for the components built on it. */
export interface Deployment {
    /** Each volume by its name after the prefix: the Docker volume's name and its definition. */
    volumes: Map<string, { name: pulumi.Output<string>; definition: VolumeDefinition; owner: string }>;
    /** Each running service's container. */
    containers: Map<string, docker.Container>;
    /** Each config job: its container and exit code (registered, so that a failed job fails the deployment). */
    jobs: Map<string, { container: docker.Container; applied: pulumi.Output<number> }>;
}

export interface DeployArgs<S> {
    prefix: string;
    settings: S;
    images: ImageSettings | undefined;
    placement: NetworkPlacement;
    restart: string;
    certificate: ServiceCertificate;
    /** What the component this one builds on deployed (DovecotImap: its MailServer's services). */
    base?: Deployment;
}

/** The services a service waits for, healthy: its own dependencies, and the certificate's (the ACME client). */
const waitsFor = (d: ServiceDefinition<string, unknown, unknown>, certificate: ServiceCertificate) => [
    ...(d.dependsOn ?? []),
    ...(d.certificate ? certificate.dependsOn : []),
];

/** The planned services in an order where each comes after those it waits for. */
function dependencyOrder<C extends string, S, X>(
    planned: Array<PlannedService<C, S, X>>,
    certificate: ServiceCertificate,
) {
    const byName = new Map(planned.map(p => [p.definition.name, p]));
    const ordered: Array<PlannedService<C, S, X>> = [];
    const visit = (p: PlannedService<C, S, X>, trail: string[]) => {
        if (ordered.includes(p)) return;
        if (trail.includes(p.definition.name))
            throw new Error(`services wait for each other: ${[...trail, p.definition.name].join(" -> ")}`);
        for (const d of waitsFor(p.definition, certificate)) {
            const dependency = byName.get(d);
            if (dependency) visit(dependency, [...trail, p.definition.name]);
        }
        ordered.push(p);
    };
    planned.forEach(p => visit(p, []));
    return ordered;
}

const configVolumeName = (d: ServiceDefinition<string, unknown, unknown>) => d.config?.volume ?? `${d.name}-config`;

export function deployServices<C extends string, S, X>(
    parent: pulumi.Resource,
    planned: Array<PlannedService<C, S, X>>,
    a: DeployArgs<S>,
): Deployment {
    const { prefix, settings, certificate } = a;
    const labels = { "mailserver.stack": prefix };
    const deployment: Deployment = { volumes: new Map(), containers: new Map(), jobs: new Map() };
    // Data volumes outlive the stack: `pulumi destroy` must never lose mail, queue or state.
    const volume = (suffix: string, retained: boolean) =>
        new docker.Volume(
            `${prefix}-${suffix}`,
            { name: `${prefix}-${suffix}` },
            retained ? { parent, retainOnDelete: true } : { parent },
        ).name;
    /** The staged files of each service: its rendered files, the certificate pair, its secret files. */
    const staged = new Map(
        planned.map(p => [p, [...p.files, ...(p.definition.certificate ? certificate.files : []), ...p.secretFiles]]),
    );
    for (const p of planned) {
        for (const v of p.definition.volumes ?? [])
            deployment.volumes.set(v.name, {
                name: volume(v.name, v.kind === "data"),
                definition: v,
                owner: p.definition.name,
            });
    }
    const sharedVolume = (name: string) => deployment.volumes.get(name) ?? a.base?.volumes.get(name);
    // A volume, read-only for others if its owner says so; none while its owner does not run.
    const sharedMount = (name: string, service: string, readOnly = false) => {
        const v = sharedVolume(name);
        if (!v) return [];
        const others = v.owner !== service && v.definition.readOnlyForOthers === true;
        return [volumeMount(v.name, v.definition.path, others || readOnly)];
    };
    const container = (service: string) => deployment.containers.get(service) ?? a.base?.containers.get(service);

    for (const p of dependencyOrder(planned, certificate)) {
        const d = p.definition;
        const image = serviceImage(parent, prefix, d.name, a.images);
        const files = staged.get(p)!;
        const config =
            d.config && files.length > 0
                ? { volume: volume(configVolumeName(d), false), path: d.config.path ?? "/config" }
                : undefined;
        const job = config
            ? configJob(parent, `${prefix}-${d.name}-config`, {
                  image,
                  configVolume: config.volume,
                  files,
                  postmap: d.config?.postmap,
                  postalias: d.config?.postalias,
                  labels,
                  networkMode: d.config?.hostNetworkInHostMode && a.placement.networkMode === "host" ? "host" : "none",
              })
            : undefined;
        if (job) deployment.jobs.set(d.name, job);
        const own = (d.volumes ?? []).map(v => v.name);
        const mountNames = d.mounts ?? [CONFIG, ...own];
        const unmounted = own.filter(v => !mountNames.includes(v));
        if (unmounted.length > 0) throw new Error(`service ${d.name}: its volumes ${unmounted} are not in its mounts`);
        const mounts = mountNames.flatMap(name => {
            if (name === CONFIG) return config ? [volumeMount(config.volume, config.path, true)] : [];
            if (name === CERTIFICATE)
                return d.certificate ? certificate.mounts.flatMap(n => sharedMount(n, d.name)) : [];
            return sharedMount(name, d.name, d.readOnlyMounts?.includes(name));
        });
        // Each while its service runs (in this component or the one it builds on).
        const dependencies = waitsFor(d, certificate).flatMap(name => {
            const c = container(name);
            return c ? [c] : [];
        });
        const placement =
            d.network === "none"
                ? { ...a.placement, networkMode: "none", network: undefined }
                : { ...a.placement, publishAddress: d.publishAddress?.(settings) ?? a.placement.publishAddress };
        deployment.containers.set(
            d.name,
            serviceContainer(
                parent,
                `${prefix}-${d.name}`,
                {
                    security: d.security,
                    image,
                    placement,
                    ports: d.ports?.(settings) ?? [],
                    addressedPorts: d.addressedPorts?.(settings),
                    mounts,
                    healthcheck: d.healthcheck,
                    restart: a.restart,
                    labels,
                    envs: d.env?.(settings),
                    dns: d.dns?.(settings),
                    startupSettings: d.startupSettings?.(settings),
                },
                [...(job ? [job.container] : []), ...dependencies],
            ),
        );
    }
    return deployment;
}
