// DovecotImap kubernetes.shards > 1 on the cluster: the backends (one StatefulSet, a pod and a mail
// claim per shard, Dovecot's own configuration with fixed internal ports), a Service per backend, and
// what the proxy pods need to reach them (hostAliases: each shard's name -> its Service's cluster IP,
// as deploy.ts maps MailServer's peers). The proxy itself is DovecotImap's "dovecot" group (deploy.ts),
// its files the dovecot service's when shards are set (services/dovecot.ts).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DOVECOT_AUTH_PORT, DOVECOT_LMTP_PORT } from "../../model/kubernetes";
import { shardHost } from "../../model/shards";
import type { DovecotSpec } from "../../model/spec";
import { dovecotUsersFile, renderDovecotUsers } from "../../render/dovecot";
import { backendSpec, renderBackendFiles } from "../../render/dovecotProxy";
import type { Credential } from "../../model/spec";
import { CERTIFICATE, CONFIG, SERVICE_STATUS } from "../../services/definition";
import { deployGroup, ImapDeploymentArgs, ownersOf, Planned } from "./group";
import { proxiedPorts } from "./objects";
import { BACKEND_GROUP, backendPorts, proxyDisruptionBudget, shardPolicies, shardService } from "./shardObjects";

/**
 * The proxy's definition: DovecotImap's Dovecot without the mail claim (it stores nothing); the
 * image's entrypoint still prepares the mail directory, so an emptyDir is there instead.
 */
export function proxyPlanned(planned: Planned[]): Planned[] {
    return planned.map(p => {
        if (p.definition.name !== "dovecot") return p;
        const mail = (p.definition.volumes ?? []).find(v => v.name === "mail")!;
        return {
            ...p,
            definition: {
                ...p.definition,
                volumes: [{ ...mail, name: PROXY_MAIL }],
                mounts: (p.definition.mounts ?? []).map(m => (m === "mail" ? PROXY_MAIL : m)),
            },
        };
    });
}
const PROXY_MAIL = "proxy-mail";

/** The backends' plan: Dovecot's definition under its own name, its files, its users (hashes only). */
export function backendPlanned(planned: Planned[], spec: DovecotSpec, logins: pulumi.Output<Credential[]>): Planned {
    const d = planned.find(p => p.definition.name === "dovecot")!.definition;
    const shards = spec.shards!;
    return {
        definition: {
            ...d,
            name: BACKEND_GROUP,
            mounts: [CONFIG, "mail", "lmtp", CERTIFICATE, SERVICE_STATUS],
            dependsOn: [],
        },
        files: renderBackendFiles(spec, shards.trustedNetworks),
        secretFiles: [{ ...dovecotUsersFile(""), content: logins.apply(c => renderDovecotUsers(c, spec.domains)) }],
    };
}

export interface ShardDeployment {
    backends: k8s.apps.v1.StatefulSet;
    services: k8s.core.v1.Service[];
    /** For the proxy pods: each shard's Service name -> its cluster IP. */
    hostAliases: Array<{ hostname: string; ip: pulumi.Input<string> }>;
}

export function deployShards(
    parent: pulumi.Resource,
    backend: Planned,
    a: ImapDeploymentArgs & { clientPorts: number[] },
): ShardDeployment {
    const { prefix } = a;
    const k = a.base.settings;
    const spec = a.settings.imap;
    const shards = spec.shards!;
    const images = { ...a.images, [BACKEND_GROUP]: a.images.dovecot };
    const backends = deployGroup({
        parent,
        prefix,
        k,
        group: BACKEND_GROUP,
        replicas: shards.shards,
        planned: [backend],
        settings: { ...a.settings, imap: backendSpec(spec) },
        images,
        certificate: a.certificate,
        owners: ownersOf([backend], a.base.owners),
        hostAliases: [],
        extraPorts: [DOVECOT_LMTP_PORT],
    });
    const ports = backendPorts(spec.ports.pop3 > 0 || spec.ports.pop3s > 0, spec.ports.managesieve > 0);
    const services = Array.from(
        { length: shards.shards },
        (_, i) =>
            new k8s.core.v1.Service(shardHost(prefix, i), shardService(prefix, k.namespace, i, ports), { parent }),
    );
    new k8s.policy.v1.PodDisruptionBudget(`${prefix}-dovecot`, proxyDisruptionBudget(prefix, k.namespace), {
        parent,
    });
    const tcp = { lmtpPort: DOVECOT_LMTP_PORT, authPort: DOVECOT_AUTH_PORT };
    const proxied = proxiedPorts(spec.proxyProtocol, spec.ports);
    for (const policy of shardPolicies(
        prefix,
        k.namespace,
        a.clientPorts,
        tcp,
        ports.map(p => p.port),
        proxied,
    ))
        new k8s.networking.v1.NetworkPolicy(policy.metadata.name as string, policy, { parent });
    return {
        backends,
        services,
        hostAliases: services.map((s, i) => ({ hostname: shardHost(prefix, i), ip: s.spec.clusterIP })),
    };
}
