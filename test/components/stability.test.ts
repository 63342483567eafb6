// Mailbox, alias and password changes reach the services through the config jobs only: two
// deployments that differ only in those give service containers with identical inputs (so
// Pulumi would neither replace nor restart them), while the config jobs' uploads differ. So do
// spam filter settings: only rspamd's config job changes, and rspamd reloads.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { installMocks, MockEnv, T, text, unwrapSecrets, uploads, value } from "./mocks";

let env: MockEnv;
// Internet mode: SMTP AUTH goes through Dovecot, saslauthd runs in relay mode only.
const SERVICES = ["postfix", "dovecot", "authpolicy", "rspamd", "valkey"] as const;
/** The config jobs that carry mailboxes, aliases and passwords (rspamd's carries only who owns which address). */
const JOBS = ["postfix-config", "dovecot-config"];

interface Variant {
    prefix: string;
    mailboxes: Array<{ address: string; password: string; aliases?: string[] }>;
    aliases: Array<{ address: string; targets: string[] }>;
    smtpPort?: number;
    spamFilter?: import("../../components").MailServerArgs["spamFilter"];
    inetProtocols?: "all" | "ipv4" | "ipv6";
}

const A: Variant = {
    prefix: "stackalpha",
    mailboxes: [
        { address: "alice", password: "alice-First-Password-1", aliases: ["info"] },
        { address: "bob", password: "bob-First-Password-222" },
    ],
    aliases: [{ address: "team", targets: ["alice@example.com", "bob@example.com"] }],
};
const B: Variant = {
    prefix: "stackbravo",
    mailboxes: [
        { address: "alice", password: "alice-Changed-Password-9" },
        { address: "carol", password: "carol-New-Mailbox-Pw-33", aliases: ["sales", "info"] },
        { address: "dave", password: "dave-New-Mailbox-Pw-444" },
    ],
    aliases: [
        { address: "team", targets: ["alice@example.com", "carol@example.com", "dave@example.com"] },
        { address: "ops", targets: ["dave@example.com"] },
    ],
};
// Control: A's mail data, but a different SMTP port, which must show in the postfix container.
const C: Variant = { ...A, prefix: "stackcharlie", smtpPort: 2525 };
// A's mail data, other spam filter settings: a reload of rspamd, no container replaced.
const D: Variant = {
    ...A,
    prefix: "stackdelta",
    spamFilter: { rejectScore: 20, addHeaderScore: 8, greylisting: true, dnsbl: true, nameservers: ["192.0.2.53"] },
};

// A's mail data, Postfix on IPv4 only: a setting "postfix reload" does not apply, so Postfix is replaced.
const E: Variant = { ...A, prefix: "stackecho", inetProtocols: "ipv4" };

before(async () => {
    env = await installMocks();
    const c = await import("../../components");
    const outputs: any[] = [];
    for (const v of [A, B, C, D, E]) {
        const domain = new c.VirtualDomain(`${v.prefix}-example.com`, {
            domain: "example.com",
            mailboxes: v.mailboxes.map(m => ({ ...m, password: env.pulumi.secret(m.password) })),
            aliases: v.aliases,
        });
        const other = new c.VirtualDomain(`${v.prefix}-example.org`, {
            domain: "example.org",
            mailboxes: [
                {
                    address: "erin",
                    password: env.pulumi.secret(v === B ? "erin-Rotated-Pass-555" : "erin-Original-Pass-55"),
                },
            ],
        });
        const server = new c.MailServer(`mx-${v.prefix}`, {
            hostname: "mail.example.com",
            domains: [domain, other],
            namePrefix: v.prefix,
            publishAddress: "127.0.0.1",
            ports: v.smtpPort ? { smtp: v.smtpPort } : undefined,
            spamFilter: v.spamFilter,
            inetProtocols: v.inetProtocols,
        });
        const imap = new c.DovecotImap(`imap-${v.prefix}`, { mailServer: server });
        outputs.push(server.mainCf, server.credentials, imap.dovecotConf);
    }
    await Promise.all(outputs.map(o => value(o)));
    await env.settle();
});

/** A container's inputs as the provider sees them, with the deployment's prefix made neutral. */
function normalized(v: Variant, name: string): string {
    const r = env.byName(`${v.prefix}-${name}`, T.container);
    return JSON.stringify(unwrapSecrets(r.inputs)).split(v.prefix).join("PREFIX");
}

test("service containers have identical inputs whatever the mailboxes, aliases and passwords", () => {
    for (const s of SERVICES) {
        const a = normalized(A, s),
            b = normalized(B, s);
        assert.ok(a.includes(`"PREFIX-${s}"`), `${s}: the comparison sees the container's own name`);
        assert.ok(a.includes("mounts") && a.includes("healthcheck"), `${s}: the comparison sees the full inputs`);
        assert.equal(b, a, `${s} service container inputs differ between the deployments`);
    }
});

test("service containers depend on the same resources in both deployments", () => {
    for (const s of SERVICES) {
        const deps = (v: Variant) =>
            env
                .byName(`${v.prefix}-${s}`, T.container)
                .dependencies.map(d => d.split(v.prefix).join("PREFIX"))
                .sort();
        assert.deepEqual(deps(B), deps(A), `${s} dependencies`);
    }
});

test("the config jobs carry the difference", () => {
    const files = (v: Variant, job: string) =>
        new Map(
            [...uploads(env.byName(`${v.prefix}-${job}`, T.container))].map(([file, content]) => [
                file,
                text(content).split(v.prefix).join("PREFIX"),
            ]),
        );
    const changed = (job: string) => {
        const a = files(A, job),
            b = files(B, job);
        assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), `${job}: same files`);
        return [...a.keys()].filter(f => a.get(f) !== b.get(f)).sort();
    };
    assert.deepEqual(changed("postfix-config"), ["/staging/sender_login", "/staging/virtual", "/staging/vmailbox"]);
    assert.deepEqual(changed("dovecot-config"), ["/staging/users"]);
    // rspamd knows which login owns which address (the From-header check), nothing else of them.
    assert.deepEqual(changed("rspamd-config"), ["/staging/local.d/rspamd.lua"]);
    for (const job of JOBS) assert.notEqual(normalized(B, job), normalized(A, job), `${job} inputs differ`);
});

test("spam filter settings change rspamd's config job only: no service container, no other job", () => {
    for (const s of SERVICES) assert.equal(normalized(D, s), normalized(A, s), `${s} service container`);
    for (const job of JOBS) assert.equal(normalized(D, job), normalized(A, job), job);
    assert.notEqual(normalized(D, "rspamd-config"), normalized(A, "rspamd-config"));
    const files = (v: Variant) =>
        new Map(
            [...uploads(env.byName(`${v.prefix}-rspamd-config`, T.container))].map(([file, content]) => [
                file,
                text(content),
            ]),
        );
    const a = files(A),
        d = files(D);
    assert.deepEqual([...a.keys()].filter(f => a.get(f) !== d.get(f)).sort(), [
        "/staging/local.d/actions.conf",
        "/staging/local.d/greylist.conf",
        "/staging/local.d/rbl.conf",
        "/staging/override.d/options.inc",
    ]);
});

test("control: a service setting (ports.smtp) does change the postfix container", () => {
    assert.notEqual(normalized(C, "postfix"), normalized(A, "postfix"));
    // ...and only postfix: the others do not listen on the SMTP port.
    assert.equal(normalized(C, "authpolicy"), normalized(A, "authpolicy"));
    assert.equal(normalized(C, "dovecot"), normalized(A, "dovecot"));
    assert.equal(normalized(C, "rspamd"), normalized(A, "rspamd"));
    assert.equal(normalized(C, "valkey"), normalized(A, "valkey"));
});

test("inet_protocols (and inet_interfaces), which Postfix reads only when it starts, replace Postfix alone", () => {
    for (const svc of SERVICES.filter(x => x !== "postfix"))
        assert.equal(normalized(E, svc), normalized(A, svc), `${svc} service container`);
    const labels = (v: Variant) =>
        Object.fromEntries(
            env.byName(`${v.prefix}-postfix`, T.container).inputs.labels.map((l: any) => [l.label, l.value]),
        );
    assert.equal(
        labels(A)["mailserver.startup-settings"],
        undefined,
        "Postfix's defaults: no label (no change for existing stacks)",
    );
    assert.equal(labels(E)["mailserver.startup-settings"], "inet_interfaces = all; inet_protocols = ipv4");
});
