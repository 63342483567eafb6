import * as pulumi from "@pulumi/pulumi";
import { RelayhostArgs } from "./args/relayhost";
import { checkRelayPassword, checkRelayUsername, validateRelayhost } from "./options/relayhost";
import { relayhostSettings } from "./inputs";
import { relayNexthop } from "./model/relay";
import { RelayhostSpec } from "./model/spec";
import { Validator } from "./model/validator";

/**
 * An outbound smarthost with SASL credentials. Like VirtualDomain it creates no container:
 * MailServer renders it into main.cf and a root-only sasl_passwd table.
 */
export class Relayhost extends pulumi.ComponentResource {
    public readonly spec: RelayhostSpec;
    /** "[host]:port", as Postfix's relayhost. */
    public readonly nexthop: pulumi.Output<string>;
    public readonly username: pulumi.Output<string | undefined>;
    /** The relay password; a Pulumi secret. */
    public readonly password: pulumi.Output<string | undefined>;

    constructor(name: string, args: RelayhostArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`Relayhost ${name}`);
        const spec = validateRelayhost(v, args);
        // Not the password: MailServer's sasl_passwd is the one place it is deployed.
        super("mailserver:index:Relayhost", name, { ...relayhostSettings(spec), username: args.username }, opts);
        this.spec = spec;
        this.nexthop = pulumi.output(relayNexthop(spec));
        this.username = pulumi
            .output(args.username)
            .apply(u => (u === undefined ? u : checkRelayUsername(v, "username", u)));
        this.password = pulumi.secret(
            pulumi.output(args.password).apply(p => (p === undefined ? p : checkRelayPassword(v, "password", p))),
        );
        this.registerOutputs({ nexthop: this.nexthop, username: this.username, password: this.password });
    }
}
