// Renders each mailbox's Sieve rules (typed options or a script given as is) into files of the
// Dovecot config volume. Pure and deterministic.
import { DomainSpec, MailboxSpec, publicFile, RenderedFile, SieveSpec } from "../model/spec";

/** Where a mailbox's rendered script lives, relative to the config root (Dovecot reads %{user}.sieve). */
export function sieveFilePath(address: string): string {
    return `sieve/${address}.sieve`;
}

/** A Sieve quoted string. Newlines may stay inside quoted strings (RFC 5228 2.4.2). */
export function sieveString(value: string): string {
    return `"${value.replace(/\r\n?/g, "\n").replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function stringList(values: string[]): string {
    return values.length === 1 ? sieveString(values[0]) : `[${values.map(sieveString).join(", ")}]`;
}

/** The script for one mailbox, or undefined when it has no rules. */
export function renderMailboxSieve(address: string, sieve: SieveSpec | undefined): string | undefined {
    if (!sieve) return undefined;
    // A script given as is stays byte for byte as given, so sievec's line numbers match the user's.
    if (sieve.script !== undefined) return sieve.script;
    if (!sieve.vacation && sieve.fileInto.length === 0) return undefined;
    const requires = [...(sieve.fileInto.length > 0 ? ["fileinto"] : []), ...(sieve.vacation ? ["vacation"] : [])];
    const lines = [
        `# Rendered by the mailserver package (components/render/sieve.ts) for ${address}. Do not edit here:`,
        "# every deploy replaces this file. Change the mailbox's arguments instead.",
        `require ${stringList(requires)};`,
    ];
    const v = sieve.vacation;
    if (v) {
        // First, so that filed messages are answered too; Dovecot itself never answers lists,
        // bounces or auto-replies, and answers each sender once per period.
        const tags = [
            ...(v.days !== undefined ? [`:days ${v.days}`] : []),
            `:subject ${sieveString(v.subject)}`,
            ...(v.addresses.length > 0 ? [`:addresses ${stringList(v.addresses)}`] : []),
        ];
        lines.push(`vacation ${tags.join(" ")}`, `  ${sieveString(v.body)};`);
    }
    for (const rule of sieve.fileInto) {
        // The first matching rule wins.
        lines.push(
            `if header :contains ${sieveString(rule.header)} ${sieveString(rule.contains)} {`,
            `  fileinto ${sieveString(rule.folder)};`,
            "  stop;",
            "}",
        );
    }
    return lines.join("\n") + "\n";
}

/** One file per mailbox that has rules; the config job compiles each with sievec. */
export function renderSieveFiles(domains: DomainSpec[]): RenderedFile[] {
    const files: RenderedFile[] = [];
    const mailboxes: MailboxSpec[] = domains.flatMap(d => d.mailboxes);
    for (const m of [...mailboxes].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))) {
        const content = renderMailboxSieve(m.address, m.sieve);
        if (content !== undefined) files.push(publicFile(sieveFilePath(m.address), content));
    }
    return files;
}
