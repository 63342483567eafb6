import * as pulumi from "@pulumi/pulumi";
import { VirtualDomainArgs } from "./args";
import { validateVirtualDomain } from "./options/virtualDomain";
import { DnsRecord, renderDnsRecords } from "./render/dns";
import { domainSettings } from "./render/inputs";
import { hashLogins } from "./internal/credentials";
import { PasswordHashCache } from "./render/password";
import { Credential, DomainSpec } from "./render/spec";
import { MIN_PASSWORD_LENGTH, Validator } from "./validate";

export { MIN_PASSWORD_LENGTH };

export { DnsRecord };

/**
 * One mail domain: its mailboxes, aliases, catch-all and forwards, and the DNS records it needs.
 * It creates no containers itself; MailServer and DovecotImap render it into their files.
 */
export class VirtualDomain extends pulumi.ComponentResource {
    /** The validated description the renderers use. Passwords are not part of it. */
    public readonly spec: DomainSpec;
    public readonly domain: pulumi.Output<string>;
    public readonly mailboxAddresses: pulumi.Output<string[]>;
    public readonly dnsRecords: pulumi.Output<DnsRecord[]>;
    /** The password hash of each mailbox; a Pulumi secret. */
    public readonly credentials: pulumi.Output<Credential[]>;
    /** Give it back as passwordHashCache next time (a secret): unchanged passwords are not hashed again. */
    public readonly passwordHashCache: pulumi.Output<PasswordHashCache>;

    constructor(name: string, args: VirtualDomainArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`VirtualDomain ${name}`);
        const { spec, mxHosts, spf } = validateVirtualDomain(v, args);
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
        super(
            "mailserver:index:VirtualDomain",
            name,
            {
                ...domainSettings(spec, mxHosts, spf),
                // Never the passwords; the hashes change with them: "[secret] => [secret]" in the diff.
                passwordHashes: credentials,
            },
            opts,
        );
        this.spec = spec;
        this.credentials = credentials;
        this.passwordHashCache = cache;
        this.domain = pulumi.output(spec.name);
        this.mailboxAddresses = pulumi.output(spec.mailboxes.map(m => m.address));
        this.dnsRecords = pulumi.output(renderDnsRecords(spec.name, mxHosts, spf));
        this.registerOutputs({
            domain: this.domain,
            mailboxAddresses: this.mailboxAddresses,
            dnsRecords: this.dnsRecords,
            credentials: this.credentials,
            passwordHashCache: this.passwordHashCache,
        });
    }
}
