// MailServer's rspamd (Postfix's milter) and the Valkey that keeps its state: images, volumes,
// the config job that installs rspamd's files and DKIM keys, and the two service containers.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ImageArgs } from "../args";
import type { MailServerSettings } from "../model/settings";
import {
    dkimKeyPath,
    RSPAMD_DB_DIR,
    RSPAMD_MILTER_DIR,
    rspamdDkimKey,
    RspamdSpec,
    VALKEY_DATA_DIR,
    VALKEY_SOCKET_DIR,
} from "../render/rspamd";
import { senderOwners } from "../model/addresses";
import { DkimSigningKey, DomainSpec, RenderedFile } from "../model/spec";
import { configJob, NetworkPlacement, serviceContainer, serviceImage, StagedFile, volumeMount } from "./docker";

/** What MailServer needs of a VirtualDomain here: its spec and its signing keys (a secret). */
export interface SigningDomain {
    spec: DomainSpec;
    dkimSigningKeys?: pulumi.Output<DkimSigningKey[]>;
}

/** rspamd's settings from MailServer's: mynetworks without Postfix's brackets, one entry per signing domain. */
export function rspamdSpec(settings: MailServerSettings): RspamdSpec {
    const f = settings.spamFilter;
    return {
        trustedNetworks: settings.postfix.mynetworks.map(n => n.replace(/^\[([^\]]+)\]/, "$1")),
        nameservers: f.nameservers,
        dnsTimeout: f.dnsTimeout,
        dnsRetransmits: f.dnsRetransmits,
        dnsLookups: settings.dns !== "none",
        rejectScore: f.rejectScore,
        addHeaderScore: f.addHeaderScore,
        outboundRejectScore: f.outboundRejectScore,
        messagesPerHour: f.messagesPerHour,
        recipientsPerHour: f.recipientsPerHour,
        greylisting: f.greylisting,
        greylistScore: f.greylistScore,
        dnsbl: f.dnsbl,
        signing: settings.postfix.domains.map(d => ({ domain: d.name, keys: d.dkimSelectors })),
        // Internet mode: a login's From header is checked against the owners Postfix checks its
        // envelope sender against. Relay mode: its users may send as any sender (documented).
        ...(settings.postfix.mode === "internet" ? { senderOwners: senderOwners(settings.postfix.domains) } : {}),
        recipientDelimiter: settings.postfix.recipientDelimiter,
    };
}

export interface SpamFilterArgs {
    prefix: string;
    settings: MailServerSettings;
    rendered: RenderedFile[];
    domains: SigningDomain[];
    images: ImageArgs | undefined;
    placement: NetworkPlacement;
    labels: Record<string, string>;
}

/** Creates Valkey and rspamd; Postfix mounts `milterVolume` at RSPAMD_MILTER_DIR and waits for `rspamd`. */
export function spamFilter(parent: pulumi.Resource, a: SpamFilterArgs) {
    const { prefix, labels } = a;
    const keep = { parent, retainOnDelete: true };
    const volume = (suffix: string, retain = false) =>
        new docker.Volume(`${prefix}-${suffix}`, { name: `${prefix}-${suffix}` }, retain ? keep : { parent });
    // Bayes tokens, greylisting and reputation outlive the containers, like mail and queue.
    const valkeyData = volume("valkey-data", true);
    const rspamdData = volume("rspamd-data", true);
    const valkeyRun = volume("valkey-run");
    const milter = volume("rspamd-milter");
    const config = volume("rspamd-config");

    const valkeyImage = serviceImage(parent, prefix, "valkey", a.images);
    const valkey = serviceContainer(
        parent,
        `${prefix}-valkey`,
        {
            service: "valkey",
            image: valkeyImage,
            placement: { ...a.placement, networkMode: "none", network: undefined },
            ports: [],
            mounts: [volumeMount(valkeyData.name, VALKEY_DATA_DIR), volumeMount(valkeyRun.name, VALKEY_SOCKET_DIR)],
            healthcheck: ["sh", "-c", `valkey-cli -s ${VALKEY_SOCKET_DIR}/valkey.sock ping | grep -qx PONG`],
            restart: a.settings.restart,
            labels,
        },
        [],
    );

    // Readable by rspamd's workers (group _rspamd) and nobody else.
    const keyFiles: StagedFile[] = a.domains.flatMap(d =>
        d.spec.dkimSelectors.map(k => ({
            path: dkimKeyPath(d.spec.name, k.selector),
            mode: "0640",
            owner: "root",
            group: "_rspamd",
            content: pulumi.secret(
                (d.dkimSigningKeys ?? pulumi.output([])).apply(keys => {
                    const key = keys.find(x => x.selector === k.selector);
                    if (!key) throw new Error(`${d.spec.name}: no private key for DKIM selector ${k.selector}`);
                    return rspamdDkimKey(key.privateKeyPem, k.algorithm);
                }),
            ),
        })),
    );
    const rspamdImage = serviceImage(parent, prefix, "rspamd", a.images);
    const job = configJob(parent, `${prefix}-rspamd-config`, {
        service: "rspamd",
        image: rspamdImage,
        configVolume: config.name,
        files: [...a.rendered, ...keyFiles],
        labels,
    });
    const rspamd = serviceContainer(
        parent,
        `${prefix}-rspamd`,
        {
            service: "rspamd",
            image: rspamdImage,
            // It asks DNS (SPF, DKIM, DMARC): the stack's network, or the host's.
            placement: a.placement,
            ports: [],
            mounts: [
                volumeMount(config.name, "/config", true),
                volumeMount(rspamdData.name, RSPAMD_DB_DIR),
                volumeMount(valkeyRun.name, VALKEY_SOCKET_DIR),
                volumeMount(milter.name, RSPAMD_MILTER_DIR),
            ],
            healthcheck: ["/usr/local/lib/mail/healthcheck"],
            restart: a.settings.restart,
            labels,
        },
        [job.container, valkey],
    );
    return { rspamd, valkey, milterVolume: milter.name, applied: job.applied };
}
