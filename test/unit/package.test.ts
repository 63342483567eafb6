// The npm package: `npm pack` builds it (the `prepare` script) and ships exactly the compiled
// components, example program and policy pack, the image sources, the policy pack's entry files,
// README with the docs/ it links to, LICENSE and CHANGELOG — nothing else, nothing missing. It
// loads from a folder outside the repository, keeps its name and its component type tokens (every
// URN depends on them).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { pack, ROOT, scratchDir, Tarball } from "../pack";

/**
 * What the package ships, from this tree's files. To ship more, add it to package.json "files"
 * and here, saying why.
 */
const SHIPPED = {
    /** Files shipped as they are. */
    files: [
        "package.json",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        // The policy pack's folder: `--policy-pack node_modules/mailserver/policy` runs main.cjs,
        // which loads the compiled pack from bin/policy (PulumiPolicy.yaml names the runtime,
        // package.json the pack's version).
        "policy/PulumiPolicy.yaml",
        "policy/package.json",
        "policy/main.cjs",
        // The component provider other Pulumi languages use (`packages: mailserver: <this folder>`):
        // PulumiPlugin.yaml and the launcher run index.js, which starts the compiled bin/provider;
        // schema.json is the schema it serves, for reference and SDK generation.
        "provider/PulumiPlugin.yaml",
        "provider/package.json",
        "provider/index.js",
        "provider/pulumi-resource-mailserver",
        "provider/schema.json",
    ],
    /**
     * Folders shipped whole: the images the components build at deploy time (imagesDir()), and the
     * documentation README.md links to.
     */
    trees: ["images/", "docs/"],
    /**
     * TypeScript compiled into bin/ (.js and .d.ts): the components, the example program (index.ts
     * and its stack config keys), the policy pack, the component provider.
     */
    compiled: ["index.ts", "stack/", "components/", "policy/", "provider/"],
};

/** The component type tokens: every URN of every user's stack contains them, so they never change. */
const TOKENS = [
    "mailserver:index:DovecotImap",
    "mailserver:index:MailServer",
    "mailserver:index:Relayhost",
    "mailserver:index:VirtualDomain",
];

/** This tree's files as git sees them (tracked, and new files not ignored). */
function treeFiles(): string[] {
    const r = spawnSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(f => f && fs.existsSync(path.join(ROOT, f)));
}

function expectedFiles(tree: string[]): string[] {
    const under = (prefix: string) => tree.filter(f => (prefix.endsWith("/") ? f.startsWith(prefix) : f === prefix));
    const compiled = SHIPPED.compiled
        .flatMap(under)
        .filter(f => f.endsWith(".ts"))
        .flatMap(f => [`bin/${f.replace(/\.ts$/, ".js")}`, `bin/${f.replace(/\.ts$/, ".d.ts")}`]);
    return [...SHIPPED.files, ...SHIPPED.trees.flatMap(under), ...compiled].sort();
}

let dir: string;
let tarball: Tarball;
let pkg: any;

before(() => {
    dir = scratchDir("package-test");
    tarball = pack(dir);
    pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    process.stdout.write(
        `# ${path.basename(tarball.file)}: ${tarball.files.length} files, ${(tarball.size / 1024).toFixed(0)} kB\n`,
    );
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("the npm package", () => {
    test("holds exactly the package's files: nothing unexpected, nothing missing", () => {
        const tree = treeFiles();
        const expected = expectedFiles(tree);
        const unexpected = tarball.files.filter(f => !expected.includes(f));
        const missing = expected.filter(f => !tarball.files.includes(f));
        assert.deepEqual(
            { unexpected, missing },
            { unexpected: [], missing: [] },
            `the tarball differs from the package's allowlist (package.json "files", test/unit/package.test.ts SHIPPED)`,
        );
        // The images' scripts keep their executable bit (the Dockerfiles copy them as they are).
        const executables = tree.filter(f => f.startsWith("images/") && fs.statSync(path.join(ROOT, f)).mode & 0o100);
        assert.deepEqual(tarball.executables.filter(f => f.startsWith("images/")).sort(), executables.sort());
    });

    test("its entry points (main, types, exports) are files of the tarball", () => {
        const targets = [
            pkg.main,
            pkg.types,
            ...Object.values(pkg.exports).flatMap(e => (typeof e === "string" ? [e] : Object.values(e as object))),
        ];
        for (const target of targets)
            assert.ok(tarball.files.includes(path.posix.normalize(String(target))), `${target} is not in the tarball`);
    });

    test("keeps its name, and the component type tokens every URN contains", () => {
        assert.equal(pkg.name, "mailserver");
        const tokens = new Set<string>();
        const unpacked = path.join(dir, "unpacked");
        fs.mkdirSync(unpacked);
        assert.equal(spawnSync("tar", ["-xzf", tarball.file, "-C", unpacked]).status, 0);
        for (const f of tarball.files.filter(f => f.startsWith("bin/components/") && f.endsWith(".js")))
            for (const m of fs
                .readFileSync(path.join(unpacked, "package", f), "utf8")
                .matchAll(/"(mailserver:index:\w+)"/g))
                tokens.add(m[1]);
        assert.deepEqual([...tokens].sort(), TOKENS);
    });

    test("the policy pack's version is the package's", () => {
        const policy = JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "package.json"), "utf8"));
        assert.equal(policy.version, pkg.version);
        assert.equal(policy.main, "main.cjs");
    });

    test("loads from a folder outside the repository: the components and the example program", () => {
        // The tarball unpacked as node_modules/mailserver of a folder in the system's temporary folder,
        // its dependencies and peers linked from this repository's node_modules (the consumer test
        // installs them from the registry instead).
        const project = path.join(dir, "outside");
        const modules = path.join(project, "node_modules");
        fs.mkdirSync(path.join(modules, "@pulumi"), { recursive: true });
        assert.equal(spawnSync("tar", ["-xzf", tarball.file, "-C", modules]).status, 0);
        fs.renameSync(path.join(modules, "package"), path.join(modules, "mailserver"));
        for (const dep of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)])
            fs.symlinkSync(path.join(ROOT, "node_modules", dep), path.join(modules, dep));
        const script = `
            const m = require("mailserver");
            const example = require("mailserver/example");
            console.log(JSON.stringify({
                classes: ["MailServer", "VirtualDomain", "Relayhost", "DovecotImap"].filter(c => typeof m[c] === "function"),
                example: typeof example,
                main: require.resolve("mailserver"),
            }));`;
        const r = spawnSync("node", ["-e", script], { cwd: project, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const loaded = JSON.parse(r.stdout);
        assert.deepEqual(loaded.classes, ["MailServer", "VirtualDomain", "Relayhost", "DovecotImap"]);
        assert.equal(loaded.example, "function");
        assert.equal(loaded.main, path.join(modules, "mailserver", "bin", "components", "index.js"));
    });
});
