// The manifest tells the config job (images/common/apply-config) the mode and owner of each
// file it installs, and which Postfix tables to compile.
import { RenderedFile } from "../model/spec";

export function renderManifest(
    files: RenderedFile[],
    postmapTables: string[] = [],
    postaliasTables: string[] = [],
): string {
    const lines = ["# mode owner group path | postmap path | postalias path"];
    for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
        lines.push(`file ${f.mode} ${f.owner} ${f.group} ${f.path}`);
    }
    for (const t of postmapTables) lines.push(`postmap ${t}`);
    for (const t of postaliasTables) lines.push(`postalias ${t}`);
    return lines.join("\n") + "\n";
}
