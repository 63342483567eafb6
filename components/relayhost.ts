import * as pulumi from "@pulumi/pulumi";
import { RelayhostSpec } from "./render/spec";
import { Validator } from "./validate";

export interface RelayhostArgs {
    /** The smarthost's name, e.g. "smtp.provider.example". */
    host: string;
    /** 587 (STARTTLS, default), 465 (implicit TLS) or 25. */
    port?: number;
    username?: pulumi.Input<string>;
    /** A Pulumi secret. Required with username. */
    password?: pulumi.Input<string>;
    /**
     * Postfix smtp_tls_security_level towards the relay: "encrypt" (default: TLS required),
     * "verify" or "secure" (also check the relay's certificate). "none" is refused when
     * credentials are set, so a password is never sent in clear.
     */
    tlsPolicy?: string;
    /** Only mail from these sender domains uses this relay; default: all mail. */
    senderDomains?: string[];
}

export const RELAY_TLS_POLICIES = ["encrypt", "verify", "secure", "may", "none"] as const;

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
        super("mailserver:index:Relayhost", name, {}, opts);
        this.spec = spec;
        this.nexthop = pulumi.output(`[${spec.host}]:${spec.port}`);
        this.username = pulumi.output(args.username);
        this.password = pulumi.secret(pulumi.output(args.password));
        this.registerOutputs({ nexthop: this.nexthop, username: this.username, password: this.password });
    }
}

export function validateRelayhost(v: Validator, args: RelayhostArgs): RelayhostSpec {
    const host = v.hostname("host", args.host);
    const port = args.port ?? 587;
    if (![25, 465, 587].includes(port)) v.fail("port", args.port, "expected 587 (submission with STARTTLS), 465 (implicit TLS) or 25");
    const tlsPolicy = v.oneOf("tlsPolicy", args.tlsPolicy ?? "encrypt", RELAY_TLS_POLICIES);
    const hasUser = args.username !== undefined, hasPassword = args.password !== undefined;
    if (hasUser !== hasPassword) v.fail(hasUser ? "password" : "username", undefined, "username and password go together: give both or neither");
    if (hasUser && (tlsPolicy === "none" || tlsPolicy === "may")) {
        v.fail("tlsPolicy", tlsPolicy, "with credentials the relay must use TLS: \"encrypt\", \"verify\" or \"secure\"");
    }
    const senderDomains = (args.senderDomains ?? []).map((d, i) => v.domain(`senderDomains[${i}]`, d));
    return { host, port, tlsPolicy, senderDomains, hasCredentials: hasUser };
}
