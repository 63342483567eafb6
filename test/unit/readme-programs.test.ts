// The programs README.md tells users to copy must compile against the components as they are: the
// TypeScript blocks of "Quick start" and "Kubernetes" are type-checked with the project's compiler
// options ("mailserver" resolved to components/index.ts), so a renamed option or output fails here.
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const DIR = path.join(ROOT, "test", ".artifacts", "readme-programs");

/** The first ```ts block after the heading `## <section>`. */
function program(section: string): string {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const at = readme.indexOf(`\n## ${section}\n`);
    assert.ok(at >= 0, `README.md has no section "${section}"`);
    const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
    assert.ok(block, `README.md's "${section}" has no TypeScript block`);
    return block[1];
}

test("README's Quick start and Kubernetes programs type-check against the components", () => {
    fs.rmSync(DIR, { recursive: true, force: true });
    fs.mkdirSync(DIR, { recursive: true });
    const components = path
        .relative(DIR, path.join(ROOT, "components", "index"))
        .split(path.sep)
        .join("/");
    const files = ["Quick start: in a program of your own", "Kubernetes"].map((section, i) => {
        const source = program(section).replace(/from "mailserver"/g, `from "${components}"`);
        assert.notEqual(source, program(section), `"${section}" does not import from "mailserver"`);
        const file = path.join(DIR, `program${i}.ts`);
        // A module each: both programs declare the same names.
        fs.writeFileSync(file, `${source}\nexport {};\n`);
        return file;
    });
    const tsc = path.join(ROOT, "node_modules", ".bin", "tsc");
    const r = spawnSync(
        tsc,
        [
            "--noEmit",
            "--strict",
            "--target",
            "ES2022",
            "--module",
            "commonjs",
            "--moduleResolution",
            "node",
            "--esModuleInterop",
            "--skipLibCheck",
            "--types",
            "node",
            ...files,
        ],
        { cwd: ROOT, encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(r.status, 0, `tsc:\n${r.stdout}${r.stderr}`);
});
