// DovecotImap kubernetes.shards: which Dovecot backend holds a mailbox. Dovecot CE 2.4 has no
// director and no replication, so each mailbox lives on exactly one backend (a pod of the StatefulSet
// `<prefix>-dovecot-backend` with its own mail claim) and the Dovecot proxy in front routes logins and
// LMTP deliveries there (render/dovecotProxy.ts). Pure, deterministic.
import { createHash } from "crypto";

/** Internal ports of a backend: the proxy's defaults per protocol (it sends no `port` field). */
export const BACKEND_PORTS = { imap: 143, pop3: 110, managesieve: 4190, lmtp: 24 };

/** DovecotImap kubernetes, validated. */
export interface ShardSettings {
    /** Backends; 1: no proxy, one Dovecot (phase 1). */
    shards: number;
    /** Proxy pods in front of the backends (shards > 1). */
    proxyReplicas: number;
    /** Where the proxy pods' addresses come from: the backends trust the client address they forward. */
    trustedNetworks: string[];
}

/** The Service in front of backend `i` (one pod): the name the proxy's passdb gives as `host`. */
export const shardHost = (prefix: string, i: number) => `${prefix}-dovecot-shard-${i}`;

/**
 * The backend of an address: its mailbox's `shard` when set (an operator's pin, to move a user),
 * else rendezvous hashing of the lower-cased address (the shard with the highest SHA-256 of
 * "<shard>:<address>"): stable across deployments, and a shard added takes users only to itself
 * (about 1/N of them), never between the old ones.
 */
export function shardOf(address: string, shards: number, pinned?: number): number {
    if (pinned !== undefined) return pinned;
    let best = 0;
    let bestScore = "";
    for (let i = 0; i < shards; i++) {
        const score = createHash("sha256").update(`${i}:${address.toLowerCase()}`).digest("hex");
        if (score > bestScore) {
            best = i;
            bestScore = score;
        }
    }
    return best;
}
