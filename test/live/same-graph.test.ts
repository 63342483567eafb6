// A refactoring that must change nothing a user has, checked on the real engine: a stack deployed
// by an earlier commit of this repository (default: main before the service registry, BEFORE) is
// previewed by this tree's code in the same folder, as `git pull` leaves it, and the preview must
// change nothing but what new image sources require: a service whose image is built from changed
// files (images/, the digest its image's triggers hold) has its image, its config job and its
// container replaced, exactly those; nothing else is created, updated, replaced or deleted. Two stacks between
// them run every service but ACME (internet mode with the well-known endpoint, brute-force policy,
// rspamd and Valkey; relay mode with saslauthd); test/tools/same-graph.ts compares every service
// and certificate source, ACME's included, under mocks.
//
//   MAILSERVER_SAME_GRAPH_BASE=<commit> node --import tsx --test test/live/same-graph.test.ts
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { imageSourcesDigest } from "../../components/platform/docker/images";
import { SERVICES } from "../../components/services";
import { destroy, engineDir, liveConfig, portsFrom, USERS } from "./stack";
import { ROOT, scratchDir, timed } from "../pack";

const PREFIX = "samegraph";
const PORT_BASE = 45000;
/** main just before components/services and components/platform (the service registry) replaced it. */
const BEFORE = "20a17a2584f2";
const BASE = process.env.MAILSERVER_SAME_GRAPH_BASE ?? BEFORE;
/**
 * Changes of behaviour made since BEFORE on purpose, as "<change> <type>::<name>", each with why:
 * the preview shows them beside the image replacements (the component's registered settings and
 * files are what a reviewer reads). Only for the default base.
 */
const INTENDED_CHANGES: Record<string, string> = {
    "update mailserver:index:MailServer::mail":
        "spamFilter.scanProcesses, a new setting (registered), renders rspamd's milter worker count (2, was 1); " +
        "arc.conf no longer seals mail from mynetworks; outboundTls and reports, new settings (registered), render " +
        "DANE, the MTA-STS policy map and TLS-RPT into main.cf",
};
/** Resources a stack of the default base gains on purpose, by stack, each with why. */
const INTENDED_CREATES: Record<string, Record<string, string>> = {
    internet: {
        ...Object.fromEntries(
            [
                "container:Container::samegraph-mtasts",
                "container:Container::samegraph-mtasts-config",
                "remoteImage:RemoteImage::samegraph-mtasts-image",
                "volume:Volume::samegraph-mtasts-cache",
                "volume:Volume::samegraph-mtasts-config",
                "volume:Volume::samegraph-mtasts-run",
            ].map(r => [
                `create docker:index/${r}`,
                "outboundTls.mtaSts and reports.tls (on by default): the MTA-STS policy and TLS-RPT container, its image, config job and volumes",
            ]),
        ),
    },
};
const STATE = engineDir(PREFIX);

const STACKS: Record<string, Record<string, unknown>> = {
    internet: liveConfig(
        {
            "mailserver:domains": [
                {
                    domain: "example.test",
                    mailboxes: [{ address: "alice", aliases: ["info"] }, { address: "bob" }],
                    wellKnown: true,
                },
                { domain: "example.org", mailboxes: [{ address: "carol" }] },
            ],
            "mailserver:wellKnown": { httpsPort: portsFrom(PORT_BASE).smtp + 418, address: "127.0.0.1" },
        },
        PREFIX,
        PORT_BASE,
    ),
    relay: liveConfig(
        {
            "mailserver:mode": "relay",
            "mailserver:domains": [{ domain: "example.test" }],
            "mailserver:relayhosts": [{ host: "127.0.0.1", port: PORT_BASE + 501 }],
            "mailserver:users": [USERS.alice.address],
            "mailserver:passwords": { [USERS.alice.address]: USERS.alice.password },
        },
        PREFIX,
        PORT_BASE,
    ),
};

interface Operation {
    changeSummary?: Record<string, number>;
    steps?: Array<{ change: string; type: string; name: string }>;
}

/** One preview or up of the example program in `app` (its own engine driver, test/live/engine-deploy.ts). */
function run(app: string, op: "up" | "preview", config: Record<string, unknown>): Promise<Operation> {
    const request = path.join(path.dirname(app), `request-${op}.json`);
    fs.writeFileSync(request, JSON.stringify({ stackName: PREFIX, dir: STATE, config, preview: op === "preview" }), {
        mode: 0o600,
    });
    const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
    return new Promise<Operation>((resolve, reject) => {
        const child = spawn(tsx, [path.join(app, "test", "live", "engine-deploy.ts"), request], {
            cwd: app,
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "",
            stderr = "";
        child.stdout.on("data", d => (stdout += d));
        child.stderr.on("data", d => (stderr += d));
        child.on("error", reject);
        child.on("close", code => {
            fs.rmSync(request, { force: true });
            if (code !== 0) reject(new Error(`${op} in ${app} failed (${code}):\n${stderr}\n${stdout}`));
            else resolve(JSON.parse(stdout.trim().split("\n").pop()!));
        });
    });
}

/** The tree of a commit (git archive, a checkout's file modes), or this tree's files, in `app`. */
function install(app: string, commit: string | undefined): void {
    fs.rmSync(app, { recursive: true, force: true });
    fs.mkdirSync(app, { recursive: true });
    if (commit) {
        const cmd = `git -C "${ROOT}" -c tar.umask=0022 archive "${commit}" | tar -x -C "${app}"`;
        const r = spawnSync("bash", ["-o", "pipefail", "-c", cmd], { encoding: "utf8" });
        assert.equal(r.status, 0, `git archive ${commit}: ${r.stderr}`);
    } else {
        const r = spawnSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        for (const file of r.stdout.split("\n").filter(f => f && fs.existsSync(path.join(ROOT, f)))) {
            fs.mkdirSync(path.dirname(path.join(app, file)), { recursive: true });
            fs.copyFileSync(path.join(ROOT, file), path.join(app, file));
            fs.chmodSync(path.join(app, file), fs.statSync(path.join(ROOT, file)).mode);
        }
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(app, "node_modules"));
}

/** Each service's image-sources digest in a tree (none for a service that tree has no image folder of). */
function imageDigests(app: string): Map<string, string | undefined> {
    const images = path.join(app, "images");
    return new Map(
        SERVICES.map(s => [
            s.name,
            fs.existsSync(path.join(images, s.name, "Dockerfile")) ? imageSourcesDigest(images, s.name) : undefined,
        ]),
    );
}

/** The replacements new image sources cause: each rebuilt image, and the job and container that run it. */
function imageReplacements(before: Map<string, string | undefined>, after: Map<string, string | undefined>) {
    return [...after]
        .filter(([service, digest]) => before.get(service) !== undefined && before.get(service) !== digest)
        .flatMap(([service]) => [
            `replace docker:index/remoteImage:RemoteImage::${PREFIX}-${service}-image`,
            `replace docker:index/container:Container::${PREFIX}-${service}-config`,
            `replace docker:index/container:Container::${PREFIX}-${service}`,
        ]);
}

let dir: string;

before(() => {
    destroy(PREFIX);
    dir = scratchDir("same-graph");
});
after(() => destroy(PREFIX));

for (const [name, config] of Object.entries(STACKS)) {
    describe(`a ${name}-mode stack deployed from ${BASE}, previewed by this tree`, { timeout: 15 * 60_000 }, () => {
        // The same folder for both: the images' build context path is part of their inputs.
        const app = () => path.join(dir, "app");
        after(() => destroy(PREFIX));

        test("the preview changes nothing but what new image sources require", async () => {
            install(app(), BASE);
            const baseDigests = imageDigests(app());
            const up = await timed(`up (${BASE})`, () => run(app(), "up", config));
            assert.ok(up.steps && up.steps.length > 0, "the base deployed resources");
            const deployed = new Set(up.steps.map(s => `${s.type}::${s.name}`));
            install(app(), undefined);
            // Only for what this stack deployed (relay mode has no Dovecot, internet mode no saslauthd).
            const expected = [
                ...imageReplacements(baseDigests, imageDigests(app())),
                ...(BASE === BEFORE ? Object.keys(INTENDED_CHANGES) : []),
            ]
                .filter(r => deployed.has(r.replace(/^\w+ /, "")))
                .concat(BASE === BEFORE ? Object.keys(INTENDED_CREATES[name] ?? {}) : [])
                .sort();
            const preview = await timed("preview (this tree)", () => run(app(), "preview", config));
            const changed = (preview.steps ?? []).filter(s => s.change !== "same");
            process.stdout.write(
                `# ${name}: ${JSON.stringify(preview.changeSummary)}; from new image sources: ${expected.length}\n`,
            );
            assert.deepEqual(
                changed.map(s => `${s.change} ${s.type}::${s.name}`).sort(),
                expected,
                `the preview of this tree changes what ${BASE} deployed beyond the images rebuilt from new sources`,
            );
            assert.ok(preview.changeSummary?.same, "resources unchanged");
        });
    });
}
