// The components from another Pulumi language, on the real engine: a Pulumi YAML program in a
// folder outside the repository installs the packed npm package, as a stranger would, and uses it
// through its component provider (node_modules/mailserver/provider, referenced from Pulumi.yaml's
// `packages:` as `pulumi package add` would write it) and deploys two
// VirtualDomains, a MailServer that takes them by reference, and a DovecotImap that takes the
// MailServer, with mailbox passwords from the YAML program's secret config. Mail submitted on 587
// with such a password is read back over IMAPS, DKIM-signed with the key the VirtualDomain made;
// the second preview shows 0 changes; destroy removes every container. Needs the YAML language
// host (engine/build-languages.sh, run by .ci/prepare.sh).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { caFile, docker, fetchBySubject, HOST, keepLogs, swaks, uniqueSubject } from "./clients";
import { ARTIFACTS, destroy, portsFrom, stackContainers, stackVolumes } from "./stack";
import { npmInstall, pack, testedVersion } from "../pack";

const PREFIX = "yamltest";
const PORTS = portsFrom(42000);
const ALICE = { address: "alice@example.test", password: `alice-${randomBytes(9).toString("base64url")}` };
const CAROL = { address: "carol@example.org", password: `carol-${randomBytes(9).toString("base64url")}` };
/** The YAML project's folder (its parent holds the state and the installed package). */
const WORK = path.join(os.tmpdir(), `${PREFIX}-work`);
/** The component provider of the installed package (npm's node_modules/mailserver/provider). */
const PROVIDER = path.join(WORK, "node_modules", "mailserver", "provider");
const LOG = path.join(ARTIFACTS, `engine-${PREFIX}.log`);
const SERVICES = ["postfix", "dovecot", "authpolicy", "rspamd", "valkey"];

/** The program, as a user of Pulumi YAML writes it (README.md, "Using it from other languages"). */
const PROGRAM = `name: ${PREFIX}
runtime: yaml
description: The mail server from Pulumi YAML (test/live/yaml.test.ts)
packages:
  mailserver: ${PROVIDER}
config:
  alicePassword:
    type: string
    secret: true
  carolPassword:
    type: string
    secret: true
resources:
  example:
    type: mailserver:index:VirtualDomain
    properties:
      domain: example.test
      mailboxes:
        - address: alice
          password: \${alicePassword}
          aliases: [info]
  other:
    type: mailserver:index:VirtualDomain
    properties:
      domain: example.org
      mailboxes:
        - address: carol
          password: \${carolPassword}
  mx:
    type: mailserver:index:MailServer
    properties:
      hostname: mail.example.test
      domains:
        - \${example}
        - \${other}
      namePrefix: ${PREFIX}
      networkMode: host
      inetInterfaces: ["127.0.0.1"]
      inetProtocols: ipv4
      mynetworks: ["127.0.0.1/32"]
      ports:
        smtp: ${PORTS.smtp}
        submission: ${PORTS.submission}
        smtps: ${PORTS.smtps}
      images:
        buildNetworkMode: host
  imap:
    type: mailserver:index:DovecotImap
    properties:
      mailServer: \${mx}
      listen: ["127.0.0.1"]
      images:
        buildNetworkMode: host
      ports:
        imap: ${PORTS.imap}
        imaps: ${PORTS.imaps}
        managesieve: ${PORTS.managesieve}
outputs:
  certificatePem: \${mx.certificatePem}
  postfixContainer: \${mx.postfixContainerName}
  dovecotContainer: \${imap.containerName}
  mailboxes: \${example.mailboxAddresses}
  dnsZone: \${example.dnsZone}
  credentials: \${mx.credentials}
`;

let dir: string;
let env: NodeJS.ProcessEnv;

/** The pulumi CLI in the program's folder; throws with its output if it fails (with `fails`: if it succeeds). */
function pulumi(args: string[], opts: { input?: string; fails?: boolean; cwd?: string } = {}) {
    const started = Date.now();
    const r = spawnSync("pulumi", [...args, "--non-interactive"], {
        cwd: opts.cwd ?? dir,
        env,
        input: opts.input,
        encoding: "utf8",
        maxBuffer: 64 << 20,
        timeout: 15 * 60 * 1000,
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    fs.appendFileSync(LOG, `\n$ pulumi ${args.join(" ")} (${seconds} s, exit ${r.status})\n${r.stdout}${r.stderr}`);
    const output = `${r.stdout}${r.stderr}`;
    if ((r.status !== 0) !== (opts.fails ?? false))
        throw new Error(`pulumi ${args.join(" ")} exited ${r.status}:\n${output}`);
    return { stdout: r.stdout, output, seconds: Number(seconds) };
}

function writeProject(folder: string, program: string): void {
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, "Pulumi.yaml"), program);
}

describe("a Pulumi YAML program deploys the components through the component provider, live", () => {
    before(() => {
        destroy(PREFIX);
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        fs.rmSync(LOG, { force: true });
        assert.ok(
            fs.existsSync(path.join(process.env.PULUMI_HOME ?? "", "plugins", "language-yaml-v1.25.0")) ||
                spawnSync("sh", ["-c", "command -v pulumi-language-yaml"]).status === 0,
            "no YAML language host: run bash engine/build-languages.sh (.ci/prepare.sh does)",
        );
        // Outside the repository: nothing of it is on the program's module or config path. The package
        // comes from its tarball (the package's prepare build), with the SDK the engine is built for.
        fs.rmSync(WORK, { recursive: true, force: true });
        fs.mkdirSync(WORK, { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(WORK, "package.json"), JSON.stringify({ name: PREFIX, private: true }) + "\n");
        // The SDKs (peers) at the versions the engine's plugins are built for, as consumerProject does.
        const sdks = ["@pulumi/pulumi", "@pulumi/docker", "@pulumi/tls"].map(p => `${p}@${testedVersion(p)}`);
        npmInstall(WORK, [pack(WORK).file, ...sdks]);
        dir = WORK;
        env = {
            ...process.env,
            PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
        };
        fs.mkdirSync(path.join(dir, "state"));
        writeProject(path.join(dir, "program"), PROGRAM);
        dir = path.join(dir, "program");
        pulumi(["stack", "init", "dev"]);
        // From stdin: the passwords never appear on a command line.
        pulumi(["config", "set", "--secret", "alicePassword"], { input: ALICE.password });
        pulumi(["config", "set", "--secret", "carolPassword"], { input: CAROL.password });
    });

    after(() => {
        keepLogs(PREFIX, SERVICES);
        destroy(PREFIX);
        if (dir) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    });

    test("a bad value fails the preview with component, field, value and what is accepted", () => {
        const bad = path.join(path.dirname(dir), "bad");
        writeProject(
            bad,
            `name: ${PREFIX}-bad\nruntime: yaml\npackages:\n  mailserver: ${PROVIDER}\nresources:\n` +
                "  example:\n    type: mailserver:index:VirtualDomain\n    properties:\n      domain: not a domain\n",
        );
        pulumi(["stack", "init", "dev"], { cwd: bad });
        const r = pulumi(["preview"], { cwd: bad, fails: true });
        assert.match(
            r.output,
            /VirtualDomain example: domain = "not a domain" is not accepted; expected a fully qualified domain name/,
        );
        assert.deepEqual(stackContainers(PREFIX), []);
    });

    test("up deploys two VirtualDomains, a MailServer taking them by reference and a DovecotImap", () => {
        const r = pulumi(["up", "--yes", "--skip-preview"]);
        console.log(`# yaml up: ${r.seconds} s`);
        const names = new Set(stackContainers(PREFIX).map(id => docker(["inspect", "-f", "{{.Name}}", id])));
        for (const service of SERVICES)
            assert.ok(names.has(`/${PREFIX}-${service}`), `${PREFIX}-${service} runs: ${[...names].join(", ")}`);
    });

    test("mail submitted with a password from the YAML program's secret config is read back over IMAPS, DKIM-signed", async () => {
        const outputs = JSON.parse(pulumi(["stack", "output", "--json"]).stdout);
        assert.deepEqual(outputs.mailboxes, [ALICE.address]);
        assert.equal(outputs.postfixContainer, `${PREFIX}-postfix`);
        assert.equal(outputs.dovecotContainer, `${PREFIX}-dovecot`);
        // The DKIM key the VirtualDomain made, published in its zone and used by the MailServer's rspamd.
        assert.match(
            outputs.dnsZone,
            /^mail-ed25519\._domainkey\.example\.test\. \d+ IN TXT "v=DKIM1;.*k=ed25519;.*p=[A-Za-z0-9+/]+/m,
        );
        const ca = caFile(outputs.certificatePem, PREFIX);
        const subject = uniqueSubject("from a YAML program");
        const sent = swaks([
            "--server",
            `${HOST}:${PORTS.submission}`,
            "-tls",
            "--tls-verify",
            "--tls-ca-path",
            ca,
            "--tls-sni",
            "mail.example.test",
            "--auth",
            "PLAIN",
            "--auth-user",
            ALICE.address,
            "--auth-password",
            ALICE.password,
            "--from",
            ALICE.address,
            "--to",
            CAROL.address,
            "--header",
            `Subject: ${subject}`,
            "--body",
            "sent through components a YAML program deployed",
        ]);
        assert.equal(sent.status, 0, sent.transcript);
        const message = await fetchBySubject(CAROL, subject, "imaps", ca, "INBOX", 20_000, PORTS);
        assert.match(message, /sent through components a YAML program deployed/);
        assert.match(message, /^DKIM-Signature: .*d=example\.test;/m);
    });

    test("secrets stay secrets: the hashes are a secret output, no password or hash is readable in the state", () => {
        const outputs = JSON.parse(pulumi(["stack", "output", "--json"]).stdout);
        assert.equal(outputs.credentials, "[secret]");
        const state = pulumi(["stack", "export"]).stdout;
        for (const secret of [ALICE.password, CAROL.password, "$6$rounds="])
            assert.ok(!state.includes(secret), `${secret.slice(0, 9)}… is not in the exported state`);
    });

    test("an unchanged program previews with 0 changes", () => {
        const r = pulumi(["preview", "--json", "--expect-no-changes"]);
        console.log(`# yaml unchanged preview: ${r.seconds} s`);
        const summary = JSON.parse(r.stdout).changeSummary as Record<string, number>;
        const changes = Object.entries(summary).filter(([op, n]) => op !== "same" && n > 0);
        assert.deepEqual(changes, [], JSON.stringify(summary));
        assert.ok((summary.same ?? 0) >= 30, JSON.stringify(summary));
    });

    test("destroy removes every container; mail and queue volumes stay (retainOnDelete)", () => {
        keepLogs(PREFIX, SERVICES);
        const r = pulumi(["destroy", "--yes", "--skip-preview"]);
        console.log(`# yaml destroy: ${r.seconds} s`);
        assert.deepEqual(stackContainers(PREFIX), []);
        const volumes = stackVolumes(PREFIX);
        for (const kept of [`${PREFIX}-mail`, `${PREFIX}-queue`]) assert.ok(volumes.includes(kept), volumes.join(", "));
    });
});
