// MailServer kubernetes: where the services run when they run on a Kubernetes cluster instead of
// Docker (components/platform/kubernetes), and the names and ports the renderers give the peers
// that reach each other over TCP there (pods share no volume, so no unix socket between them).

/** MailServer kubernetes, validated (options/kubernetes.ts). */
export interface KubernetesSettings {
    namespace: string;
    postfixReplicas: number;
    storageClassName: string | undefined;
    queueStorage: string;
    mailStorage: string;
    valkeyStorage: string;
    serviceType: "ClusterIP" | "NodePort" | "LoadBalancer";
    imagePullPolicy: "Always" | "IfNotPresent" | "Never";
}

/** Dovecot's LMTP and auth listeners for Postfix, behind the Service `<prefix>-dovecot-internal`. */
export const DOVECOT_LMTP_PORT = 24;
export const DOVECOT_AUTH_PORT = 12345;
/** Valkey's TCP port, behind the Service `<prefix>-valkey` (every rspamd replica shares one Valkey). */
export const VALKEY_PORT = 6379;

/**
 * The Services the renderers name: the same name resolves through cluster DNS (the namespace's
 * search path) and, on a cluster without DNS, through the pods' hostAliases (the platform maps each
 * to its Service's cluster IP), so rendered files stay the same and readable in previews.
 */
export const kubernetesPeers = (prefix: string) => ({
    dovecot: `${prefix}-dovecot-internal`,
    valkey: `${prefix}-valkey`,
});
