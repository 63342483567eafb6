// What the engine-schema tests share: the schema a provider plugin serves through the engine's
// `pulumi package get-schema`, and the comparisons of its property names with an npm SDK's.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

const repo = path.resolve(__dirname, "../..");

export interface PropSpec {
    type?: string;
    $ref?: string;
    items?: PropSpec;
    additionalProperties?: PropSpec;
    secret?: boolean;
}
export interface ResourceSpec {
    inputProperties?: Record<string, PropSpec>;
    properties?: Record<string, PropSpec>;
}
export interface Schema {
    name: string;
    version?: string;
    provider?: ResourceSpec;
    resources: Record<string, ResourceSpec>;
    types: Record<string, { type?: string; properties?: Record<string, PropSpec> }>;
}

/** The schema of `pkg@version` as the engine in `env` serves it (the installed plugin's GetSchema). */
export function servedSchema(env: NodeJS.ProcessEnv, pkg: string, version: string): Schema {
    const out = execFileSync("pulumi", ["package", "get-schema", `${pkg}@${version}`], {
        env,
        cwd: repo,
        encoding: "utf8",
        maxBuffer: 256 << 20,
        timeout: 300_000,
        stdio: ["ignore", "pipe", "pipe"],
    });
    return JSON.parse(out) as Schema;
}

/** Object type tokens that a property refers to, through arrays and maps. */
export function refs(p: PropSpec | undefined): string[] {
    if (!p) return [];
    const own = p.$ref?.startsWith("#/types/") ? [decodeURIComponent(p.$ref.slice("#/types/".length))] : [];
    return [...own, ...refs(p.items), ...refs(p.additionalProperties)];
}

/** Fails naming what the SDK has that the served schema lacks, and the other way round. */
export function sameNames(what: string, actual: string[], expected: string[]) {
    const a = new Set(actual),
        e = new Set(expected);
    const missing = [...e].filter(n => !a.has(n)).sort();
    const extra = [...a].filter(n => !e.has(n)).sort();
    assert.ok(
        missing.length === 0 && extra.length === 0,
        `${what}: ` +
            [
                missing.length
                    ? `the SDK has ${missing.map(n => `'${n}'`).join(", ")} but the served schema does not`
                    : "",
                extra.length ? `the served schema has ${extra.map(n => `'${n}'`).join(", ")} but the SDK does not` : "",
            ]
                .filter(Boolean)
                .join("; "),
    );
}
