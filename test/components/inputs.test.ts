// What each component registers as its own inputs, as the engine receives them: the validated
// settings and every non-secret file it deploys in clear (what `pulumi preview --diff` shows line
// by line, and what policies judge at preview), the password hashes as secrets, and never a key
// or a plaintext password. The files are the very ones the config jobs upload (rendered once).
import assert from "node:assert/strict";
import { before, test } from "node:test";
import {
    FAKE_KEY_PEM,
    installMocks,
    isWrappedSecret,
    MOCK_ED25519_SEED,
    MockEnv,
    Recorded,
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
    carol: "carol-Plain-String-Pw-3", // a plain string, not a secret: its hash must still be secret
    dave: "dave-Plaintext-Pass-004",
    app: "app-Relay-User-Pass-05",
    relay: "Relay-Plaintext-Secret-9",
};
const KEY_MATERIAL = FAKE_KEY_PEM.split("\n")[1];
const ED25519_SEED = MOCK_ED25519_SEED.toString("base64");

let env: MockEnv;
let c: typeof import("../../components");
let bridge: import("../../components").MailServer;
let imap: import("../../components").DovecotImap;
let host: import("../../components").MailServer;
let relayServer: import("../../components").MailServer;

before(async () => {
    env = await installMocks();
    c = await import("../../components");
    const secret = env.pulumi.secret;
    const com = new c.VirtualDomain("in-example.com", {
        domain: "Example.com",
        mailboxes: [
            {
                address: "Alice",
                password: secret(PW.alice),
                quota: "2G",
                aliases: ["info"],
                vacation: { subject: "Away", body: "Back on Monday.", days: 3 },
            },
            {
                address: "bob",
                password: secret(PW.bob),
                fileInto: [{ header: "List-Id", contains: "dev", folder: "Lists/dev" }],
            },
        ],
        aliases: [{ address: "team", targets: ["alice@example.com", "bob@example.com"] }],
    });
    const org = new c.VirtualDomain("in-example.org", {
        domain: "example.org",
        mailboxes: [{ address: "carol", password: PW.carol }],
    });
    const relay = new c.Relayhost("in-relay", {
        host: "smtp.relay.example.net",
        username: "relay-user",
        password: secret(PW.relay),
    });
    bridge = new c.MailServer("in-bridge", {
        hostname: "mail.example.com",
        domains: [com, org],
        relayhosts: [relay],
        namePrefix: "ib",
        publishAddress: "127.0.0.1",
    });
    imap = new c.DovecotImap("in-imap", { mailServer: bridge });

    const net = new c.VirtualDomain("in-example.net", {
        domain: "example.net",
        mailboxes: [{ address: "dave", password: secret(PW.dave) }],
    });
    host = new c.MailServer("in-host", {
        hostname: "mx.example.net",
        domains: [net],
        namePrefix: "ih",
        networkMode: "host",
        spamFilter: {
            rejectScore: 12,
            greylisting: true,
            dnsbl: true,
            nameservers: ["192.0.2.53", "[2001:db8::53]:5353"],
        },
        outboundAddress: "192.0.2.25",
    });

    const smarthost = new c.Relayhost("in-smarthost", { host: "smtp.provider.example" });
    relayServer = new c.MailServer("in-relay-mode", {
        mode: "relay",
        hostname: "relay.example.com",
        relayhosts: [smarthost],
        namePrefix: "ir",
        users: [{ address: "App@example.com", password: secret(PW.app) }],
    });
    await Promise.all([bridge.mainCf, imap.dovecotConf, host.mainCf, relayServer.mainCf].map(o => value(o as any)));
    await env.settle();
});

const component = (type: string, name: string) => env.byName(name, type);
const job = (name: string) => uploads(env.byName(name, T.container));
/** The uploads of a config job as { path in the config volume: content }. */
const uploaded = (name: string) =>
    new Map([...job(name)].map(([file, content]) => [file.replace(/^\/staging\//, ""), content]));

test("MailServer registers its validated settings with defaults applied, named as in MailServerArgs", () => {
    const w = component(T.mailServer, "in-bridge").wire;
    assert.equal(w.mode, "internet");
    assert.equal(w.hostname, "mail.example.com");
    assert.deepEqual(w.domains, ["example.com", "example.org"]);
    assert.deepEqual(w.mynetworks, ["127.0.0.0/8", "[::1]/128"]);
    assert.deepEqual(w.mydestination, ["$myhostname", "localhost"]);
    assert.deepEqual(w.ports, { smtp: 25, submission: 587, smtps: 465 });
    assert.equal(w.networkMode, "bridge");
    assert.equal(w.publishAddress, "127.0.0.1");
    assert.equal(w.namePrefix, "ib");
    assert.equal(w.adminAddress, "alice@example.com");
    assert.equal(w.messageSizeLimit, 26214400);
    assert.deepEqual(w.tls, { selfSigned: { validityHours: 8760 }, keyAlgorithm: "ECDSA" });
    // A relay is described, its credentials are not.
    assert.deepEqual(w.relayhosts, [
        {
            host: "smtp.relay.example.net",
            port: 587,
            implicitTls: false,
            tlsPolicy: "encrypt",
            senderDomains: [],
            hasCredentials: true,
        },
    ]);
    assert.deepEqual(component(T.mailServer, "in-relay-mode").wire.users, ["app@example.com"]);
    assert.equal(component(T.mailServer, "in-host").wire.networkMode, "host");
    assert.deepEqual(w.spamFilter, {
        enabled: true,
        rejectScore: 15,
        outboundRejectScore: 10,
        messagesPerHour: 100,
        recipientsPerHour: 300,
        addHeaderScore: 6,
        greylisting: false,
        greylistScore: 4,
        dnsbl: false,
        nameservers: [],
        dnsTimeout: "1s",
        scanProcesses: 2,
        dnsRetransmits: 5,
    });
    // Names are looked up unless the stack says its host has no DNS.
    assert.equal(w.dns, "available");
    assert.equal(w.peernameLookup, true);
    assert.equal(w.outboundAddress, undefined);
    const h = component(T.mailServer, "in-host").wire;
    assert.deepEqual(h.spamFilter, {
        enabled: true,
        rejectScore: 12,
        outboundRejectScore: 10,
        messagesPerHour: 100,
        recipientsPerHour: 300,
        addHeaderScore: 6,
        greylisting: true,
        greylistScore: 4,
        dnsbl: true,
        nameservers: ["192.0.2.53", "[2001:db8::53]:5353"],
        dnsTimeout: "1s",
        scanProcesses: 2,
        dnsRetransmits: 5,
    });
    assert.equal(h.outboundAddress, "192.0.2.25");
});

test("rspamd's files are inputs in clear, the very files its config job uploads but the DKIM keys", () => {
    for (const [name, prefix] of [
        ["in-bridge", "ib"],
        ["in-host", "ih"],
        ["in-relay-mode", "ir"],
    ]) {
        const files = component(T.mailServer, name).wire.rspamdFiles;
        assert.ok(!isWrappedSecret(files), `${name}: rspamdFiles is not secret`);
        const up = uploaded(`${prefix}-rspamd-config`);
        const expected = [...up.keys()].filter(p => p !== "MANIFEST" && !p.startsWith("dkim/"));
        assert.deepEqual(Object.keys(files).sort(), expected.sort(), `${name}: rspamdFiles`);
        for (const path of expected) assert.equal(files[path], text(up.get(path)), `${name}: ${path}`);
    }
    // The options reach the files: scores, greylisting, DNS blocklists, resolvers; mynetworks is local.
    const bridgeFiles = component(T.mailServer, "in-bridge").wire.rspamdFiles;
    const hostFiles = component(T.mailServer, "in-host").wire.rspamdFiles;
    assert.match(bridgeFiles["local.d/actions.conf"], /^reject = 15;\nadd_header = 6;\ngreylist = null;$/m);
    assert.match(hostFiles["local.d/actions.conf"], /^reject = 12;\nadd_header = 6;\ngreylist = 4;$/m);
    assert.match(bridgeFiles["local.d/greylist.conf"], /^enabled = false;$/m);
    assert.match(hostFiles["local.d/greylist.conf"], /^enabled = true;$/m);
    assert.match(hostFiles["local.d/rbl.conf"], /^enabled = true;$/m);
    assert.doesNotMatch(bridgeFiles["override.d/options.inc"], /nameserver/);
    assert.match(
        hostFiles["override.d/options.inc"],
        /^ {2}nameserver = \["192\.0\.2\.53", "\[2001:db8::53\]:5353"\];$/m,
    );
    assert.match(bridgeFiles["override.d/options.inc"], /^local_addrs = \["127\.0\.0\.0\/8", "::1\/128"\];$/m);
    assert.match(bridgeFiles["local.d/dkim_signing.conf"], /^enabled = true;$/m);
    // The outbound address is Postfix's business: main.cf binds the SMTP client to it.
    assert.match(
        component(T.mailServer, "in-host").wire.postfixFiles["main.cf"],
        /^smtp_bind_address = 192\.0\.2\.25$/m,
    );
    assert.doesNotMatch(component(T.mailServer, "in-bridge").wire.postfixFiles["main.cf"], /smtp_bind_address/);
});

test("main.cf and every Postfix lookup table are inputs in clear, the very files the config job uploads", async () => {
    const w = component(T.mailServer, "in-bridge").wire;
    const files = w.postfixFiles;
    assert.ok(!isWrappedSecret(files), "postfixFiles is not secret");
    for (const [path, content] of Object.entries(files))
        assert.equal(typeof content, "string", `${path} is a plain string input`);
    assert.equal(files["main.cf"], await value(bridge.mainCf));
    assert.match(files["main.cf"], /^myhostname = mail\.example\.com$/m);
    assert.match(files["main.cf"], /^mynetworks = 127\.0\.0\.0\/8, \[::1\]\/128$/m);
    assert.match(files.vmailbox, /^alice@example\.com\tOK$/m);
    assert.match(files.vmailbox, /^carol@example\.org\tOK$/m);
    assert.match(files.virtual, /^team@example\.com\talice@example\.com, bob@example\.com$/m);
    assert.match(files.aliases, /^root: alice@example\.com$/m);
    // Every file the job uploads, but the key, the certificate, the relay passwords and the
    // manifest, is an input with the same text.
    const up = uploaded("ib-postfix-config");
    const expected = [...up.keys()].filter(
        p => !["MANIFEST", "tls/key.pem", "tls/cert.pem", "sasl_passwd"].includes(p),
    );
    assert.deepEqual(Object.keys(files).sort(), expected.sort());
    for (const path of expected) assert.equal(files[path], text(up.get(path)), path);
    for (const t of [
        "vmailbox",
        "virtual",
        "aliases",
        "sender_login",
        "sender_relay",
        "relay_recipients",
        "sender_transport",
        "transport",
        "tls_policy",
    ]) {
        assert.ok(t in files, `${t} is an input`);
    }
    // saslauthd is relay mode's only (internet mode's SMTP AUTH asks Dovecot): its files and Postfix's
    // Cyrus SASL config are inputs there, and nowhere in internet mode.
    assert.equal(w.saslauthdFiles, undefined);
    assert.ok(!("sasl/smtpd.conf" in files));
    const relay = component(T.mailServer, "in-relay-mode").wire;
    assert.deepEqual(relay.saslauthdFiles, { "pam-smtp": text(uploaded("ir-saslauthd-config").get("pam-smtp")) });
    assert.equal(relay.postfixFiles["sasl/smtpd.conf"], text(uploaded("ir-postfix-config").get("sasl/smtpd.conf")));
});

test("master.cf is an input in every mode: Sieve's reinject socket depends on nothing Docker assigns", () => {
    for (const [name, prefix] of [
        ["in-bridge", "ib"],
        ["in-host", "ih"],
        ["in-relay-mode", "ir"],
    ]) {
        const masterCf = component(T.mailServer, name).wire.postfixFiles["master.cf"];
        assert.equal(typeof masterCf, "string", `${name}: master.cf`);
        assert.equal(
            masterCf,
            text(uploaded(`${prefix}-postfix-config`).get("master.cf")),
            `${name}: master.cf is the uploaded one`,
        );
    }
    for (const name of ["in-bridge", "in-host"])
        assert.match(component(T.mailServer, name).wire.postfixFiles["master.cf"], /^reinject\/smtp +unix +n /m);
    assert.doesNotMatch(component(T.mailServer, "in-host").wire.postfixFiles["master.cf"], /10026/);
});

test("DovecotImap: its settings, dovecot.conf and each Sieve script in clear, the files its config job uploads", async () => {
    const w = component(T.dovecotImap, "in-imap").wire;
    assert.equal(w.mailServer, component(T.mailServer, "in-bridge").urn);
    assert.deepEqual(w.ports, { imap: 143, imaps: 993, managesieve: 4190, pop3: 0, pop3s: 0 });
    assert.deepEqual(w.listen, ["*", "::"]);
    assert.deepEqual(w.vacation, { minPeriod: "1d", defaultPeriod: "7d", maxPeriod: "30d" });
    const up = uploaded("ib-dovecot-config");
    assert.deepEqual(Object.keys(w.dovecotFiles).sort(), [
        "dovecot.conf",
        "probe",
        "sieve-global/junk.sieve",
        "sieve/alice@example.com.sieve",
        "sieve/bob@example.com.sieve",
    ]);
    for (const [path, content] of Object.entries(w.dovecotFiles)) {
        assert.equal(typeof content, "string", path);
        assert.equal(content, text(up.get(path)), path);
    }
    assert.equal(w.dovecotFiles["dovecot.conf"], await value(imap.dovecotConf));
    assert.match(w.dovecotFiles["sieve/alice@example.com.sieve"], /vacation :days 3/);
    // The MailServer's spam filter is on: rspamd's "X-Spam: Yes" goes to Junk before any other script.
    assert.match(w.dovecotFiles["sieve-global/junk.sieve"], /^if header :is "X-Spam" "Yes" \{$/m);
    assert.match(w.dovecotFiles["dovecot.conf"], /^sieve_script junk \{\n {2}type = before$/m);
});

test("VirtualDomain and Relayhost register their validated settings, never a password", () => {
    const d = component(T.virtualDomain, "in-example.com").wire;
    assert.equal(d.domain, "example.com");
    assert.deepEqual(d.mailboxes, [
        {
            address: "alice@example.com",
            quota: "2G",
            aliases: ["info@example.com"],
            vacation: { subject: "Away", body: "Back on Monday.", days: 3 },
        },
        {
            address: "bob@example.com",
            aliases: [],
            fileInto: [{ header: "List-Id", contains: "dev", folder: "Lists/dev" }],
        },
    ]);
    assert.deepEqual(d.aliases, [{ address: "team@example.com", targets: ["alice@example.com", "bob@example.com"] }]);
    assert.deepEqual(d.mxHosts, ["mail.example.com"]);
    assert.equal(d.spf, "v=spf1 mx -all");
    assert.deepEqual(component(T.relayhost, "in-relay").wire, {
        host: "smtp.relay.example.net",
        port: 587,
        implicitTls: false,
        tlsPolicy: "encrypt",
        senderDomains: [],
        hasCredentials: true,
        username: "relay-user",
    });
});

test("secrets: the password hashes are secret inputs; keys and plaintext passwords are in no component input", () => {
    const server = component(T.mailServer, "in-relay-mode").wire,
        dovecot = component(T.dovecotImap, "in-imap").wire;
    assert.ok(isWrappedSecret(server.saslauthdSecretFiles), "MailServer saslauthdSecretFiles is a secret");
    assert.equal(
        unwrapSecrets(server.saslauthdSecretFiles).passwd,
        text(uploaded("ir-saslauthd-config").get("passwd")),
    );
    assert.equal(component(T.mailServer, "in-bridge").wire.saslauthdSecretFiles, undefined, "internet mode: none");
    assert.ok(isWrappedSecret(dovecot.dovecotSecretFiles), "DovecotImap dovecotSecretFiles is a secret");
    assert.equal(unwrapSecrets(dovecot.dovecotSecretFiles).users, text(uploaded("ib-dovecot-config").get("users")));
    for (const name of ["in-example.com", "in-example.org", "in-example.net"]) {
        const hashes = component(T.virtualDomain, name).wire.passwordHashes;
        assert.ok(isWrappedSecret(hashes), `${name}: passwordHashes is a secret`);
        assert.match(unwrapSecrets(hashes)[0].hash, /^\$6\$/);
    }
    const components: Recorded[] = env.records.filter(r => r.type.startsWith("mailserver:index:"));
    assert.equal(components.length, 9);
    for (const r of components) {
        const clear = JSON.stringify(redactSecrets(r.wire));
        assert.ok(!clear.includes("$6$"), `${r.type} ${r.name}: a password hash outside a secret`);
        const all = JSON.stringify(unwrapSecrets(r.wire)) + JSON.stringify(unwrapSecrets(r.inputs));
        assert.ok(!all.includes(KEY_MATERIAL), `${r.type} ${r.name}: holds the TLS key`);
        assert.ok(!all.includes("PRIVATE KEY"), `${r.type} ${r.name}: holds a private key`);
        assert.ok(!all.includes(ED25519_SEED), `${r.type} ${r.name}: holds an Ed25519 DKIM key as rspamd reads it`);
        for (const [who, pw] of Object.entries(PW))
            assert.ok(!all.includes(pw), `${r.type} ${r.name}: holds ${who}'s plaintext password`);
    }
});
