// What a Sieve script may require, and which extensions a given script requires: the rule
// validation applies to sieveScript before anything is deployed (options/virtualDomain.ts).

/**
 * The extensions Pigeonhole 2.4 enables by default (its sieve_extensions default, which is also
 * what ManageSieve advertises), plus the two comparators every Sieve implementation has.
 * Checked against the running server by the live tests.
 */
export const SIEVE_EXTENSIONS: readonly string[] = [
    "fileinto",
    "reject",
    "envelope",
    "encoded-character",
    "vacation",
    "subaddress",
    "comparator-i;ascii-numeric",
    "relational",
    "regex",
    "imap4flags",
    "copy",
    "include",
    "body",
    "variables",
    "enotify",
    "environment",
    "mailbox",
    "date",
    "index",
    "ihave",
    "duplicate",
    "mime",
    "foreverypart",
    "extracttext",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
];

/**
 * The capability strings of every `require` command in a script, in order. A small lexer (comments,
 * quoted strings, multi-line text:) so that words inside strings or comments are not taken for
 * commands. Anything it cannot read is left for sievec, which compiles every script at deploy.
 */
export function sieveRequires(script: string): string[] {
    const tokens = sieveTokens(script);
    const found: string[] = [];
    for (let i = 0; i < tokens.length; i++) {
        const t = tokens[i];
        if (t.kind !== "word" || t.text.toLowerCase() !== "require") continue;
        for (let j = i + 1; j < tokens.length && !(tokens[j].kind === "punct" && tokens[j].text === ";"); j++) {
            if (tokens[j].kind === "string") found.push(tokens[j].text);
            else if (tokens[j].kind === "word") break;
        }
    }
    return found;
}

interface Token {
    kind: "word" | "string" | "punct";
    text: string;
}

function sieveTokens(s: string): Token[] {
    const tokens: Token[] = [];
    let i = 0;
    while (i < s.length) {
        const c = s[i];
        if (/\s/.test(c)) {
            i++;
            continue;
        }
        if (c === "#") {
            while (i < s.length && s[i] !== "\n") i++;
            continue;
        }
        if (c === "/" && s[i + 1] === "*") {
            const end = s.indexOf("*/", i + 2);
            if (end < 0) break;
            i = end + 2;
            continue;
        }
        if (c === '"') {
            let text = "";
            i++;
            while (i < s.length && s[i] !== '"') {
                if (s[i] === "\\" && i + 1 < s.length) i++;
                text += s[i++];
            }
            if (i >= s.length) break;
            i++;
            tokens.push({ kind: "string", text });
            continue;
        }
        const text = /^text:[ \t]*(#[^\n]*)?\r?\n/i.exec(s.slice(i));
        if (text) {
            // Multi-line string: up to a line holding a single dot; ".." at a line start is one ".".
            i += text[0].length;
            const lines: string[] = [];
            while (i < s.length) {
                const nl = s.indexOf("\n", i);
                const line = (nl < 0 ? s.slice(i) : s.slice(i, nl)).replace(/\r$/, "");
                i = nl < 0 ? s.length : nl + 1;
                if (line === ".") break;
                lines.push(line.startsWith("..") ? line.slice(1) : line);
            }
            tokens.push({ kind: "string", text: lines.join("\n") });
            continue;
        }
        const word = /^:?[A-Za-z_][A-Za-z0-9_]*|^\d+[KMG]?/.exec(s.slice(i));
        if (word) {
            tokens.push({ kind: "word", text: word[0] });
            i += word[0].length;
            continue;
        }
        tokens.push({ kind: "punct", text: c });
        i++;
    }
    return tokens;
}

/** The Sieve capabilities whose actions send mail (replies, rejections, notifications). */
const SENDING_CAPABILITIES = ["vacation", "vacation-seconds", "reject", "ereject", "enotify"];

/**
 * What in a script sends mail through the MTA (Dovecot's sendmail): the capabilities it requires
 * among vacation, reject and enotify, and "redirect" (a core command, required by nobody) when
 * it uses it. Empty: the script sends nothing.
 */
export function sieveSendsMail(script: string): string[] {
    const required = sieveRequires(script).filter(c => SENDING_CAPABILITIES.includes(c.toLowerCase()));
    const redirect = sieveTokens(script).some(t => t.kind === "word" && t.text.toLowerCase() === "redirect");
    return [...required, ...(redirect ? ["redirect"] : [])];
}
