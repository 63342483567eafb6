// The documentation's own links: every relative link of README.md, CHANGELOG.md and docs/*.md
// names a file of this tree and, with "#anchor", a heading of that file, as GitHub makes heading
// anchors (github-slugger, the library GitHub's own pages use). Links inside code are not links.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import GithubSlugger from "github-slugger";

const ROOT = path.resolve(__dirname, "..", "..");
const DOCS = [
    "README.md",
    "CHANGELOG.md",
    ...fs
        .readdirSync(path.join(ROOT, "docs"))
        .filter(f => f.endsWith(".md"))
        .map(f => `docs/${f}`),
];

/** The text outside fenced code blocks and inline code, line by line. */
function prose(text: string): string[] {
    let fenced = false;
    return text.split("\n").map(line => {
        if (/^\s*```/.test(line)) {
            fenced = !fenced;
            return "";
        }
        return fenced ? "" : line.replace(/`[^`]*`/g, "``");
    });
}

/** The anchors of a Markdown file's headings, as GitHub makes them (a repeated one gets -1, -2, ...). */
function anchors(file: string): Set<string> {
    const slugger = new GithubSlugger();
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    let fenced = false;
    const out = new Set<string>();
    for (const line of text.split("\n")) {
        if (/^\s*```/.test(line)) fenced = !fenced;
        const heading = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
        if (heading) out.add(slugger.slug(heading[1]));
    }
    return out;
}

/** Every relative link of a file: [text](target), with the line it is on. */
function links(file: string): Array<{ line: number; target: string }> {
    const found: Array<{ line: number; target: string }> = [];
    prose(fs.readFileSync(path.join(ROOT, file), "utf8")).forEach((line, i) => {
        for (const m of line.matchAll(/\]\(([^)\s]+)\)/g))
            if (!/^[a-z][a-z0-9+.-]*:/i.test(m[1])) found.push({ line: i + 1, target: m[1] });
    });
    return found;
}

test("every relative link of the documentation names a file of the tree and a heading in it", () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of DOCS) {
        for (const { line, target } of links(file)) {
            checked++;
            const [pathPart, anchor] = target.split("#", 2);
            const resolved =
                pathPart === "" ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), pathPart));
            const where = `${file}:${line}: ${target}`;
            if (!fs.existsSync(path.join(ROOT, resolved))) broken.push(`${where} (no file ${resolved})`);
            else if (anchor !== undefined && !(resolved.endsWith(".md") && anchors(resolved).has(anchor)))
                broken.push(`${where} (no heading #${anchor} in ${resolved})`);
        }
    }
    process.stdout.write(`# ${checked} relative links in ${DOCS.length} files\n`);
    assert.deepEqual(broken, []);
    assert.ok(checked > 20, `only ${checked} links found: is the link syntax still read?`);
});

test("README.md links to each document under docs/", () => {
    const readme = links("README.md").map(l => l.target.split("#")[0]);
    for (const doc of DOCS.filter(f => f.startsWith("docs/")))
        assert.ok(readme.includes(doc), `README.md: no link to ${doc}`);
});
