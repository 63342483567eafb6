// MailServer kubernetes, declared once: the cluster platform's settings (components/platform/
// kubernetes), and its rules: what this phase of the platform deploys (Postfix with rspamd and the
// MTA-STS resolver, Valkey, Dovecot and its brute-force policy, internet mode), refused at preview for
// anything else.
import { DOVECOT_AUTH_PORT, DOVECOT_LMTP_PORT, KubernetesSettings, kubernetesPeers } from "../model/kubernetes";
import type { MailServerSettings } from "../model/settings";
import { sieveSendsMail } from "../model/sieve";
import { Validator } from "../model/validator";
import { IMAP_SERVICES, MAIL_SERVER_SERVICES } from "../services";
import { object, oneOf, Pinned, required, SameType, text, Values, wholeNumber } from "./declare";

const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const QUANTITY_ACCEPTED = 'expected a Kubernetes storage quantity such as "1Gi" or "500Mi"';
const quantity = (doc: string, dflt: string) =>
    text({
        doc,
        default: dflt,
        accepted: QUANTITY_ACCEPTED,
        check: (v, f, x) => (QUANTITY.test(x) ? x : v.fail(f, x, QUANTITY_ACCEPTED)),
    });
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_ACCEPTED = "expected a DNS label: lower-case letters, digits and '-', at most 63, e.g. \"mail\"";

export const KUBERNETES_OPTIONS = {
    namespace: required(
        text({
            doc: "The namespace the services run in (made by you, or by another resource of the stack)",
            accepted: LABEL_ACCEPTED,
            check: (v, f, x) => (DNS_LABEL.test(x) ? x : v.fail(f, x, LABEL_ACCEPTED)),
        }),
    ),
    postfixReplicas: wholeNumber({
        doc: "Postfix pods (each with rspamd beside it and a queue volume of its own)",
        default: 2,
        min: 1,
        max: 50,
    }),
    storageClassName: text({
        doc: "StorageClass of the persistent volume claims (queue, mail, Valkey); default: the cluster's default class",
    }),
    queueStorage: quantity("Size of each Postfix pod's queue volume", "1Gi"),
    mailStorage: quantity("Size of Dovecot's mail volume", "10Gi"),
    valkeyStorage: quantity("Size of Valkey's data volume (rspamd's Bayes, greylisting, reputation)", "1Gi"),
    serviceType: oneOf("KubernetesServiceType", ["ClusterIP", "NodePort", "LoadBalancer"], {
        doc: "Type of the Service in front of the Postfix pods (ports smtp, submission, smtps)",
        default: "ClusterIP",
    }),
    imagePullPolicy: oneOf("KubernetesImagePullPolicy", ["Always", "IfNotPresent", "Never"], {
        doc: "Image pull policy of every container (images.<service> name the images; the cluster pulls them)",
        default: "IfNotPresent",
    }),
};

export const KUBERNETES_GROUP = object("KubernetesArgs", KUBERNETES_OPTIONS, {
    doc:
        "Run the services on a Kubernetes cluster (the component's `kubernetes` provider) instead of Docker: " +
        "Postfix replicas with rspamd, one Valkey, and DovecotImap's Dovecot; internet mode only in this phase",
});

export type _KubernetesPinned = Pinned<SameType<KubernetesSettings, Values<typeof KUBERNETES_OPTIONS>>>;

/** The services the Kubernetes platform deploys in this phase; the option that turns each other one on. */
export const KUBERNETES_SERVICES = ["postfix", "rspamd", "mtasts", "valkey", "dovecot", "authpolicy"];
const TURNED_ON_BY: Record<string, { field: string; value: (s: MailServerSettings) => unknown; accepted: string }> = {
    saslauthd: { field: "mode", value: s => s.postfix.mode, accepted: 'expected "internet"' },
    acme: {
        field: "tls.acme",
        value: s => s.tls.acme?.directory,
        accepted: "expected selfSigned, ca or certPem + keyPem",
    },
    web: {
        field: "wellKnown",
        value: s => s.wellKnown?.domains.map(d => d.domain),
        accepted: "expected no VirtualDomain with wellKnown",
    },
    clamav: { field: "antivirus.enabled", value: () => true, accepted: "expected false" },
    metrics: { field: "monitoring.metrics", value: () => true, accepted: "expected false" },
    monitoring: { field: "monitoring.alerts", value: () => true, accepted: "expected false" },
    resolver: { field: "outboundTls.resolver", value: () => true, accepted: "expected false" },
};

/**
 * MailServer's settings on Kubernetes: every service it would run must be one the platform deploys
 * (else the option that turns it on is refused, naming what is accepted), its images given, and
 * Postfix reaches Dovecot's LMTP and auth services over TCP (model/kubernetes.ts).
 */
export function applyKubernetes(
    v: Validator,
    settings: MailServerSettings,
    given: unknown,
    images: Record<string, unknown> | undefined,
): MailServerSettings {
    if (given === undefined || given === null) return settings;
    // Read by validateMailServer too (an unknown field fails there first); here for its values.
    const k: KubernetesSettings = KUBERNETES_GROUP.check(v, "kubernetes", given)!;
    const why =
        "on Kubernetes (kubernetes is set; this phase deploys Postfix, rspamd, the MTA-STS resolver, Valkey and Dovecot only)";
    if (settings.placement.networkMode === "host")
        v.fail("networkMode", "host", `expected "bridge" (the default) ${why}: each pod has a network of its own`);
    for (const d of MAIL_SERVER_SERVICES.filter(x => x.runs?.(settings) ?? true)) {
        const on = TURNED_ON_BY[d.name];
        if (on) v.fail(on.field, on.value(settings), `${on.accepted} ${why}; the ${d.name} container is Docker-only`);
        if (images?.[d.name] === undefined) v.fail(`images.${d.name}`, undefined, imageAccepted(d.name));
    }
    // DovecotImap runs the backup container, with this MailServer's settings.
    if (settings.backup.enabled)
        v.fail("backup.enabled", true, `expected false ${why}; the backup container is Docker-only`);
    checkSieveMail(v, settings, why);
    const peers = kubernetesPeers(settings.prefix);
    return {
        ...settings,
        kubernetes: k,
        postfix: {
            ...settings.postfix,
            dovecotTcp: { host: peers.dovecot, lmtpPort: DOVECOT_LMTP_PORT, authPort: DOVECOT_AUTH_PORT },
        },
    };
}

/**
 * Sieve's outgoing mail leaves through Postfix's reinject socket, which Dovecot's pod has no way to
 * reach in this phase: the mailbox rules that would send mail (vacation replies, redirects,
 * rejections, notifications) are refused rather than silently dropped.
 */
function checkSieveMail(v: Validator, settings: MailServerSettings, why: string): void {
    const accepted =
        `expected Sieve rules that send no mail ${why}: Dovecot's pod cannot reach Postfix's reinject socket, so ` +
        "vacation replies, redirects, rejections and notifications would not leave; use the VirtualDomain's forwards " +
        "instead of a redirect, or deploy on Docker";
    settings.postfix.domains.forEach((d, i) =>
        d.mailboxes.forEach((m, j) => {
            const field = `domains[${i}] (${d.name}) mailboxes[${j}] (${m.address})`;
            if (m.sieve?.vacation) v.fail(`${field}.vacation`, m.sieve.vacation.subject, accepted);
            const sends = m.sieve?.script === undefined ? [] : sieveSendsMail(m.sieve.script);
            if (sends.length > 0) v.fail(`${field}.sieveScript`, `(a script using ${sends.join(", ")})`, accepted);
        }),
    );
}

/** DovecotImap's images on Kubernetes: one per service it runs there. */
export function checkKubernetesImages(v: Validator, running: string[], images: Record<string, unknown> | undefined) {
    for (const name of running.filter(n => IMAP_SERVICES.some(d => d.name === n)))
        if (images?.[name] === undefined) v.fail(`images.${name}`, undefined, imageAccepted(name));
}

const imageAccepted = (name: string) =>
    `expected an image reference on Kubernetes (the cluster pulls it; nothing is built there), e.g. one built ` +
    `from images/${name} and pushed to a registry the cluster reaches`;
