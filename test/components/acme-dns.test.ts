// tls.acme with challenge "dns-01" under mocks: no port, the credentials volume and its config job,
// each credential a secret upload (root, 0400) even when given as a plain string, and in no input
// of the ACME container; the registered settings name the credentials only.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { installMocks, isWrappedSecret, manifestEntries, MockEnv, T, text, uploads, value } from "./mocks";

let env: MockEnv;
const SECRET = "dG9wLXNlY3JldC10c2lnLWtleS1mb3ItdGhlLW1vY2tz";

before(async () => {
    env = await installMocks();
    const c = await import("../../components");
    const domain = new c.VirtualDomain("d-example.com", {
        domain: "example.com",
        mailboxes: [{ address: "alice", password: "alice-Plaintext-Pass-01" }],
    });
    const server = new c.MailServer("mx-dns01", {
        hostname: "mail.example.com",
        domains: [domain],
        namePrefix: "gd",
        networkMode: "bridge",
        tls: {
            acme: {
                email: "hostmaster@example.com",
                challenge: "dns-01",
                dnsProvider: "rfc2136",
                dnsSettings: { RFC2136_NAMESERVER: "192.0.2.53", RFC2136_TSIG_KEY: "acme-key" },
                // A plain string: the component makes it a secret.
                dnsCredentials: { RFC2136_TSIG_SECRET: SECRET },
            },
        },
    });
    await value(server.mainCf as any);
    await env.settle();
});

const container = (name: string) => env.byName(name, T.container);

test("the ACME container: no port and no capability, the credentials volume read-only, each credential only as a _FILE path", () => {
    const acme = container("gd-acme");
    assert.deepEqual(acme.inputs.ports ?? [], []);
    assert.deepEqual(acme.inputs.capabilities, { drops: ["ALL"], adds: [] });
    assert.deepEqual(
        acme.inputs.mounts.map((m: any) => [m.source, m.target, !!m.readOnly]),
        [
            ["gd-acme", "/acme", false],
            ["gd-certs", "/certs", false],
            ["gd-acme-credentials", "/credentials", true],
        ],
    );
    assert.deepEqual(acme.inputs.envs.slice(4, 9), [
        "ACME_CHALLENGE=dns-01",
        "ACME_DNS_PROVIDER=rfc2136",
        "RFC2136_NAMESERVER=192.0.2.53",
        "RFC2136_TSIG_KEY=acme-key",
        "RFC2136_TSIG_SECRET_FILE=/credentials/current/RFC2136_TSIG_SECRET",
    ]);
    assert.ok(!JSON.stringify(acme.inputs).includes(SECRET), "the secret in the ACME container's inputs");
    assert.ok(acme.dependencies.includes(container("gd-acme-config").urn), "it waits for its credentials");
});

test("the config job installs each credential as a secret upload, root-only", () => {
    const job = container("gd-acme-config");
    assert.deepEqual(job.inputs.command, ["apply-config"]);
    assert.deepEqual(
        job.inputs.mounts.map((m: any) => [m.source, m.target]),
        [["gd-acme-credentials", "/volume"]],
    );
    const files = uploads(job);
    const content = files.get("/staging/RFC2136_TSIG_SECRET");
    assert.ok(isWrappedSecret(content), "the credential upload is a secret");
    assert.equal(text(content), SECRET);
    assert.deepEqual(manifestEntries(text(files.get("/staging/MANIFEST"))).get("RFC2136_TSIG_SECRET"), {
        mode: "0400",
        owner: "root",
        group: "root",
    });
    assert.equal(env.byName("gd-acme-credentials", T.volume).retainOnDelete ?? false, false);
});

test("the registered settings name the credential, never its value", () => {
    const server = env.byName("mx-dns01", T.mailServer);
    assert.ok(!JSON.stringify(server.wire).includes(SECRET), "the secret in MailServer's registered inputs");
    assert.deepEqual(server.inputs.tls.acme.dnsCredentialNames, ["RFC2136_TSIG_SECRET"]);
    assert.equal(server.inputs.tls.acme.dnsCredentials, undefined);
});
