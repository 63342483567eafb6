// The example program: one mail server per stack, driven entirely by stack config
// (stacks/Pulumi.<stack>.yaml). See README.md, "Stack config reference".
// It is exported as a function, which `pulumi up` calls (its result is the stack's outputs) and
// which scripts/stack.ts runs as an Automation API inline program.
import * as pulumi from "@pulumi/pulumi";
import {
    PasswordHashCache,
    DkimKeyAlgorithm,
    DovecotImap,
    DovecotImapArgs,
    MailboxArgs,
    MailServer,
    MailServerArgs,
    Relayhost,
    RelayhostArgs,
    VirtualDomain,
    VirtualDomainArgs,
} from "./components";
import { plaintextSecrets, STACK_CONFIG } from "./stack/config";

/**
 * Every stack config key, read as its declaration types it (stack/config.ts);
 * the components check the values. A key the program does not know fails, so a misspelt option
 * is never silently ignored.
 */
function readStackConfig(config: pulumi.Config): Record<string, any> {
    const unknown = Object.keys(pulumi.runtime.allConfig()).filter(
        k => k.startsWith(`${config.name}:`) && !(k.slice(config.name.length + 1) in STACK_CONFIG),
    );
    if (unknown.length > 0) {
        throw new Error(
            `stack config: unknown key(s) ${unknown.join(", ")}; the keys are listed in README.md, "Stack config reference"`,
        );
    }
    const values: Record<string, any> = {};
    // Read before the secret keys: a key or credential in an ordinary key is refused, with the fix.
    const plain = plaintextSecrets(
        Object.fromEntries(["tls", "relayhosts", "domains"].map(k => [k, config.getObject(k)])),
    );
    if (plain.length > 0) throw new Error(`stack config: ${plain.join("\n")}`);
    for (const [key, option] of Object.entries(STACK_CONFIG)) {
        const secret = "secret" in option.config && option.config.secret === true;
        switch (option.config.type) {
            case "string":
                values[key] = secret ? config.getSecret(key) : config.get(key);
                break;
            case "integer":
                values[key] = config.getNumber(key);
                break;
            case "boolean":
                values[key] = config.getBoolean(key);
                break;
            default:
                values[key] = secret ? config.getSecretObject(key) : config.getObject(key);
        }
    }
    return values;
}

/** The value of `key` in a secret map (passwords), or a clear error naming the command that sets it. */
function secretEntry(map: pulumi.Output<Record<string, string>> | undefined, name: string, key: string, what: string) {
    return (map ?? pulumi.secret({} as Record<string, string>)).apply(m => {
        const value = m[key];
        if (value === undefined)
            throw new Error(
                `stack config: no password for ${what} ${key}; run: pulumi config set --secret --path '${name}["${key}"]' <${name === "passwordHashes" ? "hash" : "password"}>`,
            );
        return value;
    });
}

/** The keys of a secret map in stack config (never its values): which addresses it has an entry for. */
function secretMapKeys(config: pulumi.Config, key: string): Set<string> {
    const raw = pulumi.runtime.allConfig()[`${config.name}:${key}`];
    return new Set(raw === undefined ? [] : Object.keys(JSON.parse(raw)));
}

/**
 * The login secret of each address: its passwordHash from `passwordHashes` when it has one there,
 * else its password from `passwords`. The map's keys are read once (10,000 mailboxes, one parse).
 */
function loginSecrets(config: pulumi.Config, values: Record<string, any>) {
    const hashed = secretMapKeys(config, "passwordHashes");
    return (address: string, what: string) =>
        hashed.has(address)
            ? { passwordHash: secretEntry(values.passwordHashes, "passwordHashes", address, what) }
            : { password: secretEntry(values.passwords, "passwords", address, what) };
}

/** One output per domain, keyed by the domain name. */
function byDomain(domains: VirtualDomain[], f: (d: VirtualDomain) => pulumi.Output<string>) {
    return pulumi
        .all(domains.map(d => pulumi.all([d.domain, f(d)])))
        .apply(entries => Object.fromEntries(entries) as Record<string, string>);
}

/** Declares the stack's resources from its config; returns the stack outputs. */
function mailServerProgram() {
    const config = new pulumi.Config();
    const values = readStackConfig(config);
    const {
        domains: domainConfigs,
        passwords: _passwords,
        passwordHashes: _passwordHashes,
        passwordHashCache: _passwordHashCache,
        dkimKeys: dkimKeyMap,
        relayhosts: relayConfigs,
        relayPasswords,
        users: userAddresses,
        tlsCertPem,
        tlsKeyPem,
        tlsCaKeyPem,
        tlsAcmeDnsCredentials,
        backupSecrets,
        imapPorts,
        imapListen,
        imapPublishAddress,
        imapBruteForce,
        imapProxyProtocol,
        vacation,
        namePrefix,
        ...serverOptions
    } = values;
    // Hashes are made once per password change: the previous deployment's hashes come back as the
    // secret config key passwordHashCache (npm run stack writes it after each up), and only a
    // changed password is hashed again.
    const passwordHashCache = values.passwordHashCache as pulumi.Output<PasswordHashCache> | undefined;
    const loginSecret = loginSecrets(config, values);
    // Kept or imported DKIM keys: which domains have some is read from the keys of the map, the keys
    // themselves stay secrets (one secret Output per PEM).
    const dkimKeyDomains = secretMapKeys(config, "dkimKeys");
    const dkimKeysOf = (domain: string) => {
        const raw = pulumi.runtime.allConfig()[`${config.name}:dkimKeys`];
        const shape = (JSON.parse(raw)[domain] ?? []) as Array<{ selector: string; algorithm: DkimKeyAlgorithm }>;
        const map = dkimKeyMap as pulumi.Output<Record<string, Array<{ privateKeyPem: string }>>>;
        return shape.map((k, i) => ({
            selector: k.selector,
            algorithm: k.algorithm,
            privateKeyPem: map.apply(m => m[domain][i].privateKeyPem),
        }));
    };

    const domains: VirtualDomain[] = (domainConfigs ?? []).map(
        (d: VirtualDomainArgs & { mailboxes?: MailboxArgs[] }) =>
            new VirtualDomain(d.domain, {
                ...d,
                mailboxes: (d.mailboxes ?? []).map(m => {
                    const address = m.address.includes("@") ? m.address : `${m.address}@${d.domain}`;
                    return { ...m, ...loginSecret(address, "mailbox") };
                }),
                passwordHashCache,
                ...(dkimKeyDomains.has(d.domain) ? { dkimKeys: dkimKeysOf(d.domain) } : {}),
                mxHosts: d.mxHosts ?? [serverOptions.hostname],
            }),
    );

    const relayhosts = (relayConfigs ?? []).map(
        ({ name, ...r }: RelayhostArgs & { name?: string }) =>
            new Relayhost(name ?? r.host, {
                ...r,
                password:
                    r.username === undefined
                        ? undefined
                        : secretEntry(relayPasswords, "relayPasswords", name ?? r.host, "relay"),
            }),
    );

    // Relay mode's SMTP AUTH users: their passwords come from the same "passwords" secret as mailboxes'.
    const users = (userAddresses ?? []).map((address: string) => ({
        address,
        ...loginSecret(address, "user"),
    }));

    // A supplied certificate comes as two keys, so that the key can be a secret of its own.
    let tls =
        tlsCertPem !== undefined || tlsKeyPem !== undefined
            ? { ...serverOptions.tls, certPem: tlsCertPem, keyPem: tlsKeyPem }
            : serverOptions.tls;
    // The CA's key too: tls.ca.certPem stays in tls, its key comes from the secret tlsCaKeyPem.
    if (tlsCaKeyPem !== undefined) tls = { ...tls, ca: { ...tls?.ca, keyPem: tlsCaKeyPem } };
    // dns-01 credentials: a secret key of their own too; one secret output per variable name.
    const dnsCredentialNames = [...secretMapKeys(config, "tlsAcmeDnsCredentials")];
    if (dnsCredentialNames.length > 0) {
        const map = tlsAcmeDnsCredentials as pulumi.Output<Record<string, string>>;
        const dnsCredentials = Object.fromEntries(dnsCredentialNames.map(n => [n, map.apply(m => m[n])]));
        tls = { ...tls, acme: { ...tls?.acme, dnsCredentials } };
    }

    // backup's secret fields: a secret key of their own too; one secret output per field.
    const backupSecretNames = [...secretMapKeys(config, "backupSecrets")];
    const backupMap = backupSecrets as pulumi.Output<Record<string, string>>;
    const backup =
        backupSecretNames.length > 0
            ? {
                  ...serverOptions.backup,
                  ...Object.fromEntries(backupSecretNames.map(n => [n, backupMap.apply(m => m[n])])),
              }
            : serverOptions.backup;

    const server = new MailServer("mail", {
        ...serverOptions,
        backup,
        domains,
        relayhosts,
        users,
        tls,
        passwordHashCache,
        namePrefix: namePrefix ?? `mail-${pulumi.getStack()}`,
    } as unknown as MailServerArgs);

    const imap =
        server.settings.postfix.mode === "internet"
            ? new DovecotImap("imap", {
                  mailServer: server,
                  ports: imapPorts,
                  listen: imapListen,
                  publishAddress: imapPublishAddress,
                  bruteForce: imapBruteForce,
                  proxyProtocol: imapProxyProtocol,
                  vacation,
                  images: serverOptions.images,
              } as DovecotImapArgs)
            : undefined;

    return {
        // Read back by the next deployment (above); a secret.
        passwordHashCache: pulumi
            .all([...domains.map(d => d.passwordHashCache), server.passwordHashCache])
            .apply(caches => Object.assign({}, ...caches) as PasswordHashCache),
        // Read back by the next deployment as previousNamePrefix (scripts/lib/engine.ts keeps it).
        namePrefix: server.namePrefix,
        postfixContainer: server.postfixContainerName,
        saslauthdContainer: server.saslauthdContainerName,
        dovecotContainer: imap?.containerName,
        // Only with tls.acme and wellKnown respectively.
        acmeContainer: server.acme?.container.name,
        webContainer: server.webContainerName,
        certificatePem: server.certificatePem,
        // Every domain's records (each with its purpose), then the same per domain as zone text, and the
        // MTA-STS policy each domain must serve at https://mta-sts.<domain>/.well-known/mta-sts.txt.
        dnsRecords: pulumi.all(domains.map(d => d.dnsRecords)).apply(r => r.flat()),
        dnsZones: byDomain(domains, d => d.dnsZone),
        // Every domain's DKIM private keys, a secret: `npm run stack -- export-keys` keeps them as dkimKeys.
        dkimKeys: pulumi.secret(
            pulumi
                .all(domains.map(d => pulumi.all([d.domain, d.dkimKeys])))
                .apply(entries => Object.fromEntries(entries)),
        ),
        mtaStsPolicies: byDomain(domains, d => d.mtaStsPolicy),
        mainCf: server.mainCf,
        dovecotConf: imap?.dovecotConf,
        // Only with monitoring.metrics: for a Prometheus of your own.
        metricsScrapeConfig: server.metricsScrapeConfig,
        alertRules: server.alertRules,
    };
}

export = mailServerProgram;
