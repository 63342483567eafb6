// What a service is, independent of where it runs: the shape of every module in this folder.
// A platform (components/platform/docker/ today) turns definitions into running containers; a
// definition never names Docker. What each field means on another platform is said beside it.
import type { Input, Output } from "@pulumi/pulumi";
import type { RelayCredentials } from "../model/relay";
import type { MailServerSettings } from "../model/settings";
import type { Credential, DkimSigningKey, DovecotSpec, RenderedFile } from "../model/spec";

/** A file a config job installs: rendered, or made from secrets (then its content is a Pulumi secret). */
export interface StagedFile {
    path: string;
    mode: string;
    owner: string;
    group: string;
    content: Input<string>;
}

/** Least privilege: the platform drops every capability but these and keeps the root filesystem read-only. */
export interface Security {
    /** The user its image starts as (the Dockerfile's USER; root when it has none). */
    user: string;
    /** Linux capabilities, as Docker reports them (CAP_ prefix, sorted); none else. */
    capabilities: string[];
    /** Directories the daemon writes at run time, each an in-memory file system (tmpfs, an emptyDir). */
    tmpfs: string[];
    /** CAP_NET_BIND_SERVICE too, only while one of its ports is below 1024. */
    lowPortCapability?: boolean;
}

/** A volume a service owns: made with it, mounted by it, and by the services that name it in `mounts`. */
export interface VolumeDefinition {
    /** `<prefix>-<name>`, and the name other services mount it by. */
    name: string;
    /** Where every service that mounts it sees it. */
    path: string;
    /**
     * "data": state that outlives the containers (mail, queue, caches, certificates), kept when the
     * stack is destroyed (a persistent volume elsewhere); "socket": a directory of unix sockets that
     * the services mounting it share, made anew at will (on a platform without shared volumes
     * between machines, those services must run side by side).
     */
    kind: "data" | "socket";
    /** Every service but its owner mounts it read-only. */
    readOnlyForOthers?: boolean;
}

/** The files a config job installs as one configuration generation; the service reloads to it. */
export interface ConfigDefinition<S, X> {
    /** Files without secrets: registered as the component input `<name>Files`, shown in previews. */
    files?(settings: S): RenderedFile[];
    /** The input `<name>Files` is registered as {} while the service does not run (as stacks have it). */
    inputWhenOff?: boolean;
    /** Files made from secrets (hashes, keys, credentials). */
    secretFiles?(settings: S, secrets: X): StagedFile[];
    /** Password hashes: registered as the secret input `<name>SecretFiles`, so a change shows in previews. */
    registerSecretFiles?: boolean;
    /** Postfix lookup tables the job compiles (postmap, postalias). */
    postmap?: string[];
    postalias?: string[];
    /** The volume (default `<name>-config`) and where the service mounts it, read-only (default /config). */
    volume?: string;
    path?: string;
    /**
     * The job checks the configuration against the host's own addresses when the service runs on
     * the host's network (Postfix's inet_interfaces); otherwise it has no network.
     */
    hostNetworkInHostMode?: boolean;
}

/** One service: its image, what it may do, its files, volumes, ports, health and what it waits for. */
export interface ServiceDefinition<C extends string, S, X> {
    /** Its image folder (images/<name>), its container `<prefix>-<name>` and its `images` option. */
    name: string;
    /** The component that deploys it (and whose settings it is made from). */
    component: C;
    /** The doc of its `images.<name>` option. */
    image: string;
    /** Whether it runs with these settings (always, without this). */
    runs?(settings: S): boolean;
    security: Security;
    /** "none": no network at all, only unix sockets; "stack": the stack's network (or the host's). */
    network: "none" | "stack";
    /**
     * The DNS servers its /etc/resolv.conf names (with "options trust-ad": their DNSSEC verdicts
     * count); undefined: the platform's. Read at start: a change replaces the container.
     */
    dns?(settings: S): string[] | undefined;
    /** The ports it listens on; in bridge mode published on the same host port (0: off). */
    ports?(settings: S): number[];
    /** The host address its ports are published on, when not the stack's publishAddress. */
    publishAddress?(settings: S): string;
    /** Ports published on an address of their own (bridge mode), such as a metrics endpoint on monitoring.address. */
    addressedPorts?(settings: S): Array<{ port: number; address: string }>;
    volumes?: VolumeDefinition[];
    /**
     * Every volume it mounts, in order, by name: its own (all of them), other services' (each
     * while that service runs), CONFIG (its config volume, when it has files) and CERTIFICATE
     * (what components/certificates.ts says it gets: with tls.acme the certs volume). Default:
     * CONFIG, then its own volumes. The order is the container's mount list as deployed.
     */
    mounts?: string[];
    /** Volumes of other services it mounts read-only though their owner lets others write. */
    readOnlyMounts?: string[];
    /** Services it waits for, healthy, before it starts; each while it runs. */
    dependsOn?: string[];
    /** Serves the server certificate: components/certificates.ts says how it gets it. */
    certificate?: boolean;
    config?: ConfigDefinition<S, X>;
    /** Its environment ("NAME=value"), never a secret. */
    env?(settings: S): string[] | undefined;
    /**
     * Settings the daemon reads only when it starts, as text, when they differ from its defaults:
     * a change replaces the container (a Docker label; a pod template's annotation elsewhere).
     */
    startupSettings?(settings: S): string | undefined;
    /** The command that says it is healthy (exit 0): a Docker healthcheck, a readiness probe elsewhere. */
    healthcheck: string[];
    /** How a new configuration generation reaches the running daemon (its image's service.sh). */
    reload: string;
}

/** The secrets MailServer's services make files of, as the component holds them (Pulumi secrets). */
export interface MailServerSecrets {
    /** Every login's password hash (mailboxes of every domain, relay users). */
    logins: Output<Credential[]>;
    /** Each Relayhost's SASL credentials. */
    relayCredentials: Output<RelayCredentials[]>;
    /** Each domain's DKIM signing keys, by domain name. */
    dkimSigningKeys: Record<string, Output<DkimSigningKey[]>>;
    /** tls.acme dns-01: each credential, by its lego variable. */
    dnsCredentials: Record<string, Output<string>>;
}

/** What DovecotImap's services are made from: its own settings and its MailServer's. */
export interface ImapSettings {
    server: MailServerSettings;
    imap: DovecotSpec;
}

export interface ImapSecrets {
    logins: Output<Credential[]>;
    /** MailServer backup's secrets (its backupSecrets), while backup is on. */
    backup?: BackupSecrets;
}

/** The backup's secrets, each a Pulumi secret (MailServer makes them so whatever way they were given). */
export interface BackupSecrets {
    password: Output<string>;
    s3?: Output<{ id: string; secret: string }>;
    rest?: Output<{ username: string; password: string }>;
    sftpPrivateKey?: Output<string>;
}

export type MailServerService = ServiceDefinition<"MailServer", MailServerSettings, MailServerSecrets>;
export type ImapService = ServiceDefinition<"DovecotImap", ImapSettings, ImapSecrets>;
export type AnyService = MailServerService | ImapService;

/** In a service's `mounts`: its config volume (where its config generations are installed). */
export const CONFIG = "config";
/** In a service's `mounts`: the certificate's volumes, if any (components/certificates.ts). */
export const CERTIFICATE = "certificate";

/**
 * In the `mounts` of every service with COMMON_HEALTHCHECK: the metrics container's volume where
 * the healthcheck leaves its result and the generation the daemon runs (while metrics run).
 */
export const SERVICE_STATUS = "service-status";

/** The healthcheck of the images built on images/common: the daemon, its generation, its probe. */
export const COMMON_HEALTHCHECK = ["/usr/local/lib/mail/healthcheck"];
