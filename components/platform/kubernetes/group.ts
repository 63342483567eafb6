// A pod group on the cluster: each service's ConfigMap and Secret, and the StatefulSet of its pods
// (deploy.ts and shards.ts register their groups through it).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceCertificate } from "../../certificates";
import { KubernetesSettings, VALKEY_PORT } from "../../model/kubernetes";
import type { DovecotSpec } from "../../model/spec";
import type { PlannedService } from "../../services";
import type { VolumeDefinition } from "../../services/definition";
import { filesData } from "./config";
import { groupLabels, statefulSet } from "./objects";
import { filesObjectName, podParts, PodService } from "./pod";

export type Planned = PlannedService<string, any, any>;
export type Owners = Map<string, { definition: VolumeDefinition; owner: string }>;

/** Valkey serves rspamd's replicas over TCP besides its socket (its image's configuration has port 0). */
const VALKEY_ARGS = ["--port", String(VALKEY_PORT), "--bind", "0.0.0.0", "--protected-mode", "no"];

export interface GroupArgs {
    parent: pulumi.Resource;
    prefix: string;
    k: KubernetesSettings;
    group: string;
    replicas: number;
    planned: Planned[];
    settings: unknown;
    images: Record<string, pulumi.Input<string> | undefined>;
    certificate: ServiceCertificate;
    owners: Owners;
    hostAliases: Array<{ hostname: string; ip: pulumi.Input<string> }>;
    extraPorts?: number[];
}

/** A pod group: each service's ConfigMap and Secret, and the StatefulSet of its pods. */
export function deployGroup(a: GroupArgs): k8s.apps.v1.StatefulSet {
    const { parent, prefix, k } = a;
    const labels = groupLabels(prefix, a.group);
    const services: PodService[] = a.planned.map(p => {
        const d = p.definition;
        const staged = [...p.files, ...(d.certificate ? a.certificate.files : []), ...p.secretFiles];
        const data = staged.length > 0 ? filesData(staged, d.config?.postmap, d.config?.postalias) : undefined;
        const name = filesObjectName(prefix, d.name);
        const metadata = { name, namespace: k.namespace, labels };
        // Fixed names: a change the provider makes a replacement of (data, unless the provider has
        // enableConfigMapMutable / enableSecretMutable) deletes the object first; the pods keep
        // their projection meanwhile and then see the new one (no pod restarts).
        const opts = { parent, deleteBeforeReplace: true };
        if (data) new k8s.core.v1.ConfigMap(name, { metadata, data: data.public }, opts);
        if (data?.outputs) new k8s.core.v1.Secret(name, { metadata, type: "Opaque", stringData: data.outputs }, opts);
        const image = a.images[d.name];
        if (image === undefined) throw new Error(`${d.name}: no image (options/kubernetes.ts checks images)`);
        return {
            definition: d,
            image,
            hasConfig: data !== undefined,
            hasSecret: data?.outputs !== undefined,
            ports: [...(d.ports?.(a.settings) ?? []), ...(d.name === a.group ? (a.extraPorts ?? []) : [])],
            env: d.env?.(a.settings),
        };
    });
    const parts = podParts(prefix, services, a.owners, k.imagePullPolicy);
    for (const c of parts.containers) if (c.name === "valkey") c.args = VALKEY_ARGS;
    const main = a.planned.find(p => p.definition.name === a.group)?.definition;
    const spec = statefulSet({
        prefix,
        namespace: k.namespace,
        group: a.group,
        replicas: a.replicas,
        parts,
        settings: k,
        hostAliases: a.hostAliases,
        startupSettings: main?.startupSettings?.(a.settings),
    });
    return new k8s.apps.v1.StatefulSet(`${prefix}-${a.group}`, spec, { parent });
}

/** What MailServer deployed on the cluster, for its outputs and for its DovecotImap. */
export interface KubernetesDeployment {
    settings: KubernetesSettings;
    /** Every volume of MailServer's running services: DovecotImap's pods mount some (sockets). */
    owners: Owners;
    statefulSets: Map<string, k8s.apps.v1.StatefulSet>;
    services: Map<string, k8s.core.v1.Service>;
}

/** What DovecotImap's groups (its Dovecot or proxy, and the shard backends) are deployed from. */
export interface ImapDeploymentArgs {
    prefix: string;
    base: KubernetesDeployment;
    settings: { server: unknown; imap: DovecotSpec };
    images: Record<string, pulumi.Input<string> | undefined>;
    certificate: ServiceCertificate;
}

export const ownersOf = (planned: Planned[], base?: Owners): Owners => {
    const owners: Owners = new Map(base);
    for (const p of planned)
        for (const v of p.definition.volumes ?? []) owners.set(v.name, { definition: v, owner: p.definition.name });
    return owners;
};
