// The pulumi-kubernetes provider plugin that engine/k8s/build.sh builds (from the Go module
// proxy's github.com/pulumi/pulumi-kubernetes/provider/v4 pseudo-version, the commit tagged
// v4.25.0) must describe the resources the Kubernetes platform will create exactly as the npm SDK
// @pulumi/kubernetes does: same type token, same input and output property names, same secret
// outputs, and the same property names in every nested input type those resources take, down
// to the leaves. The provider's own inputs (kubeconfig, context, ...) too. A difference means the
// SDK would send properties the provider does not know, or read outputs it never gets.
//
// The schema comes from the engine: `bash engine/k8s/build.sh --check` (which builds nothing and
// also checks the plugin is installed) gives the environment, then `pulumi package get-schema
// kubernetes@<version>`. Without the plugin this test fails: run `bash engine/k8s/build.sh` first.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { refs, ResourceSpec, sameNames, Schema, servedSchema } from "./schema-compare";

const repo = path.resolve(__dirname, "../..");
const sdkDir = path.join(repo, "node_modules", "@pulumi", "kubernetes");

/** The type tokens of what the Kubernetes platform (issue 26) creates. */
const USED = [
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:Secret",
    "kubernetes:core/v1:Service",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:policy/v1:PodDisruptionBudget",
];

let engine: NodeJS.ProcessEnv | Error | undefined;
function engineEnv(): NodeJS.ProcessEnv {
    if (engine === undefined) {
        // Both build scripts print shell-quoted exports; bash reads them and hands back the values.
        const script =
            'set -euo pipefail; eval "$(bash engine/build.sh --check)"; eval "$(bash engine/k8s/build.sh --check)"; ' +
            'printf "%s\\0" "$PATH" "$PULUMI_HOME" "$PULUMI_ROOT"';
        const r = spawnSync("bash", ["-c", script], { cwd: repo, encoding: "utf8" });
        if (r.status !== 0) {
            engine = new Error(
                "The pulumi-kubernetes plugin is missing: run `bash engine/k8s/build.sh` (after engine/build.sh).\n" +
                    `The build scripts' --check said:\n${r.stderr}`,
            );
        } else {
            const [PATH, PULUMI_HOME, PULUMI_ROOT] = r.stdout.split("\0");
            engine = { ...process.env, PATH, PULUMI_HOME, PULUMI_ROOT, PULUMI_SKIP_UPDATE_CHECK: "true" };
        }
    }
    if (engine instanceof Error) throw engine;
    return engine;
}

// ---- The npm SDK --------------------------------------------------------------------------------

interface SdkResource {
    token: string;
    inputs: string[];
    outputs: string[];
    secretOutputs: string[];
}

/**
 * Reads a resource class from its generated .js: the token, the constructor's resourceInputs (the
 * `!opts.id` branch has the inputs, output-only ones as /*out*\/, the other branch every output; a
 * provider class has one block of inputs), and the additionalSecretOutputs.
 */
function sdkResource(file: string): SdkResource {
    assert.ok(fs.existsSync(file), `@pulumi/kubernetes has no ${file}`);
    const js = fs.readFileSync(file, "utf8");
    const token = /__pulumiType = '([^']+)';/.exec(js)?.[1];
    assert.ok(token, `${file}: no __pulumiType`);
    const ctor = js.slice(js.indexOf("constructor(name, args, opts)"));
    const end = ctor.indexOf("super(");
    assert.ok(end > 0, `${file}: no super() call in the constructor`);
    const assigned = (body: string, pred: (rhs: string) => boolean) =>
        [...body.matchAll(/resourceInputs\["([^"]+)"\] = ([^;]*);/g)].filter(m => pred(m[2])).map(m => m[1]);
    const inputsStart = ctor.indexOf("if (!opts.id) {");
    const outputsStart = ctor.indexOf("else {", inputsStart);
    const branches = inputsStart >= 0 && outputsStart > inputsStart && end > outputsStart;
    const inputs = branches
        ? assigned(ctor.slice(inputsStart, outputsStart), rhs => !rhs.includes("/*out*/"))
        : assigned(ctor.slice(0, end), () => true);
    const outputs = branches ? assigned(ctor.slice(outputsStart, end), () => true) : [];
    const secretList = /additionalSecretOutputs: (\[[^\]]*\])/.exec(ctor.slice(0, end))?.[1] ?? "[]";
    return { token, inputs, outputs, secretOutputs: JSON.parse(secretList) };
}

/**
 * Property names of every interface in types/input.d.ts by its namespace path: `apps.v1.DeploymentSpec`.
 * The file nests `export declare namespace <group> {`, `    namespace <version> {`, then
 * `        interface <Name> {` with one property per line, each level indented by four spaces.
 */
function sdkInputTypes(): Map<string, string[]> {
    const lines = fs.readFileSync(path.join(sdkDir, "types", "input.d.ts"), "utf8").split("\n");
    const types = new Map<string, string[]>();
    const namespaces: string[] = [];
    let current: { name: string; indent: number; props: string[] } | undefined;
    for (const line of lines) {
        const indent = line.length - line.trimStart().length;
        if (current) {
            if (indent === current.indent && line.trim() === "}") {
                types.set([...namespaces, current.name].join("."), current.props);
                current = undefined;
            } else {
                const prop = new RegExp(`^ {${current.indent + 4}}"?([\\w$-]+)"?\\??:`).exec(line);
                if (prop) current.props.push(prop[1]);
            }
            continue;
        }
        const ns = /^(?:export declare )?namespace (\w+) \{$/.exec(line.trim());
        if (ns) {
            namespaces.length = indent / 4;
            namespaces.push(ns[1]);
            continue;
        }
        const iface = /^(?:export )?interface (\w+) \{$/.exec(line.trim());
        if (iface) {
            namespaces.length = indent / 4;
            current = { name: iface[1], indent, props: [] };
        }
    }
    return types;
}

/**
 * Where the SDK keeps a schema token: `kubernetes:apps/v1:DeploymentSpec` -> `apps.v1.DeploymentSpec`,
 * `kubernetes:networking.k8s.io/v1:NetworkPolicy` -> `networking.v1.NetworkPolicy` (the API
 * group's first label), `kubernetes:index:X` -> `X`.
 */
function typePath(token: string): string {
    const [, mod, name] = token.split(":");
    if (mod === "index") return name;
    const [group, version] = mod.split("/");
    return [group.split(".")[0], version, name].join(".");
}

function sdkVersion(): string {
    return JSON.parse(fs.readFileSync(path.join(sdkDir, "package.json"), "utf8")).version;
}

// ---- The checks ---------------------------------------------------------------------------------

describe("engine schema of kubernetes matches @pulumi/kubernetes", () => {
    const version = sdkVersion();
    const inputTypes = sdkInputTypes();
    let served: Schema | undefined;
    const getSchema = () => (served ??= servedSchema(engineEnv(), "kubernetes", version));

    /** Compares a resource's nested input types, recursively, with the SDK's input interfaces. */
    function nestedInputTypes(what: string, schema: Schema, inputs: ResourceSpec["inputProperties"]) {
        const seen = new Set<string>();
        const queue = Object.entries(inputs ?? {}).flatMap(([k, p]) => refs(p).map(t => ({ t, via: k })));
        while (queue.length > 0) {
            const { t, via } = queue.shift()!;
            if (seen.has(t)) continue;
            seen.add(t);
            const type = schema.types[t];
            assert.ok(type, `${what}: property '${via}' refers to type '${t}', missing from the schema`);
            if (type.type !== "object") continue;
            const sdkProps = inputTypes.get(typePath(t));
            assert.ok(
                sdkProps,
                `${what}: '${via}' has type '${t}', but @pulumi/kubernetes has no input ${typePath(t)}`,
            );
            sameNames(
                `${what}: nested input type ${typePath(t)} (via '${via}')`,
                Object.keys(type.properties ?? {}),
                sdkProps,
            );
            for (const [k, p] of Object.entries(type.properties ?? {})) {
                for (const r of refs(p)) queue.push({ t: r, via: `${via}.${k}` });
            }
        }
        return seen.size;
    }

    test("the served schema is package kubernetes at the SDK's version", () => {
        const schema = getSchema();
        assert.equal(schema.name, "kubernetes");
        assert.equal(schema.version, version, "the plugin's schema version (build.sh sets it)");
    });

    test("the SDK's input types are read (the parser finds the nested namespaces)", () => {
        assert.ok(inputTypes.size > 500, `only ${inputTypes.size} input interfaces read from types/input.d.ts`);
        assert.deepEqual(inputTypes.get("apps.v1.DeploymentSpec")?.sort(), [
            "minReadySeconds",
            "paused",
            "progressDeadlineSeconds",
            "replicas",
            "revisionHistoryLimit",
            "selector",
            "strategy",
            "template",
        ]);
    });

    test("the provider: inputs and nested input types", () => {
        const schema = getSchema();
        const inputs = schema.provider?.inputProperties ?? {};
        const sdk = sdkResource(path.join(sdkDir, "provider.js"));
        assert.equal(sdk.token, "kubernetes", "the provider class's package name");
        sameNames("kubernetes.Provider input properties", Object.keys(inputs), sdk.inputs);
        nestedInputTypes("kubernetes.Provider", schema, inputs);
    });

    for (const token of USED) {
        test(`${token}: inputs, outputs, secret outputs, nested input types`, () => {
            // The class file: apps.v1.Deployment -> apps/v1/deployment.js.
            const parts = typePath(token).split(".");
            const className = parts.pop()!;
            const file = path.join(sdkDir, ...parts, className[0].toLowerCase() + className.slice(1) + ".js");
            const sdk = sdkResource(file);
            assert.equal(sdk.token, token, `${file}: the SDK's type token`);
            const schema = getSchema();
            const res = schema.resources[sdk.token];
            assert.ok(res, `the served schema has no resource '${sdk.token}'`);
            const inputs = res.inputProperties ?? {};
            const props = res.properties ?? {};
            sameNames(`${sdk.token} input properties`, Object.keys(inputs), sdk.inputs);
            sameNames(`${sdk.token} output properties`, Object.keys(props), sdk.outputs);
            sameNames(
                `${sdk.token} secret outputs`,
                Object.keys(props).filter(k => props[k].secret),
                sdk.secretOutputs,
            );
            const nested = nestedInputTypes(sdk.token, schema, inputs);
            // Every one of these takes metadata (ObjectMeta) at least.
            assert.ok(nested > 0, `${sdk.token}: no nested input type compared`);
        });
    }
});
