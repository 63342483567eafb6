// Loaded before a program that runs under test/components/run-program.ts's mocks: records every
// resource registration with everything the engine would store of it (type, name, parent, the
// inputs as serialized, the options that reach the state) and every component's registered
// outputs, and writes them to $MAILSERVER_GRAPH_CAPTURE when the process exits. Used by
// test/tools/same-graph.ts to compare the resource graphs two trees declare.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";

const out = process.env.MAILSERVER_GRAPH_CAPTURE;
const registrations: Array<Record<string, unknown>> = [];
const componentOutputs: Array<{ urn: string; outputs: unknown }> = [];
const monitor = pulumi.runtime.getMonitor() as any;
if (!monitor) throw new Error("graph-capture: no resource monitor; load it under setMocks");

const register = monitor.registerResource.bind(monitor);
monitor.registerResource = (req: any, callback: (err: unknown, resp: any) => void) => {
    const entry: Record<string, unknown> = {
        type: req.getType(),
        name: req.getName(),
        parent: req.getParent() ?? "",
        custom: req.getCustom(),
        inputs: req.getObject()?.toJavaScript() ?? {},
        dependencies: [...(req.getDependenciesList() ?? [])].sort(),
        propertyDependencies: Object.fromEntries(
            [...(req.getPropertydependenciesMap()?.entries() ?? [])]
                .map(([k, v]: [string, any]) => [k, [...v.getUrnsList()].sort()])
                .sort(([a], [b]) => String(a).localeCompare(String(b))),
        ),
        protect: req.getProtect(),
        retainOnDelete: req.getRetainondelete(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        ignoreChanges: req.getIgnorechangesList(),
        replaceOnChanges: req.getReplaceonchangesList(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        aliases: req.getAliasesList().map((a: any) => a.toObject()),
        provider: req.getProvider(),
        version: req.getVersion(),
        deletedWith: req.getDeletedwith(),
        hideDiffs: req.getHidediffsList(),
    };
    registrations.push(entry);
    return register(req, (err: unknown, resp: any) => {
        entry.urn = resp?.getUrn();
        callback(err, resp);
    });
};

const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
monitor.registerResourceOutputs = (req: any, callback: (err: unknown, resp: any) => void) => {
    componentOutputs.push({ urn: req.getUrn(), outputs: req.getOutputs()?.toJavaScript() ?? {} });
    return registerOutputs(req, callback);
};

process.on("exit", () => {
    if (!out) return;
    fs.writeFileSync(out, JSON.stringify({ registrations, componentOutputs }), { mode: 0o600 });
});
