// Relay mode: a MailServer without mailboxes that sends everything through a Relayhost.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import {
    installMocks,
    isWrappedSecret,
    manifestEntries,
    MockEnv,
    redactSecrets,
    T,
    text,
    unwrapSecrets,
    uploads,
    value,
} from "./mocks";

const RELAY_PW = "Relay-Plaintext-Secret-9";
const ORG_PW = "Org-Plain-String-Pw-77"; // given as a plain string: must still be handled as a secret

let env: MockEnv;
let c: typeof import("../../components");
let server: import("../../components").MailServer;
let relay: import("../../components").Relayhost;
let orgRelay: import("../../components").Relayhost;

before(async () => {
    env = await installMocks();
    c = await import("../../components");
    relay = new c.Relayhost("relay-default", {
        host: "smtp.relay.example.net",
        port: 587,
        username: "relay-user",
        password: env.pulumi.secret(RELAY_PW),
    });
    orgRelay = new c.Relayhost("relay-org", {
        host: "smtp.other.example",
        port: 465,
        username: "org-user",
        password: ORG_PW,
        senderDomains: ["example.org"],
    });
    server = new c.MailServer("smarthost", {
        mode: "relay",
        hostname: "relay.example.com",
        relayhosts: [relay, orgRelay],
        namePrefix: "rl",
        mynetworks: ["10.0.0.0/16"],
    });
    await Promise.all([value(server.mainCf), value(server.credentials), value(relay.password)]);
    await env.settle();
});

const container = (name: string) => env.byName(name, T.container);

test("relay mode: Postfix, saslauthd, and rspamd with Valkey as the milter; no mail volume and nothing of Dovecot", () => {
    const mine = env.records
        .filter(r => r.name.startsWith("rl-"))
        .map(r => `${r.type} ${r.name}`)
        .sort();
    assert.deepEqual(
        mine,
        [
            `${T.container} rl-postfix`,
            `${T.container} rl-postfix-config`,
            `${T.container} rl-saslauthd`,
            `${T.container} rl-saslauthd-config`,
            `${T.container} rl-rspamd`,
            `${T.container} rl-rspamd-config`,
            `${T.container} rl-valkey`,
            `${T.network} rl-net`,
            `${T.image} rl-postfix-image`,
            `${T.image} rl-saslauthd-image`,
            `${T.image} rl-rspamd-image`,
            `${T.image} rl-valkey-image`,
            `${T.volume} rl-lmtp`,
            `${T.volume} rl-postfix-config`,
            `${T.volume} rl-queue`,
            `${T.volume} rl-saslauthd-config`,
            `${T.volume} rl-saslauthd-run`,
            `${T.volume} rl-rspamd-config`,
            `${T.volume} rl-rspamd-data`,
            `${T.volume} rl-rspamd-milter`,
            `${T.volume} rl-valkey-data`,
            `${T.volume} rl-valkey-run`,
            `${T.privateKey} rl-tls-key`,
            `${T.selfSignedCert} rl-tls-cert`,
        ].sort(),
    );
    assert.equal(env.find("rl-mail"), undefined);
    assert.equal(env.records.filter(r => r.type === T.dovecotImap).length, 0);
});

test("relay mode: rspamd is Postfix's milter, treats relay users and mynetworks as its own, and has no DKIM key", async () => {
    const mainCf = await value(server.mainCf);
    assert.match(mainCf, /^smtpd_milters = unix:\/run\/rspamd-milter\/milter\.sock$/m);
    assert.ok(
        container("rl-postfix").inputs.mounts.some(
            (m: any) => m.source === "rl-rspamd-milter" && m.target === "/run/rspamd-milter",
        ),
        "Postfix mounts the milter's socket volume",
    );
    const rs = uploads(container("rl-rspamd-config"));
    // Authenticated users and mynetworks: signed (were there keys) and never scored.
    const settings = text(rs.get("/staging/local.d/settings.conf"));
    assert.match(settings, /^authenticated \{$/m);
    assert.match(settings, /^trusted \{\n {2}priority = high;\n {2}ip = \["10\.0\.0\.0\/16"\];$/m);
    assert.match(text(rs.get("/staging/override.d/options.inc")), /^local_addrs = \["10\.0\.0\.0\/16"\];$/m);
    // Relay mode has no VirtualDomain, so no DKIM key: signing and ARC sealing are off.
    assert.match(text(rs.get("/staging/local.d/dkim_signing.conf")), /^enabled = false;$/m);
    assert.match(text(rs.get("/staging/local.d/arc.conf")), /^enabled = false;$/m);
    assert.deepEqual(
        [...rs.keys()].filter(f => f.startsWith("/staging/dkim/")),
        [],
    );
});

test("relay mode: main.cf sends everything through [host]:port with SASL", async () => {
    const mainCf = await value(server.mainCf);
    const line = (key: string) => mainCf.split("\n").find(l => l === key || l.startsWith(`${key} =`));
    assert.equal(line("relayhost"), "relayhost = [smtp.relay.example.net]:587");
    assert.equal(line("smtp_tls_security_level"), "smtp_tls_security_level = encrypt");
    assert.equal(line("smtp_sasl_auth_enable"), "smtp_sasl_auth_enable = yes");
    assert.equal(line("smtp_sasl_password_maps"), "smtp_sasl_password_maps = lmdb:/config/current/sasl_passwd");
    assert.equal(
        line("sender_dependent_relayhost_maps"),
        "sender_dependent_relayhost_maps = lmdb:/config/current/sender_relay",
    );
    assert.equal(line("smtp_sender_dependent_authentication"), "smtp_sender_dependent_authentication = yes");
    assert.equal(line("virtual_mailbox_domains"), "virtual_mailbox_domains =");
    assert.equal(line("virtual_transport"), undefined, "no LMTP delivery in relay mode");
    assert.equal(line("mynetworks"), "mynetworks = 10.0.0.0/16");
    assert.equal(await value(relay.nexthop), "[smtp.relay.example.net]:587");
    const pf = uploads(container("rl-postfix-config"));
    assert.equal(text(pf.get("/staging/main.cf")), mainCf);
    assert.match(text(pf.get("/staging/sender_relay")), /^@example\.org\t\[smtp\.other\.example\]:465$/m);
});

test("relay mode: the relay passwords are secret, and only in the root-only sasl_passwd", async () => {
    assert.equal(await env.pulumi.isSecret(relay.password), true);
    assert.equal(await env.pulumi.isSecret(orgRelay.password), true, "a plain-string password becomes a secret output");
    assert.equal(await value(relay.password), RELAY_PW);

    const pf = uploads(container("rl-postfix-config"));
    const saslPasswd = pf.get("/staging/sasl_passwd");
    assert.ok(isWrappedSecret(saslPasswd), "sasl_passwd upload is secret");
    const lines = text(saslPasswd).split("\n");
    assert.ok(lines.includes(`[smtp.relay.example.net]:587\trelay-user:${RELAY_PW}`), "default relay credentials");
    assert.ok(lines.includes(`@example.org\torg-user:${ORG_PW}`), "per-sender relay credentials");
    assert.deepEqual(manifestEntries(text(pf.get("/staging/MANIFEST"))).get("sasl_passwd"), {
        mode: "0600",
        owner: "root",
        group: "root",
    });

    for (const r of env.records) {
        for (const pw of [RELAY_PW, ORG_PW]) {
            assert.ok(
                !JSON.stringify(redactSecrets(r.wire)).includes(pw),
                `${r.type} ${r.name}: relay password outside a secret`,
            );
            const anywhere = JSON.stringify(unwrapSecrets(r.inputs)).includes(pw);
            assert.equal(
                anywhere,
                r.type === T.container && r.name === "rl-postfix-config",
                `${r.type} ${r.name}: relay password present = ${anywhere}`,
            );
        }
    }
    for (const name of ["rl-postfix", "rl-saslauthd", "rl-postfix-config", "rl-saslauthd-config"]) {
        const i = unwrapSecrets(container(name).inputs);
        assert.equal(i.envs, undefined);
        for (const pw of [RELAY_PW, ORG_PW]) assert.ok(!JSON.stringify(i.labels).includes(pw));
    }
});

test("relay mode's config jobs, saslauthd's included, get the services' hardening: CAP_CHOWN only", () => {
    for (const name of ["rl-postfix-config", "rl-saslauthd-config"]) {
        const i = container(name).inputs;
        assert.deepEqual(i.capabilities, { drops: ["ALL"], adds: ["CAP_CHOWN"] }, name);
        assert.deepEqual(i.securityOpts, ["no-new-privileges:true"], name);
    }
});

test("a DovecotImap on a relay MailServer is refused, before anything is registered", async () => {
    const before = env.records.length;
    assert.throws(
        () => new c.DovecotImap("imap-on-relay", { mailServer: server }),
        (e: any) =>
            e instanceof c.MailConfigError &&
            /^DovecotImap imap-on-relay: mailServer = "relay"/.test(e.message) &&
            /"internet" mode/.test(e.message),
    );
    await env.settle();
    assert.equal(env.records.length, before);
    assert.equal(env.find("imap-on-relay"), undefined);
});

// Regression: renderSaslauthdPasswd([]) gave "\n", one blank line that images/saslauthd/validate-config
// counts as malformed, so the config job failed and no relay-mode deployment could succeed.
test("relay mode with no mailboxes: saslauthd's passwd still passes the image's own check", () => {
    const passwd = text(uploads(container("rl-saslauthd-config")).get("/staging/passwd"));
    // images/saslauthd/validate-config: every line of the file must be "address:$6$...".
    const lines = passwd.endsWith("\n") ? passwd.slice(0, -1).split("\n") : passwd.split("\n");
    const bad = passwd === "" ? [] : lines.filter(l => !/^[^:\s]+:\$6\$[^:]+$/.test(l));
    assert.deepEqual(bad, [], `malformed passwd lines: ${JSON.stringify(passwd)}`);
});
