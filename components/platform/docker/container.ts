// A service's long-running container on Docker, hardened as its definition says, and the labels
// and mounts every container of the stack carries.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { Security } from "../../services/definition";

export function labelList(labels: Record<string, string>): docker.types.input.ContainerLabel[] {
    return Object.keys(labels)
        .sort()
        .map(label => ({ label, value: labels[label] }));
}

export interface NetworkPlacement {
    /**
     * "host": the daemons bind the host's addresses (keeps real client IPs); "bridge": own network; "none": no network
     * (saslauthd).
     */
    networkMode: string;
    /** The bridge network's name (bridge mode only). */
    network?: pulumi.Input<string>;
    /** Host address published ports bind to (bridge mode only). */
    publishAddress: string;
}

export interface ServiceContainerArgs {
    /**
     * Least privilege: every capability dropped but the ones it needs, a read-only root filesystem
     * with tmpfs where the daemon writes runtime state, and no new privileges.
     */
    security: Security;
    image: pulumi.Input<string>;
    placement: NetworkPlacement;
    /** Ports the daemon listens on; in bridge mode published on the same host port. */
    ports: number[];
    /** Ports published on an address of their own instead of publishAddress (bridge mode). */
    addressedPorts?: Array<{ port: number; address: string }>;
    mounts: docker.types.input.ContainerMount[];
    healthcheck: string[];
    restart: string;
    labels: Record<string, string>;
    /** Environment ("NAME=value"); never a secret. */
    envs?: string[];
    /** Nameservers of its /etc/resolv.conf, trusted for DNSSEC (trust-ad); undefined: Docker's. */
    dns?: string[];
    /**
     * Settings the daemon reads only when it starts (a reload does not apply them), as text; set
     * when they differ from the defaults. A label of the container: a change replaces it, and the
     * preview shows why.
     */
    startupSettings?: string;
}

/**
 * The capabilities a container keeps, written as Docker reports them (CAP_ prefix, sorted): after
 * `pulumi refresh` any other spelling would read as a change, and a capability change replaces the
 * container. CAP_NET_BIND_SERVICE is added for a port below 1024 only where the definition asks.
 */
export function capabilities(security: Security, ports: number[]): string[] {
    const low = security.lowPortCapability && ports.some(p => p > 0 && p < 1024);
    return [...security.capabilities, ...(low ? ["CAP_NET_BIND_SERVICE"] : [])].sort();
}

/**
 * A long-running daemon. Its inputs depend only on the image, ports, network and volume names,
 * never on rendered configuration, so a configuration change does not replace it.
 */
export function serviceContainer(
    parent: pulumi.Resource,
    name: string,
    args: ServiceContainerArgs,
    dependsOn: pulumi.Resource[],
): docker.Container {
    const mode = args.placement.networkMode;
    const bridge = mode === "bridge";
    return new docker.Container(
        name,
        {
            name,
            image: args.image,
            restart: args.restart,
            networkMode: bridge ? undefined : mode,
            networksAdvanced: bridge && args.placement.network ? [{ name: args.placement.network }] : undefined,
            ports: bridge
                ? [
                      ...args.ports
                          .filter(p => p > 0)
                          .map(p => ({ internal: p, external: p, ip: args.placement.publishAddress })),
                      ...(args.addressedPorts ?? []).map(p => ({ internal: p.port, external: p.port, ip: p.address })),
                  ]
                : undefined,
            mounts: args.mounts,
            envs: args.envs,
            // glibc passes a resolver's DNSSEC verdict (the AD bit) on only with trust-ad.
            ...(args.dns ? { dns: args.dns, dnsOpts: ["trust-ad"] } : {}),
            // Durations as the provider stores them (Go's "1m0s", not "60s"), or every preview shows an update.
            // The interval is also how long `pulumi up` waits for each service it starts (Docker
            // before 25 has no start_interval, and reads one back as "0s": a diff at every preview).
            // Measured with a whole stack: 15s -> up 72 s, idle CPU 2.3 %; 10s -> 53 s, 2.8 %; 5s -> 37 s, 4.2 %.
            healthcheck: {
                tests: ["CMD", ...args.healthcheck],
                interval: "10s",
                timeout: "5s",
                startPeriod: "1m0s",
                retries: 3,
            },
            wait: true,
            waitTimeout: 180,
            destroyGraceSeconds: 30,
            securityOpts: ["no-new-privileges:true"],
            capabilities: {
                drops: ["ALL"],
                adds: capabilities(args.security, [...args.ports, ...(args.addressedPorts ?? []).map(p => p.port)]),
            },
            readOnly: true,
            tmpfs: Object.fromEntries(args.security.tmpfs.map(p => [p, "rw,nosuid,nodev,mode=0755"])),
            labels: labelList({
                ...args.labels,
                "mailserver.role": "service",
                ...(args.startupSettings ? { "mailserver.startup-settings": args.startupSettings } : {}),
            }),
        },
        { parent, dependsOn },
    );
}

export function volumeMount(
    source: pulumi.Input<string>,
    target: string,
    readOnly = false,
): docker.types.input.ContainerMount {
    return { type: "volume", source, target, readOnly };
}
