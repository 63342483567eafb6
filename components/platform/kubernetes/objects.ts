// The Kubernetes objects of the platform as plain specs: pure (no Pulumi resource), unit-tested
// without mocks; deploy.ts registers them. A StatefulSet per pod group (Postfix with rspamd,
// Valkey, Dovecot), a Service in front of each, a PodDisruptionBudget for Postfix and a
// NetworkPolicy per group that admits only the peers it needs.
import type * as k8s from "@pulumi/kubernetes";
import type { Input } from "@pulumi/pulumi";
import type { KubernetesSettings } from "../../model/kubernetes";
import { DATA_CLAIMS, PodParts } from "./pod";

type Meta = k8s.types.input.meta.v1.ObjectMeta;
type Port = { name: string; port: number };

/** The labels of a pod group's objects; the first three select its pods. */
export function groupLabels(prefix: string, group: string): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": "mailserver",
        "app.kubernetes.io/instance": prefix,
        "app.kubernetes.io/component": group,
    };
}

const meta = (prefix: string, namespace: Input<string>, name: string, group: string): Meta => ({
    name,
    namespace,
    labels: groupLabels(prefix, group),
});

export interface StatefulSetInput {
    prefix: string;
    namespace: Input<string>;
    /** The pod group ("postfix", "valkey", "dovecot"), and `<prefix>-<group>` its objects' name. */
    group: string;
    replicas: number;
    parts: PodParts;
    settings: KubernetesSettings;
    /** Peer Service names -> their cluster IPs (the pods resolve them without cluster DNS). */
    hostAliases: Array<{ hostname: string; ip: Input<string> }>;
    /** Settings the daemons read only at start: a change rolls the pods (an annotation). */
    startupSettings?: string;
}

export function statefulSet(i: StatefulSetInput): { metadata: Meta; spec: k8s.types.input.apps.v1.StatefulSetSpec } {
    const name = `${i.prefix}-${i.group}`;
    const labels = groupLabels(i.prefix, i.group);
    return {
        metadata: meta(i.prefix, i.namespace, name, i.group),
        spec: {
            serviceName: name,
            replicas: i.replicas,
            // Replicas are peers (no ordering between them): all start and stop at once.
            podManagementPolicy: "Parallel",
            selector: { matchLabels: labels },
            template: {
                metadata: {
                    labels,
                    ...(i.startupSettings ? { annotations: { "mailserver/startup-settings": i.startupSettings } } : {}),
                },
                spec: {
                    // The daemons never talk to the API server.
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    terminationGracePeriodSeconds: 30,
                    ...(i.hostAliases.length > 0
                        ? { hostAliases: i.hostAliases.map(a => ({ ip: a.ip, hostnames: [a.hostname] })) }
                        : {}),
                    initContainers: i.parts.initContainers,
                    containers: i.parts.containers,
                    volumes: i.parts.volumes,
                },
            },
            volumeClaimTemplates: i.parts.claims.map(claim => ({
                metadata: { name: claim, labels },
                spec: {
                    accessModes: ["ReadWriteOnce"],
                    ...(i.settings.storageClassName ? { storageClassName: i.settings.storageClassName } : {}),
                    resources: { requests: { storage: i.settings[DATA_CLAIMS[claim]] as string } },
                },
            })),
            // Claims (queue, mail) outlive the StatefulSet: `pulumi destroy` must never lose mail.
            persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
        },
    };
}

export function service(
    prefix: string,
    namespace: Input<string>,
    name: string,
    group: string,
    ports: Port[],
    type = "ClusterIP",
): { metadata: Meta; spec: k8s.types.input.core.v1.ServiceSpec } {
    return {
        metadata: meta(prefix, namespace, name, group),
        spec: {
            type,
            selector: groupLabels(prefix, group),
            ports: ports.filter(p => p.port > 0).map(p => ({ name: p.name, port: p.port, targetPort: p.port })),
        },
    };
}

/** Postfix: one pod at a time may be disrupted (drained, evicted) while the others take the mail. */
export function postfixDisruptionBudget(prefix: string, namespace: Input<string>) {
    return {
        metadata: meta(prefix, namespace, `${prefix}-postfix`, "postfix"),
        spec: { maxUnavailable: 1, selector: { matchLabels: groupLabels(prefix, "postfix") } },
    };
}

type Rule = { from?: string; cidrs?: string[]; ports: number[]; udp?: number[] };
type PolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec;

/**
 * A group's NetworkPolicy: ingress and egress denied but for these rules. A rule's `from` (ingress)
 * or to (egress) is a pod group of the same stack, or `cidrs` networks (ipBlock); without either,
 * any address.
 */
export function networkPolicy(
    prefix: string,
    namespace: Input<string>,
    group: string,
    ingress: Rule[],
    egress: Rule[],
): { metadata: Meta; spec: PolicySpec } {
    const peers = (r: Rule) =>
        r.from
            ? [{ podSelector: { matchLabels: groupLabels(prefix, r.from) } }]
            : (r.cidrs ?? []).map(cidr => ({ ipBlock: { cidr } }));
    const limited = (r: Rule) => r.from !== undefined || r.cidrs !== undefined;
    const ports = (r: Rule) => [
        ...r.ports.filter(p => p > 0).map(port => ({ protocol: "TCP", port })),
        ...(r.udp ?? []).map(port => ({ protocol: "UDP", port })),
    ];
    return {
        metadata: meta(prefix, namespace, `${prefix}-${group}`, group),
        spec: {
            podSelector: { matchLabels: groupLabels(prefix, group) },
            policyTypes: ["Ingress", "Egress"],
            ingress: ingress
                .filter(r => ports(r).length > 0)
                .map(r => ({ ...(limited(r) ? { from: peers(r) } : {}), ports: ports(r) })),
            egress: egress.map(r => ({ ...(limited(r) ? { to: peers(r) } : {}), ports: ports(r) })),
        },
    };
}

/** DNS, which every group that looks names up needs (the cluster's resolver, or the host's). */
export const DNS_RULE: Rule = { ports: [53], udp: [53] };

/** The ports other mail servers listen on: MX (25), submissions (465), submission (587). */
export const SMTP_PORTS = [25, 465, 587];

/**
 * Where Postfix's mail leaves for: other mail servers on SMTP_PORTS, and the ports of its relayhosts
 * and transports' next hops ("[host]:port"; no port: 25), which a provider may put elsewhere (2525).
 */
export function nextHopPorts(postfix: {
    relayhosts: Array<{ port: number }>;
    transports?: Array<{ nexthop: string }>;
}) {
    const transportPorts = (postfix.transports ?? []).map(t => Number(/:(\d+)$/.exec(t.nexthop)?.[1] ?? 25));
    const all = new Set([...SMTP_PORTS, ...postfix.relayhosts.map(r => r.port), ...transportPorts]);
    return [...all].sort((a, b) => a - b);
}

/** PROXY listeners behind a balancer: their ports, and the networks the balancer connects from. */
export type ProxiedPorts = { ports: number[]; trustedNetworks: string[] };

/** A component's proxyProtocol (listener names) as the ports its NetworkPolicy guards; undefined: none. */
export function proxiedPorts<L extends string>(
    proxy: { listeners: L[]; trustedNetworks: string[] } | undefined,
    ports: Record<L, number>,
): ProxiedPorts | undefined {
    return proxy && { ports: proxy.listeners.map(l => ports[l]), trustedNetworks: proxy.trustedNetworks };
}

/**
 * Client ports as ingress rules: the PROXY ones (which believe any header) from the balancer's
 * networks only, the others from anywhere.
 */
export function clientRules(ports: number[], proxy: ProxiedPorts | undefined): Rule[] {
    const proxied = ports.filter(p => p > 0 && (proxy?.ports.includes(p) ?? false));
    return [
        { ports: ports.filter(p => !proxied.includes(p)) },
        ...(proxied.length > 0 ? [{ cidrs: proxy!.trustedNetworks, ports: proxied }] : []),
    ];
}

/**
 * Who may talk to whom: Postfix takes mail from anywhere on its three ports (the PROXY ones from
 * proxyProtocol.trustedNetworks only) and reaches Dovecot (LMTP, auth), Valkey (its rspamd) and DNS,
 * other mail servers on 25, 465 and 587 (and its relayhosts' and transports' ports), and (MTA-STS)
 * web servers on 443; Valkey takes rspamd's connections only and reaches nobody; Dovecot takes its
 * clients from anywhere and Postfix on LMTP and auth, and reaches nobody (no Sieve mail in this phase).
 */
export function mailServerPolicies(
    prefix: string,
    namespace: Input<string>,
    ports: { smtp: number; submission: number; smtps: number },
    valkey: boolean,
    lmtp: { lmtpPort: number; authPort: number; valkeyPort: number },
    proxy?: ProxiedPorts,
    out: { smtpPorts: number[]; https: boolean } = { smtpPorts: SMTP_PORTS, https: false },
) {
    return [
        networkPolicy(prefix, namespace, "postfix", clientRules([ports.smtp, ports.submission, ports.smtps], proxy), [
            { from: "dovecot", ports: [lmtp.lmtpPort, lmtp.authPort] },
            ...(valkey ? [{ from: "valkey", ports: [lmtp.valkeyPort] }] : []),
            DNS_RULE,
            { ports: out.smtpPorts },
            // The MTA-STS resolver beside Postfix fetches the destinations' policies over HTTPS.
            ...(out.https ? [{ ports: [443] }] : []),
        ]),
        ...(valkey
            ? [networkPolicy(prefix, namespace, "valkey", [{ from: "postfix", ports: [lmtp.valkeyPort] }], [])]
            : []),
    ];
}

export function dovecotPolicy(
    prefix: string,
    namespace: Input<string>,
    clientPorts: number[],
    lmtp: { lmtpPort: number; authPort: number },
    proxy?: ProxiedPorts,
) {
    return networkPolicy(
        prefix,
        namespace,
        "dovecot",
        [...clientRules(clientPorts, proxy), { from: "postfix", ports: [lmtp.lmtpPort, lmtp.authPort] }],
        [],
    );
}
