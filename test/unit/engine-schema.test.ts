// The provider plugins the engine serves (engine/build.sh builds them from the Terraform providers
// through the bridge) must describe every resource the components create exactly as the npm SDKs
// do (@pulumi/docker, @pulumi/tls in node_modules): same type token, same input and output
// property names, same secret outputs, and the same property names in the nested input types those
// resources take. A difference means the SDK would send properties the provider does not know, or
// read outputs it never gets.
//
// The schema comes from the engine in use: `bash engine/build.sh --check` (which builds nothing)
// gives the environment, then `pulumi package get-schema <name>@<version>`. With a pulumi CLI of
// its own on PATH, build.sh says so and the schema comes through that CLI the same way. Without
// either, this test fails: run `bash engine/build.sh` first.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { refs, sameNames, Schema, servedSchema } from "./schema-compare";

const repo = path.resolve(__dirname, "../..");
const nodeModules = path.join(repo, "node_modules");

interface Engine {
    env: NodeJS.ProcessEnv;
    kind: string;
}

// Looked up once, by the first test that needs it; a missing engine fails every such test.
let engine: Engine | Error | undefined;
function engineEnv(): Engine {
    if (engine === undefined) {
        try {
            engine = findEngine();
        } catch (e) {
            engine = e as Error;
        }
    }
    if (engine instanceof Error) throw engine;
    return engine;
}

function findEngine(): Engine {
    // build.sh prints shell-quoted exports; let bash read them and hand back the values.
    const script =
        'set -euo pipefail; out="$(bash engine/build.sh --check)"; eval "$out"; ' +
        'printf "%s\\0" "$PATH" "$PULUMI_HOME" "$PULUMI_ROOT" "$MAILSERVER_ENGINE"';
    const r = spawnSync("bash", ["-c", script], { cwd: repo, encoding: "utf8" });
    if (r.status !== 0) {
        assert.fail(
            "The Pulumi engine is missing: run `bash engine/build.sh` (it builds the pulumi CLI and the " +
                "docker and tls plugins, 15 to 20 minutes the first time), or put a pulumi CLI on PATH.\n" +
                `engine/build.sh --check said:\n${r.stderr}`,
        );
    }
    const [PATH, PULUMI_HOME, PULUMI_ROOT, kind] = r.stdout.split("\0");
    return { env: { ...process.env, PATH, PULUMI_HOME, PULUMI_ROOT, PULUMI_SKIP_UPDATE_CHECK: "true" }, kind };
}

// ---- The npm SDKs -------------------------------------------------------------------------------

interface SdkResource {
    className: string;
    token: string;
    inputs: string[];
    outputs: string[];
    secretOutputs: string[];
}

function sdkVersion(pkg: string): string {
    return JSON.parse(fs.readFileSync(path.join(nodeModules, "@pulumi", pkg, "package.json"), "utf8")).version;
}

// Reads a resource class from its generated .js: the token, the constructor's resourceInputs
// (the state branch lists every output, the args branch the inputs, output-only ones as /*out*/),
// and the additionalSecretOutputs.
function sdkResource(pkg: string, className: string): SdkResource {
    const file = path.join(nodeModules, "@pulumi", pkg, className[0].toLowerCase() + className.slice(1) + ".js");
    assert.ok(fs.existsSync(file), `@pulumi/${pkg} has no ${className} (looked for ${file})`);
    const js = fs.readFileSync(file, "utf8");
    const token = /static __pulumiType = '([^']+)'/.exec(js)?.[1];
    assert.ok(token, `${file}: no __pulumiType`);
    const ctor = js.slice(js.indexOf("constructor(name, argsOrState, opts)"));
    const stateStart = ctor.indexOf("const state = argsOrState;");
    const argsStart = ctor.indexOf("const args = argsOrState;");
    const end = ctor.indexOf("super(");
    assert.ok(stateStart >= 0 && argsStart > stateStart && end > argsStart, `${file}: unexpected constructor layout`);
    const assigned = (body: string, pred: (rhs: string) => boolean) =>
        [...body.matchAll(/resourceInputs\["([^"]+)"\] = ([^;]*);/g)].filter(m => pred(m[2])).map(m => m[1]);
    const outputs = assigned(ctor.slice(stateStart, argsStart), () => true);
    const inputs = assigned(ctor.slice(argsStart, end), rhs => !rhs.includes("/*out*/"));
    const secretList = /additionalSecretOutputs: (\[[^\]]*\])/.exec(ctor.slice(0, end))?.[1] ?? "[]";
    return { className, token, inputs, outputs, secretOutputs: JSON.parse(secretList) };
}

// Property names of every `export interface` in an SDK's types/input.d.ts (top level only).
function sdkInputTypes(pkg: string): Map<string, string[]> {
    const dts = fs.readFileSync(path.join(nodeModules, "@pulumi", pkg, "types", "input.d.ts"), "utf8");
    const types = new Map<string, string[]>();
    for (const m of dts.matchAll(/^export interface (\w+) \{\n([\s\S]*?)^\}/gm)) {
        types.set(
            m[1],
            [...m[2].matchAll(/^ {4}(\w+)\??:/gm)].map(p => p[1]),
        );
    }
    return types;
}

// The classes the components construct from a package: `new <alias>.<Class>(` where the file
// imports the package as <alias>.
function usedClasses(pkg: string): string[] {
    const found = new Set<string>();
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(p);
            else if (entry.name.endsWith(".ts")) {
                const src = fs.readFileSync(p, "utf8");
                const alias = new RegExp(`import \\* as (\\w+) from "@pulumi/${pkg}"`).exec(src)?.[1];
                if (!alias) continue;
                for (const m of src.matchAll(new RegExp(`new ${alias}\\.([A-Z]\\w*)\\(`, "g"))) found.add(m[1]);
            }
        }
    };
    walk(path.join(repo, "components"));
    return [...found].sort();
}

// ---- The checks ---------------------------------------------------------------------------------

for (const pkg of ["docker", "tls"]) {
    describe(`engine schema of ${pkg} matches @pulumi/${pkg}`, () => {
        const version = sdkVersion(pkg);
        const classes = usedClasses(pkg);
        const inputTypes = sdkInputTypes(pkg);
        let served: Schema | undefined;
        const getSchema = () => (served ??= servedSchema(engineEnv().env, pkg, version));

        test("the components use resources of the package", () => {
            assert.ok(classes.length > 0, `no 'new <alias>.<Class>(' of @pulumi/${pkg} found under components/`);
        });

        test(`the served schema is package ${pkg}`, () => {
            const schema = getSchema();
            assert.equal(schema.name, pkg);
            if (schema.version !== undefined) assert.equal(schema.version, version, `${pkg}: schema version`);
        });

        for (const className of classes) {
            test(`${pkg}.${className}: token, inputs, outputs, secret outputs, nested input types`, () => {
                const sdk = sdkResource(pkg, className);
                const schema = getSchema();
                const res = schema.resources[sdk.token];
                assert.ok(
                    res,
                    `${pkg}.${className}: the served schema has no resource '${sdk.token}' ` +
                        `(it has ${Object.keys(schema.resources).sort().join(", ")})`,
                );
                const inputs = res.inputProperties ?? {};
                const props = res.properties ?? {};
                sameNames(`${pkg}.${className} (${sdk.token}) input properties`, Object.keys(inputs), sdk.inputs);
                sameNames(`${pkg}.${className} (${sdk.token}) output properties`, Object.keys(props), sdk.outputs);
                sameNames(
                    `${pkg}.${className} (${sdk.token}) secret outputs`,
                    Object.keys(props).filter(k => props[k].secret),
                    sdk.secretOutputs,
                );

                // Nested input types, recursively: schema type docker:index/containerUpload:ContainerUpload
                // is the SDK's input interface ContainerUpload.
                const seen = new Set<string>();
                const queue = Object.entries(inputs).flatMap(([k, p]) => refs(p).map(t => ({ t, via: k })));
                while (queue.length > 0) {
                    const { t, via } = queue.shift()!;
                    if (seen.has(t)) continue;
                    seen.add(t);
                    const type = schema.types[t];
                    assert.ok(
                        type,
                        `${pkg}.${className}: property '${via}' refers to type '${t}', missing from the schema`,
                    );
                    if (type.type !== "object") continue;
                    const iface = t.slice(t.lastIndexOf(":") + 1);
                    const sdkProps = inputTypes.get(iface);
                    assert.ok(
                        sdkProps,
                        `${pkg}.${className}: '${via}' has type '${t}', but @pulumi/${pkg} ` +
                            `has no input interface ${iface}`,
                    );
                    sameNames(
                        `${pkg}.${className}: nested input type ${iface} (via '${via}')`,
                        Object.keys(type.properties ?? {}),
                        sdkProps,
                    );
                    for (const [k, p] of Object.entries(type.properties ?? {})) {
                        for (const r of refs(p)) queue.push({ t: r, via: `${via}.${k}` });
                    }
                }
            });
        }
    });
}
