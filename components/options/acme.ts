// MailServer tls.acme: the ACME client's options (lego: the directory, the challenges, the DNS
// providers and their variables), declared once, and the check that each challenge gets only its
// own fields.
import type { Input } from "@pulumi/pulumi";
import { isIP } from "net";
import type { AcmeSettings } from "../model/settings";
import { Validator } from "../model/validator";
import {
    boolean,
    integer,
    list,
    oneOf,
    Option,
    passthrough,
    Pinned,
    required,
    SameType,
    text,
    Values,
} from "./declare";

/** Let's Encrypt's production directory; its staging directory is LETS_ENCRYPT_STAGING. */
export const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";
export const LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

/**
 * The DNS provider codes of the lego in the ACME image (Debian 13's lego 4.9.1, `lego dnshelp`),
 * less "manual" and "exec": the first waits for a person at a terminal, the second runs a program
 * the image does not have. A code not in this list would fail only inside the container, later.
 */
export const LEGO_DNS_PROVIDERS = `
acme-dns alidns allinkl arvancloud auroradns autodns azure bindman bluecat checkdomain civo
clouddns cloudflare cloudns cloudxns conoha constellix desec designate digitalocean dnsimple
dnsmadeeasy dnspod dode domeneshop dreamhost duckdns dyn dynu easydns edgedns epik exoscale
freemyip gandi gandiv5 gcloud gcore glesys godaddy hetzner hostingde hosttech httpreq hurricane
hyperone ibmcloud iij iijdpf infoblox infomaniak internetbs inwx ionos iwantmyname joker
lightsail linode liquidweb loopia luadns mydnsjp mythicbeasts namecheap namedotcom namesilo
nearlyfreespeech netcup netlify nicmanager nifcloud njalla ns1 oraclecloud otc ovh pdns porkbun
rackspace regru rfc2136 rimuhosting route53 safedns sakuracloud scaleway selectel servercow
simply sonic stackpath tencentcloud transip variomedia vegadns vercel versio vinyldns vkcloud
vscale vultr wedos yandex yandexcloud zoneee zonomi
`
    .trim()
    .split(/\s+/);

/**
 * Whether a lego variable holds a credential (a token, a secret, a password, an API or private
 * key), by its name: lego names them so across its providers (CLOUDFLARE_DNS_API_TOKEN,
 * RFC2136_TSIG_SECRET, AWS_SECRET_ACCESS_KEY, OVH_APPLICATION_SECRET, HETZNER_API_KEY, ...). Key
 * names and ids are not (RFC2136_TSIG_KEY is the TSIG key's name, AWS_ACCESS_KEY_ID an id).
 */
export function isCredentialName(name: string): boolean {
    if (/_ID$|_NAME$|^RFC2136_TSIG_KEY$/.test(name)) return false;
    return /SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|PRIVATE|API_?KEY|AUTH_?KEY|CONSUMER_KEY|_KEY$/.test(name);
}

/** lego's variables are upper-case; the image sets LEGO_* and ACME_* and every credential's *_FILE itself. */
function legoVariable(v: Validator, field: string, name: string): void {
    if (!/^[A-Z0-9_]+$/.test(name))
        v.fail(field, name, "expected a lego environment variable name (A-Z, 0-9, _), e.g. RFC2136_NAMESERVER");
    if (/^(LEGO|ACME)_/.test(name) || name.endsWith("_FILE"))
        v.fail(
            field,
            name,
            "expected a DNS provider's variable: LEGO_* and ACME_* are the image's own, and *_FILE is set for each dnsCredentials entry",
        );
}

/** A map of lego variables; `value` checks each entry (at field["NAME"]). */
function legoVariables<T>(
    tsType: string,
    secret: boolean,
    doc: string,
    value: (v: Validator, field: string, x: unknown) => T,
): Option<Record<string, T> | undefined> {
    return {
        ...passthrough<Record<string, T> | undefined, { doc: string }>(tsType, { type: "object", secret }, { doc }),
        check: (v: Validator, field: string, x: unknown): Record<string, T> => {
            if (typeof x !== "object" || x === null || Array.isArray(x))
                v.fail(
                    field,
                    secret ? "(not a map)" : x,
                    `expected a map of lego variable names to values (${tsType})`,
                );
            // Each file and each *_FILE variable is named at preview: the names cannot wait for an output.
            if ("apply" in x || "then" in x)
                v.fail(
                    field,
                    "(an output)",
                    'expected a plain map whose values may be secrets, e.g. { CLOUDFLARE_DNS_API_TOKEN: config.requireSecret("token") }',
                );
            const out: Record<string, T> = {};
            for (const [name, item] of Object.entries(x as Record<string, unknown>)) {
                legoVariable(v, `${field}.${name}`, name);
                out[name] = value(v, `${field}["${name}"]`, item);
            }
            return out;
        },
    };
}

export const ACME_OPTIONS = {
    directory: text({
        doc: "The ACME server's directory URL; Let's Encrypt staging for trials: " + LETS_ENCRYPT_STAGING,
        default: LETS_ENCRYPT,
        defaultText: "Let's Encrypt (production)",
        accepted: "expected an https:// URL of an ACME directory",
        check: (v, field, value) => {
            if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(value))
                v.fail(field, value, "expected an https:// URL of an ACME directory");
            return value;
        },
    }),
    email: required(
        text({
            doc: "The ACME account's e-mail address (expiry notices)",
            check: (v, f, x) => v.address(f, x),
        }),
        "expected the ACME account's e-mail address, e.g. hostmaster@example.com",
    ),
    names: list(text({ doc: "A host name", check: (v, f, x) => v.hostname(f, x) }), {
        doc: "Names on the certificate besides hostname (e.g. imap.example.com)",
        default: [],
    }),
    challenge: oneOf("AcmeChallenge", ["http-01", "dns-01"], {
        doc:
            'How the ACME server checks the names: "http-01" (port 80 of every name must reach this host) or ' +
            '"dns-01" (a TXT record published through dnsProvider\'s API; no port is opened)',
        default: "http-01",
    }),
    dnsProvider: text({
        doc: 'dns-01: lego\'s DNS provider code, e.g. "rfc2136", "cloudflare", "route53" (`lego dnshelp -c <code>` lists its variables)',
        accepted: "expected a lego DNS provider code",
        check: (v, f, x) => {
            if (!LEGO_DNS_PROVIDERS.includes(x))
                v.fail(
                    f,
                    x,
                    `expected a DNS provider code of the image's lego (Debian 13's lego 4.9.1), e.g. "rfc2136", "cloudflare", "route53"; ` +
                        `"manual" and "exec" cannot work in a container; all: ${LEGO_DNS_PROVIDERS.join(", ")}`,
                );
            return x;
        },
    }),
    dnsSettings: legoVariables<string>(
        "Record<string, string>",
        false,
        "dns-01: the provider's non-secret lego variables, e.g. RFC2136_NAMESERVER (in the container's environment, shown in preview)",
        (v, f, x) => {
            if (typeof x !== "string")
                v.fail(
                    f,
                    typeof x === "object" ? "(not a string)" : x,
                    "expected a string (a secret belongs in dnsCredentials, delivered as a file)",
                );
            // The variable's name is in the field: "tls.acme.dnsSettings["NAME"]".
            const name = /\["([^"]+)"\]$/.exec(f)?.[1] ?? "";
            if (isCredentialName(name))
                v.fail(
                    f,
                    "(not shown: it looks like a credential)",
                    `expected only non-secret variables here: ${name} is a credential, and dnsSettings land in the container's ` +
                        "environment, the preview and the state in plain text; give it in tls.acme.dnsCredentials (a Pulumi " +
                        "secret, delivered as a file)",
                );
            return x as string;
        },
    ),
    dnsCredentials: legoVariables<Input<string>>(
        "Record<string, pulumi.Input<string>>",
        true,
        "dns-01: the provider's secret lego variables (Pulumi secrets), e.g. CLOUDFLARE_DNS_API_TOKEN; " +
            "each is a file in the ACME container (root, 0400) that lego reads through <NAME>_FILE, never in its environment",
        (v, f, x) => {
            // A plain string is made a secret by the component; an Output or a promise resolves later.
            const deferred = typeof x === "object" && x !== null && ("apply" in x || "then" in x);
            if (typeof x !== "string" && !deferred) v.fail(f, "(not a string)", "expected a string or a Pulumi secret");
            return x as Input<string>;
        },
    ),
    dnsResolvers: list(
        text({
            doc: '"address" or "address:port" of a DNS server',
            check: (v, f, x) => v.nameserver(f, x),
        }),
        {
            doc: "dns-01: the DNS servers lego asks for the zone and the published record (split-horizon DNS, tests); default: the system's",
        },
    ),
    dnsCheckAllNameservers: boolean({
        defaultText: "`true`",
        doc: "dns-01: before validation, wait until every authoritative name server of the zone (port 53) serves the record; false: ask only dnsResolvers",
    }),
    httpPort: integer({
        doc: "Port of the HTTP-01 server (the ACME server always asks port 80: forward it here if not 80)",
        default: 80,
        check: (v, f, x) => v.port(f, x),
    }),
    httpAddress: text({
        doc: "Host address of the HTTP-01 server (host mode: bound; bridge mode: published on); default: all (publishAddress)",
        accepted: "expected an IP address",
        check: (v, f, x) => {
            if (isIP(x) === 0) v.fail(f, x, "expected an IP address such as 0.0.0.0 or 192.0.2.10");
            return x;
        },
    }),
    keyType: oneOf("AcmeKeyType", ["ECDSA", "RSA"], {
        doc: "The certificate's key: ECDSA (P-256) or RSA (3072 bits)",
        default: "ECDSA",
    }),
    renewDaysBefore: integer({
        doc: "Renew when the certificate expires in fewer days than this (checked daily)",
        default: 30,
        check: (v, f, x) => {
            if (typeof x !== "number" || !Number.isInteger(x) || x < 1 || x > 60)
                v.fail(
                    f,
                    x,
                    "expected a whole number of days from 1 to 60 (Let's Encrypt certificates last 90 days or less)",
                );
            return x as number;
        },
    }),
    retrySeconds: integer({
        doc: "Wait after a failed attempt (ACME server unreachable) before the next one",
        default: 600,
        check: (v, f, x) => {
            if (typeof x !== "number" || !Number.isInteger(x) || x < 5 || x > 86400)
                v.fail(f, x, "expected a whole number of seconds from 5 to 86400");
            return x as number;
        },
    }),
    caCertPem: text({
        doc: "The CA of a private ACME server's HTTPS certificate (PEM), e.g. a test server's; default: the system's CAs",
    }),
};

export type _AcmePinned = Pinned<SameType<AcmeSettings, Values<typeof ACME_OPTIONS>>>;
const DNS_FIELDS = ["dnsProvider", "dnsSettings", "dnsCredentials", "dnsResolvers", "dnsCheckAllNameservers"] as const;
const HTTP_FIELDS = ["httpPort", "httpAddress"] as const;

/** Each challenge's own fields, and only those: a dns-01 field with http-01 would silently do nothing. */
export function checkChallenge(v: Validator, acme: AcmeSettings, given: Record<string, unknown>): void {
    const dns = acme.challenge === "dns-01";
    for (const name of dns ? HTTP_FIELDS : DNS_FIELDS) {
        if (given[name] === undefined || given[name] === null) continue;
        const shown = name === "dnsCredentials" ? "(secret)" : given[name];
        v.fail(
            `tls.acme.${name}`,
            shown,
            dns
                ? 'not used with challenge "dns-01" (no HTTP-01 server is started); remove it'
                : 'used only with challenge "dns-01"; set tls.acme.challenge to "dns-01" or remove it',
        );
    }
    if (!dns) return;
    if (acme.dnsProvider === undefined)
        v.fail(
            "tls.acme.dnsProvider",
            undefined,
            'expected lego\'s DNS provider code with challenge "dns-01", e.g. "rfc2136", "cloudflare" or "route53"',
        );
    for (const name of Object.keys(acme.dnsCredentials ?? {})) {
        if (acme.dnsSettings?.[name] !== undefined)
            v.fail(
                `tls.acme.dnsSettings.${name}`,
                name,
                "expected each variable once: it is also in dnsCredentials (keep a secret only there)",
            );
    }
}
