// DovecotImap kubernetes.shards as plain specs (pure, unit-tested without mocks): a Service per
// backend pod (the name the proxy's passdb gives as `host`), the proxy's PodDisruptionBudget, and the
// NetworkPolicies of the proxy (clients and Postfix in, backends out) and of the backends (the proxy
// alone in). shards.ts registers them.
import type { Input } from "@pulumi/pulumi";
import { BACKEND_PORTS, shardHost } from "../../model/shards";
import { clientRules, DNS_RULE, groupLabels, networkPolicy, ProxiedPorts } from "./objects";

export const BACKEND_GROUP = "dovecot-backend";
/** The StatefulSet of the backends; pod i is `<prefix>-dovecot-backend-<i>`, its claim `mail-<pod>`. */
export const backendPod = (prefix: string, i: number) => `${prefix}-${BACKEND_GROUP}-${i}`;

/** The backend ports the proxy uses (POP3 and ManageSieve while they are on). */
export function backendPorts(pop3: boolean, managesieve: boolean): Array<{ name: string; port: number }> {
    return [
        { name: "imap", port: BACKEND_PORTS.imap },
        { name: "lmtp", port: BACKEND_PORTS.lmtp },
        ...(pop3 ? [{ name: "pop3", port: BACKEND_PORTS.pop3 }] : []),
        ...(managesieve ? [{ name: "sieve", port: BACKEND_PORTS.managesieve }] : []),
    ];
}

/** Backend i's Service: it selects that one pod (the StatefulSet's pod-name label). */
export function shardService(
    prefix: string,
    namespace: Input<string>,
    i: number,
    ports: Array<{ name: string; port: number }>,
) {
    return {
        metadata: { name: shardHost(prefix, i), namespace, labels: groupLabels(prefix, BACKEND_GROUP) },
        spec: {
            type: "ClusterIP",
            selector: {
                ...groupLabels(prefix, BACKEND_GROUP),
                "statefulset.kubernetes.io/pod-name": backendPod(prefix, i),
            },
            ports: ports.map(p => ({ name: p.name, port: p.port, targetPort: p.port })),
        },
    };
}

/** The proxy: one pod at a time may be disrupted while the others take the clients. */
export function proxyDisruptionBudget(prefix: string, namespace: Input<string>) {
    return {
        metadata: { name: `${prefix}-dovecot`, namespace, labels: groupLabels(prefix, "dovecot") },
        spec: { maxUnavailable: 1, selector: { matchLabels: groupLabels(prefix, "dovecot") } },
    };
}

/**
 * The proxy takes its clients from anywhere (a PROXY port from trustedNetworks only) and Postfix on
 * LMTP and auth, and reaches the backends (and DNS, for their Service names on a cluster with DNS);
 * a backend takes the proxy alone.
 */
export function shardPolicies(
    prefix: string,
    namespace: Input<string>,
    clientPorts: number[],
    tcp: { lmtpPort: number; authPort: number },
    backend: number[],
    proxy?: ProxiedPorts,
) {
    return [
        networkPolicy(
            prefix,
            namespace,
            "dovecot",
            [...clientRules(clientPorts, proxy), { from: "postfix", ports: [tcp.lmtpPort, tcp.authPort] }],
            [{ from: BACKEND_GROUP, ports: backend }, DNS_RULE],
        ),
        networkPolicy(prefix, namespace, BACKEND_GROUP, [{ from: "dovecot", ports: backend }], []),
    ];
}
