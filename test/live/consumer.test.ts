// A user of the npm package, outside this repository: a new project in the system's temporary
// folder installs the packed tarball from npm's point of view (`npm install <tarball>`, the Pulumi
// SDKs at the versions this engine has plugins for), type-checks and compiles a program of its own
// (test/consumer/program) against the installed declarations, and deploys it on the real engine
// through the Automation API (test/consumer/driver.ts, compiled in that project): its own network
// and application container, two VirtualDomains, a MailServer and a DovecotImap. The application's
// mail is read back over IMAPS, a second preview changes nothing, and the package's policy pack
// runs from node_modules/mailserver/policy.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { caFile, dockerLogs, fetchBySubject, HOST, keepLogs, uniqueSubject } from "./clients";
import { ARTIFACTS, destroy, portsFrom } from "./stack";
import { engineEnv } from "../../scripts/lib/engine";
import {
    compileProject,
    consumerProject,
    DriverResult,
    pack,
    ROOT,
    runDriver,
    scratchDir,
    Tarball,
    testedVersion,
    timed,
} from "../pack";

const PREFIX = "consumer";
const PORTS = portsFrom(40000);
const PROJECT_NAME = "shop";
const STACK = "consumer";
const FIXTURES = path.join(ROOT, "test", "consumer", "program");
const APP = { address: "orders@shop.test", password: `orders-App-${randomBytes(9).toString("base64url")}` };
const DESK = { address: "desk@support.test", password: `desk-Secret-${randomBytes(9).toString("base64url")}` };
const SUBJECT = uniqueSubject("Order 1042 shipped");

let project: string;
let tarball: Tarball;
let state: string;
const passphrase = randomBytes(24).toString("base64url");

const config = {
    [`${PROJECT_NAME}:namePrefix`]: { value: PREFIX },
    [`${PROJECT_NAME}:ports`]: {
        value: JSON.stringify({
            smtp: PORTS.smtp,
            submission: PORTS.submission,
            smtps: PORTS.smtps,
            imap: PORTS.imap,
            imaps: PORTS.imaps,
            managesieve: PORTS.managesieve,
        }),
    },
    [`${PROJECT_NAME}:appPassword`]: { value: APP.password, secret: true },
    [`${PROJECT_NAME}:deskPassword`]: { value: DESK.password, secret: true },
    [`${PROJECT_NAME}:orderSubject`]: { value: SUBJECT },
};

/** One operation of the consumer's program through its own driver, in its own project folder. */
function driver(op: "up" | "preview" | "destroy", policyPacks: string[] = []): Promise<DriverResult> {
    return runDriver(
        project,
        {
            projectName: PROJECT_NAME,
            stackName: STACK,
            workDir: project,
            program: "./index.js",
            config,
            op,
            policyPacks,
        },
        {
            ...process.env,
            ...engineEnv(),
            PULUMI_BACKEND_URL: `file://${state}`,
            PULUMI_CONFIG_PASSPHRASE: passphrase,
        },
        path.join(ARTIFACTS, `engine-${PREFIX}.log`),
    );
}

function run(cmd: string, args: string[]): string {
    const r = spawnSync(cmd, args, { cwd: project, encoding: "utf8", maxBuffer: 16 << 20 });
    assert.equal(r.status, 0, `${cmd} ${args.join(" ")}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
}

before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    destroy(PREFIX);
    tarball = await timed("npm pack", () => pack(scratchDir("consumer-tarball")));
    project = scratchDir("consumer");
    state = path.join(project, ".pulumi-state");
    fs.mkdirSync(state, { mode: 0o700 });
    // The program and its application image; the SDKs at the versions this engine has plugins for (a
    // user elsewhere may let npm choose within the package's peer ranges).
    await timed("npm install", () =>
        consumerProject(project, tarball.file, {
            "index.ts": path.join(FIXTURES, "index.ts"),
            app: path.join(FIXTURES, "app"),
        }),
    );
});

after(async () => {
    keepLogs(PREFIX, ["postfix", "saslauthd", "dovecot", "app"]);
    try {
        if (project && fs.existsSync(path.join(project, "driver.js"))) await timed("destroy", () => driver("destroy"));
    } finally {
        // Mail and queue volumes outlive `pulumi destroy` by design; the test removes them.
        destroy(PREFIX);
        if (project) fs.rmSync(project, { recursive: true, force: true });
        if (tarball) fs.rmSync(path.dirname(tarball.file), { recursive: true, force: true });
    }
});

describe("a project outside the repository that installs the package", () => {
    test("gets one copy of each Pulumi SDK (peers), and type-checks and compiles its program against the package", async () => {
        assert.ok(!project.startsWith(ROOT), `${project} is outside ${ROOT}`);
        const installed = JSON.parse(
            fs.readFileSync(path.join(project, "node_modules", "mailserver", "package.json"), "utf8"),
        );
        assert.equal(installed.version, JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version);
        // The peers resolve to the project's own copies: none nested under mailserver.
        assert.equal(fs.existsSync(path.join(project, "node_modules", "mailserver", "node_modules", "@pulumi")), false);
        const tree = JSON.parse(run("npm", ["ls", "--all", "--json", "@pulumi/pulumi"]));
        const versions = new Set<string>();
        const walk = (deps: Record<string, any> = {}) => {
            for (const [name, d] of Object.entries(deps)) {
                if (name === "@pulumi/pulumi") versions.add(d.version);
                walk(d.dependencies);
            }
        };
        walk(tree.dependencies);
        assert.deepEqual([...versions], [testedVersion("@pulumi/pulumi")]);
        // Strict TypeScript, the package's declarations checked too (no skipLibCheck).
        await timed("tsc", () => compileProject(project));
        assert.ok(fs.existsSync(path.join(project, "index.js")));
    });

    test("up: the application sends its mail through the submission port with its secret password; it is read back over IMAPS", async () => {
        const up = await timed("up", () => driver("up"));
        assert.equal(up.outputs.appExitCode, 0);
        const types = up.steps.filter(s => s.change === "create").map(s => s.type);
        for (const t of [
            "mailserver:index:MailServer",
            "mailserver:index:DovecotImap",
            "mailserver:index:VirtualDomain",
        ])
            assert.ok(types.includes(t), `${t} created`);
        assert.equal(types.filter(t => t === "mailserver:index:VirtualDomain").length, 2);
        // Outputs the program read from our components.
        assert.equal(up.outputs.postfixContainer, `${PREFIX}-postfix`);
        assert.equal(up.outputs.imapContainer, `${PREFIX}-dovecot`);
        assert.equal(up.outputs.mailNetwork, `${PREFIX}-net`);
        const records: Array<{ name: string; type: string; value: string }> = up.outputs.dnsRecords;
        for (const domain of ["shop.test", "support.test"]) {
            assert.ok(
                records.some(r => r.name === domain && r.type === "MX" && r.value === "mail.shop.test."),
                `MX of ${domain}`,
            );
            assert.ok(
                records.some(r => r.name.endsWith(`._domainkey.${domain}`) && r.value.includes("p=")),
                `DKIM of ${domain}`,
            );
        }
        // The application is on its own network and on the mail server's.
        const networks = JSON.parse(
            run("docker", ["inspect", "-f", "{{json .NetworkSettings.Networks}}", `${PREFIX}-app`]),
        );
        assert.deepEqual(Object.keys(networks).sort(), [`${PREFIX}-app`, `${PREFIX}-net`]);
        // swaks verified the server's certificate (tls-verify) and authenticated (235) before sending.
        const appLog = dockerLogs(`${PREFIX}-app`);
        assert.match(appLog, /<~ +235 /, appLog);
        assert.match(appLog, /<~ +250 2\.0\.0 Ok: queued/, appLog);
        // The message, read by the support desk over IMAPS (the certificate checked against the output).
        const ca = caFile(up.outputs.certificatePem, PREFIX);
        const message = await fetchBySubject(DESK, SUBJECT, "imaps", ca, "INBOX", 30_000, PORTS, {
            host: HOST,
            servername: "mail.shop.test",
        });
        assert.match(message, /^From: orders@shop\.test/m);
        assert.match(message, /^To: help@support\.test/m);
        assert.match(message, /Your order has shipped\./);
        // Signed by the shop's keys (rspamd runs with dns "none": no DNS reaches this engine's networks).
        assert.match(message, /^DKIM-Signature: .*\bd=shop\.test;/ms);
    });

    test("a second preview changes nothing, with the package's policy pack run from node_modules", async () => {
        const policyPack = path.join("node_modules", "mailserver", "policy");
        const preview = await timed("preview with the policy pack", () => driver("preview", [policyPack]));
        const changed = preview.steps.filter(s => s.change !== "same");
        assert.deepEqual(changed, [], "nothing changes");
        assert.deepEqual(Object.keys(preview.changeSummary), ["same"]);
        // The engine ran the installed pack: the compiled PolicyPack served, at the package's version.
        const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
        assert.match(
            preview.log,
            new RegExp(
                `mailserver-policies\\|local\\|${policyPack.replace(/\//g, "\\/")}\\s+${version.replace(/\./g, "\\.")}\\b`,
            ),
            preview.log,
        );
    });

    test("the application's password is a secret end to end: not in its container's command, environment or log, nor in the state", () => {
        const inspect = run("docker", ["inspect", `${PREFIX}-app`]);
        const plainAuth = Buffer.from(`\0${APP.address}\0${APP.password}`).toString("base64");
        for (const [what, text] of [
            ["docker inspect", inspect],
            ["the application's log", dockerLogs(`${PREFIX}-app`)],
            ["the stack's config file", fs.readFileSync(path.join(project, `Pulumi.${STACK}.yaml`), "utf8")],
            ["the state", fs.readFileSync(stateFile(), "utf8")],
        ]) {
            assert.ok(!text.includes(APP.password), `${what} holds the password`);
            assert.ok(!text.includes(plainAuth), `${what} holds the AUTH PLAIN string`);
        }
    });
});

/** The stack's checkpoint in the file backend. */
function stateFile(): string {
    const found = spawnSync("find", [state, "-name", `${STACK}.json`, "-path", "*stacks*"], { encoding: "utf8" })
        .stdout.split("\n")
        .filter(Boolean);
    assert.equal(found.length, 1, `one checkpoint for ${STACK} under ${state}: ${found}`);
    return found[0];
}
