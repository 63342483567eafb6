import * as pulumi from "@pulumi/pulumi";
import { relayhostSettings } from "./render/inputs";
import { RelayhostSpec } from "./render/spec";
import { Validator } from "./validate";

export interface RelayhostArgs {
    /**
     * The smarthost's fully qualified name, e.g. "smtp.provider.example", or an IPv4 address
     * (e.g. "192.0.2.25"); an address is used as is ("[192.0.2.25]:587"), without DNS.
     */
    host: string;
    /** Usually 587 (STARTTLS, default), 465 (implicit TLS) or 25; any TCP port 1-65535 (e.g. 2525). */
    port?: number;
    /**
     * Connect with TLS from the first byte (SMTPS, "implicit TLS") instead of STARTTLS.
     * Default: true on port 465, false elsewhere. Needs tlsPolicy "encrypt", "verify" or "secure".
     */
    implicitTls?: boolean;
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
        // Not the password: MailServer's sasl_passwd is the one place it is deployed.
        super("mailserver:index:Relayhost", name, { ...relayhostSettings(spec), username: args.username }, opts);
        this.spec = spec;
        this.nexthop = pulumi.output(`[${spec.host}]:${spec.port}`);
        this.username = pulumi.output(args.username);
        this.password = pulumi.secret(pulumi.output(args.password));
        this.registerOutputs({ nexthop: this.nexthop, username: this.username, password: this.password });
    }
}

export function validateRelayhost(v: Validator, args: RelayhostArgs): RelayhostSpec {
    const ipLiteral = typeof args.host === "string" && isIPv4(args.host);
    const host = ipLiteral ? args.host : v.hostname("host", args.host);
    const port = args.port ?? 587;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
        v.fail("port", args.port, "expected a TCP port 1-65535: usually 587 (submission with STARTTLS), 465 (implicit TLS) or 25");
    }
    const tlsPolicy = v.oneOf("tlsPolicy", args.tlsPolicy ?? "encrypt", RELAY_TLS_POLICIES);
    if (args.implicitTls !== undefined && typeof args.implicitTls !== "boolean") v.fail("implicitTls", args.implicitTls, "expected true or false");
    const implicitTls = args.implicitTls ?? port === 465;
    if (implicitTls && (tlsPolicy === "none" || tlsPolicy === "may")) {
        v.fail("tlsPolicy", tlsPolicy, `expected "encrypt", "verify" or "secure": implicit TLS (${args.implicitTls === undefined ? "port 465" : "implicitTls: true"}) is TLS from the first byte` +
            (args.implicitTls === undefined ? "; for a relay without TLS on port 465 set implicitTls: false" : ""));
    }
    if (ipLiteral && (tlsPolicy === "verify" || tlsPolicy === "secure")) {
        v.fail("tlsPolicy", tlsPolicy, `expected "encrypt", or the relay's host name instead of ${host}: "verify" and "secure" check the certificate against the host name, and an IP address has none`);
    }
    const hasUser = args.username !== undefined, hasPassword = args.password !== undefined;
    if (hasUser !== hasPassword) v.fail(hasUser ? "password" : "username", undefined, "username and password go together: give both or neither");
    if (hasUser && (tlsPolicy === "none" || tlsPolicy === "may")) {
        v.fail("tlsPolicy", tlsPolicy, "with credentials the relay must use TLS: \"encrypt\", \"verify\" or \"secure\"");
    }
    const senderDomains = (args.senderDomains ?? []).map((d, i) => v.domain(`senderDomains[${i}]`, d));
    // implicitTls only when given, so that the default (port 465) stays one rule, in the renderer.
    return { host, port, tlsPolicy, senderDomains, hasCredentials: hasUser, ...(args.implicitTls === undefined ? {} : { implicitTls }) };
}

/** A dotted-quad IPv4 address (no CIDR suffix, no leading zeros). */
export function isIPv4(value: string): boolean {
    const parts = value.split(".");
    return parts.length === 4 && parts.every(p => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}
