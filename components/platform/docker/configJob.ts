// The config job: a run-to-completion container of the service's image that installs a new
// configuration generation into the service's config volume (images/common/apply-config).
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { paths } from "../../model/paths";
import { renderManifest } from "../../render/manifest";
import type { StagedFile } from "../../services/definition";
import { renderBundle } from "./bundle";
import { labelList } from "./container";

export interface ConfigJobArgs {
    /** The service's image, which runs the job. */
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
 * copies itself. Capabilities as Docker reports them (see container.ts).
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

/**
 * The job's uploads: the MANIFEST and every rendered file in one bundle, in clear in
 * `pulumi preview --diff`; the files made from resource outputs (keys, password hashes, the
 * certificate) in a second bundle, a secret when any of them is (their secrets always are).
 */
function bundles(manifest: string, files: StagedFile[]): docker.types.input.ContainerUpload[] {
    const made = files.filter(f => pulumi.Output.isInstance(f.content));
    const plain = files.filter(f => !pulumi.Output.isInstance(f.content));
    const uploads: docker.types.input.ContainerUpload[] = [
        {
            file: `${paths.staging}/${PUBLIC_BUNDLE}`,
            content: renderBundle([
                { path: "MANIFEST", content: manifest },
                ...plain.map(f => ({ path: f.path, content: f.content as string })),
            ]),
        },
    ];
    if (made.length > 0)
        uploads.push({
            file: `${paths.staging}/${OUTPUTS_BUNDLE}`,
            content: pulumi
                .all(made.map(f => f.content))
                // Unknown in a preview under mocks (never in a deployment): no content, as one upload per file had.
                .apply(contents =>
                    contents.some(c => c === undefined)
                        ? (undefined as unknown as string)
                        : renderBundle(made.map((f, i) => ({ path: f.path, content: contents[i] }))),
                ),
        });
    return uploads;
}

/** The bundles' names in the staging folder (images/common/apply-config unpacks and removes them). */
export const PUBLIC_BUNDLE = ".bundle-public";
export const OUTPUTS_BUNDLE = ".bundle-outputs";

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
            uploads: bundles(manifest, args.files),
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
