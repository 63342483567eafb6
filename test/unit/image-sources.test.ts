// The images rebuild when, and only when, the files they are built from change: the digest each
// service's RemoteImage carries as its trigger (components/platform/docker/images.ts).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { imageSourcesDigest, imagesDir } from "../../components/platform/docker/images";

const SERVICES = [
    "postfix",
    "dovecot",
    "saslauthd",
    "rspamd",
    "valkey",
    "acme",
    "web",
    "clamav",
    "metrics",
    "monitoring",
    "backup",
];
const copy = fs.mkdtempSync(path.join(os.tmpdir(), "mailserver-images-"));
fs.cpSync(imagesDir(), copy, { recursive: true });
const digests = () => Object.fromEntries(SERVICES.map(s => [s, imageSourcesDigest(copy, s)]));
/** The services whose digest differs between two snapshots. */
const changed = (a: Record<string, string>, b: Record<string, string>) => SERVICES.filter(s => a[s] !== b[s]);

after(() => fs.rmSync(copy, { recursive: true, force: true }));

describe("image source digests", () => {
    test("one per service, the same for the same files wherever they are", () => {
        const here = Object.fromEntries(SERVICES.map(s => [s, imageSourcesDigest(imagesDir(), s)]));
        assert.deepEqual(digests(), here);
        assert.equal(new Set(Object.values(here)).size, SERVICES.length);
        for (const d of Object.values(here)) assert.match(d, /^[0-9a-f]{64}$/);
    });

    test("a file in images/common/ changes the images that copy it; valkey's copies only its own file", () => {
        const before = digests();
        fs.appendFileSync(path.join(copy, "common", "healthcheck"), "\n# changed\n");
        assert.deepEqual(changed(before, digests()), [
            "postfix",
            "dovecot",
            "saslauthd",
            "rspamd",
            "web",
            "clamav",
            "metrics",
            "monitoring",
            "backup",
        ]);
        const next = digests();
        fs.appendFileSync(path.join(copy, "common", "apply-config"), "\n# changed\n");
        // acme copies common/apply-config by name.
        assert.deepEqual(changed(next, digests()), [
            "postfix",
            "dovecot",
            "saslauthd",
            "rspamd",
            "acme",
            "web",
            "clamav",
            "metrics",
            "monitoring",
            "backup",
        ]);
    });

    test("a service's own files, its Dockerfile and an executable bit change only that service", () => {
        let before = digests();
        fs.appendFileSync(path.join(copy, "valkey", "valkey.conf"), "\n# changed\n");
        assert.deepEqual(changed(before, digests()), ["valkey"]);
        before = digests();
        fs.appendFileSync(path.join(copy, "postfix", "Dockerfile"), "\n# changed\n");
        assert.deepEqual(changed(before, digests()), ["postfix"]);
        before = digests();
        fs.chmodSync(path.join(copy, "dovecot", "service.sh"), 0o755);
        assert.deepEqual(changed(before, digests()), ["dovecot"]);
        before = digests();
        fs.writeFileSync(path.join(copy, "rspamd", "new-file"), "x");
        assert.deepEqual(changed(before, digests()), ["rspamd"]);
        // A file no Dockerfile copies changes nothing.
        before = digests();
        fs.writeFileSync(path.join(copy, "README"), "x");
        assert.deepEqual(changed(before, digests()), []);
    });
});
