// Loaded by program-under-test.ts before the example program: records every resource
// registration as serialized for the engine (secrets wrapped exactly where they are), and
// writes them to $MAILSERVER_TEST_CAPTURE when the process exits. It runs inside
// test/components/run-program.ts, after it has installed its mocks.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";

const out = process.env.MAILSERVER_TEST_CAPTURE;
const captured: Array<{ type: string; name: string; parent: string; wire: unknown }> = [];
const monitor = pulumi.runtime.getMonitor() as any;
if (!monitor) throw new Error("program-capture: no resource monitor; load it under setMocks");
const register = monitor.registerResource.bind(monitor);
monitor.registerResource = (req: any, callback: unknown) => {
    captured.push({
        type: req.getType(),
        name: req.getName(),
        parent: req.getParent() ?? "",
        wire: req.getObject()?.toJavaScript() ?? {},
    });
    return register(req, callback);
};
process.on("exit", () => {
    if (out) fs.writeFileSync(out, JSON.stringify(captured), { mode: 0o600 });
});
