// MailServer wellKnown under mocks: the nginx container (least privilege, healthcheck, its port),
// its config job (the rendered files and the certificate, or with tls.acme the certs volume),
// the endpoint's names on the certificate, and no container when no domain is served.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { installMocks, isWrappedSecret, manifestEntries, MockEnv, T, text, uploads, value } from "./mocks";

let env: MockEnv;
let records: Record<string, any[]>;

before(async () => {
    env = await installMocks();
    const c = await import("../../components");
    const domain = (name: string, wellKnown: boolean) =>
        new c.VirtualDomain(`w-${name}`, {
            domain: name,
            mailboxes: [{ address: "alice", password: "alice-Plaintext-Pass-01" }],
            wellKnown,
            ...(wellKnown ? { clientPorts: { imap: 143 } } : {}),
        });
    const served = domain("example.com", true);
    const plain = domain("example.org", false);
    // Bridge mode, self-signed, the default port 443.
    const bridge = new c.MailServer("wk-bridge", {
        hostname: "mail.example.com",
        domains: [served, plain],
        namePrefix: "wb",
        networkMode: "bridge",
        wellKnown: { address: "192.0.2.44" },
    });
    // Host mode with tls.acme on a high port.
    const host = new c.MailServer("wk-host", {
        hostname: "mail.example.com",
        domains: [served],
        namePrefix: "wh",
        networkMode: "host",
        wellKnown: { httpsPort: 34443, address: "127.0.0.1" },
        tls: { acme: { email: "hostmaster@example.com", names: ["imap.example.com"] } },
    });
    // No served domain: no endpoint, whatever wellKnown says.
    const none = new c.MailServer("wk-none", {
        hostname: "mail.example.com",
        domains: [plain],
        namePrefix: "wn",
        networkMode: "host",
        wellKnown: { httpsPort: 8443 },
    });
    records = {
        served: await value(served.dnsRecords),
        plain: await value(plain.dnsRecords),
    };
    await Promise.all([bridge, host, none].map(s => value(s.mainCf)));
    await env.settle();
});

const container = (name: string) => env.byName(name, T.container);

test("the nginx container: its own image, least privilege, read-only, healthcheck, published on wellKnown.address", () => {
    assert.equal(env.byName("wb-web-image", T.image).inputs.build.dockerfile, "web/Dockerfile");
    const web = container("wb-web").inputs;
    // Port 443 < 1024: CAP_NET_BIND_SERVICE; the master starts its workers as www-data.
    assert.deepEqual(web.capabilities, {
        drops: ["ALL"],
        adds: ["CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"],
    });
    assert.equal(web.readOnly, true);
    assert.deepEqual(web.securityOpts, ["no-new-privileges:true"]);
    assert.deepEqual(Object.keys(web.tmpfs).sort(), ["/run/mail", "/run/nginx", "/tmp"]);
    assert.deepEqual(web.healthcheck.tests, ["CMD", "/usr/local/lib/mail/healthcheck"]);
    assert.deepEqual(
        web.ports.map((p: any) => [p.internal, p.external, p.ip]),
        [[443, 443, "192.0.2.44"]],
    );
    assert.deepEqual(
        web.mounts.map((m: any) => [m.source, m.target, !!m.readOnly]),
        [["wb-web-config", "/config", true]],
    );
    assert.ok(container("wb-web").dependencies.includes(container("wb-web-config").urn), "waits for its config job");
});

test("host mode, a high port: no capability to bind, nginx binds the address itself", () => {
    const web = container("wh-web").inputs;
    assert.equal(web.networkMode, "host");
    assert.equal(web.ports, undefined);
    assert.deepEqual(web.capabilities.adds, ["CAP_SETGID", "CAP_SETUID"]);
    const conf = text(uploads(container("wh-web-config")).get("/staging/nginx.conf"));
    assert.match(conf, /listen 127\.0\.0\.1:34443 ssl default_server;/);
    assert.doesNotMatch(conf, /listen \[::\]/);
});

test("the config job installs nginx.conf, the served domain's files and the certificate (key secret, root-only)", () => {
    const files = uploads(container("wb-web-config"));
    const manifest = manifestEntries(text(files.get("/staging/MANIFEST")));
    assert.deepEqual([...manifest.keys()].sort(), [
        "https-probe",
        "nginx.conf",
        "probe",
        "tls/cert.pem",
        "tls/key.pem",
        "www/example.com/config-v1.1.xml",
        "www/example.com/mta-sts.txt",
    ]);
    assert.deepEqual(manifest.get("tls/key.pem"), { mode: "0600", owner: "root", group: "root" });
    assert.ok(isWrappedSecret(files.get("/staging/tls/key.pem")), "the key stays a secret");
    assert.equal(
        text(files.get("/staging/www/example.com/mta-sts.txt")),
        "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 604800\n",
    );
    const xml = text(files.get("/staging/www/example.com/config-v1.1.xml"));
    assert.match(xml, /<port>143<\/port>\s*<socketType>STARTTLS<\/socketType>/);
    const conf = text(files.get("/staging/nginx.conf"));
    assert.match(conf, /ssl_certificate \/config\/current\/tls\/cert\.pem;/);
    assert.match(conf, /listen 0\.0\.0\.0:443 ssl default_server;/, "bridge mode: every IPv4 address of its network");
    assert.doesNotMatch(conf, /example\.org/, "a domain without wellKnown is not served");
    // The same files are the component's webFiles input, for `pulumi preview --diff`.
    const server = env.byName("wk-bridge", T.mailServer).inputs;
    assert.equal(server.webFiles["nginx.conf"], conf);
    assert.deepEqual(server.wellKnown, { httpsPort: 443, address: "192.0.2.44" });
});

test("the self-signed certificate names the endpoint's hosts", () => {
    const cert = env.byName("wb-tls-cert", T.selfSignedCert).inputs;
    assert.deepEqual(cert.dnsNames, ["mail.example.com", "mta-sts.example.com", "autoconfig.example.com"]);
});

test("tls.acme: nginx reads the certs volume, waits for the ACME container, whose names include the endpoint's", () => {
    const web = container("wh-web");
    assert.deepEqual(
        web.inputs.mounts.map((m: any) => [m.source, m.target, !!m.readOnly]),
        [
            ["wh-web-config", "/config", true],
            ["wh-certs", "/certs", true],
        ],
    );
    assert.ok(web.dependencies.includes(container("wh-acme").urn));
    assert.ok(
        container("wh-acme").inputs.envs.includes(
            "ACME_DOMAINS=mail.example.com,imap.example.com,mta-sts.example.com,autoconfig.example.com",
        ),
    );
    const files = uploads(container("wh-web-config"));
    assert.deepEqual(
        [...files.keys()].filter(f => f.includes("/tls/")),
        [],
        "no key through Pulumi",
    );
    assert.match(text(files.get("/staging/nginx.conf")), /ssl_certificate \/certs\/current\/cert\.pem;/);
});

test("no served domain: no image, container, volume or input of the endpoint", () => {
    for (const [name, type] of [
        ["wn-web", T.container],
        ["wn-web-config", T.container],
        ["wn-web-config", T.volume],
        ["wn-web-image", T.image],
    ])
        assert.equal(env.find(name, type), undefined, `${type} ${name}`);
    const server = env.byName("wk-none", T.mailServer).inputs;
    assert.equal(server.webFiles, undefined);
    assert.equal(server.wellKnown, undefined);
    assert.deepEqual(env.byName("wn-tls-cert", T.selfSignedCert).inputs.dnsNames, ["mail.example.com"]);
});

test("dnsRecords: mta-sts. and autoconfig. only for the served domain", () => {
    const named = (rs: any[]) =>
        rs.filter(r => /^(mta-sts|autoconfig)\./.test(r.name)).map(r => `${r.name} ${r.type} ${r.value}`);
    assert.deepEqual(named(records.served), [
        "mta-sts.example.com CNAME mail.example.com.",
        "autoconfig.example.com CNAME mail.example.com.",
    ]);
    assert.deepEqual(named(records.plain), []);
});
