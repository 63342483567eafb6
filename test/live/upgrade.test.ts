// The upgrade from the previous release (releases.json) to this tree, on the real engine, as a user
// makes it: the previous release deploys a stack of the example program and the stack takes mail
// (mailboxes, a folder with flags, a ManageSieve script, a message held in the queue); then the
// code is replaced in the same place (a source tree: pull; a package: npm install of the new
// version) and this tree's code previews and runs `pulumi up` on the same state while mail is
// being sent. The preview's replacements are pinned (EXPECTED_REPLACEMENTS, each with its reason);
// separately, and whatever that list says, no data volume and no key is ever replaced or deleted.
// After the up every message sent before and during it is in its mailbox, and the folder, its
// flags, the Sieve script, the queued message, the volumes and the DKIM and TLS keys are unchanged.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawn, spawnSync } from "child_process";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";
import * as tls from "tls";
import {
    caFile,
    Credentials,
    docker,
    HOST,
    imapClient,
    keepLogs,
    sieveConnect,
    smtp,
    SmtpSession,
    uniqueSubject,
} from "./clients";
import { ARTIFACTS, destroy, engineDir, portsFrom, USERS } from "./stack";
import { engineEnv, passphrase, SECRET_KEYS } from "../../scripts/lib/engine";
import { readReleases, Release, releaseCommit } from "../../scripts/lib/releases";
import { dataOrKeysLost, ResourceStep } from "../../scripts/lib/steps";
import { compileProject, consumerProject, npmInstall, pack, ROOT, runDriver, scratchDir, timed } from "../pack";

const PREFIX = "upgrade";
const PORTS = portsFrom(41000);
const SERVERNAME = "mail.example.test";

/** The release EXPECTED_REPLACEMENTS is for: once a newer one is released, review and pin its upgrade. */
const PINNED_FROM = "0.1.0";
const IMAGE_TRIGGERS =
    "0.2.0 gives each image a trigger (a digest of the files it is built from), so 0.1.0's images are " +
    "registered anew and rebuilt (from Docker's cache when their files did not change)";
const IMAGE_ID_UNKNOWN =
    "its image is rebuilt, and a preview cannot know the new image id: the up replaces the container " +
    "only if the rebuilt image differs";
const SASLAUTHD_GONE =
    "0.2.0 authenticates internet mode's SMTP AUTH through Dovecot (brute-force bans on every protocol): " +
    "saslauthd, its config job, image and volumes (configuration and socket only) are deleted";
/**
 * Every resource the upgrade from PINNED_FROM replaces or deletes in the preview, as "<type>::<name>",
 * each with why. The test fails when the preview differs and prints the actual list in this form.
 * Data volumes and keys never belong here: they are checked on their own, always.
 */
const EXPECTED_REPLACEMENTS: Record<string, string> = {
    "docker:index/remoteImage:RemoteImage::upgrade-postfix-image": IMAGE_TRIGGERS,
    "docker:index/remoteImage:RemoteImage::upgrade-saslauthd-image": SASLAUTHD_GONE,
    "docker:index/remoteImage:RemoteImage::upgrade-dovecot-image": IMAGE_TRIGGERS,
    "docker:index/remoteImage:RemoteImage::upgrade-rspamd-image": IMAGE_TRIGGERS,
    "docker:index/remoteImage:RemoteImage::upgrade-valkey-image": IMAGE_TRIGGERS,
    "docker:index/container:Container::upgrade-postfix": IMAGE_ID_UNKNOWN,
    "docker:index/container:Container::upgrade-postfix-config": IMAGE_ID_UNKNOWN,
    "docker:index/container:Container::upgrade-saslauthd": SASLAUTHD_GONE,
    "docker:index/container:Container::upgrade-saslauthd-config": SASLAUTHD_GONE,
    // Its two volumes held its configuration and its socket: no data.
    "docker:index/volume:Volume::upgrade-saslauthd-config": SASLAUTHD_GONE,
    "docker:index/volume:Volume::upgrade-saslauthd-run": SASLAUTHD_GONE,
    "docker:index/container:Container::upgrade-dovecot": IMAGE_ID_UNKNOWN,
    "docker:index/container:Container::upgrade-dovecot-config": IMAGE_ID_UNKNOWN,
    "docker:index/container:Container::upgrade-rspamd": IMAGE_ID_UNKNOWN,
    "docker:index/container:Container::upgrade-rspamd-config": IMAGE_ID_UNKNOWN,
    "docker:index/container:Container::upgrade-valkey": IMAGE_ID_UNKNOWN,
};

/** Volumes holding data (mail, queue, rspamd and Valkey state, ACME account and certificates). */
const DATA_VOLUMES = ["mail", "queue", "rspamd-data", "valkey-data", "acme", "certs"].map(v => `${PREFIX}-${v}`);

// Mail to held.example goes to a next hop that refuses connections: it waits in the queue.
const HELD = { domain: "held.example", nexthop: "[127.0.0.1]:9" };
const { alice, bob, carol } = USERS;

/**
 * The stack's config, written out here (not test/live/stack.ts's liveConfig) so that it only ever
 * has keys the previous release knows: the example program refuses unknown keys.
 */
const CONFIG: Record<string, unknown> = {
    "mailserver:hostname": SERVERNAME,
    "mailserver:mode": "internet",
    "mailserver:networkMode": "host",
    "mailserver:namePrefix": PREFIX,
    "mailserver:inetInterfaces": ["127.0.0.1"],
    "mailserver:inetProtocols": "ipv4",
    "mailserver:mynetworks": ["127.0.0.1/32"],
    "mailserver:ports": {
        smtp: PORTS.smtp,
        submission: PORTS.submission,
        smtps: PORTS.smtps,
        reinject: PORTS.reinject,
    },
    "mailserver:imapPorts": { imap: PORTS.imap, imaps: PORTS.imaps, managesieve: PORTS.managesieve },
    "mailserver:imapListen": ["127.0.0.1"],
    "mailserver:images": { buildNetworkMode: "host" },
    "mailserver:transports": [HELD],
    "mailserver:domains": [
        {
            domain: "example.test",
            mailboxes: [{ address: "alice", aliases: ["info"] }, { address: "bob" }],
            aliases: [{ address: "team", targets: [alice.address, bob.address] }],
        },
        { domain: "example.org", mailboxes: [{ address: "carol" }] },
    ],
    "mailserver:passwords": Object.fromEntries([alice, bob, carol].map(u => [u.address, u.password])),
};

interface Operation {
    outputs: Record<string, any>;
    changeSummary: Record<string, number>;
    /** Every resource's step (this tree's drivers report them; an older release's may not). */
    steps?: ResourceStep[];
}

/**
 * Where the stack's code lives and how it is run: the previous release first, then this tree in
 * the same place. Which one is releases.json's "deploy" field of the previous release.
 */
interface Deployment {
    describe: string;
    installPrevious(): void;
    installCurrent(): void;
    run(op: "up" | "preview", config: Record<string, unknown>): Promise<Operation>;
}

const STATE = engineDir(PREFIX);
const LOG = path.join(ARTIFACTS, `engine-${PREFIX}.log`);

/**
 * git archive of a commit of this repository, unpacked into `to` with a checkout's file modes
 * (0644/0755: git archive's default umask 002 would give the images' files other modes, so other
 * image layers and ids than a checkout of the same commit builds).
 */
function archive(commit: string, to: string): void {
    fs.mkdirSync(to, { recursive: true });
    const cmd = `git -C "${ROOT}" -c tar.umask=0022 archive "${commit}" | tar -x -C "${to}"`;
    const r = spawnSync("bash", ["-o", "pipefail", "-c", cmd], {
        encoding: "utf8",
    });
    assert.equal(r.status, 0, `git archive ${commit}: ${r.stderr}`);
}

/** What a package-lock.json installs: every package's version and integrity (flags like "dev" aside). */
function installedPackages(lockFile: string): string {
    const lock = JSON.parse(fs.readFileSync(lockFile, "utf8"));
    const entries = Object.entries(lock.packages as Record<string, any>)
        .filter(([p]) => p !== "")
        .map(([p, e]) => `${p}@${e.version} ${e.integrity ?? e.resolved ?? ""}`)
        .sort();
    return entries.join("\n");
}

function spawnJson(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Operation> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "",
            stderr = "";
        child.stdout.on("data", d => (stdout += d));
        child.stderr.on("data", d => (stderr += d));
        child.on("error", reject);
        child.on("close", code => {
            fs.writeFileSync(LOG, stderr, { flag: "a" });
            if (code !== 0) reject(new Error(`${args.join(" ")} failed (${code}):\n${stderr}\n${stdout}`));
            else resolve(JSON.parse(stdout.trim().split("\n").pop()!));
        });
    });
}

/**
 * A source tree: the release's commit (git archive), run by its own example program and its own
 * engine driver (test/live/engine-deploy.ts, scripts/lib/engine.ts); then this tree's files copied
 * over it, as `git pull` would leave them. The same folder keeps the images' build context path,
 * which the docker provider compares (a moved context rebuilds every image).
 */
class SourceTree implements Deployment {
    readonly describe: string;
    private readonly app: string;
    constructor(
        private readonly release: Release,
        dir: string,
    ) {
        this.app = path.join(dir, "app");
        this.describe = `v${release.version} from its source tree (commit ${release.commit.slice(0, 12)})`;
    }

    installPrevious(): void {
        archive(releaseCommit(ROOT, this.release), this.app);
        // Its node_modules: this repository's when both lock files install the same packages, else its own.
        if (
            installedPackages(path.join(this.app, "package-lock.json")) ===
            installedPackages(path.join(ROOT, "package-lock.json"))
        )
            fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(this.app, "node_modules"));
        else {
            const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], {
                cwd: this.app,
                encoding: "utf8",
                timeout: 10 * 60_000,
            });
            assert.equal(r.status, 0, `npm ci of v${this.release.version}: ${r.stderr}`);
        }
    }

    installCurrent(): void {
        for (const entry of fs.readdirSync(this.app))
            fs.rmSync(path.join(this.app, entry), { recursive: true, force: true });
        const r = spawnSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        for (const file of r.stdout.split("\n").filter(f => f && fs.existsSync(path.join(ROOT, f)))) {
            fs.mkdirSync(path.dirname(path.join(this.app, file)), { recursive: true });
            fs.copyFileSync(path.join(ROOT, file), path.join(this.app, file));
            fs.chmodSync(path.join(this.app, file), fs.statSync(path.join(ROOT, file)).mode);
        }
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(this.app, "node_modules"));
    }

    run(op: "up" | "preview", config: Record<string, unknown>): Promise<Operation> {
        const request = path.join(path.dirname(this.app), `request-${op}.json`);
        fs.writeFileSync(
            request,
            JSON.stringify({ stackName: PREFIX, dir: STATE, config, preview: op === "preview" }),
            {
                mode: 0o600,
            },
        );
        const tsx = path.join(this.app, "node_modules", ".bin", "tsx");
        const driver = path.join(this.app, "test", "live", "engine-deploy.ts");
        return spawnJson(tsx, [driver, request], this.app, { ...process.env, ...this.engineCache() }).finally(() =>
            fs.rmSync(request, { force: true }),
        );
    }

    /**
     * How the tree's own engine/build.sh finds its engine. v0.1.0's takes the shared cache's lock
     * even when its engine is built, so it would wait for any other build on the machine: when its
     * key is built, it gets a private cache folder holding only a link to it. Its plugins go to a
     * PULUMI_HOME of its own: its build of the same plugin versions differs from ours byte for byte,
     * and installing it into this repository's swapped the plugins under every suite running beside
     * this one (engine-schema's check failed on them). It never takes the engine on PATH for a
     * foreign one (MAILSERVER_BUILD_ENGINE=1).
     */
    private engineCache(): Record<string, string> {
        const env = {
            MAILSERVER_BUILD_ENGINE: "1",
            MAILSERVER_PULUMI_HOME: path.join(path.dirname(this.app), "pulumi-home"),
        };
        const r = spawnSync("bash", [path.join(this.app, "engine", "build.sh"), "--print-key"], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const key = r.stdout.trim();
        const built = path.join(process.env.MAILSERVER_ENGINE_CACHE ?? "/var/cache/mailserver-engine", key);
        if (!fs.existsSync(path.join(built, "bin", "pulumi"))) return env;
        const cache = path.join(path.dirname(this.app), "engine-cache");
        fs.mkdirSync(cache, { recursive: true });
        if (!fs.existsSync(path.join(cache, key))) fs.symlinkSync(built, path.join(cache, key));
        return { ...env, MAILSERVER_ENGINE_CACHE: cache };
    }
}

/**
 * A package: a project of its own with the release's packed tarball installed (packed from its
 * commit), running the package's example program (mailserver/example) through test/consumer's
 * driver; then this tree's tarball installed over it, as `npm install mailserver@<new>` would.
 */
class InstalledPackage implements Deployment {
    readonly describe: string;
    private readonly app: string;
    constructor(
        private readonly release: Release,
        private readonly dir: string,
    ) {
        this.app = path.join(dir, "app");
        this.describe = `v${release.version} from its packed tarball (commit ${release.commit.slice(0, 12)})`;
    }

    installPrevious(): void {
        const src = path.join(this.dir, `release-${this.release.version}`);
        archive(releaseCommit(ROOT, this.release), src);
        const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], {
            cwd: src,
            encoding: "utf8",
            timeout: 10 * 60_000,
        });
        assert.equal(r.status, 0, `npm ci of v${this.release.version}: ${r.stderr}`);
        consumerProject(this.app, pack(this.dir, src).file);
        compileProject(this.app);
    }

    installCurrent(): void {
        fs.mkdirSync(path.join(this.dir, "current"));
        npmInstall(this.app, [pack(path.join(this.dir, "current")).file]);
    }

    run(op: "up" | "preview", config: Record<string, unknown>): Promise<Operation> {
        // The file backend's folder, as scripts/lib/engine.ts's openStack makes it.
        fs.mkdirSync(path.join(STATE, "state"), { recursive: true, mode: 0o700 });
        // The stack config as scripts/lib/engine.ts's setStackConfig stores it.
        const stackConfig = Object.fromEntries(
            Object.entries(config).map(([k, v]) => [
                k,
                { value: typeof v === "string" ? v : JSON.stringify(v), secret: SECRET_KEYS.includes(k) },
            ]),
        );
        return runDriver(
            this.app,
            {
                projectName: "mailserver",
                stackName: PREFIX,
                workDir: path.join(STATE, "workspace"),
                program: "mailserver/example",
                config: stackConfig,
                op,
            },
            {
                ...process.env,
                ...engineEnv(),
                PULUMI_BACKEND_URL: `file://${path.join(STATE, "state")}`,
                PULUMI_CONFIG_PASSPHRASE: passphrase(path.join(STATE, "passphrase")),
            },
            LOG,
        );
    }
}

/** The release before this tree's version: the newest recorded one older than package.json's. */
function previousRelease(): Release {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
    const older = readReleases(ROOT)
        .releases.filter(r => semver.lt(r.version, version))
        .sort((a, b) => semver.compare(b.version, a.version));
    assert.ok(older.length > 0, `no release older than ${version} in releases.json`);
    return older[0];
}

// ---------------------------------------------------------------------------------------------
// Mail helpers

/** Sends one message on port 25 (from a trusted loopback client), retrying like an MTA until accepted. */
async function sendRetrying(to: string, subject: string, via: "smtp" | "submission" = "smtp"): Promise<number> {
    const session: SmtpSession =
        via === "smtp"
            ? { port: PORTS.smtp, from: "someone@sender.example" }
            : { port: PORTS.submission, tls: "starttls", auth: carol, from: carol.address };
    const deadline = Date.now() + 180_000;
    for (let attempt = 1; ; attempt++) {
        const r = smtp({ ...session, to, subject });
        if (r.status === 0) return attempt;
        if (Date.now() > deadline) throw new Error(`"${subject}" to ${to} was never accepted:\n${r.transcript}`);
        await sleep(2000);
    }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The subjects of every message in a mailbox folder. */
async function subjectsIn(user: Credentials, ca: string, mailbox = "INBOX"): Promise<string[]> {
    const client = await imapClient(user, "imaps", ca, PORTS, { host: HOST, servername: SERVERNAME });
    try {
        const lock = await client.getMailboxLock(mailbox);
        try {
            const subjects: string[] = [];
            for await (const m of client.fetch("1:*", { envelope: true })) subjects.push(m.envelope?.subject ?? "");
            return subjects;
        } finally {
            lock.release();
        }
    } catch (e) {
        if (/Mailbox doesn't exist|NONEXISTENT/i.test(String((e as any)?.responseText ?? e))) return [];
        throw e;
    } finally {
        await client.logout().catch(() => undefined);
    }
}

/** Waits (bounded) until every subject is in the folder; returns the ones still missing. */
async function awaitSubjects(user: Credentials, ca: string, subjects: string[], mailbox = "INBOX", ms = 60_000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const present = new Set(await subjectsIn(user, ca, mailbox));
        const missing = subjects.filter(s => !present.has(s));
        if (missing.length === 0 || Date.now() > deadline) return missing;
        await sleep(1000);
    }
}

/** The flags of the messages of a folder, by subject. */
async function flagsBySubject(user: Credentials, ca: string, mailbox: string): Promise<Record<string, string[]>> {
    const client = await imapClient(user, "imaps", ca, PORTS, { host: HOST, servername: SERVERNAME });
    try {
        const lock = await client.getMailboxLock(mailbox);
        try {
            const out: Record<string, string[]> = {};
            for await (const m of client.fetch("1:*", { envelope: true, flags: true }))
                // \Recent is the session's, not the message's.
                out[m.envelope?.subject ?? ""] = [...(m.flags ?? [])].filter(f => f !== "\\Recent").sort();
            return out;
        } finally {
            lock.release();
        }
    } finally {
        await client.logout().catch(() => undefined);
    }
}

/** The public key the server presents on a TLS port (implicit TLS), as SPKI PEM. */
function servedPublicKey(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const s = tls.connect({ host: HOST, port, servername: SERVERNAME, rejectUnauthorized: false }, () => {
            const cert = s.getPeerX509Certificate();
            s.destroy();
            if (!cert) reject(new Error(`no certificate on port ${port}`));
            else resolve(cert.publicKey.export({ type: "spki", format: "pem" }).toString());
        });
        s.once("error", reject);
        s.setTimeout(15_000, () => s.destroy(new Error(`TLS handshake on ${port} timed out`)));
    });
}

/** The queue's messages, by queue id (postqueue -j, one JSON object per line). */
function queue(): Record<string, { queue_name: string; recipients: Array<{ address: string }> }> {
    const out = docker(["exec", `${PREFIX}-postfix`, "postqueue", "-j"]);
    return Object.fromEntries(
        out
            .split("\n")
            .filter(Boolean)
            .map(l => JSON.parse(l))
            .map(m => [m.queue_id, m]),
    );
}

/** The stack's data volumes that exist (the ACME ones only with tls.acme). */
const dataVolumes = () =>
    docker(["volume", "ls", "-q", "--filter", `name=^${PREFIX}-`])
        .split("\n")
        .filter(v => DATA_VOLUMES.includes(v));

/**
 * A marker file in a volume, written and read by a throw-away container (Docker's CreatedAt of a
 * local volume is its folder's ctime, which a chown at a service's start changes): a volume made
 * anew would not have it.
 */
const MARKER = ".mailserver-upgrade-test";
function volumeMarker(volume: string, write?: string): string {
    const script = write === undefined ? `cat /v/${MARKER}` : `printf %s '${write}' > /v/${MARKER} && cat /v/${MARKER}`;
    return docker(["run", "--rm", "--network", "none", "-v", `${volume}:/v`, "debian:trixie-slim", "sh", "-c", script]);
}

const dkimRecords = (outputs: Record<string, any>) =>
    (outputs.dnsRecords as Array<{ name: string; type: string; value: string }>)
        .filter(r => r.name.includes("._domainkey."))
        .map(r => `${r.name} ${r.type} ${r.value}`)
        .sort();

const key = (s: ResourceStep) => `${s.type}::${s.name}`;
const replacedOrDeleted = (steps: ResourceStep[]) => steps.filter(s => s.change === "replace" || s.change === "delete");

/** The replacements as EXPECTED_REPLACEMENTS is written, with what forces each. */
function describeReplacements(steps: ResourceStep[]): string {
    const list = replacedOrDeleted(steps);
    if (list.length === 0) return "(none)";
    return list
        .map(
            s =>
                `    "${key(s)}": "${s.change}: ${s.replaceKeys.length ? `replaceKeys ${s.replaceKeys.join(", ")}` : `diffs ${s.diffs.join(", ")}`}",`,
        )
        .join("\n");
}

/** Never, whatever the pinned list says: a data volume or a key replaced or deleted. */
function assertNoDataOrKeyLost(steps: ResourceStep[], when: string): void {
    const lost = dataOrKeysLost(steps, DATA_VOLUMES);
    assert.deepEqual(
        lost.map(s => `${key(s)} (${s.change}; forced by: ${s.replaceKeys.join(", ") || s.diffs.join(", ")})`),
        [],
        `${when}: an upgrade must never replace or delete a data volume or a key`,
    );
}

// ---------------------------------------------------------------------------------------------

let deployment: Deployment;
let previous: Release;
let dir: string;
let ca: string;
let baseline: Operation;
/** What the upgrade's preview replaces or deletes. */
let previewed: string[] = [];
const recorded = {
    subjects: { alice: [] as string[], bob: [] as string[], carol: [] as string[] },
    receipts: [] as string[],
    heldQueueId: "",
    /** Data volume -> the marker written into it before the upgrade. */
    volumes: {} as Record<string, string>,
    smtpsKey: "",
    imapsKey: "",
};
const SIEVE_SCRIPT =
    'require ["fileinto", "mailbox"];\nif header :contains "Subject" "receipt" { fileinto :create "Receipts"; }\n';
const FLAGGED = uniqueSubject("flagged in Projects");

before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    destroy(PREFIX);
    dir = scratchDir("upgrade");
    previous = previousRelease();
    deployment = previous.deploy === "source" ? new SourceTree(previous, dir) : new InstalledPackage(previous, dir);
    process.stdout.write(`# previous release: ${deployment.describe}\n`);
    await timed("install the previous release", () => deployment.installPrevious());
});

after(() => {
    keepLogs(PREFIX, ["postfix", "saslauthd", "dovecot", "rspamd", "valkey"]);
    destroy(PREFIX);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("upgrade from the previous release", () => {
    test("the previous release deploys and takes mail: mailboxes, a folder with flags, a ManageSieve script, the queue", async () => {
        baseline = await timed("up (previous release)", () => deployment.run("up", CONFIG));
        ca = caFile(baseline.outputs.certificatePem, PREFIX);
        assert.ok(dkimRecords(baseline.outputs).length >= 4, "DKIM records of both domains");

        for (const [name, user] of Object.entries({ alice, bob, carol }) as Array<
            [keyof typeof recorded.subjects, Credentials]
        >)
            for (let i = 1; i <= 2; i++) {
                const subject = uniqueSubject(`before the upgrade ${i} to ${name}`);
                await sendRetrying(user.address, subject);
                recorded.subjects[name].push(subject);
            }
        for (const [name, user] of Object.entries({ alice, bob, carol }) as Array<
            [keyof typeof recorded.subjects, Credentials]
        >)
            assert.deepEqual(await awaitSubjects(user, ca, recorded.subjects[name]), [], `${name}'s mail delivered`);

        // alice files a message into a folder of her own, with flags and a keyword, and answers one.
        const client = await imapClient(alice, "imaps", ca, PORTS, { host: HOST, servername: SERVERNAME });
        try {
            await client.mailboxCreate("Projects");
            await client.append(
                "Projects",
                `From: partner@sender.example\r\nTo: ${alice.address}\r\nSubject: ${FLAGGED}\r\n\r\nkept with its flags\r\n`,
                ["\\Seen", "\\Flagged", "$Important"],
            );
            const lock = await client.getMailboxLock("INBOX");
            try {
                const uids = await client.search({ subject: recorded.subjects.alice[0] }, { uid: true });
                assert.ok(uids && uids.length === 1);
                await client.messageFlagsAdd(String(uids[0]), ["\\Answered"], { uid: true });
            } finally {
                lock.release();
            }
        } finally {
            await client.logout();
        }

        // bob uploads and activates a Sieve script over ManageSieve; it files receipts.
        const script = path.join(dir, "receipts.sieve");
        fs.writeFileSync(script, SIEVE_SCRIPT);
        const server = { port: PORTS.managesieve, ca, servername: SERVERNAME };
        for (const args of [
            ["--upload", "--localsieve", script, "--remotesieve", "receipts"],
            ["--activate", "--remotesieve", "receipts"],
        ]) {
            const r = sieveConnect(bob, args, server);
            assert.equal(r.status, 0, r.output);
        }
        const receipt = uniqueSubject("receipt before the upgrade");
        await sendRetrying(bob.address, receipt);
        recorded.receipts.push(receipt);
        assert.deepEqual(await awaitSubjects(bob, ca, [receipt], "Receipts"), [], "the script filed the receipt");

        // A message for held.example waits in the queue (its next hop refuses connections).
        const held = smtp({
            port: PORTS.submission,
            tls: "starttls",
            auth: alice,
            from: alice.address,
            to: "someone@held.example",
            subject: uniqueSubject("held in the queue"),
        });
        assert.equal(held.status, 0, held.transcript);
        recorded.heldQueueId = /queued as ([0-9A-Za-z]+)/.exec(held.transcript)![1];
        for (let i = 0; i < 30 && queue()[recorded.heldQueueId]?.queue_name !== "deferred"; i++) await sleep(1000);
        assert.equal(queue()[recorded.heldQueueId]?.queue_name, "deferred", JSON.stringify(queue()));

        const volumes = dataVolumes();
        assert.deepEqual(volumes.sort(), DATA_VOLUMES.filter(v => !/-(acme|certs)$/.test(v)).sort());
        for (const v of volumes) recorded.volumes[v] = volumeMarker(v, uniqueSubject(v));
        recorded.smtpsKey = await servedPublicKey(PORTS.smtps);
        recorded.imapsKey = await servedPublicKey(PORTS.imaps);
        assert.equal(
            recorded.smtpsKey,
            new X509Certificate(baseline.outputs.certificatePem).publicKey
                .export({ type: "spki", format: "pem" })
                .toString(),
        );
    });

    test("the upgrade's preview: never a data volume or a key replaced or deleted; exactly the pinned replacements", async () => {
        await timed("install this tree in the same place", () => deployment.installCurrent());
        const preview = await timed("preview (this tree)", () => deployment.run("preview", CONFIG));
        const steps = preview.steps!;
        process.stdout.write(`# the upgrade's replacements (preview):\n${describeReplacements(steps)}\n`);
        assertNoDataOrKeyLost(steps, "preview");
        assert.equal(
            previous.version,
            PINNED_FROM,
            `EXPECTED_REPLACEMENTS is pinned for upgrades from ${PINNED_FROM}, the previous release is now ` +
                `${previous.version}: review the list above, pin it with its reasons, set PINNED_FROM`,
        );
        const actual = replacedOrDeleted(steps).map(key).sort();
        previewed = actual;
        assert.deepEqual(
            actual,
            Object.keys(EXPECTED_REPLACEMENTS).sort(),
            `the upgrade's replacements differ from EXPECTED_REPLACEMENTS in test/live/upgrade.test.ts; ` +
                `the preview's list (with what forces each; give each its reason):\n${describeReplacements(steps)}`,
        );
    });

    test("up while mail is being sent: every message sent before and during it is in its mailbox; folders, flags, the Sieve script, the queue, the volumes and the keys are unchanged", async () => {
        const during: Array<{ to: Credentials; subject: string; attempts: number }> = [];
        let upDone = false;
        const up = timed("up (this tree) while sending", () => deployment.run("up", CONFIG)).finally(
            () => (upDone = true),
        );
        up.catch(() => undefined);
        for (let i = 1; !upDone || during.length < 4; i++) {
            const viaSubmission = i % 2 === 0;
            const to = viaSubmission ? bob : alice;
            const subject = uniqueSubject(`during the upgrade ${i}`);
            const attempts = await sendRetrying(to.address, subject, viaSubmission ? "submission" : "smtp");
            during.push({ to, subject, attempts });
            await sleep(500);
        }
        const result = await up;
        const retried = during.filter(d => d.attempts > 1).length;
        process.stdout.write(
            `# sent during the up: ${during.length} messages (${retried} needed a retry)\n` +
                `# the up's replacements:\n${describeReplacements(result.steps ?? [])}\n`,
        );
        assertNoDataOrKeyLost(result.steps!, "up");
        // Nothing the preview did not show (pulumi-docker #293: a replacement an image change causes
        // may be missing from a preview).
        assert.deepEqual(
            replacedOrDeleted(result.steps!)
                .map(key)
                .filter(k => !previewed.includes(k)),
            [],
            "the up replaced or deleted what its preview did not show",
        );

        // Every message is in its mailbox: those from before, and those sent during the up.
        const expected = new Map<Credentials, string[]>([
            [alice, [...recorded.subjects.alice, ...during.filter(d => d.to === alice).map(d => d.subject)]],
            [bob, [...recorded.subjects.bob, ...during.filter(d => d.to === bob).map(d => d.subject)]],
            [carol, recorded.subjects.carol],
        ]);
        // A delivery that met Dovecot's container being replaced (its LMTP socket refused) waits in the
        // queue for Postfix's next retry, minutes later: not lost. After 30 s the queue is flushed
        // once (as the next queue run would), and everything must then arrive.
        let missing = 0;
        for (const [user, subjects] of expected)
            missing += (await awaitSubjects(user, ca, subjects, "INBOX", 30_000)).length;
        if (missing > 0) {
            process.stdout.write(`# ${missing} messages waited in the queue after the up; postqueue -f\n`);
            docker(["exec", `${PREFIX}-postfix`, "postqueue", "-f"]);
        }
        for (const [user, subjects] of expected)
            assert.deepEqual(await awaitSubjects(user, ca, subjects, "INBOX", 60_000), [], `${user.address}'s mail`);

        // The folder and its flags, the answered flag.
        const projects = await flagsBySubject(alice, ca, "Projects");
        assert.deepEqual(projects[FLAGGED], ["$Important", "\\Flagged", "\\Seen"]);
        const inbox = await flagsBySubject(alice, ca, "INBOX");
        assert.ok(inbox[recorded.subjects.alice[0]].includes("\\Answered"), JSON.stringify(inbox));

        // The Sieve script: still there and active, and it still files.
        const server = { port: PORTS.managesieve, ca, servername: SERVERNAME };
        const listed = sieveConnect(bob, ["--list"], server);
        assert.match(listed.output, /^"receipts" ACTIVE$/m, listed.output);
        const receipt = uniqueSubject("receipt after the upgrade");
        await sendRetrying(bob.address, receipt);
        assert.deepEqual(await awaitSubjects(bob, ca, [...recorded.receipts, receipt], "Receipts"), []);

        // The queued message is still waiting, under the same id.
        assert.equal(queue()[recorded.heldQueueId]?.queue_name, "deferred", JSON.stringify(queue()));

        // No data volume was made anew; the DKIM records and the TLS key are the same.
        for (const [volume, marker] of Object.entries(recorded.volumes))
            assert.equal(volumeMarker(volume), marker, `${volume} is the same volume`);
        assert.deepEqual(dkimRecords(result.outputs), dkimRecords(baseline.outputs));
        assert.equal(result.outputs.certificatePem, baseline.outputs.certificatePem);
        assert.equal(await servedPublicKey(PORTS.smtps), recorded.smtpsKey);
        assert.equal(await servedPublicKey(PORTS.imaps), recorded.imapsKey);
    });

    test("after the upgrade, a preview changes nothing", async () => {
        const preview = await timed("preview after the upgrade", () => deployment.run("preview", CONFIG));
        assert.deepEqual(
            (preview.steps ?? [])
                .filter(s => s.change !== "same")
                .map(s => `${key(s)} ${s.change}: ${s.diffs.join(", ")}`),
            [],
        );
    });
});
