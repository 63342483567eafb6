// A stand-in for the docker and tls providers, used under pulumi.runtime.setMocks by the live
// tests: every resource the program declares is created for real on the local Docker engine,
// from the declared inputs (no second, hand-written copy of the deployment). Like the real
// provider it replaces a container whose inputs changed and leaves an unchanged one alone,
// which is how the live tests see whether a change would restart a service.
import { execFileSync, spawnSync } from "child_process";
import { createHash, generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { unwrapSecrets } from "./secrets";

export interface MockArgs { type: string; name: string; inputs: any; custom?: boolean; id?: string }
export interface MockResult { id: string | undefined; state: Record<string, any> }

export function docker(args: string[], input?: string | Buffer): string {
    const r = spawnSync("docker", args, { input, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`docker ${args.slice(0, 3).join(" ")} … failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout.trim();
}

function sh(cmd: string, args: string[], input?: string): string {
    return execFileSync(cmd, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Inputs of docker.Container that this stand-in knows how to apply; anything else is refused. */
const CONTAINER_INPUTS = new Set([
    "name", "image", "command", "entrypoints", "envs", "labels", "mounts", "networkMode", "networksAdvanced",
    "ports", "restart", "healthcheck", "securityOpts", "capabilities", "readOnly", "tmpfs", "user",
    "uploads", "attach", "mustRun", "wait", "waitTimeout", "destroyGraceSeconds", "logs", "hostname",
]);

export class LiveDockerProvider {
    /** name -> hash of the inputs it was created from (the "state" of this stand-in). */
    private readonly state: Record<string, string>;
    /** Generated keys and certificates, kept in the harness state as Pulumi keeps them in its own. */
    private readonly tlsState: Record<string, { hash: string; result: MockResult }>;
    readonly replaced: string[] = [];
    readonly kept: string[] = [];

    constructor(private readonly stateFile: string, private readonly log: (line: string) => void = () => {}) {
        const saved = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, "utf8")) : {};
        this.state = saved.containers ?? {};
        this.tlsState = saved.tls ?? {};
    }

    private save() {
        fs.writeFileSync(this.stateFile, JSON.stringify({ containers: this.state, tls: this.tlsState }, null, 2), { mode: 0o600 });
    }

    async newResource(raw: MockArgs): Promise<MockResult> {
        const args = { ...raw, inputs: unwrapSecrets(raw.inputs) };
        switch (args.type) {
            case "docker:index/remoteImage:RemoteImage": return this.image(args);
            case "docker:index/volume:Volume": return this.volume(args);
            case "docker:index/network:Network": return this.network(args);
            case "docker:index/container:Container": return this.container(args);
            case "tls:index/privateKey:PrivateKey": return this.remembered(args, privateKey);
            case "tls:index/selfSignedCert:SelfSignedCert": return this.remembered(args, selfSignedCert);
            default:
                if (args.custom) throw new Error(`live harness: no stand-in for resource type ${args.type}`);
                return { id: undefined, state: args.inputs };
        }
    }

    /** Like the real tls provider: unchanged inputs keep the key or certificate from the last run. */
    private remembered(args: MockArgs, create: (a: MockArgs) => MockResult): MockResult {
        const key = `${args.type}::${args.name}`;
        const hash = createHash("sha256").update(JSON.stringify(args.inputs)).digest("hex");
        const saved = this.tlsState[key];
        if (saved && saved.hash === hash) return saved.result;
        const result = create(args);
        this.tlsState[key] = { hash, result };
        this.save();
        return result;
    }

    private image(args: MockArgs): MockResult {
        const i = args.inputs;
        if (!i.build) {
            const id = docker(["image", "inspect", "-f", "{{.Id}}", i.name]);
            return { id, state: { ...i, imageId: id, repoDigest: id } };
        }
        const b = i.build;
        const buildArgs = Object.entries(b.buildArgs ?? {}).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
        this.log(`building ${i.name}`);
        docker(["build", "-q", ...(b.networkMode ? ["--network", b.networkMode] : []), ...buildArgs,
            "-t", i.name, "-f", path.join(b.context, b.dockerfile), b.context]);
        const id = docker(["image", "inspect", "-f", "{{.Id}}", i.name]);
        return { id, state: { ...i, imageId: id, repoDigest: id } };
    }

    private volume(args: MockArgs): MockResult {
        const name = args.inputs.name ?? args.name;
        docker(["volume", "create", name]);
        return { id: name, state: { ...args.inputs, name, mountpoint: "" } };
    }

    private network(args: MockArgs): MockResult {
        const name = args.inputs.name ?? args.name;
        if (spawnSync("docker", ["network", "inspect", name]).status !== 0) docker(["network", "create", "--driver", args.inputs.driver ?? "bridge", name]);
        // Like the provider, report the subnet Docker chose.
        const subnet = docker(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", name]).split(" ").filter(Boolean);
        return { id: name, state: { ...args.inputs, name, ipamConfigs: subnet.map(s => ({ subnet: s })) } };
    }

    private async container(args: MockArgs): Promise<MockResult> {
        const i = args.inputs;
        const unknown = Object.keys(i).filter(k => !CONTAINER_INPUTS.has(k));
        if (unknown.length) throw new Error(`live harness: container ${i.name} uses inputs it cannot apply: ${unknown.join(", ")}`);
        const name: string = i.name;
        const hash = createHash("sha256").update(JSON.stringify(i)).digest("hex");
        const exists = spawnSync("docker", ["container", "inspect", name]).status === 0;
        if (exists && this.state[name] === hash) {
            this.kept.push(name);
            const id = docker(["container", "inspect", "-f", "{{.Id}}", name]);
            return { id, state: { ...i, exitCode: i.attach ? Number(docker(["container", "inspect", "-f", "{{.State.ExitCode}}", name])) : undefined } };
        }
        if (exists) {
            // delete-before-replace, as the docker provider does for a container with a fixed name
            this.replaced.push(name);
            if (i.destroyGraceSeconds) spawnSync("docker", ["stop", "-t", String(i.destroyGraceSeconds), name]);
            docker(["rm", "-f", name]);
        }
        const id = docker(["create", ...createFlags(i), i.image, ...(i.command ?? [])]);
        if (i.uploads?.length) upload(id, i.uploads);
        docker(["start", id]);
        let exitCode: number | undefined;
        if (i.attach) {
            exitCode = Number(docker(["wait", id]));
            this.log(`${name} exited ${exitCode}`);
        } else if (i.wait) {
            await waitHealthy(name, (i.waitTimeout ?? 60) * 1000);
        }
        this.state[name] = hash;
        this.save();
        return { id, state: { ...i, exitCode } };
    }
}

function createFlags(i: any): string[] {
    const f: string[] = ["--name", i.name];
    if (i.hostname) f.push("--hostname", i.hostname);
    if (i.networkMode) f.push("--network", i.networkMode);
    for (const n of i.networksAdvanced ?? []) f.push("--network", n.name);
    for (const p of i.ports ?? []) f.push("-p", `${p.ip ? p.ip + ":" : ""}${p.external ?? p.internal}:${p.internal}/${p.protocol ?? "tcp"}`);
    if (i.restart) f.push("--restart", i.restart);
    for (const m of i.mounts ?? []) {
        if (m.type !== "volume") throw new Error(`live harness: mount type ${m.type} not supported`);
        f.push("--mount", `type=volume,source=${m.source},target=${m.target}${m.readOnly ? ",readonly" : ""}`);
    }
    for (const e of i.envs ?? []) f.push("--env", e);
    for (const l of i.labels ?? []) f.push("--label", `${l.label}=${l.value}`);
    for (const s of i.securityOpts ?? []) f.push("--security-opt", s);
    for (const c of i.capabilities?.adds ?? []) f.push("--cap-add", c);
    for (const c of i.capabilities?.drops ?? []) f.push("--cap-drop", c);
    if (i.readOnly) f.push("--read-only");
    for (const [k, v] of Object.entries(i.tmpfs ?? {})) f.push("--tmpfs", v ? `${k}:${v}` : k);
    if (i.user) f.push("--user", i.user);
    if (i.entrypoints) f.push("--entrypoint", i.entrypoints[0]);
    const h = i.healthcheck;
    if (h) {
        const [kind, ...test] = h.tests;
        if (kind !== "CMD") throw new Error(`live harness: healthcheck kind ${kind} not supported`);
        // docker run only takes a shell form; quote each word so the CMD form is kept exactly.
        f.push("--health-cmd", test.map((t: string) => `'${t.replace(/'/g, "'\\''")}'`).join(" "));
        if (h.interval) f.push("--health-interval", h.interval);
        if (h.timeout) f.push("--health-timeout", h.timeout);
        if (h.startPeriod) f.push("--health-start-period", h.startPeriod);
        if (h.retries) f.push("--health-retries", String(h.retries));
    }
    return f;
}

/** docker provider "uploads": each file written into the created container before it starts. */
function upload(id: string, uploads: Array<{ file: string; content?: string; contentBase64?: string; executable?: boolean; permissions?: string }>) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "uploads-"));
    try {
        for (const u of uploads) {
            const target = path.join(dir, u.file);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, u.contentBase64 !== undefined ? Buffer.from(u.contentBase64, "base64") : (u.content ?? ""));
            fs.chmodSync(target, u.permissions ? parseInt(u.permissions, 8) : (u.executable ? 0o755 : 0o644));
        }
        docker(["cp", `${dir}/.`, `${id}:/`]);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function waitHealthy(name: string, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    let status = "";
    while (Date.now() < deadline) {
        status = docker(["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", name]);
        if (status === "running healthy") return;
        if (status.startsWith("exited") || status.startsWith("dead")) break;
        await sleep(500);
    }
    const logs = spawnSync("docker", ["logs", "--tail", "60", name], { encoding: "utf8" });
    throw new Error(`live harness: ${name} not healthy (${status}) after ${timeoutMs / 1000}s\n${logs.stdout}${logs.stderr}`);
}

/** tls.PrivateKey with a real key, in the provider's PEM formats. */
function privateKey(args: MockArgs): MockResult {
    const rsa = args.inputs.algorithm === "RSA";
    const { privateKey, publicKey } = rsa
        ? generateKeyPairSync("rsa", { modulusLength: args.inputs.rsaBits ?? 2048 })
        : generateKeyPairSync("ec", { namedCurve: "P-256" });
    const privateKeyPem = privateKey.export({ type: rsa ? "pkcs1" : "sec1", format: "pem" }).toString();
    return {
        id: createHash("sha1").update(privateKeyPem).digest("hex"),
        state: {
            ...args.inputs, privateKeyPem,
            privateKeyPemPkcs8: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
            publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
        },
    };
}

/** tls.SelfSignedCert, made by openssl from the declared key, subject, names and validity. */
function selfSignedCert(args: MockArgs): MockResult {
    const i = args.inputs;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cert-"));
    try {
        fs.writeFileSync(path.join(dir, "key.pem"), i.privateKeyPem, { mode: 0o600 });
        const san = (i.dnsNames ?? []).map((n: string) => `DNS:${n}`).join(",");
        const days = Math.max(1, Math.ceil((i.validityPeriodHours ?? 24) / 24));
        const certPem = sh("openssl", ["req", "-x509", "-new", "-key", path.join(dir, "key.pem"), "-subj", `/CN=${i.subject?.commonName ?? "localhost"}`,
            "-days", String(days), ...(san ? ["-addext", `subjectAltName=${san}`] : []),
            "-addext", "extendedKeyUsage=serverAuth", "-addext", "keyUsage=digitalSignature,keyEncipherment"]);
        return { id: createHash("sha1").update(certPem).digest("hex"), state: { ...i, certPem: certPem + "\n" } };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
