// The generated files (args interfaces, README option tables, Pulumi.yaml config) must be what
// the option declarations generate, and the shipped stacks must use only declared keys, typed as
// declared: a new or changed option cannot drift from its documentation.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as yaml from "js-yaml";
import { staleFiles } from "../../scripts/gen-options";
import { STACK_CONFIG } from "../../stack/config";
import { ConfigSchema } from "../../components/options/declare";

const ROOT = path.resolve(__dirname, "..", "..");

test("components/args.ts, README.md's tables and Pulumi.yaml's config are generated from the declarations", () => {
    assert.deepEqual(staleFiles(), [], "out of date: run npm run gen");
});

function matches(schema: ConfigSchema, value: unknown): boolean {
    switch (schema.type) {
        case "string":
            return typeof value === "string";
        case "integer":
            return Number.isInteger(value);
        case "boolean":
            return typeof value === "boolean";
        case "object":
            return typeof value === "object" && value !== null && !Array.isArray(value);
        case "array":
            return Array.isArray(value) && value.every(v => matches(schema.items, v));
    }
}

for (const file of fs.readdirSync(path.join(ROOT, "stacks")).filter(f => /^Pulumi\..+\.yaml$/.test(f))) {
    test(`stacks/${file} uses declared keys with their declared types`, () => {
        const config = (
            yaml.load(fs.readFileSync(path.join(ROOT, "stacks", file), "utf8")) as { config: Record<string, unknown> }
        ).config;
        for (const [key, value] of Object.entries(config)) {
            if (!key.startsWith("mailserver:")) continue;
            const option = STACK_CONFIG[key.slice("mailserver:".length)];
            assert.ok(option, `${file}: ${key} is not a stack config key of the program`);
            assert.ok(matches(option.config, value), `${file}: ${key} is not of type ${JSON.stringify(option.config)}`);
        }
    });
}
