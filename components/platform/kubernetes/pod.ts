// Service definitions as the containers and volumes of a pod: pure (no Pulumi resource), so the
// mapping is unit-tested without mocks. Each service with files gets a config sidecar of its own
// image (images/common/watch-config) that installs every new projection of its ConfigMap and
// Secret as a generation in an emptyDir, which the service mounts read-only at /config, as the
// Docker platform's config job fills the config volume. A "socket" volume is an emptyDir the pod's
// containers share; a "data" volume of a service in the pod is a persistent volume claim
// (volumeClaimTemplates) where DATA_CLAIMS names it, an emptyDir otherwise.
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import type { KubernetesSettings } from "../../model/kubernetes";
import { CERTIFICATE, CONFIG, ServiceDefinition, VolumeDefinition } from "../../services/definition";

type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;
type Definition = ServiceDefinition<string, unknown, unknown>;

/** Data volumes that are persistent volume claims, and the setting of their size. */
export const DATA_CLAIMS: Record<string, keyof KubernetesSettings> = {
    queue: "queueStorage",
    mail: "mailStorage",
    "valkey-data": "valkeyStorage",
};

/** Where the config sidecar finds the projection, and the volume it installs generations in. */
export const PROJECTION_PATH = "/projected";
export const GENERATIONS_PATH = "/volume";

/** One service of a pod: its definition, image, and whether it has files (a config sidecar). */
export interface PodService {
    definition: Definition;
    image: Input<string>;
    hasConfig: boolean;
    /** Files made of secrets too: its Secret is projected beside the ConfigMap. */
    hasSecret: boolean;
    ports: number[];
    env: string[] | undefined;
}

/** What a pod is made of: init containers (the config sidecars), containers, volumes, claims. */
export interface PodParts {
    initContainers: Container[];
    containers: Container[];
    volumes: Volume[];
    /** Names of the data volumes that are claims (volumeClaimTemplates), in order. */
    claims: string[];
}

export const configVolume = (service: string) => `${service}-config`;
export const projectionVolume = (service: string) => `${service}-files`;
/** The ConfigMap (rendered files) and Secret (files made of secrets) of a service. */
export const filesObjectName = (prefix: string, service: string) => `${prefix}-${service}-files`;

/** The config job's and sidecar's one capability (components/platform/docker/configJob.ts says why). */
export const SIDECAR_CAPABILITIES = ["CAP_CHOWN"];

/** A service's capabilities: NET_BIND_SERVICE too while a port is below 1024, where it asks. */
export function serviceCapabilities(security: Definition["security"], ports: number[]): string[] {
    const low = security.lowPortCapability && ports.some(p => p > 0 && p < 1024);
    return [...security.capabilities, ...(low ? ["CAP_NET_BIND_SERVICE"] : [])].sort();
}

/** Linux capability names as Kubernetes writes them (no CAP_ prefix). */
const capNames = (caps: string[]) => caps.map(c => c.replace(/^CAP_/, ""));

/** Least privilege as the Docker platform gives it: every capability dropped but the listed ones. */
export function securityContext(caps: string[], readOnlyRoot: boolean): k8s.types.input.core.v1.SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: readOnlyRoot,
        capabilities: { drop: ["ALL"], ...(caps.length > 0 ? { add: capNames(caps) } : {}) },
    };
}

/** The healthcheck as a readiness probe: what Docker's healthcheck means (ready, not restarted). */
export function readinessProbe(command: string[]): k8s.types.input.core.v1.Probe {
    return { exec: { command }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 };
}

/**
 * The pod's parts for its services. `owners` says, for every volume of the stack (this component's
 * and the one it builds on), its definition and owner; a volume whose owner does not run is not
 * mounted (as on Docker).
 */
export function podParts(
    prefix: string,
    services: PodService[],
    owners: Map<string, { definition: VolumeDefinition; owner: string }>,
    pullPolicy: string,
): PodParts {
    const inPod = new Set(services.map(s => s.definition.name));
    const volumes = new Map<string, Volume>();
    const claims: string[] = [];
    const emptyDir = (name: string, memory = false) => {
        if (!volumes.has(name)) volumes.set(name, { name, emptyDir: memory ? { medium: "Memory" } : {} });
    };
    const initContainers: Container[] = [];
    const containers: Container[] = [];
    for (const s of services) {
        const d = s.definition;
        const own = (d.volumes ?? []).map(v => v.name);
        const mounts: k8s.types.input.core.v1.VolumeMount[] = [];
        for (const name of d.mounts ?? [CONFIG, ...own]) {
            if (name === CONFIG) {
                if (!s.hasConfig) continue;
                emptyDir(configVolume(d.name));
                mounts.push({ name: configVolume(d.name), mountPath: d.config?.path ?? "/config", readOnly: true });
                continue;
            }
            // The certificate's files come with the configuration (tls.acme, a volume, is refused).
            if (name === CERTIFICATE) continue;
            const v = owners.get(name);
            if (!v) continue;
            const readOnly =
                (v.owner !== d.name && v.definition.readOnlyForOthers === true) || d.readOnlyMounts?.includes(name);
            if (v.definition.kind === "socket") emptyDir(name);
            else if (!inPod.has(v.owner))
                throw new Error(`${d.name}: the data volume ${name} belongs to ${v.owner}, which runs in another pod`);
            else if (DATA_CLAIMS[name]) {
                if (!claims.includes(name)) {
                    claims.push(name);
                    initContainers.push(claimPermissions(name, v.definition.path, s.image, pullPolicy));
                }
            } else emptyDir(name);
            mounts.push({ name, mountPath: v.definition.path, ...(readOnly ? { readOnly: true } : {}) });
        }
        d.security.tmpfs.forEach((path, i) => {
            emptyDir(`${d.name}-tmp-${i}`, true);
            mounts.push({ name: `${d.name}-tmp-${i}`, mountPath: path });
        });
        if (s.hasConfig) {
            volumes.set(projectionVolume(d.name), projection(prefix, d.name, s.hasSecret));
            initContainers.push(configSidecar(s, pullPolicy));
        }
        containers.push({
            name: d.name,
            image: s.image,
            imagePullPolicy: pullPolicy,
            ...(s.env && s.env.length > 0
                ? { env: s.env.map(e => ({ name: e.slice(0, e.indexOf("=")), value: e.slice(e.indexOf("=") + 1) })) }
                : {}),
            ports: s.ports.filter(p => p > 0).map(p => ({ containerPort: p, protocol: "TCP" })),
            volumeMounts: mounts,
            securityContext: securityContext(serviceCapabilities(d.security, s.ports), true),
            readinessProbe: readinessProbe(d.healthcheck),
        });
    }
    return { initContainers, containers, volumes: [...volumes.values()], claims };
}

/**
 * A new claim is an empty directory (root's, often): given the owner and mode the image has at
 * that path, as Docker does for a new volume (Valkey runs as its own user and writes there). A
 * claim with anything in it is left as it is. Runs once, before the sidecars and the service.
 */
export function claimPermissions(claim: string, path: string, image: Input<string>, pullPolicy: string): Container {
    const script = `if [ -z "$(ls -A /claim)" ]; then chown --reference=${path} /claim && chmod --reference=${path} /claim; fi`;
    return {
        name: `${claim}-permissions`,
        image,
        imagePullPolicy: pullPolicy,
        command: ["sh", "-c", script],
        volumeMounts: [{ name: claim, mountPath: "/claim" }],
        securityContext: { ...securityContext(["CAP_CHOWN", "CAP_FOWNER"], true), runAsUser: 0 },
    };
}

/**
 * The config sidecar (a restartable init container: it starts first and runs beside the service):
 * the service's image running images/common/watch-config, with the config job's privileges
 * (configJob.ts: root, CAP_CHOWN alone; a writable root filesystem, where apply-config stages and
 * validates). It counts as started once the first generation is active, so the service starts on it.
 */
export function configSidecar(s: PodService, pullPolicy: string): Container {
    const d = s.definition;
    return {
        name: `${d.name}-config`,
        image: s.image,
        imagePullPolicy: pullPolicy,
        restartPolicy: "Always",
        command: ["/usr/local/lib/mail/watch-config"],
        volumeMounts: [
            { name: projectionVolume(d.name), mountPath: PROJECTION_PATH, readOnly: true },
            { name: configVolume(d.name), mountPath: GENERATIONS_PATH },
        ],
        securityContext: { ...securityContext(SIDECAR_CAPABILITIES, false), runAsUser: 0 },
        startupProbe: {
            exec: { command: ["test", "-L", `${GENERATIONS_PATH}/current`] },
            periodSeconds: 1,
            failureThreshold: 300,
        },
    };
}

/** The projection of a service's ConfigMap (key "public") and, when it has one, its Secret ("outputs"). */
export function projection(prefix: string, service: string, hasSecret: boolean): Volume {
    const name = filesObjectName(prefix, service);
    return {
        name: projectionVolume(service),
        projected: {
            defaultMode: 0o400,
            sources: [{ configMap: { name } }, ...(hasSecret ? [{ secret: { name } }] : [])],
        },
    };
}
