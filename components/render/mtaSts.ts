// Renders the MTA-STS policy daemon's config generation (MailServer outboundTls.mtaSts): the CAs
// it trusts besides the public ones when it fetches a policy over HTTPS. Its daemon settings are
// part of its image (images/mtasts/mta-sts-daemon.yml): nothing else varies with the arguments.
import { publicFile, RenderedFile } from "../model/spec";
import { renderProbe } from "./probe";

/** The policy daemon's files: trusted-ca.pem (empty: the public CAs only) and the probe. */
export function renderMtaStsFiles(trustedCaPem: string | undefined): RenderedFile[] {
    return [publicFile("trusted-ca.pem", trustedCaPem ?? ""), renderProbe(undefined)];
}
