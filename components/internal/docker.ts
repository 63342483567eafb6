// Docker building blocks shared by MailServer and DovecotImap: service images, the config job
// that writes rendered files into a config volume, and the long-running service containers.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { ImageArgs } from "../args";
import { renderManifest } from "../render/manifest";
import { paths } from "../model/paths";

export type Service = "postfix" | "dovecot" | "saslauthd" | "rspamd" | "valkey" | "acme" | "web" | "authpolicy";

/** The images/ folder, found from this file whether it runs from source or from bin/. */
export function imagesDir(): string {
    let dir = __dirname;
    for (let i = 0; i < 5; i++) {
        const candidate = path.join(dir, "images");
        if (fs.existsSync(path.join(candidate, "common", "entrypoint"))) return candidate;
        dir = path.dirname(dir);
    }
    throw new Error(`mailserver: cannot find the images/ folder above ${__dirname}`);
}

/**
 * A digest of what a service's image is built from: its Dockerfile and every file its COPY and ADD
 * lines (shell form) take from images/, by path, executable bit and content. The docker provider
 * rebuilds an image only when one of its inputs changes, never for new files in its build context,
 * so without this a package upgrade (same folder, new files) would keep running the old images.
 */
export function imageSourcesDigest(dir: string, service: Service): string {
    const dockerfile = path.posix.join(service, "Dockerfile");
    const copied = fs
        .readFileSync(path.join(dir, dockerfile), "utf8")
        .replace(/\\\n/g, " ")
        .split("\n")
        .filter(line => /^\s*(COPY|ADD)\s/i.test(line))
        .flatMap(line =>
            line
                .trim()
                .split(/\s+/)
                .slice(1)
                .filter(word => !word.startsWith("--"))
                .slice(0, -1),
        );
    const hash = createHash("sha256");
    const seen = new Set<string>();
    const add = (rel: string): void => {
        const abs = path.join(dir, rel);
        const stat = fs.statSync(abs);
        if (stat.isDirectory()) {
            for (const entry of fs.readdirSync(abs).sort()) add(path.posix.join(rel, entry));
            return;
        }
        if (seen.has(rel)) return;
        seen.add(rel);
        hash.update(`${rel}\0${stat.mode & 0o111 ? "x" : "-"}\0`)
            .update(fs.readFileSync(abs))
            .update("\0");
    };
    for (const source of [dockerfile, ...copied]) add(path.posix.normalize(source.replace(/\/$/, "")));
    return hash.digest("hex");
}

/** An image reference for a service: the user's, or one built from images/ on the Docker host. */
export function serviceImage(
    parent: pulumi.Resource,
    prefix: string,
    service: Service,
    args: ImageArgs | undefined,
): pulumi.Output<string> {
    const given = args?.[service];
    if (given !== undefined) return pulumi.output(given);
    const image = new docker.RemoteImage(
        `${prefix}-${service}-image`,
        {
            name: `mailserver-${service}:${prefix}`,
            keepLocally: true,
            // Rebuilt (the resource replaced) when the files it is built from change.
            triggers: { sources: imageSourcesDigest(imagesDir(), service) },
            build: {
                context: imagesDir(),
                dockerfile: `${service}/Dockerfile`,
                buildArgs: { BASE_IMAGE: args?.baseImage ?? "debian:trixie-slim" },
                networkMode: args?.buildNetworkMode,
            },
        },
        { parent },
    );
    return image.imageId;
}

export interface StagedFile {
    path: string;
    mode: string;
    owner: string;
    group: string;
    /** May be a secret (keys, password hashes); it stays one in the job's uploads. */
    content: pulumi.Input<string>;
}

export interface ConfigJobArgs {
    /** The service whose image runs the job. */
    service: Service;
    image: pulumi.Input<string>;
    configVolume: pulumi.Input<string>;
    files: StagedFile[];
    postmap?: string[];
    postalias?: string[];
    labels?: Record<string, string>;
    /**
     * "none" (the default), or "host" where the service runs on the host's network: Postfix's tools
     * check that every inet_interfaces address is a local one, and a job without a network has
     * only 127.0.0.1 (not even ::1), so the host's own addresses would fail there.
     */
    networkMode?: "none" | "host";
}

/**
 * What a config job may do (the services' hardening): root, but only CAP_CHOWN (it gives files to
 * the services' groups; every file stays root's, so no CAP_FOWNER), and no new privileges.
 * Measured: every job (postfix, saslauthd, dovecot, rspamd, web) runs with CAP_CHOWN alone, none
 * without it. Its root filesystem stays writable: the provider copies the uploads in through
 * Docker's archive API at "/", which Docker refuses on a read-only root ("container rootfs is
 * marked read-only", measured, even with a volume mounted at /staging). The job deletes its staged
 * copies itself. Capabilities as Docker reports them (see SERVICE_SECURITY).
 */
export const JOB_CAPABILITIES = ["CAP_CHOWN"];

/** The lines images/common/apply-config prints on standard output: the attempt it runs as, and its success. */
const JOB_ATTEMPT_LINE = /apply-config\[[^\]]*\]: attempt (\d+)$/;
const JOB_SUCCESS_LINE = /apply-config\[[^\]]*\]: generation \S+ (?:already )?active(?: \(attempt (\d+)\))?$/;

/**
 * The attempt the config job runs as, from the last line of the previous job's standard output
 * (the job container of the same name, from the previous deployment): after a success the same
 * attempt, so nothing changes; after a failure (killed, out of memory or disk, Docker restarted,
 * or refused by the service's own checks: the last line is then "attempt N") the next one, which
 * changes the job's environment and so replaces it. The next `pulumi up` thus runs a failed job
 * again instead of reading its old exit code back from the state. Nothing to read (no such
 * container, Docker unreachable): attempt 0. A job of before this mechanism: attempt 0.
 */
export function nextJobAttempt(lastLine: string | undefined): number {
    if (lastLine === undefined) return 0;
    const line = lastLine.trim();
    const success = JOB_SUCCESS_LINE.exec(line);
    if (success) return Number(success[1] ?? 0);
    return Number(JOB_ATTEMPT_LINE.exec(line)?.[1] ?? 0) + 1;
}

/** Why a job's exit code means failure, in words (128 + a signal: killed). */
function exitReason(code: number): string {
    if (code === 137) return "exit 137: killed (SIGKILL: out of memory, `docker kill`, or Docker stopped it)";
    if (code > 128) return `exit ${code}: killed by signal ${code - 128}`;
    return `exit ${code}`;
}

/**
 * A run-to-completion container that installs a new configuration generation into the config
 * volume (images/common/apply-config). It is replaced whenever a file changes; the service
 * containers are not, they reload. A non-zero exit fails the deployment, and the next deployment
 * runs the job again (nextJobAttempt): a failure for a passing reason does not stick.
 */
export function configJob(
    parent: pulumi.Resource,
    name: string,
    args: ConfigJobArgs,
): { container: docker.Container; applied: pulumi.Output<number> } {
    const manifest = renderManifest(
        args.files.map(f => ({ ...f, content: "" })),
        args.postmap ?? [],
        args.postalias ?? [],
    );
    // The previous job of this name: the last of its own lines on standard output says whether it
    // succeeded (an invoke, so a plain `pulumi up` does the same). The provider's log reader fails
    // on 9-character lines, which the job's own lines never are, but a job of before this change
    // printed rspamadm's "syntax OK" there: so the last line alone first (a success's), and the
    // whole output only when that is not a success (Docker counts tail over both streams). A
    // failed read (no such container yet) is no information.
    const read = (tail?: string) =>
        docker.getLogs({ name, showStdout: true, showStderr: false, ...(tail ? { tail } : {}) }, { parent }).then(
            r => r.logsListStrings ?? null,
            () => undefined,
        );
    const lastLine = read("1").then(async last => {
        if (last === undefined) return undefined;
        if (last && last.length > 0 && JOB_SUCCESS_LINE.test(last[last.length - 1].trim()))
            return last[last.length - 1];
        const all = await read();
        // No list at all, here too (the mocks): no information.
        if (!all) return undefined;
        return all.filter(l => JOB_ATTEMPT_LINE.test(l.trim()) || JOB_SUCCESS_LINE.test(l.trim())).pop() ?? "";
    });
    const attempt = pulumi.output(lastLine).apply(nextJobAttempt);
    const container = new docker.Container(
        name,
        {
            name,
            image: args.image,
            command: ["apply-config"],
            attach: true,
            mustRun: false,
            restart: "no",
            networkMode: args.networkMode ?? "none",
            // Attempt 0 adds nothing: a stack deployed before retries existed sees no change.
            envs: attempt.apply(n => (n > 0 ? [`MAIL_JOB_ATTEMPT=${n}`] : undefined)),
            uploads: [
                { file: `${paths.staging}/MANIFEST`, content: manifest },
                ...args.files.map(f => ({ file: `${paths.staging}/${f.path}`, content: f.content })),
            ],
            mounts: [{ type: "volume", source: args.configVolume, target: "/volume" }],
            securityOpts: ["no-new-privileges:true"],
            capabilities: { drops: ["ALL"], adds: JOB_CAPABILITIES },
            labels: labelList({ ...args.labels, "mailserver.role": "config-job" }),
        },
        { parent },
    );
    const applied = container.exitCode.apply(code => {
        if (code !== undefined && code !== null && code !== 0) {
            const what =
                code > 128
                    ? `the configuration job was stopped before it finished (${exitReason(code)})`
                    : `the configuration was rejected by the service's own checks, or the job failed (${exitReason(code)})`;
            throw new Error(
                `${name}: ${what}; the running service keeps its previous configuration, and the next ` +
                    `\`pulumi up\` runs the job again. See \`docker logs ${name}\`.`,
            );
        }
        return code ?? 0;
    });
    return { container, applied };
}

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

/**
 * Least privilege per daemon: every capability dropped but the ones it needs, a read-only root
 * filesystem with tmpfs where the daemon writes runtime state, and no new privileges.
 * Capabilities are written as Docker reports them (CAP_ prefix, sorted): after `pulumi refresh`
 * any other spelling would read as a change, and a capability change replaces the container.
 */
export const SERVICE_SECURITY: Record<Service, { capabilities: string[]; tmpfs: string[] }> = {
    // master (root) manages queue permissions and signals its unprivileged children.
    postfix: {
        capabilities: [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETGID",
            "CAP_SETUID",
        ],
        tmpfs: ["/run/mail", "/tmp", "/var/lib/postfix"],
    },
    // login processes chroot and drop to unprivileged users; mail is written as vmail.
    dovecot: {
        capabilities: [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETGID",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ],
        tmpfs: ["/run/dovecot", "/run/mail", "/tmp", "/var/lib/dovecot"],
    },
    // root reading root-owned files and serving a unix socket needs no capability at all.
    saslauthd: { capabilities: [], tmpfs: ["/run/mail", "/tmp"] },
    // The main process (root) prepares its directories, binds the sockets, runs its workers as
    // _rspamd and signals them on reload, and reads and writes the caches in their directory
    // (hyperscan databases, the symbols cache).
    rspamd: {
        capabilities: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"],
        tmpfs: ["/run/mail", "/run/rspamd", "/tmp"],
    },
    // Runs as the image's valkey user, with no network at all.
    valkey: { capabilities: [], tmpfs: ["/tmp"] },
    // The brute-force policy service: the image's authpolicy user, no network, one socket.
    authpolicy: { capabilities: [], tmpfs: ["/tmp"] },
    // The ACME client (root, to own the key files the services' root processes read) writes only
    // its volumes; components/internal/acme.ts adds CAP_NET_BIND_SERVICE for an HTTP-01 port below 1024.
    acme: { capabilities: [], tmpfs: ["/tmp"] },
    // nginx's master (root, to read the key) starts its workers as www-data; CAP_NET_BIND_SERVICE
    // is added by components/internal/web.ts for a port below 1024.
    web: { capabilities: ["CAP_SETGID", "CAP_SETUID"], tmpfs: ["/run/mail", "/run/nginx", "/tmp"] },
};

export interface ServiceContainerArgs {
    service: Service;
    image: pulumi.Input<string>;
    placement: NetworkPlacement;
    /** Ports the daemon listens on; in bridge mode published on the same host port. */
    ports: number[];
    mounts: docker.types.input.ContainerMount[];
    healthcheck: string[];
    restart: string;
    labels: Record<string, string>;
    /** Environment ("NAME=value"); never a secret. */
    envs?: string[];
    /** Capabilities besides SERVICE_SECURITY's, e.g. CAP_NET_BIND_SERVICE for a low port only. */
    extraCapabilities?: string[];
    /**
     * Settings the daemon reads only when it starts (a reload does not apply them), as text; set
     * when they differ from the defaults. A label of the container: a change replaces it, and the
     * preview shows why.
     */
    startupSettings?: string;
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
                ? args.ports
                      .filter(p => p > 0)
                      .map(p => ({ internal: p, external: p, ip: args.placement.publishAddress }))
                : undefined,
            mounts: args.mounts,
            envs: args.envs,
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
                adds: [...SERVICE_SECURITY[args.service].capabilities, ...(args.extraCapabilities ?? [])].sort(),
            },
            readOnly: true,
            tmpfs: Object.fromEntries(SERVICE_SECURITY[args.service].tmpfs.map(p => [p, "rw,nosuid,nodev,mode=0755"])),
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
