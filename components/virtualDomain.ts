import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { VirtualDomainArgs } from "./args/virtualDomain";
import { DKIM_ALGORITHMS, validateVirtualDomain } from "./options/validateVirtualDomain";
import { DkimPublicKey, DnsRecord, WebDomain } from "./model/dns";
import { renderDnsRecords, renderDnsZone, renderMtaStsPolicy } from "./render/dns";
import { domainSettings } from "./inputs";
import { hashLogins } from "./logins";
import { PasswordHashCache } from "./model/password";
import { Credential, DkimAlgorithm, DkimSigningKey, DomainSpec } from "./model/spec";
import { MIN_PASSWORD_LENGTH, Validator } from "./model/validator";

export { MIN_PASSWORD_LENGTH };

export { DnsRecord, DkimSigningKey };

/**
 * One mail domain: its mailboxes, aliases, catch-all and forwards, its DKIM keys, and the DNS records
 * it needs. It creates no containers itself; MailServer and DovecotImap render it into their files.
 */
export class VirtualDomain extends pulumi.ComponentResource {
    /** The validated description the renderers use. Passwords and keys are not part of it. */
    public readonly spec: DomainSpec;
    /** Its MTA-STS policy: mode, the MX hosts it names, and whether it is published (_mta-sts). */
    public readonly mtaSts: { mode: string; mxHosts: string[]; published: boolean };
    /** With wellKnown set: what its MailServer's HTTPS endpoint serves for it; else undefined. */
    public readonly wellKnown: WebDomain | undefined;
    public readonly domain: pulumi.Output<string>;
    public readonly mailboxAddresses: pulumi.Output<string[]>;
    /** Every record the domain needs (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV, A/AAAA, PTR; wellKnown hosts). */
    public readonly dnsRecords: pulumi.Output<DnsRecord[]>;
    /** dnsRecords as zone-file text (absolute names, one TTL, no SOA/NS). */
    public readonly dnsZone: pulumi.Output<string>;
    /** The MTA-STS policy, to be served at https://mta-sts.<domain>/.well-known/mta-sts.txt. */
    public readonly mtaStsPolicy: pulumi.Output<string>;
    /** The private keys of the signing selector (spec.dkimSelectors, same order); a Pulumi secret. */
    public readonly dkimSigningKeys: pulumi.Output<DkimSigningKey[]>;
    /** The password hash of each mailbox; a Pulumi secret. */
    public readonly credentials: pulumi.Output<Credential[]>;
    /** Give it back as passwordHashCache next time (a secret): unchanged passwords are not hashed again. */
    public readonly passwordHashCache: pulumi.Output<PasswordHashCache>;

    constructor(name: string, args: VirtualDomainArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`VirtualDomain ${name}`);
        const { spec, dkim, dns } = validateVirtualDomain(v, args);
        const { credentials, cache } = hashLogins(
            v,
            (args.mailboxes ?? []).map((m, i) => ({
                address: spec.mailboxes[i].address,
                field: `mailboxes[${i}]`,
                password: m.password,
                passwordHash: m.passwordHash,
            })),
            args.passwordHashCache,
        );
        const settings = domainSettings(spec, dns, dkim);
        super(
            "mailserver:index:VirtualDomain",
            name,
            {
                ...settings,
                // Never the passwords; the hashes change with them: "[secret] => [secret]" in the diff.
                passwordHashes: credentials,
            },
            opts,
        );
        this.spec = spec;
        this.mtaSts = { mode: dns.mtaSts.mode, mxHosts: dns.mxHosts, published: dns.mtaSts.published };
        this.wellKnown = dns.wellKnown
            ? {
                  domain: spec.name,
                  mxHosts: dns.mxHosts,
                  mtaSts: dns.mtaSts,
                  clientHost: dns.clientHost,
                  clientPorts: dns.clientPorts,
              }
            : undefined;
        this.credentials = credentials;
        this.passwordHashCache = cache;
        this.domain = pulumi.output(spec.name);
        this.mailboxAddresses = pulumi.output(spec.mailboxes.map(m => m.address));

        // One key per selector and algorithm, named by the selector alone: moving a selector from
        // dkimNextSelector to dkimSelector to dkimRetiredSelectors keeps its keys (same name, same parent).
        const selectors = dkim.enabled
            ? [
                  { selector: dkim.selector, signing: true, next: false },
                  ...(dkim.nextSelector ? [{ selector: dkim.nextSelector, signing: false, next: true }] : []),
                  ...dkim.retiredSelectors.map(s => ({ selector: s, signing: false, next: false })),
              ]
            : [];
        const keys = selectors.flatMap(({ selector, signing, next }) =>
            DKIM_ALGORITHMS.map(algorithm => ({
                selector: `${selector}-${algorithm}`,
                algorithm: algorithm as DkimAlgorithm,
                retired: !signing && !next,
                next,
                key: new tls.PrivateKey(
                    `${name}-dkim-${selector}-${algorithm}`,
                    algorithm === "rsa" ? { algorithm: "RSA", rsaBits: 2048 } : { algorithm: "ED25519" },
                    { parent: this },
                ),
            })),
        );
        this.dkimSigningKeys = pulumi.secret(
            pulumi.all(
                keys
                    .filter(k => !k.retired && !k.next)
                    .map(k =>
                        // tls gives Ed25519 keys as PKCS#8 only under privateKeyPemPkcs8; RSA as PKCS#1.
                        (k.algorithm === "rsa" ? k.key.privateKeyPem : k.key.privateKeyPemPkcs8).apply(
                            (pem): DkimSigningKey => ({
                                selector: k.selector,
                                algorithm: k.algorithm,
                                privateKeyPem: pem,
                            }),
                        ),
                    ),
            ),
        );
        // Public keys only: the records stay readable in previews and stack outputs.
        this.dnsRecords = pulumi.all(keys.map(k => k.key.publicKeyPem)).apply(pems =>
            renderDnsRecords({
                ...dns,
                dkimKeys: keys.map((k, i): DkimPublicKey => ({
                    selector: k.selector,
                    algorithm: k.algorithm,
                    publicKeyPem: pems[i],
                    retired: k.retired,
                    next: k.next,
                })),
            }),
        );
        this.dnsZone = this.dnsRecords.apply(records => renderDnsZone(spec.name, records));
        this.mtaStsPolicy = pulumi.output(renderMtaStsPolicy(dns.mtaSts.mode, dns.mxHosts, dns.mtaSts.maxAge));
        this.registerOutputs({
            // Stack policies (policy/rules.ts) are handed a component's outputs, never its inputs:
            // the settings they judge (dkim, DMARC, addresses) are outputs too.
            ...settings,
            domain: this.domain,
            mailboxAddresses: this.mailboxAddresses,
            dnsRecords: this.dnsRecords,
            dnsZone: this.dnsZone,
            mtaStsPolicy: this.mtaStsPolicy,
            dkimSigningKeys: this.dkimSigningKeys,
            credentials: this.credentials,
            passwordHashCache: this.passwordHashCache,
        });
    }
}
