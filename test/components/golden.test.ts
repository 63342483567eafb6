// The committed golden files (test/golden/<stack>/...) are exactly what the shipped stacks render
// now: a renderer change must come with its reviewed golden diff (`npm run golden`).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { GOLDEN_DIR, listFiles, renderGolden, STACKS } from "../golden/update";

let tmp: string;
let written: Promise<string[]>;

before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mail-golden-test-"));
    written = renderGolden(tmp);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Where two texts first differ, as a short readable excerpt. */
function firstDifference(expected: string, actual: string): string {
    const e = expected.split("\n"),
        a = actual.split("\n");
    let i = 0;
    while (i < e.length && i < a.length && e[i] === a[i]) i++;
    const show = (l: string | undefined) => (l === undefined ? "(end of file)" : JSON.stringify(l));
    return `line ${i + 1}: committed ${show(e[i])}, rendered ${show(a[i])}`;
}

for (const stack of STACKS) {
    test(`golden files of the ${stack} stack match a fresh render (else: npm run golden)`, async () => {
        await written;
        const committed = listFiles(path.join(GOLDEN_DIR, stack)),
            rendered = listFiles(path.join(tmp, stack));
        for (const f of ["main.cf", "master.cf"]) {
            assert.ok(rendered.includes(path.join("postfix", f)), `${stack}: ${f} rendered`);
        }
        const problems: string[] = [];
        const golden = (f: string) => `test/golden/${stack}/${f}`;
        for (const f of rendered.filter(f => !committed.includes(f))) problems.push(`missing: ${golden(f)}`);
        for (const f of committed.filter(f => !rendered.includes(f))) problems.push(`extra: ${golden(f)}`);
        for (const f of rendered.filter(f => committed.includes(f))) {
            const expected = fs.readFileSync(path.join(GOLDEN_DIR, stack, f), "utf8");
            const actual = fs.readFileSync(path.join(tmp, stack, f), "utf8");
            if (expected !== actual) problems.push(`differs: ${golden(f)}, ${firstDifference(expected, actual)}`);
        }
        assert.deepEqual(
            problems,
            [],
            `the golden files are out of date; run npm run golden and review the diff:\n  ${problems.join("\n  ")}`,
        );
    });
}

test("two renders are byte-identical (nothing in a golden file depends on time or generated values)", async () => {
    await written;
    const again = fs.mkdtempSync(path.join(os.tmpdir(), "mail-golden-again-"));
    try {
        await renderGolden(again);
        const files = listFiles(tmp);
        assert.deepEqual(listFiles(again), files);
        for (const f of files) {
            assert.equal(fs.readFileSync(path.join(again, f), "utf8"), fs.readFileSync(path.join(tmp, f), "utf8"), f);
        }
    } finally {
        fs.rmSync(again, { recursive: true, force: true });
    }
});
