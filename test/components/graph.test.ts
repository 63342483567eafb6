// MailServer (internet mode, 2 domains, rspamd and Valkey) + DovecotImap under mocks: the resource
// graph, the files each service is given and where it sees them, secrets, and bridge vs host networking.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import { nextJobAttempt } from "../../components/platform/docker/configJob";
import { JUNK_SIEVE } from "../../components/render/dovecot";
import {
    ancestors,
    FAKE_CERT_PEM,
    FAKE_KEY_PEM,
    installMocks,
    isWrappedSecret,
    manifestEntries,
    MOCK_ED25519_PRIVATE_KEY_PEM,
    MOCK_ED25519_SEED,
    MockEnv,
    redactSecrets,
    T,
    text,
    unwrapSecrets,
    uploads,
    value,
} from "./mocks";

const PW = {
    alice: "alice-Plaintext-Pass-01",
    bob: "bob-Plaintext-Pass-0002",
    carol: "carol-Plain-String-Pw-3", // given as a plain string, not a secret: must still end up secret
    dave: "dave-Plaintext-Pass-004",
};
const HOSTNAME = "mail.example.com";
const PUBLISH = "192.0.2.10";

let env: MockEnv;
let c: typeof import("../../components");
let verifyPassword: (password: string, hash: string) => boolean;
let bridge: {
    server: import("../../components").MailServer;
    imap: import("../../components").DovecotImap;
    domains: import("../../components").VirtualDomain[];
};
let host: { server: import("../../components").MailServer; imap: import("../../components").DovecotImap };

before(async () => {
    env = await installMocks();
    c = await import("../../components");
    // unixcrypt's own check: components/model/password.ts verifyPassword throws on "$6$rounds=N$..." hashes.
    const { verify } = await import("unixcrypt");
    verifyPassword = (password, hash) => verify(password, hash);
    const secret = env.pulumi.secret;
    const com = new c.VirtualDomain("g-example.com", {
        domain: "example.com",
        mailboxes: [
            { address: "alice", password: secret(PW.alice), quota: "2G", aliases: ["info"] },
            { address: "bob@example.com", password: secret(PW.bob) },
        ],
        aliases: [{ address: "team", targets: ["alice@example.com", "bob@example.com"] }],
    });
    const org = new c.VirtualDomain("g-example.org", {
        domain: "example.org",
        mailboxes: [{ address: "carol", password: PW.carol }],
    });
    const server = new c.MailServer("mx-bridge", {
        hostname: HOSTNAME,
        domains: [com, org],
        namePrefix: "gb",
        networkMode: "bridge",
        publishAddress: PUBLISH,
    });
    const imap = new c.DovecotImap("imap-bridge", { mailServer: server });
    bridge = { server, imap, domains: [com, org] };

    const net = new c.VirtualDomain("g-example.net", {
        domain: "example.net",
        mailboxes: [{ address: "dave", password: secret(PW.dave) }],
    });
    const hostServer = new c.MailServer("mx-host", {
        hostname: "mx.example.net",
        domains: [net],
        namePrefix: "gh",
        networkMode: "host",
    });
    const hostImap = new c.DovecotImap("imap-host", { mailServer: hostServer });
    host = { server: hostServer, imap: hostImap };

    await Promise.all(
        [server.mainCf, imap.dovecotConf, hostServer.mainCf, hostImap.dovecotConf, server.credentials].map(o =>
            value(o as any),
        ),
    );
    await env.settle();
});

const withPrefix = (prefix: string) => env.records.filter(r => r.name.startsWith(`${prefix}-`));
const container = (name: string) => env.byName(name, T.container);
const component = (type: string, name: string) => env.byName(name, type);

test("resource graph: exactly the expected resources by type and name, each parented to its component", () => {
    const serverUrn = component(T.mailServer, "mx-bridge").urn;
    const imapUrn = component(T.dovecotImap, "imap-bridge").urn;
    const expected = new Map<string, string>([
        [`${T.network} gb-net`, serverUrn],
        // Internet mode: no saslauthd (SMTP AUTH goes through Dovecot's auth service).
        ...[
            "queue",
            "lmtp",
            "postfix-config",
            "rspamd-config",
            "rspamd-data",
            "rspamd-milter",
            "valkey-data",
            "valkey-run",
            // outboundTls.mtaSts (on by default): the policy daemon's cache and socket.
            "mtasts-config",
            "mtasts-cache",
            "mtasts-run",
        ].map(s => [`${T.volume} gb-${s}`, serverUrn] as [string, string]),
        [`${T.privateKey} gb-tls-key`, serverUrn],
        [`${T.selfSignedCert} gb-tls-cert`, serverUrn],
        ...["postfix", "rspamd", "valkey", "mtasts"].map(
            s => [`${T.image} gb-${s}-image`, serverUrn] as [string, string],
        ),
        ...["postfix-config", "rspamd-config", "mtasts-config", "postfix", "rspamd", "valkey", "mtasts"].map(
            s => [`${T.container} gb-${s}`, serverUrn] as [string, string],
        ),
        [`${T.volume} gb-mail`, imapUrn],
        [`${T.volume} gb-dovecot-config`, imapUrn],
        [`${T.volume} gb-authpolicy-run`, imapUrn],
        [`${T.image} gb-dovecot-image`, imapUrn],
        [`${T.image} gb-authpolicy-image`, imapUrn],
        [`${T.container} gb-dovecot-config`, imapUrn],
        [`${T.container} gb-dovecot`, imapUrn],
        [`${T.container} gb-authpolicy`, imapUrn],
    ]);
    const actual = withPrefix("gb");
    assert.deepEqual(actual.map(r => `${r.type} ${r.name}`).sort(), [...expected.keys()].sort());
    assert.equal(new Set(actual.map(r => r.urn)).size, actual.length, "no resource registered twice");
    for (const r of actual) {
        const want = expected.get(`${r.type} ${r.name}`)!;
        assert.equal(r.parent, want, `${r.name}: parent`);
        assert.ok(ancestors(env.records, r).includes(want), `${r.name}: parent chain reaches its component`);
        assert.ok(r.urn.includes(`${want.split("::")[2]}$${r.type}::`), `${r.name}: URN type chain ${r.urn}`);
    }
    // The components themselves: top level, as the user declared them.
    assert.equal(component(T.mailServer, "mx-bridge").parent, "");
    assert.equal(component(T.dovecotImap, "imap-bridge").parent, "");
});

test("images are built from images/<service>/Dockerfile with BASE_IMAGE", () => {
    for (const service of ["postfix", "dovecot", "authpolicy", "rspamd", "valkey"]) {
        const img = env.byName(`gb-${service}-image`, T.image).inputs;
        assert.equal(img.name, `mailserver-${service}:gb`);
        assert.equal(img.build.dockerfile, `${service}/Dockerfile`);
        assert.deepEqual(img.build.buildArgs, { BASE_IMAGE: "debian:trixie-slim" });
        assert.equal(path.basename(img.build.context), "images");
        assert.ok(fs.existsSync(path.join(img.build.context, img.build.dockerfile)), `${service}: Dockerfile exists`);
    }
});

test("volumes, network and certificate", () => {
    for (const v of withPrefix("gb").filter(r => r.type === T.volume)) assert.equal(v.inputs.name, v.name);
    assert.equal(env.byName("gb-queue", T.volume).retainOnDelete, true, "the queue survives pulumi destroy");
    assert.equal(env.byName("gb-mail", T.volume).retainOnDelete, true, "mail survives pulumi destroy");
    // Bayes tokens, greylisting and reputation outlive the containers too; sockets and config do not.
    for (const v of ["rspamd-data", "valkey-data"])
        assert.equal(env.byName(`gb-${v}`, T.volume).retainOnDelete, true, `${v} survives pulumi destroy`);
    for (const v of ["rspamd-config", "rspamd-milter", "valkey-run", "lmtp", "postfix-config"])
        assert.equal(env.byName(`gb-${v}`, T.volume).retainOnDelete, false, `${v} is removed with the stack`);
    assert.deepEqual(env.byName("gb-net", T.network).inputs, { name: "gb-net", driver: "bridge" });
    const cert = env.byName("gb-tls-cert", T.selfSignedCert).inputs;
    assert.ok(cert.dnsNames.includes(HOSTNAME), `dnsNames ${cert.dnsNames}`);
    assert.equal(cert.subject.commonName, HOSTNAME);
    assert.ok(isWrappedSecret(cert.privateKeyPem), "the certificate's key input is secret");
    assert.equal(env.byName("gb-tls-key", T.privateKey).inputs.algorithm, "ECDSA");
});

test("config jobs: run-to-completion apply-config containers writing their config volume", () => {
    for (const service of ["postfix", "dovecot", "rspamd"]) {
        const job = container(`gb-${service}-config`);
        const i = job.inputs;
        assert.equal(i.name, `gb-${service}-config`);
        assert.equal(i.attach, true);
        assert.equal(i.mustRun, false);
        assert.deepEqual(i.command, ["apply-config"]);
        assert.equal(i.networkMode, "none");
        assert.equal(i.image, "sha256:test");
        assert.deepEqual(i.mounts, [{ type: "volume", source: `gb-${service}-config`, target: "/volume" }]);
        assert.ok(i.labels.some((l: any) => l.label === "mailserver.role" && l.value === "config-job"));
        assert.equal(i.wait, undefined);
        // No earlier failure (the mocks have no log of a previous job): no retry attempt in the environment.
        assert.equal(i.envs, undefined);
    }
});

test("config jobs get the services' hardening: CAP_CHOWN only, no-new-privileges", () => {
    // Internet mode (saslauthd runs in relay mode only: test/components/relay.test.ts).
    for (const service of ["postfix", "dovecot", "rspamd"]) {
        const i = container(`gb-${service}-config`).inputs;
        assert.deepEqual(i.capabilities, { drops: ["ALL"], adds: ["CAP_CHOWN"] }, service);
        assert.deepEqual(i.securityOpts, ["no-new-privileges:true"], service);
        // Writable root: the provider uploads at "/", which Docker refuses on a read-only root.
        assert.equal(i.readOnly, undefined, service);
    }
});

test("a failed config job runs again at the next up: the last line of its output decides the attempt", () => {
    assert.equal(
        nextJobAttempt("apply-config[postfix]: generation 0123abcd4567ef89 active (attempt 2)"),
        2,
        "success: no change",
    );
    assert.equal(nextJobAttempt("apply-config[dovecot]: generation 0123abcd4567ef89 already active (attempt 0)"), 0);
    assert.equal(nextJobAttempt("apply-config[postfix]: attempt 2"), 3, "killed or refused after its first line");
    assert.equal(nextJobAttempt(""), 1, "no line: killed before its first");
    assert.equal(
        nextJobAttempt("apply-config[postfix]: generation 0123abcd4567ef89 active"),
        0,
        "a job of before retries",
    );
    assert.equal(nextJobAttempt(undefined), 0, "no previous job");
});

test("service containers: healthchecks, wait, and started after their config jobs", () => {
    const deps = (name: string) => container(name).dependencies;
    const urn = (name: string) => container(name).urn;
    for (const service of ["postfix", "dovecot", "rspamd"]) {
        const i = container(`gb-${service}`).inputs;
        assert.equal(i.name, `gb-${service}`);
        assert.equal(i.wait, true);
        assert.ok(i.waitTimeout > 0);
        assert.equal(i.restart, "unless-stopped");
        assert.equal(i.command, undefined);
        assert.equal(i.image, "sha256:test");
        assert.equal(i.healthcheck.tests[0], "CMD");
        assert.equal(i.healthcheck.tests[1], "/usr/local/lib/mail/healthcheck");
        assert.ok(i.healthcheck.retries > 0 && i.healthcheck.interval && i.healthcheck.startPeriod);
        assert.deepEqual(i.securityOpts, ["no-new-privileges:true"]);
        assert.ok(i.labels.some((l: any) => l.label === "mailserver.role" && l.value === "service"));
        assert.ok(deps(`gb-${service}`).includes(urn(`gb-${service}-config`)), `${service} depends on its config job`);
    }
    // What to probe comes with the configuration (the probe file), so a port change never changes a service container.
    for (const service of ["postfix", "dovecot", "rspamd"]) {
        assert.deepEqual(container(`gb-${service}`).inputs.healthcheck.tests, [
            "CMD",
            "/usr/local/lib/mail/healthcheck",
        ]);
    }
    // Valkey has no config job: its own client pings it over its socket.
    const valkey = container("gb-valkey").inputs;
    assert.equal(valkey.wait, true);
    assert.equal(valkey.restart, "unless-stopped");
    assert.deepEqual(valkey.healthcheck.tests, [
        "CMD",
        "sh",
        "-c",
        "valkey-cli -s /run/valkey/valkey.sock ping | grep -qx PONG",
    ]);
    assert.equal(env.find("gb-valkey-config", T.container), undefined);
    assert.equal(
        text(uploads(container("gb-postfix-config")).get("/staging/probe")),
        "address=127.0.0.1\nport=25\ngreeting=220 \ngoodbye=QUIT\n",
    );
    assert.equal(
        text(uploads(container("gb-dovecot-config")).get("/staging/probe")),
        "address=127.0.0.1\nport=143\ngreeting=* OK\ngoodbye=a LOGOUT\n",
    );
    // The brute-force policy service has no config job either (Dovecot sends its settings); Dovecot
    // starts after it, so no login is ever asked of a policy that is not there yet.
    const policy = container("gb-authpolicy").inputs;
    assert.equal(policy.wait, true);
    assert.deepEqual(policy.healthcheck.tests, [
        "CMD",
        "python3",
        "/usr/local/lib/mail/authpolicy.py",
        "--check",
        "/run/authpolicy/policy.sock",
    ]);
    assert.equal(env.find("gb-authpolicy-config", T.container), undefined);
    assert.ok(deps("gb-dovecot").includes(urn("gb-authpolicy")), "dovecot starts after the policy service");
    assert.equal(env.find("gb-saslauthd", T.container), undefined, "no saslauthd in internet mode");
    // Postfix's milter must answer before Postfix takes mail (milter_default_action = tempfail).
    assert.ok(deps("gb-postfix").includes(urn("gb-rspamd")), "postfix starts after rspamd");
    assert.ok(deps("gb-rspamd").includes(urn("gb-valkey")), "rspamd starts after valkey");
});

const POSTFIX_FILES = [
    "main.cf",
    "master.cf",
    "probe",
    "vmailbox",
    "virtual",
    "aliases",
    "sender_login",
    "sender_relay",
    "relay_recipients",
    "tls/cert.pem",
    "tls/key.pem",
    "sasl_passwd",
];
const DOVECOT_FILES = ["dovecot.conf", "probe", "users", "sieve-global/junk.sieve", "tls/cert.pem", "tls/key.pem"];
const RSPAMD_FILES = [
    "override.d/logging.inc",
    "override.d/options.inc",
    "override.d/worker-proxy.inc",
    "override.d/worker-normal.inc",
    "override.d/worker-controller.inc",
    "local.d/redis.conf",
    "local.d/actions.conf",
    "local.d/greylist.conf",
    "local.d/rbl.conf",
    "local.d/spf.conf",
    "local.d/dkim.conf",
    "local.d/dmarc.conf",
    "local.d/milter_headers.conf",
    "local.d/settings.conf",
    "local.d/rspamd.lua",
    "local.d/ratelimit.conf",
    "local.d/dkim_signing.conf",
    "local.d/arc.conf",
];
/** Each domain's active DKIM keys (VirtualDomain's default selector "mail", RSA and Ed25519). */
const DKIM_KEY_FILES = ["example.com", "example.org"].flatMap(d =>
    ["rsa", "ed25519"].map(a => `dkim/${d}.mail-${a}.key`),
);

test("each config job uploads its files to /staging, and MANIFEST lists exactly what is uploaded", () => {
    // Dovecot gets exactly these; Postfix at least these (its table set may grow).
    const cases: Array<[string, string[], boolean]> = [
        ["postfix", POSTFIX_FILES, false],
        ["dovecot", DOVECOT_FILES, true],
        ["rspamd", [...RSPAMD_FILES, ...DKIM_KEY_FILES], true],
    ];
    for (const [service, files, exact] of cases) {
        const up = uploads(container(`gb-${service}-config`));
        const uploaded = [...up.keys()].sort();
        if (exact)
            assert.deepEqual(
                uploaded,
                ["/staging/MANIFEST", ...files.map(f => `/staging/${f}`)].sort(),
                `${service} uploads`,
            );
        else
            for (const f of ["MANIFEST", ...files])
                assert.ok(up.has(`/staging/${f}`), `${service} uploads /staging/${f}`);
        const manifest = manifestEntries(text(up.get("/staging/MANIFEST")));
        assert.deepEqual(
            [...manifest.keys()].sort(),
            uploaded
                .filter(f => f !== "/staging/MANIFEST")
                .map(f => f.slice("/staging/".length))
                .sort(),
            `${service}: MANIFEST lists every uploaded file, and only those`,
        );
    }
    const postfix = uploads(container("gb-postfix-config"));
    const manifestLines = text(postfix.get("/staging/MANIFEST")).split("\n");
    const tables = manifestLines.filter(l => /^post(map|alias) /.test(l)).map(l => l.split(" ")[1]);
    for (const t of ["vmailbox", "virtual", "sender_login", "sasl_passwd"])
        assert.ok(manifestLines.includes(`postmap ${t}`), `postmap ${t}`);
    assert.ok(manifestLines.includes("postalias aliases"));
    for (const t of tables) assert.ok(postfix.has(`/staging/${t}`), `table ${t} is uploaded`);
    // Every lookup table main.cf names is one the job uploads and compiles.
    const mainCf = text(postfix.get("/staging/main.cf"));
    for (const [, t] of mainCf.matchAll(/lmdb:\/config\/current\/([\w./-]+)/g))
        assert.ok(tables.includes(t), `main.cf uses ${t}, which is compiled`);
});

test("MANIFEST modes: users 0640 (group dovecot), sasl_passwd and key.pem 0600, DKIM keys 0640 (group _rspamd)", () => {
    const m = (service: string) =>
        manifestEntries(text(uploads(container(`gb-${service}-config`)).get("/staging/MANIFEST")));
    const postfix = m("postfix"),
        dovecot = m("dovecot");
    assert.deepEqual(dovecot.get("users"), { mode: "0640", owner: "root", group: "dovecot" });
    assert.deepEqual(postfix.get("sasl_passwd"), { mode: "0600", owner: "root", group: "root" });
    assert.deepEqual(postfix.get("tls/key.pem"), { mode: "0600", owner: "root", group: "root" });
    assert.deepEqual(dovecot.get("tls/key.pem"), { mode: "0600", owner: "root", group: "root" });
    assert.equal(postfix.get("tls/cert.pem")!.mode, "0644");
    assert.equal(postfix.get("main.cf")!.mode, "0644");
    const rspamd = m("rspamd");
    // rspamd's workers (group _rspamd) read the keys; nobody else does.
    for (const f of DKIM_KEY_FILES)
        assert.deepEqual(rspamd.get(f), { mode: "0640", owner: "root", group: "_rspamd" }, f);
    for (const f of RSPAMD_FILES) assert.deepEqual(rspamd.get(f), { mode: "0644", owner: "root", group: "root" }, f);
    assert.deepEqual(dovecot.get("sieve-global/junk.sieve"), { mode: "0644", owner: "root", group: "root" });
});

test("file contents: what is uploaded is what the components render and the services reference", async () => {
    const pf = uploads(container("gb-postfix-config"));
    const dc = uploads(container("gb-dovecot-config"));
    const mainCf = text(pf.get("/staging/main.cf"));
    assert.equal(mainCf, await value(bridge.server.mainCf));
    assert.equal(text(dc.get("/staging/dovecot.conf")), await value(bridge.imap.dovecotConf));
    for (const files of [pf, dc]) {
        assert.equal(text(files.get("/staging/tls/cert.pem")), FAKE_CERT_PEM);
        assert.equal(text(files.get("/staging/tls/key.pem")), FAKE_KEY_PEM);
    }
    // The config volume appears at /config in the services, the active generation at /config/current.
    assert.match(
        mainCf,
        /^smtpd_tls_chain_files = \/config\/current\/tls\/key\.pem, \/config\/current\/tls\/cert\.pem$/m,
    );
    // SMTP AUTH: Dovecot's auth service, on the socket Dovecot's listener makes in the volume they share.
    assert.match(mainCf, /^smtpd_sasl_type = dovecot$/m);
    assert.match(mainCf, /^smtpd_sasl_path = \/run\/lmtp\/auth$/m);
    assert.match(mainCf, /^virtual_transport = lmtp:unix:\/run\/lmtp\/lmtp$/m);
    assert.match(mainCf, /^virtual_mailbox_domains = example\.com, example\.org$/m);
    assert.match(mainCf, /^myhostname = mail\.example\.com$/m);
    const dovecotConf = text(dc.get("/staging/dovecot.conf"));
    assert.match(dovecotConf, /unix_listener \/run\/lmtp\/lmtp \{/);
    assert.match(dovecotConf, /^service auth \{\n {2}unix_listener \/run\/lmtp\/auth \{$/m);
    // The brute-force policy service, reached as an HTTP proxy on its socket (its volume is mounted by both).
    assert.match(dovecotConf, /^ {2}http_client_proxy_socket_path = \/run\/authpolicy\/policy\.sock$/m);
    // Bridge mode: the Docker gateway is never banned by address.
    assert.match(dovecotConf, /^ {4}exempt = 127\.0\.0\.0\/8 ::1\/128 gateway$/m);
    assert.match(dovecotConf, /passwd_file_path = \/config\/current\/users/);
    assert.match(dovecotConf, /ssl_server_key_file = \/config\/current\/tls\/key\.pem/);
    assert.match(dovecotConf, /home = \/var\/mail\/vhosts\//);

    // rspamd: its config job uploads exactly the files MailServer registers as rspamdFiles; Postfix
    // reaches it on the socket in the volume they share; Dovecot files rspamd's spam into Junk.
    const rs = uploads(container("gb-rspamd-config"));
    const rspamdFiles = component(T.mailServer, "mx-bridge").inputs.rspamdFiles;
    assert.deepEqual(Object.keys(rspamdFiles).sort(), [...RSPAMD_FILES].sort());
    for (const [file, content] of Object.entries(rspamdFiles))
        assert.equal(text(rs.get(`/staging/${file}`)), content, `rspamd ${file} as registered`);
    assert.match(mainCf, /^smtpd_milters = unix:\/run\/rspamd-milter\/milter\.sock$/m);
    assert.match(mainCf, /^non_smtpd_milters = \$smtpd_milters$/m);
    assert.match(mainCf, /^milter_default_action = tempfail$/m);
    assert.match(
        text(rs.get("/staging/override.d/worker-proxy.inc")),
        /^bind_socket = "\/run\/rspamd-milter\/milter\.sock /m,
    );
    assert.match(text(rs.get("/staging/local.d/redis.conf")), /^servers = "\/run\/valkey\/valkey\.sock";$/m);
    assert.match(text(pf.get("/staging/master.cf")), /^ {2}-o milter_macro_daemon_name=sieve$/m);
    // Every key the sign condition names is uploaded, and only those are.
    const signing = text(rs.get("/staging/local.d/dkim_signing.conf"));
    const named = [...signing.matchAll(/key = "\/config\/current\/([^"]+)"/g)].map(m => m[1]).sort();
    assert.deepEqual(named, [...DKIM_KEY_FILES].sort());
    // RSA keys as PEM; Ed25519 keys as the base64 of their 32-byte seed (what rspamd 3.12 reads).
    for (const d of ["example.com", "example.org"]) {
        assert.equal(text(rs.get(`/staging/dkim/${d}.mail-rsa.key`)), FAKE_KEY_PEM);
        assert.equal(text(rs.get(`/staging/dkim/${d}.mail-ed25519.key`)), `${MOCK_ED25519_SEED.toString("base64")}\n`);
    }
    assert.match(
        dovecotConf,
        /^sieve_script junk \{\n {2}type = before\n {2}driver = file\n {2}path = \/config\/current\/sieve-global\/junk\.sieve$/m,
    );
    assert.equal(text(dc.get("/staging/sieve-global/junk.sieve")), JUNK_SIEVE);

    const vmailbox = text(pf.get("/staging/vmailbox"));
    for (const a of ["alice@example.com", "bob@example.com", "carol@example.org"])
        assert.match(vmailbox, new RegExp(`^${a.replace(/\./g, "\\.")}\tOK$`, "m"));
    const virtual = text(pf.get("/staging/virtual"));
    assert.match(virtual, /^info@example\.com\talice@example\.com$/m);
    assert.match(virtual, /^team@example\.com\talice@example\.com, bob@example\.com$/m);

    // Hashes, one per mailbox, that verify against the passwords (checked here, never deployed).
    const byAddress = { "alice@example.com": PW.alice, "bob@example.com": PW.bob, "carol@example.org": PW.carol };
    const users = text(dc.get("/staging/users")).trim().split("\n");
    assert.equal(users.length, 3);
    for (const line of users) {
        const m = /^([^:]+):\{SHA512-CRYPT\}(\$6\$[^:]+)::::::(.*)$/.exec(line);
        assert.ok(m, `dovecot users line: ${line}`);
        assert.ok(verifyPassword((byAddress as any)[m[1]], m[2]), `${m[1]}: hash verifies`);
        assert.equal(m[3], m[1] === "alice@example.com" ? "userdb_quota_storage_size=2G" : "");
    }
});

test("mounts: each service sees its volumes at the expected paths", () => {
    const mounts = (name: string) =>
        [...container(name).inputs.mounts]
            .map((m: any) => `${m.source} -> ${m.target}${m.readOnly ? " (ro)" : ""} [${m.type}]`)
            .sort();
    assert.deepEqual(mounts("gb-postfix"), [
        "gb-lmtp -> /run/lmtp [volume]",
        "gb-mtasts-run -> /run/mta-sts [volume]",
        "gb-postfix-config -> /config (ro) [volume]",
        "gb-queue -> /var/spool/postfix [volume]",
        "gb-rspamd-milter -> /run/rspamd-milter [volume]",
    ]);
    // The policy service's socket is shared by it and Dovecot only.
    assert.deepEqual(mounts("gb-authpolicy"), ["gb-authpolicy-run -> /run/authpolicy [volume]"]);
    assert.deepEqual(mounts("gb-dovecot"), [
        "gb-authpolicy-run -> /run/authpolicy [volume]",
        "gb-dovecot-config -> /config (ro) [volume]",
        "gb-lmtp -> /run/lmtp [volume]",
        "gb-mail -> /var/mail/vhosts [volume]",
    ]);
    // The milter socket is shared by rspamd and Postfix only, Valkey's socket by Valkey and rspamd only.
    assert.deepEqual(mounts("gb-rspamd"), [
        "gb-rspamd-config -> /config (ro) [volume]",
        "gb-rspamd-data -> /var/lib/rspamd [volume]",
        "gb-rspamd-milter -> /run/rspamd-milter [volume]",
        "gb-valkey-run -> /run/valkey [volume]",
    ]);
    assert.deepEqual(mounts("gb-valkey"), [
        "gb-valkey-data -> /var/lib/valkey [volume]",
        "gb-valkey-run -> /run/valkey [volume]",
    ]);
    assert.deepEqual(mounts("gb-rspamd-config"), ["gb-rspamd-config -> /volume [volume]"]);
});

test("secrets: key, hashes and relay passwords are secret where they are uploaded", async () => {
    const pf = uploads(container("gb-postfix-config"));
    const dc = uploads(container("gb-dovecot-config"));
    for (const [what, content] of [
        ["postfix tls/key.pem", pf.get("/staging/tls/key.pem")],
        ["postfix sasl_passwd", pf.get("/staging/sasl_passwd")],
        ["dovecot tls/key.pem", dc.get("/staging/tls/key.pem")],
        ["dovecot users", dc.get("/staging/users")],
        ...DKIM_KEY_FILES.map(f => [`rspamd ${f}`, uploads(container("gb-rspamd-config")).get(`/staging/${f}`)]),
    ] as const)
        assert.ok(isWrappedSecret(content), `${what} is a secret input`);
    // Reviewable, non-sensitive files stay in clear (pulumi preview --diff shows them).
    for (const f of ["main.cf", "master.cf", "vmailbox", "MANIFEST"])
        assert.ok(!isWrappedSecret(pf.get(`/staging/${f}`)), `${f} is not secret`);
    const rs = uploads(container("gb-rspamd-config"));
    for (const f of [...RSPAMD_FILES, "MANIFEST"])
        assert.ok(!isWrappedSecret(rs.get(`/staging/${f}`)), `rspamd ${f} is not secret`);

    for (const d of bridge.domains)
        assert.equal(await env.pulumi.isSecret(d.credentials), true, "VirtualDomain.credentials is secret");
    assert.equal(await env.pulumi.isSecret(bridge.server.credentials), true, "MailServer.credentials is secret");
    assert.equal(await env.pulumi.isSecret(host.server.credentials), true);
    // The public outputs are not secret: they are meant to be reviewed.
    assert.equal(await env.pulumi.isSecret(bridge.server.mainCf), false);
    assert.equal(await env.pulumi.isSecret(bridge.domains[0].dnsRecords), false);
    assert.equal(await env.pulumi.isSecret(bridge.domains[0].dnsZone), false);
    assert.equal(await env.pulumi.isSecret(bridge.domains[0].dkimSigningKeys), true, "dkimSigningKeys is secret");
    assert.deepEqual(
        (await value(bridge.domains[0].dkimSigningKeys)).map((k: any) => [k.selector, k.algorithm]),
        bridge.domains[0].spec.dkimSelectors.map(s => [s.selector, s.algorithm]),
    );
});

test("secrets: no plaintext password anywhere, no key in clear, nothing sensitive in labels or env", () => {
    assert.ok(env.records.length > 30);
    for (const r of env.records) {
        const all = JSON.stringify(unwrapSecrets(r.inputs)) + JSON.stringify(unwrapSecrets(r.wire));
        for (const [who, pw] of Object.entries(PW))
            assert.ok(!all.includes(pw), `${r.type} ${r.name} holds ${who}'s plaintext password`);
        const clear = JSON.stringify(redactSecrets(r.wire));
        assert.ok(
            !clear.includes("FAKE-PRIVATE-KEY-MATERIAL"),
            `${r.type} ${r.name} holds the TLS key or an RSA DKIM key outside a secret`,
        );
        for (const form of [MOCK_ED25519_SEED.toString("base64"), MOCK_ED25519_PRIVATE_KEY_PEM.split("\n")[1]])
            assert.ok(!clear.includes(form), `${r.type} ${r.name} holds an Ed25519 DKIM key outside a secret`);
        assert.ok(!clear.includes("$6$"), `${r.type} ${r.name} holds a password hash outside a secret`);
    }
    for (const r of env.records.filter(x => x.type === T.container)) {
        const i = unwrapSecrets(r.inputs);
        assert.equal(i.envs, undefined, `${r.name} has no environment`);
        const labels = Object.fromEntries(i.labels.map((l: any) => [l.label, l.value]));
        assert.deepEqual(Object.keys(labels).sort(), ["mailserver.role", "mailserver.stack"], `${r.name} labels`);
        assert.ok(!JSON.stringify(labels).includes("$6$"));
    }
});

test("bridge networking: own network, ports published on publishAddress with internal == external", () => {
    const pf = container("gb-postfix").inputs,
        dv = container("gb-dovecot").inputs,
        ap = container("gb-authpolicy").inputs,
        rs = container("gb-rspamd").inputs,
        vk = container("gb-valkey").inputs;
    // rspamd asks DNS (SPF, DKIM, DMARC) from the stack's network; it publishes nothing.
    for (const i of [pf, dv, rs]) {
        assert.equal(i.networkMode, undefined);
        assert.deepEqual(i.networksAdvanced, [{ name: "gb-net" }]);
    }
    assert.deepEqual(
        pf.ports,
        [25, 587, 465].map(p => ({ internal: p, external: p, ip: PUBLISH })),
    );
    assert.deepEqual(
        dv.ports,
        [143, 993, 4190].map(p => ({ internal: p, external: p, ip: PUBLISH })),
    );
    assert.equal(ap.networkMode, "none", "the policy service needs no network: Dovecot reaches it through its socket");
    assert.equal(ap.ports, undefined);
    assert.equal(ap.networksAdvanced, undefined);
    assert.deepEqual(rs.ports, [], "rspamd publishes nothing: Postfix reaches it through its socket");
    assert.equal(vk.networkMode, "none", "Valkey needs no network: rspamd reaches it through its socket");
    assert.equal(vk.ports, undefined);
    assert.equal(vk.networksAdvanced, undefined);
});

test("host networking: no Network, daemons on the host network, nothing published", async () => {
    assert.deepEqual(
        withPrefix("gh").filter(r => r.type === T.network),
        [],
    );
    assert.equal(env.records.filter(r => r.type === T.network).length, 1, "only the bridge deployment has a network");
    for (const name of ["gh-postfix", "gh-dovecot", "gh-rspamd"]) {
        const i = container(name).inputs;
        assert.equal(i.networkMode, "host", `${name} networkMode`);
        assert.equal(i.ports, undefined, `${name} ports`);
        assert.equal(i.networksAdvanced, undefined, `${name} networksAdvanced`);
    }
    assert.equal(container("gh-authpolicy").inputs.networkMode, "none");
    assert.equal(container("gh-valkey").inputs.networkMode, "none");
    // Postfix's job checks inet_interfaces against the host's addresses (::1, the host's own), so it
    // shares the host network; the others need no network.
    assert.equal(container("gh-postfix-config").inputs.networkMode, "host");
    for (const s of ["dovecot", "rspamd"]) assert.equal(container(`gh-${s}-config`).inputs.networkMode, "none");
    assert.equal(await value(host.server.networkName), undefined);
    assert.equal(await value(bridge.server.networkName), "gb-net");
    // Same services and volumes otherwise.
    assert.deepEqual(
        withPrefix("gh")
            .map(r => `${r.type} ${r.name.slice(3)}`)
            .sort(),
        withPrefix("gb")
            .filter(r => r.type !== T.network)
            .map(r => `${r.type} ${r.name.slice(3)}`)
            .sort(),
    );
});

test("component outputs", async () => {
    assert.equal(await value(bridge.server.postfixContainerName), "gb-postfix");
    assert.equal(await value(bridge.server.saslauthdContainerName), undefined, "saslauthd: relay mode only");
    assert.equal(await value(bridge.server.queueVolumeName), "gb-queue");
    assert.equal(await value(bridge.server.lmtpVolumeName), "gb-lmtp");
    assert.equal(await value(bridge.imap.containerName), "gb-dovecot");
    assert.equal(await value(bridge.imap.mailVolumeName), "gb-mail");
    assert.equal(await value(bridge.server.certificatePem), FAKE_CERT_PEM);
    assert.deepEqual(await value(bridge.domains[0].mailboxAddresses), ["alice@example.com", "bob@example.com"]);
    const records = await value(bridge.domains[1].dnsRecords);
    assert.deepEqual(records.slice(0, 2), [
        {
            name: "example.org",
            type: "MX",
            value: "mail.example.org.",
            priority: 10,
            purpose: "where mail for the domain is delivered",
        },
        {
            name: "example.org",
            type: "TXT",
            value: "v=spf1 mx -all",
            purpose: "SPF: which hosts may send mail as the domain",
        },
    ]);
    assert.match(await value(bridge.domains[1].dnsZone), /^example\.org\. 3600 IN MX 10 mail\.example\.org\.$/m);
    assert.match(await value(bridge.domains[1].mtaStsPolicy), /^mode: testing$/m);
});

test("least privilege: every service container drops all capabilities but its own, read-only root, no new privileges, nothing privileged", () => {
    const expectedCaps: Record<string, string[]> = {
        postfix: [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETGID",
            "CAP_SETUID",
        ],
        dovecot: [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETGID",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ],
        authpolicy: [],
        rspamd: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"],
        valkey: [],
    };
    for (const prefix of ["gb", "gh"]) {
        for (const [service, caps] of Object.entries(expectedCaps)) {
            const i = container(`${prefix}-${service}`).inputs;
            assert.notEqual(i.privileged, true, `${prefix}-${service} privileged`);
            assert.deepEqual(i.capabilities?.drops, ["ALL"], `${prefix}-${service} drops`);
            // Exactly as Docker reports them (prefix and order), so a refresh reads no change.
            assert.deepEqual(i.capabilities?.adds ?? [], caps, `${prefix}-${service} adds`);
            assert.equal(i.readOnly, true, `${prefix}-${service} read-only root`);
            assert.ok(i.securityOpts?.includes("no-new-privileges:true"), `${prefix}-${service} no-new-privileges`);
            assert.ok(Object.keys(i.tmpfs ?? {}).length > 0, `${prefix}-${service} has tmpfs for runtime state`);
        }
    }
    // Only the service ports are published: 25/587/465 on Postfix, 143/993/4190 on Dovecot, none
    // for rspamd (its sockets only), the policy service and Valkey (no network at all) and none in host mode.
    const published = (name: string) =>
        (container(name).inputs.ports ?? []).map((p: any) => p.external).sort((a: number, b: number) => a - b);
    assert.deepEqual(published("gb-postfix"), [25, 465, 587]);
    assert.deepEqual(published("gb-dovecot"), [143, 993, 4190]);
    assert.deepEqual(published("gb-authpolicy"), []);
    assert.deepEqual(published("gb-rspamd"), []);
    assert.deepEqual(published("gb-valkey"), []);
    assert.equal(container("gb-authpolicy").inputs.networkMode, "none");
    for (const s of ["postfix", "dovecot", "authpolicy", "rspamd", "valkey"])
        assert.deepEqual(published(`gh-${s}`), []);
});
