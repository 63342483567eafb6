// Each service's image on the Docker host: the user's prebuilt one, or one built from images/,
// rebuilt exactly when the files it is built from change.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** The images options: a prebuilt image per service, and the settings of the builds. */
export interface ImageSettings {
    baseImage?: pulumi.Input<string>;
    buildNetworkMode?: pulumi.Input<string>;
}

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
export function imageSourcesDigest(dir: string, service: string): string {
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
    service: string,
    args: ImageSettings | undefined,
): pulumi.Output<string> {
    const given = (args as Record<string, pulumi.Input<string> | undefined> | undefined)?.[service];
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
