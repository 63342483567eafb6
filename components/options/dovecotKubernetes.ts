// DovecotImap kubernetes, declared once: the mailbox tier beyond one Dovecot (shards behind the
// Dovecot proxy, model/shards.ts), and its rules: Kubernetes only, a mailbox's `shard` below `shards`.
import { parseNetwork } from "../model/net";
import type { ShardSettings } from "../model/shards";
import type { MailServerSettings } from "../model/settings";
import { Validator } from "../model/validator";
import { list, object, Pinned, SameType, text, Values, wholeNumber } from "./declare";

const NETWORK_ACCEPTED = 'expected a network such as "10.0.0.0/8" or "fd00::/8"';

export const DOVECOT_KUBERNETES_OPTIONS = {
    shards: wholeNumber({
        doc:
            "Dovecot backends, each a pod with a mail volume of its own, behind the Dovecot proxy that routes logins " +
            "and LMTP deliveries to each mailbox's backend; 1: one Dovecot, no proxy",
        default: 1,
        min: 1,
        max: 64,
    }),
    proxyReplicas: wholeNumber({
        doc: "Dovecot proxy pods in front of the backends (shards > 1)",
        default: 2,
        min: 1,
        max: 50,
    }),
    trustedNetworks: list(
        text({
            doc: "A network of the cluster's pod addresses",
            accepted: NETWORK_ACCEPTED,
            check: (v, f, x) => (parseNetwork(x) && !x.startsWith("[") ? x : v.fail(f, x, NETWORK_ACCEPTED)),
        }),
        {
            doc:
                "The pod networks the proxy's connections come from: the backends log the client address the proxy " +
                "forwards from there (login_trusted_networks); their NetworkPolicy admits the proxy pods alone",
            default: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
        },
    ),
};

export const DOVECOT_KUBERNETES_GROUP = object("DovecotKubernetesArgs", DOVECOT_KUBERNETES_OPTIONS, {
    doc: "MailServer kubernetes: how DovecotImap runs on the cluster (shards behind a Dovecot proxy)",
});

export type _ShardsPinned = Pinned<SameType<ShardSettings, Values<typeof DOVECOT_KUBERNETES_OPTIONS>>>;

/**
 * The shard settings when the MailServer runs on Kubernetes (undefined on Docker, where `kubernetes`
 * is refused); every mailbox's `shard` is below `shards`, and set only when there are shards.
 */
export function checkShards(
    v: Validator,
    server: MailServerSettings,
    given: ShardSettings | undefined,
): ShardSettings | undefined {
    if (given !== undefined && !server.kubernetes)
        v.fail(
            "kubernetes",
            given,
            "expected no kubernetes: the MailServer runs on Docker (its kubernetes is unset), where one Dovecot " +
                "holds every mailbox and shards are not available",
        );
    const shards = server.kubernetes ? (given?.shards ?? 1) : 1;
    for (const d of server.postfix.domains)
        for (const m of d.mailboxes) {
            if (m.shard === undefined || (shards > 1 && m.shard < shards)) continue;
            const field = `mailServer: VirtualDomain ${d.name} mailboxes[${m.address}].shard`;
            v.fail(
                field,
                m.shard,
                shards === 1
                    ? "expected no shard: DovecotImap has one Dovecot (set DovecotImap kubernetes.shards on Kubernetes)"
                    : `expected a shard from 0 to ${shards - 1} (DovecotImap kubernetes.shards is ${shards})`,
            );
        }
    return server.kubernetes ? given : undefined;
}
