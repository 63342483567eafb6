// Shared by the component tests (not a test file itself): installs pulumi.runtime.setMocks,
// records every resource registration together with its parent and options, and offers helpers
// to read Outputs, unwrap secrets and wait until every registration has settled.
import * as pulumi from "@pulumi/pulumi";

export { MOCK_ED25519_PRIVATE_KEY_PEM, MOCK_ED25519_SEED, MOCK_PUBLIC_KEY_PEM, mockKeyState } from "./mock-keys";
import { MOCK_CERT_PEM, MOCK_ED25519_PRIVATE_KEY_PEM, MOCK_PUBLIC_KEY_PEM } from "./mock-keys";
export { isWrappedSecret, redactSecrets, SECRET_SIG, SECRET_VALUE, unwrapSecrets } from "./secrets";
import { bundledFiles, isWrappedSecret, unwrapSecrets } from "./secrets";

export const FAKE_KEY_PEM =
    "-----BEGIN EC PRIVATE KEY-----\nFAKE-PRIVATE-KEY-MATERIAL-7d1c\n-----END EC PRIVATE KEY-----\n";
export const FAKE_CERT_PEM = MOCK_CERT_PEM;

export interface Recorded {
    type: string;
    name: string;
    /**
     * As the mocks received them: secrets wrapped, but the mock monitor's deserialization hoists
     * secretness to the top-level property (an array holding one secret element arrives wholly
     * wrapped).
     */
    inputs: any;
    /** The inputs as serialized for the engine and provider: each secret wrapped exactly where it is. */
    wire: any;
    custom: boolean;
    urn: string;
    /** Parent URN, "" for none. */
    parent: string;
    /** URNs this resource depends on (dependsOn and input dependencies). */
    dependencies: string[];
    retainOnDelete: boolean;
}

export interface MockEnv {
    pulumi: typeof pulumi;
    records: Recorded[];
    /** Waits until no registration is in flight and nothing new arrived for a few ticks. */
    settle(): Promise<void>;
    byName(name: string, type?: string): Recorded;
    find(name: string, type?: string): Recorded | undefined;
}

function urnOf(parent: string, type: string, name: string, stack: string): string {
    let t = type;
    if (parent) t = parent.split("::")[2].split("$").pop() + "$" + type;
    return `urn:pulumi:${stack}::mailserver::${t}::${name}`;
}

export async function installMocks(stack = "test"): Promise<MockEnv> {
    const records: Recorded[] = [];
    const pending = new Set<Promise<unknown>>();
    const meta = new Map<string, { parent: string; dependencies: string[]; retainOnDelete: boolean; wire: any }>();
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
                const m = meta.get(`${args.type}::${args.name}`) ?? {
                    parent: "",
                    dependencies: [],
                    retainOnDelete: false,
                    wire: undefined,
                };
                records.push({
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs,
                    custom: !!args.custom,
                    urn: urnOf(m.parent, args.type, args.name, stack),
                    ...m,
                });
                const state: Record<string, unknown> = { ...args.inputs };
                switch (args.type) {
                    case "tls:index/privateKey:PrivateKey":
                        // Ed25519 DKIM keys must parse (rspamd's key file holds the seed); others need not.
                        state.privateKeyPem =
                            args.inputs.algorithm === "ED25519" ? MOCK_ED25519_PRIVATE_KEY_PEM : FAKE_KEY_PEM;
                        state.privateKeyPemPkcs8 = state.privateKeyPem;
                        state.publicKeyPem = MOCK_PUBLIC_KEY_PEM[String(args.inputs.algorithm)];
                        break;
                    case "tls:index/selfSignedCert:SelfSignedCert":
                    case "tls:index/locallySignedCert:LocallySignedCert":
                        state.certPem = FAKE_CERT_PEM;
                        break;
                    case "docker:index/remoteImage:RemoteImage":
                        state.imageId = "sha256:test";
                        break;
                    case "docker:index/container:Container":
                        state.exitCode = 0;
                        break;
                }
                return { id: args.custom ? `${args.name}-id` : (undefined as any), state };
            },
            call: () => ({}),
        },
        "mailserver",
        stack,
        false,
    );

    // The mocks are not told a resource's parent or options; the monitor's request is.
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, resp: any) => void) => {
        meta.set(`${req.getType()}::${req.getName()}`, {
            parent: req.getParent() ?? "",
            dependencies: req.getDependenciesList() ?? [],
            retainOnDelete: !!req.getRetainondelete?.(),
            wire: req.getObject()?.toJavaScript() ?? {},
        });
        const done = new Promise<void>(resolve =>
            register(req, (err: any, resp: any) => {
                resolve();
                callback(err, resp);
            }),
        );
        pending.add(done);
        done.finally(() => pending.delete(done));
    };

    const find = (name: string, type?: string) =>
        records.find(r => r.name === name && (type === undefined || r.type === type));
    return {
        pulumi,
        records,
        async settle() {
            let stable = 0,
                last = -1;
            while (stable < 4) {
                await new Promise(r => setTimeout(r, 25));
                if (pending.size > 0) {
                    await Promise.all([...pending]);
                    stable = 0;
                    continue;
                }
                if (records.length === last) stable++;
                else {
                    stable = 0;
                    last = records.length;
                }
            }
        },
        find,
        byName(name: string, type?: string) {
            const r = find(name, type);
            if (!r)
                throw new Error(
                    `no resource ${type ?? ""} ${name} was registered; have: ${records.map(x => x.name).join(", ")}`,
                );
            return r;
        },
    };
}

export const T = {
    image: "docker:index/remoteImage:RemoteImage",
    container: "docker:index/container:Container",
    volume: "docker:index/volume:Volume",
    network: "docker:index/network:Network",
    privateKey: "tls:index/privateKey:PrivateKey",
    selfSignedCert: "tls:index/selfSignedCert:SelfSignedCert",
    mailServer: "mailserver:index:MailServer",
    dovecotImap: "mailserver:index:DovecotImap",
    virtualDomain: "mailserver:index:VirtualDomain",
    relayhost: "mailserver:index:Relayhost",
} as const;

export function value<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise(resolve =>
        output.apply(v => {
            resolve(v);
            return v;
        }),
    );
}

export interface Upload {
    file: string;
    content: any;
}

/** A config job's uploads, by target path; contents as serialized (each secret wrapped in place). */
export function uploads(r: Recorded): Map<string, any> {
    assertPlain(r.wire.uploads, `${r.name}.uploads`);
    const list = r.wire.uploads as Upload[];
    // The wire form must say the same as what the mocks received, once secrets are unwrapped.
    if (JSON.stringify(unwrapSecrets(list)) !== JSON.stringify(unwrapSecrets(r.inputs.uploads))) {
        throw new Error(`${r.name}: serialized uploads differ from the mocks' inputs`);
    }
    for (const u of list) {
        if (!/\/\.bundle-(public|outputs)$/.test(u.file))
            throw new Error(`${r.name}: an upload not a bundle: ${u.file}`);
        text(u.content); // known, and a string: every file is there to read
    }
    return bundledFiles(list);
}

export function text(content: any): string {
    const v = unwrapSecrets(content);
    if (typeof v !== "string") throw new Error(`expected a string content, got ${JSON.stringify(v)}`);
    return v;
}

function assertPlain(v: unknown, what: string) {
    if (isWrappedSecret(v)) throw new Error(`${what} is secret as a whole; expected per-file secrets`);
}

/** Lines "file MODE OWNER GROUP PATH" of a MANIFEST, by path. */
export function manifestEntries(manifest: string): Map<string, { mode: string; owner: string; group: string }> {
    const m = new Map<string, { mode: string; owner: string; group: string }>();
    for (const line of manifest.split("\n")) {
        const [kind, mode, owner, group, path] = line.split(" ");
        if (kind === "file") m.set(path, { mode, owner, group });
    }
    return m;
}

/** Every URN up the parent chain, nearest first. */
export function ancestors(records: Recorded[], r: Recorded): string[] {
    const byUrn = new Map(records.map(x => [x.urn, x]));
    const chain: string[] = [];
    let parent = r.parent;
    while (parent && chain.length < 20) {
        chain.push(parent);
        parent = byUrn.get(parent)?.parent ?? "";
    }
    return chain;
}
