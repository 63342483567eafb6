import * as pulumi from "@pulumi/pulumi";
import { VirtualDomainArgs } from "./args";
import { validateVirtualDomain } from "./options/virtualDomain";
import { DnsRecord, renderDnsRecords } from "./render/dns";
import { domainSettings } from "./render/inputs";
import { hashPassword } from "./render/password";
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
    /** SHA512-CRYPT hashes per mailbox; a Pulumi secret. */
    public readonly credentials: pulumi.Output<Credential[]>;

    constructor(name: string, args: VirtualDomainArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`VirtualDomain ${name}`);
        const { spec, mxHosts, spf } = validateVirtualDomain(v, args);
        // Secret passwords are known only later: checked when they resolve (at preview too).
        const passwords = args.mailboxes!.map((m, i) =>
            pulumi.secret(pulumi.output(m.password).apply(p => v.password(`mailboxes[${i}].password`, p))),
        );
        const credentials = pulumi.secret(
            pulumi.all(passwords).apply(list =>
                list.map((password, i) => ({
                    address: spec.mailboxes[i].address,
                    hash: hashPassword(spec.mailboxes[i].address, password),
                })),
            ),
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
        this.domain = pulumi.output(spec.name);
        this.mailboxAddresses = pulumi.output(spec.mailboxes.map(m => m.address));
        this.dnsRecords = pulumi.output(renderDnsRecords(spec.name, mxHosts, spf));
        this.registerOutputs({
            domain: this.domain,
            mailboxAddresses: this.mailboxAddresses,
            dnsRecords: this.dnsRecords,
            credentials: this.credentials,
        });
    }
}
