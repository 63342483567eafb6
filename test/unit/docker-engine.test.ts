// Which Docker engine a stack's commands use (scripts/lib/docker-engine.ts): the stack file's
// docker:host, else the engine recorded at the stack's first up, else DOCKER_HOST, else Docker's
// default; and the answer to "does it answer?" for a real socket, a missing one, a dead one and a
// closed TCP port. (test/live/setup.test.ts runs the stack commands themselves in a new shell.)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import {
    DEFAULT_DOCKER_HOST,
    describeSource,
    engineProblem,
    howToRepoint,
    recordEngine,
    stackEngine,
} from "../../scripts/lib/docker-engine";

let dir: string;
before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "docker-engine-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const engineOf = (o: { declared?: string; recorded?: string; env?: string }) => {
    const recordFile = path.join(dir, `record-${Math.random()}`, "docker-host");
    if (o.recorded !== undefined) {
        fs.mkdirSync(path.dirname(recordFile), { recursive: true });
        fs.writeFileSync(recordFile, `${o.recorded}\n`);
    }
    return stackEngine({
        stackFile: "stacks/Pulumi.dev.yaml",
        stackConfig: o.declared ? { "docker:host": o.declared } : {},
        recordFile,
        env: o.env === undefined ? {} : { DOCKER_HOST: o.env },
    });
};

describe("the stack's engine", () => {
    test("the stack file's docker:host, else the recorded engine, else DOCKER_HOST, else the default socket", () => {
        const all = {
            declared: "ssh://deploy@mail.example.com",
            recorded: "unix:///run/a.sock",
            env: "unix:///run/b.sock",
        };
        assert.deepEqual(
            [engineOf(all), engineOf({ ...all, declared: undefined }), engineOf({ env: all.env }), engineOf({})].map(
                e => [e.host, e.source, e.ignoredDockerHost],
            ),
            [
                ["ssh://deploy@mail.example.com", "stack file", "unix:///run/b.sock"],
                ["unix:///run/a.sock", "recorded", "unix:///run/b.sock"],
                ["unix:///run/b.sock", "DOCKER_HOST", undefined],
                [DEFAULT_DOCKER_HOST, "default", undefined],
            ],
        );
        // The same engine named twice is not "ignored".
        assert.equal(
            engineOf({ recorded: "unix:///run/a.sock", env: "unix:///run/a.sock" }).ignoredDockerHost,
            undefined,
        );
    });

    test("an up records an engine that came from DOCKER_HOST or the default (0600), never one the stack file names", () => {
        const fromEnv = engineOf({ env: "unix:///run/b.sock" });
        recordEngine(fromEnv);
        assert.equal(fs.readFileSync(fromEnv.recordFile, "utf8"), "unix:///run/b.sock\n");
        assert.equal(fs.statSync(fromEnv.recordFile).mode & 0o777, 0o600);
        const declared = engineOf({ declared: "ssh://deploy@mail.example.com" });
        recordEngine(declared);
        assert.equal(fs.existsSync(declared.recordFile), false);
    });

    test("the messages say where the engine came from and how to point the stack elsewhere", () => {
        const root = dir;
        const recorded = engineOf({ recorded: "unix:///run/a.sock" });
        assert.match(
            describeSource(recorded, root),
            /^the engine the stack was deployed to, recorded in record-.*\/docker-host$/,
        );
        assert.match(
            howToRepoint(recorded, root, "npm run stack -- refresh dev"),
            /^write the engine's address into record-/,
        );
        const dflt = engineOf({});
        assert.match(
            describeSource(dflt, root),
            /^Docker's default: DOCKER_HOST is not set, stacks\/Pulumi\.dev\.yaml has no docker:host/,
        );
        assert.match(
            howToRepoint(dflt, root, "npm run stack -- refresh dev"),
            /^run it as DOCKER_HOST=unix:\/\/\/path\/to\/docker\.sock npm run stack -- refresh dev \(its first up records/,
        );
        assert.equal(
            howToRepoint(engineOf({ declared: "ssh://x@y" }), root, "c"),
            "change docker:host in stacks/Pulumi.dev.yaml",
        );
    });
});

describe("does the engine answer?", () => {
    test("a socket that answers Docker's /_ping: yes", async () => {
        const socket = path.join(dir, "docker.sock");
        const server = http.createServer((req, res) => res.end(req.url === "/_ping" ? "OK" : "")).listen(socket);
        await new Promise(r => server.once("listening", r));
        try {
            assert.equal(await engineProblem(`unix://${socket}`), undefined);
        } finally {
            server.close();
        }
    });

    test("no socket, a socket nobody listens on, a closed port, an address that is none: each says why", async () => {
        const missing = path.join(dir, "missing.sock");
        assert.equal(await engineProblem(`unix://${missing}`), `no socket at ${missing}`);
        // A socket file left behind by an engine that stopped (killed while listening: nothing removed it).
        const stale = path.join(dir, "stale.sock");
        spawnSync(process.execPath, [
            "-e",
            "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
            stale,
        ]);
        assert.ok(fs.existsSync(stale), "the socket file stays");
        assert.equal(await engineProblem(`unix://${stale}`), `nothing listens on ${stale}`);
        assert.equal(await engineProblem("ssh://deploy@127.0.0.1:1"), "connection refused");
        assert.equal(await engineProblem("tcp://127.0.0.1:1"), "connection refused");
        assert.match(
            (await engineProblem("docker.sock"))!,
            /is not an address such as unix:\/\/\/var\/run\/docker\.sock/,
        );
    });
});
