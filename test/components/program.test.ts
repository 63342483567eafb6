// The example program (index.ts) with each stack file under stacks/: it runs without error given
// the passwords (as secret config) and, for prod, a certificate and key generated here; the stack
// settings reach the resources; a bad stack config fails with a message naming the problem.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    authRequiresTls,
    dkimAndDmarc,
    dmarcReportAddress,
    noOpenRelay,
    noPlaintextSecrets,
    policies,
    secretUploads,
    smtpReverseDns,
    tlsMinimumVersion,
} from "../../policy/rules";
import { CONTAINER_TYPE } from "../../policy/resources";
import { subjectOf } from "../../policy/subjects";
import { tooWide } from "../../policy/parse";
import { parseNetwork } from "../../components/model/net";
import { decode, resourceArgs, StackEntry, UNKNOWN, validate, validateStack } from "./policy";
import { bundledFiles, isWrappedSecret, redactSecrets, unwrapSecrets } from "./secrets";
// Every secret key of the stack config (their declarations' secret flags).
import { SECRET_KEYS } from "../../stack/config";

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
// js-yaml comes with @pulumi/pulumi; it has no type declarations here.
const yaml = require("js-yaml") as { load(text: string): unknown };

const PLAIN_CA_KEY = "-----BEGIN PRIVATE KEY-----\nPLAIN-CA-KEY-in-the-stack-file\n-----END PRIVATE KEY-----\n";
const PLAIN_TOKEN = "plain-cloudflare-token-4711";
let DEV_PASSWORDS: Record<string, string>;
let PROD_PASSWORDS: Record<string, string>;
let PROD_RELAY_PASSWORDS: Record<string, string>;
let ALL_PASSWORDS: string[];

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
    result?: any;
}
/** A registration as captured by program-capture.ts: inputs as serialized, secrets wrapped in place. */
interface Res {
    type: string;
    name: string;
    parent: string;
    wire: any;
    urn?: string;
    dependencies?: string[];
}

let tmp: string;
let certPem: string;
let keyPem: string;
const runs: Record<string, Promise<Run>> = {};

function stackFile(stack: string): string {
    return fs.readFileSync(path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8");
}

/** The `config:` map of a stack file, as `pulumi config` holds it. */
function stackConfig(stack: string): Record<string, unknown> {
    const doc = yaml.load(stackFile(stack)) as { config: Record<string, unknown> };
    assert.equal(typeof doc.config, "object", `stacks/Pulumi.${stack}.yaml has a config map`);
    return doc.config;
}

function run(script: string, request: object, label: string, captureFile?: string): Promise<Run> {
    const file = path.join(tmp, `${label}.json`);
    fs.writeFileSync(file, JSON.stringify(request), { mode: 0o600 });
    const env = { ...process.env, MAILSERVER_TEST_CAPTURE: captureFile ?? "" };
    return new Promise((resolve, reject) => {
        const child = spawn(TSX, [script, file], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
        let stdout = "",
            stderr = "";
        child.stdout.on("data", d => {
            stdout += d;
        });
        child.stderr.on("data", d => {
            stderr += d;
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
        child.on("error", reject);
        child.on("close", code => {
            clearTimeout(timer);
            let result: any;
            const last = stdout.trim().split("\n").pop();
            if (code === 0 && last) result = JSON.parse(last);
            if (result && captureFile) {
                result.resources = JSON.parse(fs.readFileSync(captureFile, "utf8"));
                result.states = JSON.parse(fs.readFileSync(`${captureFile}.state.json`, "utf8"));
            }
            resolve({ code, stdout, stderr, result });
        });
    });
}

const DEPLOY = path.join(ROOT, "test", "components", "run-program.ts");
/**
 * run-program.ts with the example program; with `capture`, behind a recorder of every registration;
 * with `preview`, as the preview of a new stack (every computed output unknown).
 */
function deploy(
    stack: string,
    config: Record<string, unknown>,
    label: string,
    capture = false,
    preview = false,
): Promise<Run> {
    const request = {
        stack,
        config,
        secretKeys: SECRET_KEYS,
        program: capture ? path.join(__dirname, "program-under-test.ts") : undefined,
        preview,
    };
    return run(DEPLOY, request, label, capture ? path.join(tmp, `${label}-resources.json`) : undefined);
}

/** One distinct password per mailbox the stack file declares: address -> password. */
function mailboxPasswords(stack: string): Record<string, string> {
    const domains = (stackConfig(stack)["mailserver:domains"] ?? []) as Array<{
        domain: string;
        mailboxes?: Array<{ address: string }>;
    }>;
    return Object.fromEntries(
        domains.flatMap(d =>
            (d.mailboxes ?? []).map(m => {
                const address = m.address.includes("@") ? m.address : `${m.address}@${d.domain}`;
                return [address, `${stack}-Plaintext-${address}-pw`];
            }),
        ),
    );
}

function devConfig(): Record<string, unknown> {
    return { ...stackConfig("dev"), "mailserver:passwords": DEV_PASSWORDS };
}
function prodConfig(): Record<string, unknown> {
    return {
        ...stackConfig("prod"),
        "mailserver:passwords": PROD_PASSWORDS,
        "mailserver:relayPasswords": PROD_RELAY_PASSWORDS,
        "mailserver:tlsCertPem": certPem,
        "mailserver:tlsKeyPem": keyPem,
    };
}

before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mail-program-"));
    execFileSync(
        "openssl",
        [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            path.join(tmp, "key.pem"),
            "-out",
            path.join(tmp, "cert.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=mail.example.com",
            "-addext",
            "subjectAltName=DNS:mail.example.com",
        ],
        { stdio: "pipe" },
    );
    certPem = fs.readFileSync(path.join(tmp, "cert.pem"), "utf8");
    keyPem = fs.readFileSync(path.join(tmp, "key.pem"), "utf8");
    DEV_PASSWORDS = mailboxPasswords("dev");
    PROD_PASSWORDS = mailboxPasswords("prod");
    const relays = (stackConfig("prod")["mailserver:relayhosts"] ?? []) as Array<{ host: string; username?: string }>;
    PROD_RELAY_PASSWORDS = Object.fromEntries(
        relays.filter(r => r.username).map(r => [r.host, `relay-Plaintext-${r.host}-pw`]),
    );
    ALL_PASSWORDS = [
        ...Object.values(DEV_PASSWORDS),
        ...Object.values(PROD_PASSWORDS),
        ...Object.values(PROD_RELAY_PASSWORDS),
    ];
    assert.ok(
        Object.keys(DEV_PASSWORDS).length >= 2 &&
            Object.keys(PROD_PASSWORDS).length >= 1 &&
            Object.keys(PROD_RELAY_PASSWORDS).length >= 1,
    );
    // All the programs run at once; each test awaits its own.
    runs.dev = deploy("dev", devConfig(), "dev", true);
    runs.prod = deploy("prod", prodConfig(), "prod", true);
    runs.openRelay = deploy("dev", { ...devConfig(), "mailserver:mynetworks": ["0.0.0.0/0"] }, "open-relay");
    runs.devPreview = deploy("dev", devConfig(), "dev-preview", true, true);
    runs.prodPreview = deploy("prod", prodConfig(), "prod-preview", true, true);
    // Stacks the policies must judge wrong (the components accept them).
    // No signing at all: the spam filter (which signs) off, and so DKIM off (published keys without a
    // signer are refused by the component).
    runs.noFilter = deploy(
        "dev",
        {
            ...devConfig(),
            "mailserver:spamFilter": { enabled: false },
            "mailserver:domains": (stackConfig("dev")["mailserver:domains"] as any[]).map(d => ({ ...d, dkim: false })),
        },
        "no-filter",
        true,
    );
    runs.quarantine = deploy(
        "dev",
        {
            ...devConfig(),
            "mailserver:domains": (stackConfig("dev")["mailserver:domains"] as any[]).map(d => ({
                ...d,
                dmarcPolicy: "quarantine",
            })),
        },
        "quarantine",
        true,
    );
    // A /8 is refused by the component with the reason the policy pack gives (one check, trustRisk).
    runs.widePreview = deploy(
        "dev",
        { ...devConfig(), "mailserver:mynetworks": ["127.0.0.0/8", "10.0.0.0/8"] },
        "wide-preview",
        false,
        true,
    );
    // Keys and credentials written into ordinary (plain-text) keys of the stack file.
    runs.plainSecrets = deploy(
        "dev",
        {
            ...devConfig(),
            "mailserver:tls": {
                ca: { certPem: certPem, keyPem: PLAIN_CA_KEY },
                acme: { email: "hostmaster@example.test", dnsSettings: { CLOUDFLARE_DNS_API_TOKEN: PLAIN_TOKEN } },
            },
        },
        "plain-secrets",
    );
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A captured run: outputs, registrations and each resource's final state (program-capture.ts). */
interface Captured {
    outputs: Record<string, any>;
    resources: Res[];
    states: Array<{ urn: string; state: any }>;
}

async function succeeded(name: string): Promise<Captured> {
    const r = await runs[name];
    assert.equal(r.code, 0, `${name} failed:\n${r.stderr}`);
    for (const pw of ALL_PASSWORDS) {
        assert.ok(!r.stdout.includes(pw), `${name}: a password in the stack outputs`);
        assert.ok(!r.stderr.includes(pw), `${name}: a password in the program's log`);
    }
    return r.result;
}

const lines = (text: string) => text.split("\n");
const unwrap = unwrapSecrets;
const redact = redactSecrets;
const named = (rs: Res[], name: string, type = "docker:index/container:Container") => {
    const r = rs.find(x => x.name === name && x.type === type);
    assert.ok(r, `${type} ${name} registered`);
    return r;
};
/** A file a config job uploads, as serialized: a secret stays wrapped. */
const upload = (r: Res, file: string) => bundledFiles(r.wire.uploads ?? []).get(file);
const isSecret = isWrappedSecret;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const prefixOf = (stack: string, cfg: Record<string, any>) => cfg["mailserver:namePrefix"] ?? `mail-${stack}`;

test("the YAML parser reads the stack files as written", () => {
    for (const stack of ["dev", "prod"]) {
        const cfg = stackConfig(stack),
            text = lines(stackFile(stack));
        assert.ok(Object.keys(cfg).length >= 5, `${stack}: a config map`);
        for (const [key, v] of Object.entries(cfg)) {
            assert.ok(text.includes(`  ${key}:${typeof v === "object" ? "" : ` ${v}`}`), `${stack}: line for ${key}`);
        }
        for (const key of SECRET_KEYS)
            assert.equal(cfg[key], undefined, `${stack}: ${key} is not in the file in clear`);
    }
    const dev = stackConfig("dev") as any;
    assert.ok(lines(stackFile("dev")).includes(`    smtp: ${dev["mailserver:ports"].smtp}`));
    assert.equal(dev["mailserver:domains"][0].mailboxes[0].address, "alice");
    assert.equal(typeof dev["mailserver:domains"][0].mailboxes[0].quota, "string");
});

test("dev stack: the program runs and its outputs follow the stack config", async () => {
    const cfg = stackConfig("dev") as any;
    const { outputs } = await succeeded("dev");
    const prefix = prefixOf("dev", cfg),
        hostname = cfg["mailserver:hostname"];
    assert.equal(outputs.postfixContainer, `${prefix}-postfix`);
    assert.equal(outputs.saslauthdContainer, undefined, "internet mode: SMTP AUTH through Dovecot");
    assert.equal(outputs.dovecotContainer, `${prefix}-dovecot`);
    assert.equal(outputs.acmeContainer, undefined, "no tls.acme in dev");
    assert.equal(outputs.webContainer, undefined, "no wellKnown in dev");
    assert.match(outputs.mainCf, new RegExp(`^myhostname = ${esc(hostname)}$`, "m"));
    const domains = cfg["mailserver:domains"].map((d: any) => d.domain);
    assert.match(outputs.mainCf, new RegExp(`^virtual_mailbox_domains = ${esc(domains.join(", "))}$`, "m"));
    assert.match(outputs.mainCf, /^relayhost =$/m);
    for (const port of Object.values(cfg["mailserver:imapPorts"]) as number[])
        assert.match(outputs.dovecotConf, new RegExp(`^    port = ${port}$`, "m"));
    assert.match(outputs.dovecotConf, new RegExp(`^hostname = ${esc(hostname)}$`, "m"));
    // Every domain's records; the dev domain defines no postmaster, so DMARC has no rua and there is no TLS-RPT.
    assert.deepEqual(
        outputs.dnsRecords.map((r: any) => `${r.name} ${r.type}`),
        cfg["mailserver:domains"].flatMap((d: any) => [
            `${d.domain} MX`,
            `${d.domain} TXT`,
            `mail-rsa._domainkey.${d.domain} TXT`,
            `mail-ed25519._domainkey.${d.domain} TXT`,
            `_dmarc.${d.domain} TXT`,
            // No _mta-sts: nothing serves the dev stack's policy (no wellKnown).
            ...["_submissions", "_submission", "_imaps", "_imap", "_pop3s", "_pop3"].map(
                s => `${s}._tcp.${d.domain} SRV`,
            ),
        ]),
    );
    const domain = cfg["mailserver:domains"][0].domain;
    assert.deepEqual(outputs.dnsRecords.slice(0, 2), [
        {
            name: domain,
            type: "MX",
            value: `${hostname}.`,
            priority: 10,
            purpose: "where mail for the domain is delivered",
        },
        { name: domain, type: "TXT", value: "v=spf1 mx -all", purpose: "SPF: which hosts may send mail as the domain" },
    ]);
    assert.equal(outputs.dnsRecords.find((r: any) => r.name === `_dmarc.${domain}`).value, "v=DMARC1; p=none");
    assert.match(
        outputs.dnsRecords.find((r: any) => r.name === `mail-rsa._domainkey.${domain}`).value,
        /^v=DKIM1; k=rsa; p=MII/,
    );
    assert.deepEqual(Object.keys(outputs.dnsZones), [domain]);
    assert.match(outputs.dnsZones[domain], new RegExp(`^${esc(domain)}\\. 3600 IN MX 10 ${esc(hostname)}\\.$`, "m"));
    assert.equal(outputs.mtaStsPolicies[domain], `version: STSv1\nmode: testing\nmx: ${hostname}\nmax_age: 604800\n`);
});

test("dev stack resources: its network, ports on publishAddress, self-signed certificate, quotas and aliases, rspamd with secret DKIM keys", async () => {
    const cfg = stackConfig("dev") as any;
    const { resources } = await succeeded("dev");
    const prefix = prefixOf("dev", cfg),
        ip = cfg["mailserver:publishAddress"];
    assert.equal(cfg["mailserver:networkMode"], "bridge");
    assert.ok(resources.some(r => r.type === "docker:index/network:Network" && r.name === `${prefix}-net`));
    const smtp = cfg["mailserver:ports"],
        imap = cfg["mailserver:imapPorts"];
    const postfix = named(resources, `${prefix}-postfix`).wire;
    assert.deepEqual(
        postfix.ports,
        [smtp.smtp, smtp.submission, smtp.smtps].map((p: number) => ({ internal: p, external: p, ip })),
    );
    assert.match(
        String(upload(named(resources, `${prefix}-postfix-config`), "/staging/probe")),
        new RegExp(`^address=127\\.0\\.0\\.1\nport=${smtp.smtp}\ngreeting=220 \n`),
    );
    const dovecot = named(resources, `${prefix}-dovecot`).wire;
    assert.deepEqual(
        dovecot.ports,
        [imap.imap, imap.imaps, imap.managesieve].map((p: number) => ({ internal: p, external: p, ip })),
    );
    assert.equal(
        named(resources, `${prefix}-tls-cert`, "tls:index/selfSignedCert:SelfSignedCert").wire.validityPeriodHours,
        cfg["mailserver:tls"].selfSigned.validityHours,
    );
    const domain = cfg["mailserver:domains"][0];
    const users = upload(named(resources, `${prefix}-dovecot-config`), "/staging/users");
    assert.ok(isSecret(users), "users is sent as a secret");
    for (const m of domain.mailboxes) {
        const quota = m.quota ? `userdb_quota_storage_size=${m.quota}` : "";
        assert.match(
            users.value,
            new RegExp(`^${esc(m.address)}@${esc(domain.domain)}:\\{SHA512-CRYPT\\}\\$6\\$[^:]+::::::${quota}$`, "m"),
        );
    }
    const virtual: string = upload(named(resources, `${prefix}-postfix-config`), "/staging/virtual");
    for (const m of domain.mailboxes)
        for (const a of m.aliases ?? []) {
            assert.match(
                virtual,
                new RegExp(`^${esc(a)}@${esc(domain.domain)}\t${esc(m.address)}@${esc(domain.domain)}$`, "m"),
            );
        }
    for (const a of domain.aliases ?? [])
        assert.match(
            virtual,
            new RegExp(`^${esc(a.address)}@${esc(domain.domain)}\t${esc(a.targets.join(", "))}$`, "m"),
        );
    assert.ok(
        isSecret(upload(named(resources, `${prefix}-dovecot-config`), "/staging/users")),
        "the users file is sent as a secret",
    );
    // rspamd on the stack's network (it asks DNS), Valkey on none; each domain's DKIM keys as secrets.
    assert.deepEqual(named(resources, `${prefix}-rspamd`).wire.networksAdvanced, [{ name: `${prefix}-net` }]);
    assert.deepEqual(named(resources, `${prefix}-rspamd`).wire.ports, []);
    assert.equal(named(resources, `${prefix}-valkey`).wire.networkMode, "none");
    const rspamdJob = named(resources, `${prefix}-rspamd-config`);
    for (const a of ["rsa", "ed25519"]) {
        const key = upload(rspamdJob, `/staging/dkim/${domain.domain}.mail-${a}.key`);
        assert.ok(isSecret(key), `the ${a} DKIM key is sent as a secret`);
    }
    assert.match(
        upload(rspamdJob, "/staging/local.d/dkim_signing.conf"),
        new RegExp(`key = "/config/current/dkim/${esc(domain.domain)}\\.mail-ed25519\\.key"`),
    );
    for (const r of resources) {
        for (const pw of ALL_PASSWORDS)
            assert.ok(
                !JSON.stringify(unwrap(r.wire)).includes(pw),
                `${r.type} ${r.name}: a plaintext mailbox password`,
            );
    }
});

test("prod stack: the program runs with a supplied certificate and a relayhost", async () => {
    const cfg = stackConfig("prod") as any;
    const { outputs } = await succeeded("prod");
    const prefix = prefixOf("prod", cfg),
        relay = cfg["mailserver:relayhosts"][0];
    assert.equal(outputs.postfixContainer, `${prefix}-postfix`);
    assert.equal(outputs.dovecotContainer, `${prefix}-dovecot`);
    assert.equal(outputs.certificatePem, certPem);
    assert.match(outputs.mainCf, new RegExp(`^myhostname = ${esc(cfg["mailserver:hostname"])}$`, "m"));
    assert.match(outputs.mainCf, new RegExp(`^relayhost = \\[${esc(relay.host)}\\]:${relay.port}$`, "m"));
    assert.match(outputs.mainCf, new RegExp(`^smtp_tls_security_level = ${relay.tlsPolicy}$`, "m"));
    assert.match(outputs.mainCf, /^smtp_sasl_auth_enable = yes$/m);
    assert.match(outputs.dovecotConf, /^ {4}port = 143$/m);
});

test("prod stack resources: host networking, the supplied key as a secret, relay credentials as a secret", async () => {
    const cfg = stackConfig("prod") as any;
    const { resources } = await succeeded("prod");
    const prefix = prefixOf("prod", cfg),
        relay = cfg["mailserver:relayhosts"][0];
    assert.equal(cfg["mailserver:networkMode"], "host");
    assert.equal(resources.filter(r => r.type === "docker:index/network:Network").length, 0);
    const dkimKeys = resources.filter(r => r.type.startsWith("tls:") && /-dkim-/.test(r.name));
    assert.equal(
        resources.filter(r => r.type.startsWith("tls:")).length - dkimKeys.length,
        0,
        "no generated TLS key or certificate",
    );
    assert.deepEqual(
        dkimKeys.map(r => r.name).sort(),
        cfg["mailserver:domains"]
            .flatMap((d: any) => [`${d.domain}-dkim-mail-rsa`, `${d.domain}-dkim-mail-ed25519`])
            .sort(),
    );
    for (const name of [`${prefix}-postfix`, `${prefix}-dovecot`, `${prefix}-rspamd`]) {
        assert.equal(named(resources, name).wire.networkMode, "host");
        assert.equal(named(resources, name).wire.ports, undefined);
    }
    assert.equal(named(resources, `${prefix}-valkey`).wire.networkMode, "none");
    const postfixJob = named(resources, `${prefix}-postfix-config`),
        dovecotJob = named(resources, `${prefix}-dovecot-config`);
    for (const job of [postfixJob, dovecotJob]) {
        assert.ok(isSecret(upload(job, "/staging/tls/key.pem")), `${job.name}: key.pem is sent as a secret`);
        assert.equal(unwrap(upload(job, "/staging/tls/key.pem")), keyPem);
        assert.equal(unwrap(upload(job, "/staging/tls/cert.pem")), certPem);
    }
    const saslPasswd = upload(postfixJob, "/staging/sasl_passwd");
    assert.ok(isSecret(saslPasswd), "sasl_passwd is sent as a secret");
    assert.ok(
        lines(saslPasswd.value).includes(
            `[${relay.host}]:${relay.port}\t${relay.username}:${PROD_RELAY_PASSWORDS[relay.host]}`,
        ),
        "relay credentials",
    );
    assert.match(
        upload(postfixJob, "/staging/aliases"),
        new RegExp(`^root: ${esc(cfg["mailserver:adminAddress"])}$`, "m"),
    );
    const keyBody = keyPem.split("\n")[1];
    for (const r of resources) {
        const clear = JSON.stringify(redact(r.wire));
        assert.ok(!clear.includes(keyBody), `${r.type} ${r.name}: the TLS key outside a secret`);
        for (const pw of ALL_PASSWORDS)
            assert.ok(!clear.includes(pw), `${r.type} ${r.name}: a password outside a secret`);
        const all = JSON.stringify(unwrap(r.wire));
        for (const pw of Object.values(PROD_PASSWORDS))
            assert.ok(!all.includes(pw), `${r.type} ${r.name}: a plaintext mailbox password`);
    }
});

test("a bad stack config (mynetworks 0.0.0.0/0) fails, naming MailServer, mynetworks and the value", async () => {
    const r = await runs.openRelay;
    assert.notEqual(r.code, 0, "the program must fail");
    assert.match(r.stderr, /MailServer mail: mynetworks\[0\] = "0\.0\.0\.0\/0" is not accepted/);
    assert.match(r.stderr, /open relay/);
    assert.equal(r.stdout.trim(), "", "no outputs");
});

// The policy pack at the preview of a new stack: the mandatory rules run on every registration
// of the dev stack as the engine would pass it (unknowns included) and judge the components.
const MANDATORY = [noOpenRelay, authRequiresTls, tlsMinimumVersion, noPlaintextSecrets];

test("policy at the preview of a new dev stack: the components are known and judged, every mandatory rule passes, none throws", async () => {
    const cfg = stackConfig("dev") as any;
    const { resources } = await succeeded("devPreview");
    const prefix = prefixOf("dev", cfg);
    // Bridge mode, as the dev stack: every file is known at the preview of a new stack (master.cf
    // once waited for the subnet of a network not yet created), and so are the components' inputs.
    assert.equal(cfg["mailserver:networkMode"], "bridge");
    assert.match(upload(named(resources, `${prefix}-postfix-config`), "/staging/master.cf"), /^reinject\/smtp +unix/m);
    const server = named(resources, "mail", "mailserver:index:MailServer"),
        imap = named(resources, "imap", "mailserver:index:DovecotImap");
    for (const r of [server, imap])
        assert.ok(!JSON.stringify(r.wire).includes(UNKNOWN), `${r.type}: an unknown input at preview`);
    assert.ok(
        subjectOf(server.type, decode(server.wire))!.mainCf!.includes(`myhostname = ${cfg["mailserver:hostname"]}`),
    );
    assert.ok(subjectOf(imap.type, decode(imap.wire))!.dovecotConf!.includes("ssl = required"));
    for (const r of resources) {
        for (const policy of MANDATORY)
            assert.deepEqual(await validate(policy, r), [], `${policy.name} on ${r.type} ${r.name}`);
    }
});

test("preview of a new dev stack with mynetworks 10.0.0.0/8: refused by MailServer with the policy pack's own reason", async () => {
    const r = await runs.widePreview;
    assert.notEqual(r.code, 0, "the program must fail");
    const why = tooWide(parseNetwork("10.0.0.0/8")!)!;
    assert.match(why, /private address space \(in 10\.0\.0\.0\/8\) wider than \/16/);
    assert.ok(
        r.stderr.includes(`MailServer mail: mynetworks[1] = "10.0.0.0/8" is not accepted; ${why}; `),
        r.stderr.slice(0, 2000),
    );
    assert.equal(noOpenRelay.enforcementLevel, "mandatory");
});

// ------------------------------------------------------------------------------------------
// The whole policy pack on the stacks as rendered: each resource rule on every registration's
// inputs (what the engine's Analyze gets), the remediation on every container, and each stack rule
// on what the engine's AnalyzeStack gets: every resource's final outputs (a custom resource's state,
// a component's registered outputs, the stack's outputs), with the stack's policy config
// (stacks/policy.<stack>.json, as `npm run stack -- preview <stack> --policy-pack policy/` passes it).

const RESOURCE_RULES = policies.filter((p): p is ResourceValidationPolicy => "validateResource" in p);
const STACK_RULES = policies.filter((p): p is StackValidationPolicy => "validateStack" in p);

/** The policy config of a stack file's stack (policy name -> its config), or none. */
function policyConfig(stack: string): Record<string, Record<string, unknown>> {
    const file = path.join(ROOT, "stacks", `policy.${stack}.json`);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
}

/** The resources as AnalyzeStack hands them to stack policies, from a captured run. */
function analyzedStack(stack: string, result: Captured): StackEntry[] {
    const states = new Map<string, any>(result.states.map(s => [s.urn, s.state]));
    const entries: StackEntry[] = result.resources.map(r => ({
        name: r.name,
        type: r.type,
        urn: r.urn,
        wire: states.get(r.urn!) ?? {},
        dependsOn: r.dependencies ?? [],
    }));
    // The stack's own outputs (dnsRecords, mainCf, ...), as the root resource holds them.
    entries.push({ name: `mailserver-${stack}`, type: "pulumi:pulumi:Stack", wire: result.outputs ?? {} });
    return entries;
}

/** Every violation the pack reports on a captured run, as "rule: resource: message". */
async function packViolations(stack: string, run: string): Promise<string[]> {
    const result = await succeeded(run);
    const config = policyConfig(stack);
    const found: string[] = [];
    for (const r of result.resources) {
        for (const rule of RESOURCE_RULES)
            for (const m of await validate(rule, r)) found.push(`${rule.name}: ${r.type} ${r.name}: ${m}`);
        if (r.type === CONTAINER_TYPE) {
            const args = resourceArgs(r.wire, { type: r.type, name: r.name, forRemediation: true });
            if ((await secretUploads.remediateResource!(args)) !== undefined)
                found.push(`${secretUploads.name}: ${r.name}: an upload to make secret`);
        }
    }
    const entries = analyzedStack(stack, result);
    for (const rule of STACK_RULES)
        for (const v of await validateStack(rule, entries, config[rule.name] ?? {}))
            found.push(`${rule.name}: ${v.urn}: ${v.message}`);
    return found;
}

test("every rule of the policy pack passes the dev and prod stacks, at the preview of a new stack and as deployed", async () => {
    assert.deepEqual(
        [...RESOURCE_RULES, ...STACK_RULES, secretUploads].map(p => p.name).sort(),
        policies.map(p => p.name).sort(),
        "every rule is run",
    );
    for (const [stack, run] of [
        ["dev", "devPreview"],
        ["dev", "dev"],
        ["prod", "prodPreview"],
        ["prod", "prod"],
    ]) {
        assert.deepEqual(await packViolations(stack, run), [], `${run}`);
    }
    // The stack rules judged what they are meant to: the components' outputs carry the facts.
    const { resources, states } = await succeeded("dev");
    const domain = resources.find(r => r.type === "mailserver:index:VirtualDomain")!;
    const outputs = states.find(x => x.urn === domain.urn)!.state;
    assert.equal(outputs.dkim, true);
    assert.equal(outputs.dmarcPolicy, "none");
});

test("each rule of the pack fires on a real rendered stack made wrong", async () => {
    const violations = async (rule: ResourceValidationPolicy, r: Res) => validate(rule, r);
    const { resources } = await succeeded("dev");
    const prefix = prefixOf("dev", stackConfig("dev"));
    const server = named(resources, "mail", "mailserver:index:MailServer");
    const imap = named(resources, "imap", "mailserver:index:DovecotImap");
    const withMainCf = (edit: (t: string) => string): Res => ({
        ...server,
        wire: {
            ...server.wire,
            postfixFiles: { ...server.wire.postfixFiles, "main.cf": edit(server.wire.postfixFiles["main.cf"]) },
        },
    });
    const setParam = (key: string, value: string) => (t: string) =>
        t.replace(new RegExp(`^${key} = .*$`, "m"), `${key} = ${value}`);

    // mail-no-open-relay: main.cf trusting a /8 (the component refuses it as an argument since the
    // policy and the component share one check; a hand-edited or foreign main.cf still can).
    const relay = await violations(noOpenRelay, withMainCf(setParam("mynetworks", "127.0.0.0/8, 10.0.0.0/8")));
    assert.equal(relay.length, 1, relay.join("\n"));
    // mail-auth-requires-tls: AUTH on port 25 without TLS; Dovecot letting clients log in before STARTTLS.
    const auth = await violations(
        authRequiresTls,
        withMainCf(t => setParam("smtpd_tls_auth_only", "no")(setParam("smtpd_sasl_auth_enable", "yes")(t))),
    );
    assert.match(auth.join("\n"), /^main\.cf: smtpd_sasl_auth_enable = yes, but TLS is not required before AUTH/m);
    const dovecot = {
        ...imap,
        wire: {
            ...imap.wire,
            dovecotFiles: {
                "dovecot.conf": imap.wire.dovecotFiles["dovecot.conf"].replace(/^ssl = required$/m, "ssl = yes"),
            },
        },
    };
    assert.match((await violations(authRequiresTls, dovecot)).join("\n"), /ssl = yes; clients may log in without TLS/);
    // mail-tls-1.2-minimum: TLS 1.0 allowed on the smtpd ports.
    const tls = await violations(tlsMinimumVersion, withMainCf(setParam("smtpd_tls_protocols", ">=TLSv1")));
    assert.match(tls.join("\n"), /smtpd_tls_protocols = ">=TLSv1" enables TLSv1, TLSv1\.1/);
    // mail-no-plaintext-secrets: a password in the Postfix container's environment.
    const postfix = named(resources, `${prefix}-postfix`);
    const env = await violations(noPlaintextSecrets, {
        ...postfix,
        wire: { ...postfix.wire, envs: ["RELAY_PASSWORD=hunter2-long"] },
    });
    assert.match(env.join("\n"), /^Environment variable RELAY_PASSWORD holds what looks like a secret/m);
    // mail-secret-uploads: the config job's TLS key sent in clear is made a secret.
    const job = named(resources, `${prefix}-postfix-config`);
    const clearKey = {
        ...job.wire,
        uploads: job.wire.uploads.map((u: any) =>
            u.file.endsWith("/.bundle-outputs") ? { ...u, content: unwrap(u.content) } : u,
        ),
    };
    const remediated = await secretUploads.remediateResource!(
        resourceArgs(clearKey, { type: CONTAINER_TYPE, name: job.name, forRemediation: true }),
    );
    assert.ok(remediated, "the clear key is remediated");
    assert.equal(
        await secretUploads.remediateResource!(resourceArgs(job.wire, { type: CONTAINER_TYPE, forRemediation: true })),
        undefined,
        "as rendered, the key is already a secret",
    );
    // mail-dkim-dmarc: the spam filter (which signs) off.
    const noFilter = await succeeded("noFilter");
    const dkim = await validateStack(dkimAndDmarc, analyzedStack("dev", noFilter));
    assert.equal(dkim.length, 1, JSON.stringify(dkim));
    assert.match(dkim[0].message, /^No DKIM signing is configured for example\.test: /);
    // mail-dmarc-report-address: a quarantine policy whose reports go nowhere.
    const quarantine = await validateStack(dmarcReportAddress, analyzedStack("dev", await succeeded("quarantine")));
    assert.ok(quarantine.length >= 1, JSON.stringify(quarantine));
    assert.match(quarantine[0].message, /^The DMARC policy of example\.test has p=quarantine and no report address/);
    // mail-smtp-reverse-dns: prod without its policy config (the PTR record not confirmed).
    const prod = await succeeded("prod");
    const ptr = await validateStack(smtpReverseDns, analyzedStack("prod", prod));
    assert.ok(ptr.length >= 1, JSON.stringify(ptr));
    assert.match(
        ptr[0].message,
        /listens on port 25 .* in host network mode\. Set the PTR record .* "mail\.example\.com"/,
    );
});

test("a private key or DNS credential in an ordinary stack config key is refused with the command that makes it a secret", async () => {
    const r = await runs.plainSecrets;
    assert.notEqual(r.code, 0, "the program must fail");
    assert.ok(
        r.stderr.includes(
            `mailserver:tls.ca.keyPem is a private key in plain text in the stack's config file; move it into a secret: ` +
                `pulumi config rm --path 'mailserver:tls.ca.keyPem' && pulumi config set --secret mailserver:tlsCaKeyPem -- "$(cat ca-key.pem)"`,
        ),
        r.stderr.slice(0, 2000),
    );
    assert.ok(
        r.stderr.includes(
            "pulumi config rm --path 'mailserver:tls.acme.dnsSettings.CLOUDFLARE_DNS_API_TOKEN' && " +
                "pulumi config set --secret --path 'mailserver:tlsAcmeDnsCredentials.CLOUDFLARE_DNS_API_TOKEN' '<value>'",
        ),
        r.stderr.slice(0, 2000),
    );
    assert.ok(!r.stderr.includes(PLAIN_TOKEN) && !r.stderr.includes("PLAIN-CA-KEY"), "a secret in the message");
});
