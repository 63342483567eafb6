// Starts the component provider (a gRPC server for the engine). provider/index.js calls main() when
// @pulumi/pulumi's run-plugin starts provider/ as a plugin program (PulumiPlugin.yaml, or the
// pulumi-resource-mailserver launcher).
import * as fs from "fs";
import * as path from "path";
import * as provider from "@pulumi/pulumi/provider";
import { MailServerProvider } from "./provider";
import { PACKAGE } from "./schema";

/**
 * The version of the package this file belongs to: its root is the folder above that holds
 * provider/PulumiPlugin.yaml (this folder's parent in a checkout; bin/provider/'s grandparent when
 * installed), whatever name it is published under.
 */
export function packageVersion(from = __dirname): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (fs.existsSync(manifest) && fs.existsSync(path.join(dir, "provider", "PulumiPlugin.yaml")))
            return JSON.parse(fs.readFileSync(manifest, "utf8")).version;
        if (path.dirname(dir) === dir) throw new Error(`${PACKAGE} provider: no package root above ${from}`);
    }
}

export function main(args: string[]): Promise<void> {
    return provider.main(new MailServerProvider(packageVersion()), args);
}
