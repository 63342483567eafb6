// tls.acme under mocks: the ACME container and its volumes, what Postfix and Dovecot mount and wait
// for, and that no certificate or key passes through Pulumi or a config job.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { installMocks, MockEnv, T, uploads, value } from "./mocks";

let env: MockEnv;

before(async () => {
    env = await installMocks();
    const c = await import("../../components");
    const domain = new c.VirtualDomain("a-example.com", {
        domain: "example.com",
        mailboxes: [{ address: "alice", password: "alice-Plaintext-Pass-01" }],
    });
    const server = new c.MailServer("mx-acme", {
        hostname: "mail.example.com",
        domains: [domain],
        namePrefix: "ga",
        networkMode: "bridge",
        tls: { acme: { email: "hostmaster@example.com", names: ["imap.example.com"], httpAddress: "192.0.2.80" } },
    });
    const imap = new c.DovecotImap("imap-acme", { mailServer: server });
    await Promise.all([server.mainCf, imap.dovecotConf].map(o => value(o as any)));
    await env.settle();
});

const container = (name: string) => env.byName(name, T.container);

test("the ACME container: its own image, least privilege, HTTP-01 port published, nothing secret in its environment", () => {
    const img = env.byName("ga-acme-image", T.image).inputs;
    assert.equal(img.build.dockerfile, "acme/Dockerfile");
    const acme = container("ga-acme").inputs;
    assert.deepEqual(acme.capabilities, { drops: ["ALL"], adds: ["CAP_NET_BIND_SERVICE"] });
    assert.equal(acme.readOnly, true);
    assert.deepEqual(acme.securityOpts, ["no-new-privileges:true"]);
    // Bridge mode: Docker publishes the port on httpAddress; lego binds all of its container's addresses.
    assert.deepEqual(
        acme.ports.map((p: any) => [p.internal, p.external, p.ip]),
        [[80, 80, "192.0.2.80"]],
    );
    assert.deepEqual(acme.envs, [
        "ACME_SERVER=https://acme-v02.api.letsencrypt.org/directory",
        "ACME_EMAIL=hostmaster@example.com",
        "ACME_DOMAINS=mail.example.com,imap.example.com",
        "ACME_KEY_TYPE=ec256",
        "ACME_HTTP_LISTEN=80",
        "ACME_RENEW_DAYS=30",
        "ACME_RETRY_SECONDS=600",
    ]);
    assert.deepEqual(
        acme.mounts.map((m: any) => [m.source, m.target, !!m.readOnly]),
        [
            ["ga-acme", "/acme", false],
            ["ga-certs", "/certs", false],
        ],
    );
});

test("account and certificates survive pulumi destroy and replacement", () => {
    assert.equal(env.byName("ga-acme", T.volume).retainOnDelete, true);
    assert.equal(env.byName("ga-certs", T.volume).retainOnDelete, true);
});

test("Postfix and Dovecot mount the certs volume read-only and wait for the ACME container", () => {
    const acmeUrn = container("ga-acme").urn;
    for (const name of ["ga-postfix", "ga-dovecot"]) {
        const r = container(name);
        const certs = r.inputs.mounts.find((m: any) => m.source === "ga-certs");
        assert.deepEqual([certs?.target, certs?.readOnly], ["/certs", true], `${name} mounts /certs read-only`);
        assert.ok(r.dependencies.includes(acmeUrn), `${name} waits for the ACME container`);
    }
});

test("no certificate or key from Pulumi: no tls resources, no tls/ files in the config jobs", () => {
    assert.equal(env.find("ga-tls-key", T.privateKey), undefined);
    assert.equal(env.find("ga-tls-cert", T.selfSignedCert), undefined);
    for (const job of ["ga-postfix-config", "ga-dovecot-config"]) {
        const files = [...uploads(container(job)).keys()];
        assert.deepEqual(
            files.filter(f => f.includes("/tls/")),
            [],
            `${job} uploads`,
        );
    }
});
