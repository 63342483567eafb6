// One screen about a running stack: each service's health, uptime and configuration generation,
// the queue by state, the last hour's received/delivered/deferred/bounced mail with a sparkline,
// the served certificate's days left, disk use per data volume, and the last backup.
//   npm run status -- <stack>            the example program's stack (its engine as `npm run stack` finds it)
//   npm run status -- --prefix NAME      any stack by its namePrefix, on DOCKER_HOST's engine
//   ... --json                           the same facts as JSON, for scripts
import * as path from "path";
import { stackEngine } from "./lib/docker-engine";
import { ROOT, stackFileConfig } from "./lib/engine";
import { dockerRunner, gatherStatus } from "./lib/statusFacts";
import { renderStatus } from "./lib/statusView";

function usage(problem: string): never {
    console.error(`status: ${problem}\nusage: status <stack> [--json] | status --prefix NAME [--json]`);
    process.exit(2);
}

const argv = process.argv.slice(2);
const json = argv.includes("--json");
const at = argv.indexOf("--prefix");
const given = at >= 0 ? argv[at + 1] : undefined;
if (at >= 0 && !given) usage("--prefix needs a name");
const stack = argv.filter((a, i) => !a.startsWith("--") && argv[i - 1] !== "--prefix")[0];
if (!given && !stack) usage("name a stack");

let prefix: string;
let env = process.env;
if (given) prefix = given;
else {
    const config = stackFileConfig(stack);
    prefix = String(config["mailserver:namePrefix"] ?? `mail-${stack}`);
    const engine = stackEngine({
        stackFile: path.join("stacks", `Pulumi.${stack}.yaml`),
        stackConfig: config,
        recordFile: path.join(ROOT, ".local", "stacks", stack, "docker-host"),
        env: process.env,
    }).host;
    if (engine) env = { ...process.env, DOCKER_HOST: engine };
}
const status = gatherStatus(dockerRunner(env), prefix);
if (status.services.length === 0) {
    console.error(`status: no containers of stack ${prefix} on this engine`);
    process.exit(1);
}
process.stdout.write(json ? JSON.stringify(status, null, 2) + "\n" : renderStatus(status));
