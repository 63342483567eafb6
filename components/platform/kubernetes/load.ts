// @pulumi/kubernetes is an optional peer dependency: only a stack that sets MailServer kubernetes
// loads it (and this platform), so a Docker deployment needs neither installed.
import type * as Deploy from "./deploy";

export function kubernetesPlatform(): typeof Deploy {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("./deploy") as typeof Deploy;
}
