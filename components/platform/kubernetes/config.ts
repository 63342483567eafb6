// A service's staged files as the data of its ConfigMap and Secret: the same two bundles the
// Docker platform's config job uploads (platform/docker/bundle.ts), which the config sidecar hands
// to images/common/apply-config unchanged. The ConfigMap's bundle (MANIFEST and every rendered
// file) is in clear, as previews show it; the Secret's (files made of resource outputs: keys,
// hashes, the certificate) a Pulumi secret.
import * as pulumi from "@pulumi/pulumi";
import { renderManifest } from "../../render/manifest";
import type { StagedFile } from "../../services/definition";
import { renderBundle } from "../docker/bundle";

/** The keys of the bundles in the projection (the sidecar copies them to /staging/.bundle-<key>). */
export const PUBLIC_KEY = "public";
export const OUTPUTS_KEY = "outputs";

export interface FilesData {
    /** The ConfigMap's data. */
    public: Record<string, string>;
    /** The Secret's stringData (a secret); undefined when no file is made of outputs. */
    outputs: pulumi.Output<Record<string, string>> | undefined;
}

export function filesData(files: StagedFile[], postmap: string[] = [], postalias: string[] = []): FilesData {
    const manifest = renderManifest(
        files.map(f => ({ ...f, content: "" })),
        postmap,
        postalias,
    );
    const made = files.filter(f => pulumi.Output.isInstance(f.content) || typeof f.content !== "string");
    const plain = files.filter(f => !made.includes(f));
    const publicBundle = renderBundle([
        { path: "MANIFEST", content: manifest },
        ...plain.map(f => ({ path: f.path, content: f.content as string })),
    ]);
    const outputs =
        made.length === 0
            ? undefined
            : pulumi.secret(
                  pulumi
                      .all(made.map(f => f.content))
                      // Unknown under mocks in a preview (never in a deployment): no content yet.
                      .apply(contents =>
                          contents.some(c => c === undefined)
                              ? ({} as Record<string, string>)
                              : {
                                    [OUTPUTS_KEY]: renderBundle(
                                        made.map((f, i) => ({ path: f.path, content: contents[i] })),
                                    ),
                                },
                      ),
              );
    return { public: { [PUBLIC_KEY]: publicBundle }, outputs };
}
