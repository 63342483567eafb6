// Service definitions (components/services) as Kubernetes resources: the thin Pulumi layer over
// pod.ts, objects.ts and config.ts, which decide every field. The cluster is the component's
// `kubernetes` provider (its `providers` option), inherited by every resource registered here.
//
// Pod groups: Postfix with rspamd and (outboundTls.mtaSts) the MTA-STS resolver beside it (the milter
// and policy sockets in shared emptyDirs, as the Docker platform shares socket volumes), so they
// scale with Postfix; one Valkey all rspamd replicas share (TCP, a Service); Dovecot (DovecotImap)
// with its brute-force policy service, reached by Postfix over TCP through the Service
// `<prefix>-dovecot-internal` (LMTP and SMTP AUTH).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceCertificate } from "../../certificates";
import type { Credential } from "../../model/spec";
import {
    DOVECOT_AUTH_PORT,
    DOVECOT_LMTP_PORT,
    KubernetesSettings,
    kubernetesPeers,
    VALKEY_PORT,
} from "../../model/kubernetes";
import { deployGroup, ImapDeploymentArgs, KubernetesDeployment, ownersOf, Planned } from "./group";
import {
    dovecotPolicy,
    mailServerPolicies,
    nextHopPorts,
    postfixDisruptionBudget,
    proxiedPorts,
    service,
} from "./objects";
import { backendPlanned, deployShards, proxyPlanned, ShardDeployment } from "./shards";

export type { KubernetesDeployment } from "./group";

/** MailServer on the cluster: Valkey, the Postfix replicas with rspamd, their Services and policies. */
export function deployMailServerOnKubernetes(
    parent: pulumi.Resource,
    planned: Planned[],
    a: {
        prefix: string;
        k: KubernetesSettings;
        settings: {
            postfix: {
                ports: { smtp: number; submission: number; smtps: number };
                relayhosts: Array<{ port: number }>;
                transports?: Array<{ nexthop: string }>;
            };
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
    // rspamd and the MTA-STS resolver beside each Postfix: their sockets are in the pod's shared emptyDirs.
    const postfixGroup = planned.filter(p => ["postfix", "rspamd", "mtasts"].includes(p.definition.name));
    d.statefulSets.set(
        "postfix",
        deployGroup({ ...common, group: "postfix", replicas: k.postfixReplicas, planned: postfixGroup, hostAliases }),
    );
    new k8s.policy.v1.PodDisruptionBudget(`${prefix}-postfix`, postfixDisruptionBudget(prefix, ns), { parent });
    const tcp = { lmtpPort: DOVECOT_LMTP_PORT, authPort: DOVECOT_AUTH_PORT, valkeyPort: VALKEY_PORT };
    const proxied = proxiedPorts(a.settings.proxyProtocol, ports);
    const mtaSts = planned.some(p => p.definition.name === "mtasts");
    const out = { smtpPorts: nextHopPorts(a.settings.postfix), https: mtaSts };
    for (const policy of mailServerPolicies(prefix, ns, ports, valkeyRuns, tcp, proxied, out))
        new k8s.networking.v1.NetworkPolicy(policy.metadata.name as string, policy, { parent });
    return d;
}

/**
 * DovecotImap on the cluster: Dovecot (and its brute-force policy service), its Service and policy;
 * with kubernetes.shards, that Dovecot is the proxy (proxyReplicas pods) in front of the backends
 * (shards.ts).
 */
export function deployImapOnKubernetes(
    parent: pulumi.Resource,
    planned: Planned[],
    a: ImapDeploymentArgs & { logins: pulumi.Output<Credential[]> },
): {
    statefulSet: k8s.apps.v1.StatefulSet;
    service: k8s.core.v1.Service;
    shards: ShardDeployment | undefined;
} {
    const { prefix } = a;
    const k = a.base.settings;
    const sharded = a.settings.imap.shards;
    const p = a.settings.imap.ports;
    const clientPorts = Object.entries(p).map(([name, port]) => ({ name: name.toLowerCase(), port }));
    const shards = sharded
        ? deployShards(parent, backendPlanned(planned, a.settings.imap, a.logins), {
              ...a,
              clientPorts: clientPorts.map(c => c.port),
          })
        : undefined;
    const group = sharded ? proxyPlanned(planned) : planned;
    const statefulSetResource = deployGroup({
        parent,
        prefix,
        k,
        group: "dovecot",
        replicas: sharded ? sharded.proxyReplicas : 1,
        planned: group,
        settings: a.settings,
        images: a.images,
        certificate: a.certificate,
        owners: ownersOf(group, a.base.owners),
        hostAliases: shards?.hostAliases ?? [],
        extraPorts: [DOVECOT_LMTP_PORT, DOVECOT_AUTH_PORT],
    });
    const svc = new k8s.core.v1.Service(
        `${prefix}-dovecot`,
        service(prefix, k.namespace, `${prefix}-dovecot`, "dovecot", clientPorts, k.serviceType),
        { parent },
    );
    // With shards, shards.ts registers the proxy's policy (backends out) and the backends'.
    if (!sharded) {
        const tcp = { lmtpPort: DOVECOT_LMTP_PORT, authPort: DOVECOT_AUTH_PORT };
        const proxied = proxiedPorts(a.settings.imap.proxyProtocol, p);
        const policy = dovecotPolicy(
            prefix,
            k.namespace,
            clientPorts.map(c => c.port),
            tcp,
            proxied,
        );
        new k8s.networking.v1.NetworkPolicy(`${prefix}-dovecot`, policy, { parent });
    }
    return { statefulSet: statefulSetResource, service: svc, shards };
}
