// Every declared option reaches the component's registered inputs, which are what `pulumi preview
// --diff` shows and what the policy pack judges: a new option declared in components/options/
// but forgotten in components/inputs.ts fails here, instead of silently vanishing from previews.
// The walk follows the declarations (objects field by field, lists through the fields their items register);
// the few options that are deliberately not registered are listed below with the reason.
import { generateKeyPairSync } from "node:crypto";
import assert from "node:assert/strict";
import { before, test } from "node:test";
import type { Option, Options } from "../../components/options/declare";
import { DOVECOT_IMAP_OPTIONS } from "../../components/options/dovecotImap";
import { MAIL_SERVER_OPTIONS } from "../../components/options/mailServer";
import { RELAYHOST_OPTIONS } from "../../components/options/relayhost";
import { VIRTUAL_DOMAIN_OPTIONS } from "../../components/options/virtualDomain";
import { installMocks, isWrappedSecret, MockEnv, T, value } from "./mocks";

/** Option paths (list items as []) that are not registered under their own name, and why. */
const NOT_REGISTERED: Record<string, string> = {
    // Secrets: never a component input (their hashes are registered as secrets where they matter).
    "MailServer.passwordHashCache": "a secret cache of hashes, not a setting",
    "MailServer.previousNamePrefix": "the last deployment's prefix, checked at preview; it changes after a first up",
    "MailServer.allowNamePrefixChange": "permission for one change, checked at preview; not a setting of the server",
    "VirtualDomain.passwordHashCache": "a secret cache of hashes, not a setting",
    "VirtualDomain.dkimKeys[].privateKeyPem": "a secret: the selectors and algorithms are registered, the keys are not",
    "VirtualDomain.mailboxes[].password": "a secret; the secret input passwordHashes carries its hash",
    "VirtualDomain.mailboxes[].passwordHash": "a secret; the secret input passwordHashes carries it",
    "Relayhost.password": "a secret: MailServer registers hasCredentials only",
    ...Object.fromEntries(
        ["password", "s3AccessKeyId", "s3SecretAccessKey", "restUsername", "restPassword", "sftpPrivateKey"].map(f => [
            `MailServer.backup.${f}`,
            "a secret: registered by name only, in backup.secretsGiven",
        ]),
    ),
    // Registered in another shape.
    "MailServer.users[]": "the logins' addresses (users); their passwords are secrets (saslauthdSecretFiles)",
    "MailServer.tls": "the way the certificate is obtained (inputs.ts tlsSettings): the variant in use, never a key",
    "MailServer.images": "registered as given",
    "DovecotImap.images": "registered as given",
    "VirtualDomain.mtaStsPolicyServedElsewhere": "registered as mtaStsPublished, with wellKnown",
    // Obsolete.
    "MailServer.ports.reinject": "obsolete: ignored with a warning",
    // A gap this test found: registering it now would show as a one-time update of every VirtualDomain
    // that sets it, which this refactoring must not cause (listed in the report for a later change).
    "VirtualDomain.dkimNextSelector": "not registered yet (see above)",
};

/** The option paths missing from `registered`, following the declarations. */
function missing(decl: Options, registered: unknown, path: string, skip = NOT_REGISTERED): string[] {
    const out: string[] = [];
    const reg = registered as Record<string, unknown>;
    for (const [name, option] of Object.entries(decl) as Array<[string, Option<unknown>]>) {
        const at = `${path}.${name}`;
        if (at in skip) continue;
        if (!(name in reg)) {
            out.push(at);
            continue;
        }
        const v = reg[name];
        if (option.fields && v && typeof v === "object" && !isWrappedSecret(v))
            out.push(...missing(option.fields, v, at, skip));
        if (option.item?.fields && Array.isArray(v)) {
            if (`${at}[]` in skip) continue;
            assert.ok(v.length > 0, `${at}: give at least one item, so that its fields are checked`);
            // A field may be registered by some items only (a mailbox's script or its typed rules).
            out.push(...missing(option.item.fields, Object.assign({}, ...v), `${at}[]`, skip));
        }
    }
    return out;
}

let env: MockEnv;

before(async () => {
    env = await installMocks();
    const c = await import("../../components");
    const secret = env.pulumi.secret;
    // Every option that is registered only when given, given.
    const domain = new c.VirtualDomain("ro-example.com", {
        domain: "example.com",
        mailboxes: [
            {
                address: "alice",
                password: secret("alice-Plaintext-Pass-01"),
                quota: "2G",
                aliases: ["info"],
                vacation: { subject: "Away", body: "Back on Monday.", days: 3 },
                fileInto: [{ header: "List-Id", contains: "dev", folder: "Lists/dev" }],
            },
            // A script instead of the typed rules (the two exclude each other).
            {
                address: "bob",
                password: secret("bob-Plaintext-Pass-0002"),
                sieveScript: 'require ["fileinto"];\nfileinto "Archive";\n',
            },
        ],
        aliases: [{ address: "team", targets: ["alice@example.com"] }],
        forwards: [{ address: "alice", targets: ["alice@elsewhere.example"] }],
        catchAll: "alice",
        dmarcReportAddress: "dmarc@example.com",
        tlsReportAddress: "tls@example.com",
        wellKnown: true,
        dkimKeys: [
            {
                selector: "mail",
                algorithm: "ed25519",
                privateKeyPem: secret(
                    generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
                ),
            },
        ],
    });
    const relay = new c.Relayhost("ro-relay", {
        host: "smtp.relay.example.net",
        username: "relay-user",
        password: secret("Relay-Plaintext-Secret-9"),
    });
    const server = new c.MailServer("ro-server", {
        hostname: "mail.example.com",
        domains: [domain],
        relayhosts: [relay],
        namePrefix: "ro",
        networkMode: "host",
        // Behind a balancer on submission (port 25 stays direct for the reports and alerts).
        inetInterfaces: ["10.0.0.5"],
        proxyProtocol: { listeners: ["submission"], trustedNetworks: ["10.0.1.10/32"] },
        outboundAddress: "192.0.2.25",
        transports: [{ domain: "partner.example", nexthop: "[mx.partner.example]:25" }],
        relayDomains: ["backup.example"],
        relayRecipients: ["someone@backup.example"],
        wellKnown: { httpsPort: 8443, address: "127.0.0.1" },
        reports: { organization: "Example Corp", address: "alice@example.com" },
        outboundTls: {
            resolver: true,
            resolverAddress: "127.0.0.60",
            stubZones: [{ zone: "corp.example", servers: ["192.0.2.53"] }],
            trustAnchors: [
                "corp.example. DS 2371 13 2 1F987CC6583E92DF0890718C42A3A4A2FA2F6C6AB8D2F6E1E1C3C1E2C2C3C4C5",
            ],
            trustedCaPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        },
        antivirus: { enabled: true, signatures: [{ name: "local.ndb", content: "Local-Test:0:*:4d41494c" }] },
        monitoring: {
            metrics: true,
            alerts: true,
            alertRecipient: "team@example.com",
            webhookUrl: "http://127.0.0.1:9999/hook",
        },
        backup: {
            enabled: true,
            repository: "sftp:backup@backup.example.net:/srv/restic/mail",
            password: secret("Backup-Repository-Pass-7"),
            sftpPrivateKey: secret("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----"),
            sftpKnownHosts:
                "backup.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        },
    });
    const relayServer = new c.MailServer("ro-relay-mode", {
        mode: "relay",
        hostname: "relay.example.com",
        relayhosts: [new c.Relayhost("ro-smarthost", { host: "smtp.provider.example" })],
        namePrefix: "rr",
        users: [{ address: "app@example.com", password: secret("app-Relay-User-Pass-05") }],
    });
    // On Kubernetes (every field of kubernetes set): what cannot run beside the Docker-only services above.
    const k8sServer = new c.MailServer("ro-k8s", {
        hostname: "mail.example.net",
        domains: [
            new c.VirtualDomain("ro-k8s-domain", {
                domain: "example.net",
                mailboxes: [{ address: "kim", password: secret("Kim-Mailbox-Pass-0001"), shard: 1 }],
            }),
        ],
        namePrefix: "rk",
        outboundTls: { mtaSts: false },
        images: { postfix: "p:1", rspamd: "r:1", valkey: "v:1" },
        kubernetes: {
            namespace: "mail",
            postfixReplicas: 3,
            storageClassName: "fast",
            queueStorage: "2Gi",
            mailStorage: "20Gi",
            valkeyStorage: "1Gi",
            serviceType: "LoadBalancer",
            imagePullPolicy: "Always",
        },
    });
    const imap = new c.DovecotImap("ro-imap", {
        mailServer: server,
        publishAddress: "127.0.0.1",
        proxyProtocol: { listeners: ["imaps"], trustedNetworks: ["10.0.1.11/32"] },
    });
    // On Kubernetes (every field of kubernetes set): shards behind the Dovecot proxy.
    new c.DovecotImap("ro-k8s-imap", {
        mailServer: k8sServer,
        images: { dovecot: "d:1", authpolicy: "a:1" },
        kubernetes: { shards: 2, proxyReplicas: 3, trustedNetworks: ["10.244.0.0/16"] },
    });
    await Promise.all([server.mainCf, relayServer.mainCf, imap.dovecotConf].map(o => value(o as any)));
    await env.settle();
});

const wire = (type: string, name: string) => env.byName(name, type).wire;
/** ro-server's inputs, with kubernetes as ro-k8s registers it (the two cannot be one server). */
const serverWire = () => ({ ...wire(T.mailServer, "ro-server"), kubernetes: wire(T.mailServer, "ro-k8s").kubernetes });
/** ro-imap's inputs, with kubernetes as ro-k8s-imap registers it. */
const imapWire = () => ({
    ...wire(T.dovecotImap, "ro-imap"),
    kubernetes: wire(T.dovecotImap, "ro-k8s-imap").kubernetes,
});
/** ro-example.com's inputs, with ro-k8s-domain's mailbox too (its shard: a DovecotImap on Kubernetes). */
const domainWire = () => {
    const w = wire(T.virtualDomain, "ro-example.com");
    return { ...w, mailboxes: [...w.mailboxes, ...wire(T.virtualDomain, "ro-k8s-domain").mailboxes] };
};

test("every declared MailServer option is a registered input (or listed with its reason)", () => {
    assert.deepEqual(missing(MAIL_SERVER_OPTIONS, serverWire(), "MailServer"), []);
    // Relay mode's logins, which the walk does not enter (a list of addresses).
    assert.deepEqual(wire(T.mailServer, "ro-relay-mode").users, ["app@example.com"]);
});

test("every declared DovecotImap option is a registered input (or listed with its reason)", () => {
    assert.deepEqual(missing(DOVECOT_IMAP_OPTIONS, imapWire(), "DovecotImap"), []);
});

test("every declared VirtualDomain option is a registered input (or listed with its reason)", () => {
    assert.deepEqual(missing(VIRTUAL_DOMAIN_OPTIONS, domainWire(), "VirtualDomain"), []);
});

test("every declared Relayhost option is a registered input (or listed with its reason)", () => {
    assert.deepEqual(missing(RELAYHOST_OPTIONS, wire(T.relayhost, "ro-relay"), "Relayhost"), []);
});

test("the walk finds a missing option: a registration without spamFilter.rejectScore fails", () => {
    const w = structuredClone(serverWire());
    delete w.spamFilter.rejectScore;
    delete w.hostname;
    assert.deepEqual(missing(MAIL_SERVER_OPTIONS, w, "MailServer"), [
        "MailServer.hostname",
        "MailServer.spamFilter.rejectScore",
    ]);
});

test("no stale reason: each listed option is indeed missing from the registered inputs", () => {
    // Lists of plain values (users) cannot be walked item by item: kept out of the walk.
    const skip = { "MailServer.users[]": NOT_REGISTERED["MailServer.users[]"] };
    const found = new Set([
        ...missing(MAIL_SERVER_OPTIONS, serverWire(), "MailServer", skip),
        ...missing(DOVECOT_IMAP_OPTIONS, imapWire(), "DovecotImap", skip),
        ...missing(VIRTUAL_DOMAIN_OPTIONS, domainWire(), "VirtualDomain", skip),
        ...missing(RELAYHOST_OPTIONS, wire(T.relayhost, "ro-relay"), "Relayhost", skip),
    ]);
    const stale = Object.keys(NOT_REGISTERED).filter(
        p => p !== "MailServer.users[]" && !found.has(p) && ![...found].some(f => f.startsWith(`${p}.`)),
    );
    assert.deepEqual(stale, []);
});

test("every reason names an option that is declared", () => {
    const declared = new Set<string>();
    const walk = (decl: Options, path: string) => {
        for (const [name, option] of Object.entries(decl) as Array<[string, Option<unknown>]>) {
            declared.add(`${path}.${name}`);
            if (option.fields) walk(option.fields, `${path}.${name}`);
            if (option.item) declared.add(`${path}.${name}[]`);
            if (option.item?.fields) walk(option.item.fields, `${path}.${name}[]`);
        }
    };
    walk(MAIL_SERVER_OPTIONS, "MailServer");
    walk(DOVECOT_IMAP_OPTIONS, "DovecotImap");
    walk(VIRTUAL_DOMAIN_OPTIONS, "VirtualDomain");
    walk(RELAYHOST_OPTIONS, "Relayhost");
    assert.deepEqual(
        Object.keys(NOT_REGISTERED).filter(p => !declared.has(p)),
        [],
    );
});
