// Loaded by program-under-test.ts before the example program: records every resource
// registration as serialized for the engine (secrets wrapped exactly where they are), and
// writes them to $MAILSERVER_TEST_CAPTURE when the process exits; beside it, in
// $MAILSERVER_TEST_CAPTURE.state.json, each resource's final state as the engine would hand it to
// stack policies (AnalyzeStack): a custom resource's outputs, a component's registered outputs.
// It runs inside test/components/run-program.ts, after it has installed its mocks.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";

const out = process.env.MAILSERVER_TEST_CAPTURE;
const captured: Array<{
    type: string;
    name: string;
    parent: string;
    wire: unknown;
    urn?: string;
    dependencies: string[];
}> = [];
const monitor = pulumi.runtime.getMonitor() as any;
if (!monitor) throw new Error("program-capture: no resource monitor; load it under setMocks");
const register = monitor.registerResource.bind(monitor);
monitor.registerResource = (req: any, callback: (err: unknown, resp: any) => void) => {
    const entry: (typeof captured)[number] = {
        type: req.getType(),
        name: req.getName(),
        parent: req.getParent() ?? "",
        wire: req.getObject()?.toJavaScript() ?? {},
        dependencies: req.getDependenciesList() ?? [],
    };
    captured.push(entry);
    return register(req, (err: unknown, resp: any) => {
        entry.urn = resp?.getUrn();
        callback(err, resp);
    });
};

/** The mock monitor's final state of every resource (registerResourceOutputs leaves a Struct). */
function finalStates(): Array<{ urn: string; state: unknown }> {
    const states = monitor.getRegisteredResources() as Map<string, { urn: string; state: any }>;
    return [...states.values()].map(r => ({
        urn: r.urn,
        state: typeof r.state?.toJavaScript === "function" ? r.state.toJavaScript() : r.state,
    }));
}

process.on("exit", () => {
    if (!out) return;
    fs.writeFileSync(out, JSON.stringify(captured), { mode: 0o600 });
    fs.writeFileSync(`${out}.state.json`, JSON.stringify(finalStates()), { mode: 0o600 });
});
