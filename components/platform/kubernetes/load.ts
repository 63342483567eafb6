// @pulumi/kubernetes is an optional peer dependency: only a stack that sets MailServer kubernetes
// loads it (and this platform), so a Docker deployment needs neither installed.
import type * as Deploy from "./deploy";

export function kubernetesPlatform(): typeof Deploy {
    return require("./deploy") as typeof Deploy;
}
