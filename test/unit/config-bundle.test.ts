// The config jobs' bundles (components/platform/docker/bundle.ts): what the docker provider uploads
// instead of one upload per file, and images/common/apply-config unpacks byte for byte.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { BUNDLE_MAGIC, parseBundle, renderBundle } from "../../components/platform/docker/bundle";

const FILES = [
    { path: "MANIFEST", content: "file 0644 root root main.cf\n" },
    { path: "main.cf", content: "myhostname = mail.example.test\n# ünïcödé ✓\n" },
    { path: "dkim/example.com.mail-rsa.key", content: "-----BEGIN PRIVATE KEY-----\nno newline at the end" },
    { path: "empty", content: "" },
    { path: "sieve/after.d/junk.sieve", content: 'require "fileinto";\n\n\n' },
];

test("a bundle reads back as the files it was made of, lengths in bytes", () => {
    const bundle = renderBundle(FILES);
    assert.ok(bundle.startsWith(BUNDLE_MAGIC));
    assert.match(bundle, /^49 main\.cf\n/m, "the length counts UTF-8 bytes (49), not characters (43)");
    assert.deepEqual(parseBundle(bundle), FILES);
});

test("paths that could leave the staging folder, or break the header, are refused", () => {
    for (const bad of ["../etc/passwd", "a/../../b", "/etc/shadow", "a b", "a\nb", ""])
        assert.throws(() => renderBundle([{ path: bad, content: "x" }]), /unsafe file path/, bad);
    assert.throws(() => parseBundle(`${BUNDLE_MAGIC}50 main.cf\nshort`), /main\.cf is truncated/);
    assert.throws(() => parseBundle("not a bundle"), /not a config bundle/);
});

test("apply-config's unpacker writes every file byte for byte and refuses a path out of the folder", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bundle-"));
    const staging = path.join(dir, "staging");
    fs.mkdirSync(staging);
    fs.writeFileSync(path.join(staging, ".bundle-public"), renderBundle(FILES));
    // The unpacking loop of images/common/apply-config, run as it is written there.
    const script = fs.readFileSync(path.join(__dirname, "..", "..", "images", "common", "apply-config"), "utf8");
    const loop = /^for bundle in [\s\S]*?^done$/m.exec(script)?.[0];
    assert.ok(loop, "the unpacking loop in apply-config");
    const run = (s: string) =>
        spawnSync("bash", ["-c", `set -euo pipefail; STAGING=${staging}; fail() { echo "$*" >&2; exit 1; }\n${s}`], {
            encoding: "utf8",
        });
    const r = run(loop);
    assert.equal(r.status, 0, r.stderr);
    for (const f of FILES) assert.equal(fs.readFileSync(path.join(staging, f.path), "utf8"), f.content, f.path);
    assert.ok(!fs.existsSync(path.join(staging, ".bundle-public")), "the bundle is removed once unpacked");
    fs.writeFileSync(path.join(staging, ".bundle-outputs"), `${BUNDLE_MAGIC}1 ../escape\nx`);
    const bad = run(loop);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unsafe path \.\.\/escape|bad header/);
    assert.ok(!fs.existsSync(path.join(dir, "escape")));
    fs.rmSync(dir, { recursive: true, force: true });
});
