// tls.acme with challenge "dns-01": what the ACME container is given (environment) and what
// MailServer registers (settings), and a valid configuration read with its defaults. The refused
// inputs are in test/components/bad-input.test.ts; the real run in test/live/acme-dns.test.ts. The
// ACME image's script takes every setting from that environment, with no default of its own.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, test } from "node:test";
import { acmeEnv } from "../../components/services/acme";
import { tlsSettings } from "../../components/inputs";
import { LEGO_DNS_PROVIDERS } from "../../components/options/acme";
import { validateTls } from "../../components/options/tls";
import { Validator } from "../../components/model/validator";

const SECRET = "c2VjcmV0LXRzaWcta2V5LW9mLXRoZS10ZXN0";
const read = (acme: Record<string, unknown>) =>
    validateTls(new Validator("MailServer mx"), { acme: { email: "hostmaster@example.com", ...acme } });

const dns01 = {
    challenge: "dns-01",
    dnsProvider: "rfc2136",
    dnsSettings: { RFC2136_NAMESERVER: "192.0.2.53", RFC2136_TSIG_KEY: "acme-key" },
    dnsCredentials: { RFC2136_TSIG_SECRET: SECRET },
    names: ["imap.example.com"],
};

describe("tls.acme dns-01", () => {
    test("the environment: provider and settings as given, each credential only as a <NAME>_FILE path", () => {
        const tls = read({ ...dns01, dnsResolvers: ["192.0.2.53:5353"], dnsCheckAllNameservers: false });
        const env = acmeEnv(tls.acme!, "mail.example.com", "host");
        assert.deepEqual(env.slice(4), [
            "ACME_CHALLENGE=dns-01",
            "ACME_DNS_PROVIDER=rfc2136",
            "ACME_DNS_RESOLVERS=192.0.2.53:5353",
            "ACME_DNS_ALL_NAMESERVERS=false",
            "RFC2136_NAMESERVER=192.0.2.53",
            "RFC2136_TSIG_KEY=acme-key",
            "RFC2136_TSIG_SECRET_FILE=/credentials/current/RFC2136_TSIG_SECRET",
            "ACME_RENEW_DAYS=30",
            "ACME_RETRY_SECONDS=600",
        ]);
        assert.ok(!env.join("\n").includes(SECRET), "the secret in the environment");
        assert.ok(!env.some(e => e.startsWith("ACME_HTTP_LISTEN=")), "an HTTP-01 listener");
    });

    test("defaults: the system's resolvers, every authoritative name server checked", () => {
        const env = acmeEnv(read(dns01).acme!, "mail.example.com", "host");
        assert.ok(!env.some(e => /^ACME_DNS_(RESOLVERS|ALL_NAMESERVERS)=/.test(e)), env.join(" "));
    });

    test("http-01 is unchanged: its listen address, no dns-01 variable", () => {
        const env = acmeEnv(read({ httpAddress: "192.0.2.10" }).acme!, "mail.example.com", "host");
        assert.ok(env.includes("ACME_HTTP_LISTEN=192.0.2.10:80"));
        assert.ok(!env.some(e => e.startsWith("ACME_CHALLENGE=") || e.startsWith("ACME_DNS_")));
    });

    test("the registered settings name the credentials, never their values, and no HTTP-01 fields", () => {
        const settings = tlsSettings(read(dns01));
        assert.ok(!JSON.stringify(settings).includes(SECRET), "a credential value in the settings");
        assert.deepEqual(settings, {
            acme: {
                directory: "https://acme-v02.api.letsencrypt.org/directory",
                email: "hostmaster@example.com",
                names: ["imap.example.com"],
                challenge: "dns-01",
                keyType: "ECDSA",
                renewDaysBefore: 30,
                retrySeconds: 600,
                caCertPem: undefined,
                dnsProvider: "rfc2136",
                dnsSettings: { RFC2136_NAMESERVER: "192.0.2.53", RFC2136_TSIG_KEY: "acme-key" },
                dnsCredentialNames: ["RFC2136_TSIG_SECRET"],
                dnsResolvers: [],
                dnsCheckAllNameservers: true,
            },
        });
        // http-01's settings carry no dns-01 field at all (as before dns-01 existed).
        assert.deepEqual(Object.keys(tlsSettings(read({})).acme!).sort(), [
            "caCertPem",
            "challenge",
            "directory",
            "email",
            "httpAddress",
            "httpPort",
            "keyType",
            "names",
            "renewDaysBefore",
            "retrySeconds",
        ]);
    });

    test("a credential may be a Pulumi output (resolved later); the provider list is lego 4.9.1's", () => {
        const later = { apply: () => undefined } as unknown as string;
        assert.equal(
            read({ ...dns01, dnsCredentials: { RFC2136_TSIG_SECRET: later } }).acme!.dnsCredentials!
                .RFC2136_TSIG_SECRET,
            later,
        );
        for (const code of ["rfc2136", "cloudflare", "route53", "acme-dns", "hetzner", "ovh"])
            assert.ok(LEGO_DNS_PROVIDERS.includes(code), code);
        assert.ok(!LEGO_DNS_PROVIDERS.includes("manual") && !LEGO_DNS_PROVIDERS.includes("exec"));
    });
});

/** The ACME image's script (images/acme/acme) with exactly this environment: its "check" command. */
const ACME_SCRIPT = path.join(__dirname, "..", "..", "images", "acme", "acme");
function acmeCheck(env: string[]) {
    const vars = Object.fromEntries(env.map(e => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    return spawnSync("bash", [ACME_SCRIPT, "check"], { env: { PATH: process.env.PATH, ...vars }, encoding: "utf8" });
}

describe("the ACME script takes its settings from the component only", () => {
    // A default in the script would be a second source (it once retried every 60 s where
    // retrySeconds says 600): each setting the component passes is required, and named when missing.
    for (const [challenge, acme] of [
        ["http-01", {}],
        ["dns-01", dns01],
    ] as const) {
        test(`${challenge}: with the component's environment it runs; without any one of its settings it stops naming it`, () => {
            const env = acmeEnv(read(acme).acme!, "mail.example.com", "host");
            // "check" fails here (no /certs), but only after the settings were read: nothing on stderr.
            assert.equal(acmeCheck(env).stderr, "");
            const settings = env.filter(e => /^ACME_(?!DNS_RESOLVERS|DNS_ALL_NAMESERVERS|CA_PEM)/.test(e));
            assert.ok(
                settings.some(e => e.startsWith("ACME_RETRY_SECONDS=")),
                env.join(" "),
            );
            for (const setting of settings.filter(e => !e.startsWith("ACME_CHALLENGE="))) {
                const name = setting.slice(0, setting.indexOf("="));
                const run = acmeCheck(env.filter(e => e !== setting));
                assert.equal(run.status, 2, `${name} left out: ${run.stderr}`);
                assert.match(run.stderr, new RegExp(`^acme: ${name} is not set`), name);
            }
        });
    }
});
