// Queue operations of the classic guides against a deployed stack's Postfix container:
//   npm run queue -- list        [--stack dev | --container NAME]   (mailq)
//   npm run queue -- flush       ...                                 (postqueue -f: retry now)
//   npm run queue -- delete ID   ...                                 (postsuper -d ID)
//   npm run queue -- delete-all  ...                                 (postsuper -d ALL)
//   npm run queue -- reload      ...                                 (postfix reload)
// The container comes from --container, else the stack output `postfixContainer` (Pulumi CLI),
// else the example program's naming (mail-<stack>-postfix). The Docker engine is the stack's, as
// `npm run stack` finds it (scripts/lib/docker-engine.ts): the stack file's docker:host (prod's
// ssh://deploy@mail.example.com), else the engine recorded at its first up, else DOCKER_HOST;
// with --container, DOCKER_HOST's.
import { spawnSync } from "child_process";
import * as path from "path";
import { stackEngine } from "./lib/docker-engine";
import { ROOT, stackFileConfig } from "./lib/engine";

const COMMANDS: Record<string, (arg?: string) => string[]> = {
    list: () => ["postqueue", "-p"],
    flush: () => ["postqueue", "-f"],
    delete: id => {
        if (!id || !/^[0-9A-Za-z]+$/.test(id))
            usage(`delete needs a queue ID (letters and digits), got ${JSON.stringify(id)}`);
        return ["postsuper", "-d", id];
    },
    "delete-all": () => ["postsuper", "-d", "ALL"],
    reload: () => ["postfix", "reload"],
};

function usage(problem: string): never {
    console.error(
        `queue: ${problem}\nusage: queue <${Object.keys(COMMANDS).join("|")}> [queue-id] [--stack NAME | --container NAME]`,
    );
    process.exit(2);
}

function option(name: string): string | undefined {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

const stack = option("--stack") ?? "dev";

function containerName(): string {
    const given = option("--container");
    if (given) return given;
    const pulumi = spawnSync("pulumi", ["stack", "output", "postfixContainer", "--stack", stack], { encoding: "utf8" });
    if (pulumi.status === 0 && pulumi.stdout.trim()) return pulumi.stdout.trim();
    return `mail-${stack}-postfix`;
}

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
const [command, arg] = positional;
if (!command || !COMMANDS[command]) usage(`unknown command ${JSON.stringify(command)}`);
const argv = COMMANDS[command](arg);
// A container named with --container is on DOCKER_HOST's engine; a stack's, on the stack's engine.
const engine =
    option("--container") === undefined
        ? stackEngine({
              stackFile: path.join("stacks", `Pulumi.${stack}.yaml`),
              stackConfig: stackFileConfig(stack),
              recordFile: path.join(ROOT, ".local", "stacks", stack, "docker-host"),
              env: process.env,
          }).host
        : process.env.DOCKER_HOST;
const r = spawnSync("docker", ["exec", containerName(), ...argv], {
    stdio: "inherit",
    env: { ...process.env, ...(engine ? { DOCKER_HOST: engine } : {}) },
});
process.exit(r.status ?? 1);
