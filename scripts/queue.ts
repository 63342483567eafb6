// Queue operations of the classic guides against a deployed stack's Postfix container:
//   npm run queue -- list        [--stack dev | --container NAME]   (mailq)
//   npm run queue -- flush       ...                                 (postqueue -f: retry now)
//   npm run queue -- delete ID   ...                                 (postsuper -d ID)
//   npm run queue -- delete-all  ...                                 (postsuper -d ALL)
//   npm run queue -- reload      ...                                 (postfix reload)
// The container comes from --container, else the stack output `postfixContainer` (Pulumi CLI),
// else the example program's naming (mail-<stack>-postfix). DOCKER_HOST selects the engine
// (e.g. ssh://deploy@mail.example.com for the prod stack).
import { spawnSync } from "child_process";

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

function containerName(): string {
    const given = option("--container");
    if (given) return given;
    const stack = option("--stack") ?? "dev";
    const pulumi = spawnSync("pulumi", ["stack", "output", "postfixContainer", "--stack", stack], { encoding: "utf8" });
    if (pulumi.status === 0 && pulumi.stdout.trim()) return pulumi.stdout.trim();
    return `mail-${stack}-postfix`;
}

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
const [command, arg] = positional;
if (!command || !COMMANDS[command]) usage(`unknown command ${JSON.stringify(command)}`);
const argv = COMMANDS[command](arg);
const r = spawnSync("docker", ["exec", containerName(), ...argv], { stdio: "inherit" });
process.exit(r.status ?? 1);
