// The example program: one mail server per stack, driven entirely by stack config
// (stacks/Pulumi.<stack>.yaml). See README.md, "Stack config reference".
// It is exported as a function, which `pulumi up` calls (its result is the stack's outputs) and
// which scripts/stack.ts runs as an Automation API inline program.
import * as pulumi from "@pulumi/pulumi";
import { AliasArgs, DovecotImap, DovecotPorts, ForwardArgs, ImageArgs, MailboxArgs, MailServer, MailServerPorts, Relayhost, TlsArgs, VirtualDomain } from "./components";

interface DomainConfig {
    domain: string;
    // Everything of a mailbox but its password, which comes from the "passwords" secret.
    mailboxes?: Array<Omit<MailboxArgs, "password">>;
    aliases?: AliasArgs[];
    catchAll?: string;
    forwards?: ForwardArgs[];
    mxHosts?: string[];
}

interface RelayhostConfig {
    /** Resource name and key in relayPasswords (default: host); needed when two relays share a host. */
    name?: string;
    host: string;
    port?: number;
    implicitTls?: boolean;
    username?: string;
    tlsPolicy?: string;
    senderDomains?: string[];
}

/** Declares the stack's resources from its config; returns the stack outputs. */
function mailServerProgram() {
    const config = new pulumi.Config();
    const hostname = config.require("hostname");
    const mode = config.get("mode") ?? "internet";
    const domainConfigs = config.getObject<DomainConfig[]>("domains") ?? [];
    // Mailbox passwords: one secret object, address -> password (pulumi config set --secret --path ...).
    const passwords = config.getSecretObject<Record<string, string>>("passwords") ?? pulumi.secret({} as Record<string, string>);

    const domains = domainConfigs.map(d => new VirtualDomain(d.domain, {
        domain: d.domain,
        mailboxes: (d.mailboxes ?? []).map(m => {
            const address = m.address.includes("@") ? m.address : `${m.address}@${d.domain}`;
            return {
                ...m,
                password: passwords.apply(p => {
                    const password = p[address];
                    if (password === undefined) throw new Error(`stack config: no password for ${address}; run: pulumi config set --secret --path 'passwords["${address}"]' <password>`);
                    return password;
                }),
            };
        }),
        aliases: d.aliases,
        catchAll: d.catchAll,
        forwards: d.forwards,
        mxHosts: d.mxHosts ?? [hostname],
    }));

    const relayConfigs = config.getObject<RelayhostConfig[]>("relayhosts") ?? [];
    const relayPasswords = config.getSecretObject<Record<string, string>>("relayPasswords");
    const relayhosts = relayConfigs.map(({ name, ...r }) => new Relayhost(name ?? r.host, {
        ...r,
        password: r.username === undefined ? undefined : (relayPasswords ?? pulumi.secret({} as Record<string, string>)).apply(p => {
            const key = name ?? r.host;
            const password = p[key];
            if (password === undefined) throw new Error(`stack config: no password for relay ${key}; run: pulumi config set --secret --path 'relayPasswords["${key}"]' <password>`);
            return password;
        }),
    }));

    // Relay mode's SMTP AUTH users: their passwords come from the same "passwords" secret as mailboxes'.
    const users = (config.getObject<string[]>("users") ?? []).map(address => ({
        address,
        password: passwords.apply(p => {
            const password = p[address];
            if (password === undefined) throw new Error(`stack config: no password for user ${address}; run: pulumi config set --secret --path 'passwords["${address}"]' <password>`);
            return password;
        }),
    }));

    // A supplied certificate comes as two keys, so that the key can be a secret of its own.
    const tlsCertPem = config.get("tlsCertPem");
    const tlsKeyPem = config.getSecret("tlsKeyPem");
    const tls: TlsArgs | undefined = tlsCertPem !== undefined || tlsKeyPem !== undefined
        ? { ...config.getObject<TlsArgs>("tls"), certPem: tlsCertPem, keyPem: tlsKeyPem }
        : config.getObject<TlsArgs>("tls");

    const images = config.getObject<ImageArgs>("images");
    const server = new MailServer("mail", {
        mode,
        hostname,
        domains,
        relayhosts,
        adminAddress: config.get("adminAddress"),
        mynetworks: config.getObject<string[]>("mynetworks"),
        inetInterfaces: config.getObject<string[]>("inetInterfaces"),
        inetProtocols: config.get("inetProtocols"),
        relayDomains: config.getObject<string[]>("relayDomains"),
        relayRecipients: config.getObject<string[]>("relayRecipients"),
        transports: config.getObject<Array<{ domain: string; nexthop: string }>>("transports"),
        users,
        messageSizeLimit: config.getNumber("messageSizeLimit"),
        maximalQueueLifetime: config.get("maximalQueueLifetime"),
        bounceQueueLifetime: config.get("bounceQueueLifetime"),
        delayWarningTime: config.get("delayWarningTime"),
        masqueradeDomains: config.getObject<string[]>("masqueradeDomains"),
        disableVrfy: config.getBoolean("disableVrfy"),
        notifyClasses: config.getObject<string[]>("notifyClasses"),
        authRateLimit: config.getNumber("authRateLimit"),
        recipientDelimiter: config.get("recipientDelimiter"),
        ports: config.getObject<MailServerPorts>("ports"),
        networkMode: config.get("networkMode"),
        publishAddress: config.get("publishAddress"),
        tls,
        images,
        namePrefix: config.get("namePrefix") ?? `mail-${pulumi.getStack()}`,
    });

    const imap = mode === "internet"
        ? new DovecotImap("imap", {
            mailServer: server,
            ports: config.getObject<DovecotPorts>("imapPorts"),
            listen: config.getObject<string[]>("imapListen"),
            vacation: config.getObject("vacation"),
            images,
        })
        : undefined;

    return {
        postfixContainer: server.postfixContainerName,
        saslauthdContainer: server.saslauthdContainerName,
        dovecotContainer: imap?.containerName,
        certificatePem: server.certificatePem,
        dnsRecords: pulumi.all(domains.map(d => d.dnsRecords)).apply(r => r.flat()),
        mainCf: server.mainCf,
        dovecotConf: imap?.dovecotConf,
    };
}

export = mailServerProgram;
