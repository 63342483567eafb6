// Starts the component provider (a gRPC server for the engine). provider/index.js calls main() when
// @pulumi/pulumi's run-plugin starts provider/ as a plugin program (PulumiPlugin.yaml, or the
// pulumi-resource-mailserver launcher).
import * as fs from "fs";
import * as path from "path";
import * as provider from "@pulumi/pulumi/provider";
import { MailServerProvider } from "./provider";
import { PACKAGE } from "./schema";

/** The version of the package this file belongs to (provider/ in a checkout, bin/provider/ when installed). */
export function packageVersion(from = __dirname): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        const file = path.join(dir, "package.json");
        if (fs.existsSync(file)) {
            const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
            if (manifest.name === PACKAGE || manifest.name?.endsWith(`/${PACKAGE}`)) return manifest.version;
        }
        if (path.dirname(dir) === dir)
            throw new Error(`${PACKAGE} provider: no package.json of ${PACKAGE} above ${from}`);
    }
}

export function main(args: string[]): Promise<void> {
    return provider.main(new MailServerProvider(packageVersion()), args);
}
