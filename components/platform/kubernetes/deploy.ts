// Service definitions (components/services) as Kubernetes resources: the thin Pulumi layer over
// pod.ts, objects.ts and config.ts, which decide every field. The cluster is the component's
// `kubernetes` provider (its `providers` option), inherited by every resource registered here.
//
// Pod groups: Postfix with rspamd beside it (the milter socket in a shared emptyDir, as the Docker
// platform shares a socket volume), so rspamd scales with Postfix; one Valkey all rspamd replicas
// share (TCP, a Service); Dovecot (DovecotImap) with its brute-force policy service, reached by
// Postfix over TCP through the Service `<prefix>-dovecot-internal` (LMTP and SMTP AUTH).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceCertificate } from "../../certificates";
import {
    DOVECOT_AUTH_PORT,
    DOVECOT_LMTP_PORT,
    KubernetesSettings,
    kubernetesPeers,
    VALKEY_PORT,
} from "../../model/kubernetes";
import type { PlannedService } from "../../services";
import type { VolumeDefinition } from "../../services/definition";
import { filesData } from "./config";
import {
    dovecotPolicy,
    groupLabels,
    mailServerPolicies,
    postfixDisruptionBudget,
    service,
    statefulSet,
} from "./objects";
import { filesObjectName, podParts, PodService } from "./pod";

type Planned = PlannedService<string, any, any>;
type Owners = Map<string, { definition: VolumeDefinition; owner: string }>;

/** What MailServer deployed on the cluster, for its outputs and for its DovecotImap. */
export interface KubernetesDeployment {
    settings: KubernetesSettings;
    /** Every volume of MailServer's running services: DovecotImap's pods mount some (sockets). */
    owners: Owners;
    statefulSets: Map<string, k8s.apps.v1.StatefulSet>;
    services: Map<string, k8s.core.v1.Service>;
}

/** Valkey serves rspamd's replicas over TCP besides its socket (its image's configuration has port 0). */
const VALKEY_ARGS = ["--port", String(VALKEY_PORT), "--bind", "0.0.0.0", "--protected-mode", "no"];

interface GroupArgs {
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
function deployGroup(a: GroupArgs): k8s.apps.v1.StatefulSet {
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

const ownersOf = (planned: Planned[], base?: Owners): Owners => {
    const owners: Owners = new Map(base);
    for (const p of planned)
        for (const v of p.definition.volumes ?? []) owners.set(v.name, { definition: v, owner: p.definition.name });
    return owners;
};

/** MailServer on the cluster: Valkey, the Postfix replicas with rspamd, their Services and policies. */
export function deployMailServerOnKubernetes(
    parent: pulumi.Resource,
    planned: Planned[],
    a: {
        prefix: string;
        k: KubernetesSettings;
        settings: {
            postfix: { ports: { smtp: number; submission: number; smtps: number } };
            proxyProtocol: { listeners: Array<"smtp" | "submission" | "smtps">; trustedNetworks: string[] };
        };
        images: Record<string, pulumi.Input<string> | undefined>;
        certificate: ServiceCertificate;
    },
): KubernetesDeployment {
    const { prefix, k } = a;
    const ns = k.namespace;
    const peers = kubernetesPeers(prefix);
    const owners = ownersOf(planned);
    const d: KubernetesDeployment = { settings: k, owners, statefulSets: new Map(), services: new Map() };
    const svc = (name: string, group: string, ports: Array<{ name: string; port: number }>, type?: string) => {
        const s = new k8s.core.v1.Service(name, service(prefix, ns, name, group, ports, type), { parent });
        d.services.set(name, s);
        return s;
    };
    const common = { parent, prefix, k, settings: a.settings, images: a.images, certificate: a.certificate, owners };
    const valkeyRuns = planned.some(p => p.definition.name === "valkey");
    const hostAliases = [
        {
            hostname: peers.dovecot,
            ip: svc(peers.dovecot, "dovecot", [
                { name: "lmtp", port: DOVECOT_LMTP_PORT },
                { name: "auth", port: DOVECOT_AUTH_PORT },
            ]).spec.clusterIP,
        },
    ];
    if (valkeyRuns) {
        const s = svc(peers.valkey, "valkey", [{ name: "valkey", port: VALKEY_PORT }]);
        hostAliases.push({ hostname: peers.valkey, ip: s.spec.clusterIP });
        const valkey = planned.filter(p => p.definition.name === "valkey");
        d.statefulSets.set(
            "valkey",
            deployGroup({ ...common, group: "valkey", replicas: 1, planned: valkey, hostAliases: [] }),
        );
    }
    const ports = a.settings.postfix.ports;
    svc(
        `${prefix}-postfix`,
        "postfix",
        [
            { name: "smtp", port: ports.smtp },
            { name: "submission", port: ports.submission },
            { name: "smtps", port: ports.smtps },
        ],
        k.serviceType,
    );
    const postfixGroup = planned.filter(p => ["postfix", "rspamd"].includes(p.definition.name));
    d.statefulSets.set(
        "postfix",
        deployGroup({ ...common, group: "postfix", replicas: k.postfixReplicas, planned: postfixGroup, hostAliases }),
    );
    new k8s.policy.v1.PodDisruptionBudget(`${prefix}-postfix`, postfixDisruptionBudget(prefix, ns), { parent });
    const tcp = { lmtpPort: DOVECOT_LMTP_PORT, authPort: DOVECOT_AUTH_PORT, valkeyPort: VALKEY_PORT };
    const proxy = a.settings.proxyProtocol;
    const proxied = { ports: proxy.listeners.map(l => ports[l]), trustedNetworks: proxy.trustedNetworks };
    for (const policy of mailServerPolicies(prefix, ns, ports, valkeyRuns, tcp, proxied))
        new k8s.networking.v1.NetworkPolicy(policy.metadata.name as string, policy, { parent });
    return d;
}

/** DovecotImap on the cluster: Dovecot (and its brute-force policy service), its Service and policy. */
export function deployImapOnKubernetes(
    parent: pulumi.Resource,
    planned: Planned[],
    a: {
        prefix: string;
        base: KubernetesDeployment;
        settings: {
            imap: {
                ports: Record<string, number>;
                proxyProtocol?: { listeners: string[]; trustedNetworks: string[] };
            };
        };
        images: Record<string, pulumi.Input<string> | undefined>;
        certificate: ServiceCertificate;
    },
): { statefulSet: k8s.apps.v1.StatefulSet; service: k8s.core.v1.Service } {
    const { prefix } = a;
    const k = a.base.settings;
    const owners = ownersOf(planned, a.base.owners);
    const p = a.settings.imap.ports;
    const clientPorts = Object.entries(p).map(([name, port]) => ({ name: name.toLowerCase(), port }));
    const statefulSetResource = deployGroup({
        parent,
        prefix,
        k,
        group: "dovecot",
        replicas: 1,
        planned,
        settings: a.settings,
        images: a.images,
        certificate: a.certificate,
        owners,
        hostAliases: [],
        extraPorts: [DOVECOT_LMTP_PORT, DOVECOT_AUTH_PORT],
    });
    const svc = new k8s.core.v1.Service(
        `${prefix}-dovecot`,
        service(prefix, k.namespace, `${prefix}-dovecot`, "dovecot", clientPorts, k.serviceType),
        { parent },
    );
    const tcp = { lmtpPort: DOVECOT_LMTP_PORT, authPort: DOVECOT_AUTH_PORT };
    const proxy = a.settings.imap.proxyProtocol;
    const proxied = proxy && { ports: proxy.listeners.map(l => p[l]), trustedNetworks: proxy.trustedNetworks };
    const policy = dovecotPolicy(
        prefix,
        k.namespace,
        clientPorts.map(c => c.port),
        tcp,
        proxied,
    );
    new k8s.networking.v1.NetworkPolicy(`${prefix}-dovecot`, policy, { parent });
    return { statefulSet: statefulSetResource, service: svc };
}
