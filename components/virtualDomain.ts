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
import { checkDkimPrivateKey } from "./model/dkimKey";

/** A DKIM key as VirtualDomain's dkimKeys takes it and its dkimKeys output gives it. */
export interface DkimKey {
    selector: string;
    algorithm: DkimAlgorithm;
    privateKeyPem: string;
}

interface DomainKey {
    selector: string;
    algorithm: DkimAlgorithm;
    retired: boolean;
    next: boolean;
    privateKeyPem: pulumi.Output<string>;
    publicKeyPem: pulumi.Output<string>;
}

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
    /**
     * Every private key of the domain (signing, next, retired, given), in the form dkimKeys takes: give
     * it back as dkimKeys to a new stack and it signs with the keys DNS already publishes. A secret.
     */
    public readonly dkimKeys: pulumi.Output<DkimKey[]>;
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
        // A key given as a plain string is checked before anything is registered; a secret Output when
        // it resolves (at preview too).
        for (const g of dkim.given) {
            const pem = args.dkimKeys![g.index].privateKeyPem;
            if (typeof pem === "string") checkDkimPrivateKey(v, `dkimKeys[${g.index}].privateKeyPem`, pem, g.algorithm);
        }
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
        // A key given in dkimKeys is used instead (no tls.PrivateKey): it outlives this stack.
        const selectors = dkim.enabled
            ? [
                  { selector: dkim.selector, signing: true, next: false },
                  ...(dkim.nextSelector ? [{ selector: dkim.nextSelector, signing: false, next: true }] : []),
                  ...dkim.retiredSelectors.map(s => ({ selector: s, signing: false, next: false })),
              ]
            : [];
        const givenKey = (selector: string, algorithm: DkimAlgorithm) => {
            const g = dkim.given.find(k => k.selector === selector);
            if (!g) return undefined;
            const field = `dkimKeys[${g.index}].privateKeyPem`;
            const given = args.dkimKeys![g.index].privateKeyPem;
            const pair = pulumi
                .secret(pulumi.output(given))
                .apply(pem => checkDkimPrivateKey(v, field, pem, algorithm));
            return {
                privateKeyPem: pulumi.secret(pair.apply(p => p.privateKeyPem)),
                // Public: the record stays readable in previews and outputs.
                publicKeyPem: pulumi.unsecret(pair.apply(p => p.publicKeyPem)),
            };
        };
        const keys: DomainKey[] = [
            ...selectors.flatMap(({ selector, signing, next }) =>
                DKIM_ALGORITHMS.map((algorithm): DomainKey => {
                    const dnsSelector = `${selector}-${algorithm}`;
                    const made = () => {
                        const key = new tls.PrivateKey(
                            `${name}-dkim-${selector}-${algorithm}`,
                            algorithm === "rsa" ? { algorithm: "RSA", rsaBits: 2048 } : { algorithm: "ED25519" },
                            { parent: this },
                        );
                        // tls gives Ed25519 keys as PKCS#8 only under privateKeyPemPkcs8; RSA as PKCS#1.
                        const pem = algorithm === "rsa" ? key.privateKeyPem : key.privateKeyPemPkcs8;
                        return { privateKeyPem: pem, publicKeyPem: key.publicKeyPem };
                    };
                    return {
                        selector: dnsSelector,
                        algorithm,
                        retired: !signing && !next,
                        next,
                        ...(givenKey(dnsSelector, algorithm) ?? made()),
                    };
                }),
            ),
            // Keys of other selectors (another server's) sign beside the domain's own.
            ...dkim.given
                .filter(g => !g.own)
                .map((g): DomainKey => ({
                    selector: g.selector,
                    algorithm: g.algorithm,
                    retired: false,
                    next: false,
                    ...givenKey(g.selector, g.algorithm)!,
                })),
        ];
        this.dkimSigningKeys = pulumi.secret(
            pulumi.all(
                keys
                    .filter(k => !k.retired && !k.next)
                    .map(k =>
                        k.privateKeyPem.apply((pem): DkimSigningKey => ({
                            selector: k.selector,
                            algorithm: k.algorithm,
                            privateKeyPem: pem,
                        })),
                    ),
            ),
        );
        this.dkimKeys = pulumi.secret(
            pulumi.all(
                keys.map(k =>
                    k.privateKeyPem.apply(pem => ({
                        selector: k.selector,
                        algorithm: k.algorithm,
                        privateKeyPem: pem,
                    })),
                ),
            ),
        );
        // Public keys only: the records stay readable in previews and stack outputs.
        this.dnsRecords = pulumi.all(keys.map(k => k.publicKeyPem)).apply(pems =>
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
            dkimKeys: this.dkimKeys,
            credentials: this.credentials,
            passwordHashCache: this.passwordHashCache,
        });
    }
}
