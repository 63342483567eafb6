import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { MailServerArgs } from "./args";
import {
    configJob,
    NetworkPlacement,
    serviceContainer,
    serviceImage,
    StagedFile,
    volumeMount,
} from "./internal/docker";
import { MAIL_SERVER_BRAND, validateMailServer } from "./options/mailServer";
import { MailServerSettings } from "./model/settings";
import { FILE_INPUTS, filesByPath, mailServerSettings, SECRET_FILE_INPUTS } from "./render/inputs";
import { hashLogins } from "./internal/credentials";
import { PasswordHashCache } from "./model/password";
import { postfixTables, relaySaslEntries, renderPostfixFiles, renderSaslPasswords } from "./render/postfix";
import { NO_LOGINS, renderSaslauthdFiles, renderSaslauthdPasswd, saslauthdPasswdFile } from "./render/saslauthd";
import { Credential } from "./model/spec";
import { paths } from "./model/paths";
import { renderRspamdFiles, RSPAMD_MILTER_DIR } from "./render/rspamd";
import { rspamdSpec, SigningDomain, spamFilter } from "./internal/spamFilter";
import { serverCertificate, ServerCertificate } from "./tls";
import { acmeClient, CERTS_MOUNT } from "./internal/acme";
import { wellKnownEndpoint, webSpec } from "./internal/web";
import { wellKnownHosts } from "./model/dns";
import { renderWebFiles } from "./render/web";
import { Validator } from "./model/validator";
import { VirtualDomain } from "./virtualDomain";

export { MailServerSettings };

/**
 * The MTA: Postfix (25, 587, 465) and, in relay mode, saslauthd containers, their config jobs, the TLS
 * certificate, the Docker network and the queue volume. Configuration reaches the running
 * containers through config volumes, so mailbox and alias changes never replace them.
 *
 * Registered inputs (for `pulumi preview --diff` and policies): the validated settings, named as
 * in MailServerArgs; postfixFiles and saslauthdFiles, every non-secret file by its path in the
 * config volume; saslauthdSecretFiles, the password hashes, a secret. Never
 * the TLS key or the relay passwords (sasl_passwd), which only the config job carries.
 */
export class MailServer extends pulumi.ComponentResource {
    public readonly settings: MailServerSettings;
    /** Where the services run: network mode, the stack's network (bridge mode), published address. */
    public readonly placement: NetworkPlacement;
    public readonly domains: VirtualDomain[];
    /** The relay users' hashes for the next deployment's passwordHashCache; a secret. */
    public readonly passwordHashCache: pulumi.Output<PasswordHashCache>;
    /** All mailbox hashes of all domains; a Pulumi secret. */
    public readonly credentials: pulumi.Output<Credential[]>;
    /** The certificate the config jobs install; undefined with tls.acme (see `acme`). */
    public readonly certificate: ServerCertificate | undefined;
    /** undefined with tls.acme: the certificate changes at run time, in the certs volume. */
    public readonly certificatePem: pulumi.Output<string | undefined>;
    /**
     * tls.acme: the ACME client container and the certs volume it installs key and certificate
     * in; Dovecot mounts it read-only at /certs and waits for the container, like Postfix.
     */
    public readonly acme: { container: docker.Container; certsVolumeName: pulumi.Output<string> } | undefined;
    public readonly postfixContainerName: pulumi.Output<string>;
    /** Relay mode only: internet mode's SMTP AUTH goes through DovecotImap's auth service. */
    public readonly saslauthdContainerName: pulumi.Output<string | undefined>;
    /** The well-known HTTPS endpoint's container (wellKnown); undefined when no domain is served. */
    public readonly webContainerName: pulumi.Output<string | undefined>;
    public readonly queueVolumeName: pulumi.Output<string>;
    /** The volume through which Dovecot receives mail from Postfix over LMTP. */
    public readonly lmtpVolumeName: pulumi.Output<string>;
    public readonly networkName: pulumi.Output<string | undefined>;
    /** The main.cf in force, for review in `pulumi preview --diff` and the stack outputs. */
    public readonly mainCf: pulumi.Output<string>;

    constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`MailServer ${name}`);
        const settings = validateMailServer(v, name, args);
        const { prefix, postfix, placement } = settings;
        const domains = args.domains ?? [];
        const users = args.users ?? [];
        // Rendered once, before registering: the component's inputs, the config jobs and the
        // outputs share these files.
        const rendered = renderPostfixFiles(postfix);
        // Relay mode only: internet mode's Postfix asks Dovecot's auth service (DovecotImap), which
        // sees client addresses and bans brute force for every protocol.
        const usesSaslauthd = postfix.mode === "relay";
        const saslauthdRendered = usesSaslauthd ? renderSaslauthdFiles() : [];
        const rspamdRendered = settings.spamFilter.enabled ? renderRspamdFiles(rspamdSpec(settings)) : [];
        const webRendered = settings.wellKnown
            ? renderWebFiles(webSpec(settings.wellKnown, placement.networkMode, settings.tls.acme !== undefined))
            : [];
        // The endpoint's names go on the mail services' certificate, which it serves too.
        const wellKnownNames = (settings.wellKnown?.domains ?? []).flatMap(d => wellKnownHosts(d.domain));
        // Relay mode's SMTP AUTH users are checked by saslauthd like mailboxes (internet mode has none).
        const relayUsers = hashLogins(
            v,
            users.map((u, i) => ({ ...u, address: settings.users[i], field: `users[${i}]` })),
            args.passwordHashCache,
        );
        const credentials = pulumi.secret(
            pulumi.all([...domains.map(d => d.credentials), relayUsers.credentials]).apply(lists => lists.flat()),
        );
        const saslauthdPasswd = pulumi.secret(
            credentials.apply(c => (c.length > 0 ? renderSaslauthdPasswd(c) : NO_LOGINS)),
        );
        super(
            "mailserver:index:MailServer",
            name,
            {
                ...mailServerSettings(settings),
                images: args.images,
                [FILE_INPUTS.postfix]: filesByPath(rendered),
                ...(usesSaslauthd ? { [FILE_INPUTS.saslauthd]: filesByPath(saslauthdRendered) } : {}),
                [FILE_INPUTS.rspamd]: filesByPath(rspamdRendered),
                ...(settings.wellKnown ? { [FILE_INPUTS.web]: filesByPath(webRendered) } : {}),
                // The hashes change with any password: "[secret] => [secret]" in the diff says so.
                ...(usesSaslauthd
                    ? {
                          [SECRET_FILE_INPUTS.saslauthd]: pulumi.secret({
                              [saslauthdPasswdFile("").path]: saslauthdPasswd,
                          }),
                      }
                    : {}),
            },
            opts,
        );
        if (placement.networkMode === "bridge" && postfix.mode === "internet")
            pulumi.log.warn(bridgeWarning(name), this);
        for (const warning of settings.warnings) pulumi.log.warn(warning, this);
        this.settings = settings;
        this.domains = domains;
        this.credentials = credentials;
        this.passwordHashCache = relayUsers.cache;
        const labels = { "mailserver.stack": prefix };

        let network: docker.Network | undefined;
        if (placement.networkMode === "bridge") {
            network = new docker.Network(
                `${prefix}-net`,
                { name: `${prefix}-net`, driver: "bridge" },
                { parent: this },
            );
        }
        const servicePlacement: NetworkPlacement = { ...placement, network: network?.name };
        this.placement = servicePlacement;
        // Mail and queue volumes outlive the stack: `pulumi destroy` must never lose mail.
        const keep = { parent: this, retainOnDelete: true };
        const volume = (suffix: string, retain = false) =>
            new docker.Volume(`${prefix}-${suffix}`, { name: `${prefix}-${suffix}` }, retain ? keep : { parent: this });
        const queue = volume("queue", true);
        const lmtp = volume("lmtp");
        const postfixConfig = volume("postfix-config");

        // tls.acme: a container obtains and renews it; the key never passes through Pulumi.
        const acme = settings.tls.acme
            ? acmeClient(this, {
                  prefix,
                  hostname: postfix.hostname,
                  acme: { ...settings.tls.acme, names: [...settings.tls.acme.names, ...wellKnownNames] },
                  images: args.images,
                  placement: servicePlacement,
                  restart: settings.restart,
                  labels,
              })
            : undefined;
        this.acme = acme && { container: acme.container, certsVolumeName: acme.certsVolume };
        this.certificate = acme
            ? undefined
            : serverCertificate(this, prefix, postfix.hostname, wellKnownNames, settings.tls, v);
        const certificate = this.certificate;

        // --- Postfix
        const relays = args.relayhosts ?? [];
        const saslPasswd = pulumi.secret(
            pulumi
                .all(relays.map(r => pulumi.all([r.username, r.password])))
                .apply(creds =>
                    renderSaslPasswords(
                        relaySaslEntries(
                            relays.map((r, i) => ({ spec: r.spec, username: creds[i][0], password: creds[i][1] })),
                        ),
                    ),
                ),
        );
        const postfixFiles: StagedFile[] = [...rendered];
        if (certificate)
            postfixFiles.push(
                { path: "tls/cert.pem", content: certificate.certPem, mode: "0644", owner: "root", group: "root" },
                { path: "tls/key.pem", content: certificate.keyPem, mode: "0600", owner: "root", group: "root" },
            );
        postfixFiles.push({
            path: postfixTables.saslPasswords,
            content: saslPasswd,
            mode: "0600",
            owner: "root",
            group: "root",
        });
        const images = args.images;
        const postfixImage = serviceImage(this, prefix, "postfix", images);
        const postfixJob = configJob(this, `${prefix}-postfix-config`, {
            service: "postfix",
            image: postfixImage,
            configVolume: postfixConfig.name,
            files: postfixFiles,
            postmap: [
                postfixTables.virtualMailboxes,
                postfixTables.virtualAliases,
                postfixTables.senderLogins,
                postfixTables.senderRelays,
                postfixTables.relayRecipients,
                postfixTables.saslPasswords,
                postfixTables.senderTransports,
                postfixTables.transports,
                postfixTables.tlsPolicies,
                postfixTables.ownSenderDomains,
                postfixTables.submissionSenders,
            ],
            postalias: [postfixTables.systemAliases],
            labels,
            // Validates inet_interfaces against the addresses the service will have (::1, the host's own).
            networkMode: placement.networkMode === "host" ? "host" : "none",
        });

        // --- saslauthd (relay mode)
        const sasl = usesSaslauthd
            ? (() => {
                  const saslRun = volume("saslauthd-run");
                  const saslConfig = volume("saslauthd-config");
                  const saslImage = serviceImage(this, prefix, "saslauthd", images);
                  const job = configJob(this, `${prefix}-saslauthd-config`, {
                      service: "saslauthd",
                      image: saslImage,
                      configVolume: saslConfig.name,
                      files: [...saslauthdRendered, { ...saslauthdPasswdFile(""), content: saslauthdPasswd }],
                      labels,
                  });
                  const container = serviceContainer(
                      this,
                      `${prefix}-saslauthd`,
                      {
                          service: "saslauthd",
                          image: saslImage,
                          placement: { ...servicePlacement, networkMode: "none", network: undefined },
                          ports: [],
                          mounts: [
                              volumeMount(saslConfig.name, "/config", true),
                              volumeMount(saslRun.name, paths.saslauthdDir),
                          ],
                          healthcheck: ["/usr/local/lib/mail/healthcheck"],
                          restart: settings.restart,
                          labels,
                      },
                      [job.container],
                  );
                  return { container, job, run: saslRun };
              })()
            : undefined;

        // --- rspamd (the milter) and Valkey
        const filter = settings.spamFilter.enabled
            ? spamFilter(this, {
                  prefix,
                  settings,
                  rendered: rspamdRendered,
                  domains: domains as unknown as SigningDomain[],
                  images,
                  placement: servicePlacement,
                  labels,
              })
            : undefined;

        const postfixContainer = serviceContainer(
            this,
            `${prefix}-postfix`,
            {
                service: "postfix",
                image: postfixImage,
                placement: servicePlacement,
                ports: [postfix.ports.smtp, postfix.ports.submission, postfix.ports.smtps],
                mounts: [
                    volumeMount(postfixConfig.name, "/config", true),
                    volumeMount(queue.name, paths.postfixQueue),
                    volumeMount(lmtp.name, paths.lmtpSocketDir),
                    ...(sasl ? [volumeMount(sasl.run.name, paths.saslauthdDir)] : []),
                    ...(filter ? [volumeMount(filter.milterVolume, RSPAMD_MILTER_DIR)] : []),
                    ...(acme ? [volumeMount(acme.certsVolume, CERTS_MOUNT, true)] : []),
                ],
                healthcheck: ["/usr/local/lib/mail/healthcheck"],
                restart: settings.restart,
                labels,
                // Postfix binds its listeners once: "postfix reload" keeps the old addresses
                // (postconf(5): stop and start Postfix after changing these).
                startupSettings: postfixStartupSettings(postfix),
            },
            [
                postfixJob.container,
                ...(sasl ? [sasl.container] : []),
                ...(filter ? [filter.rspamd] : []),
                ...(acme ? [acme.container] : []),
            ],
        );

        // --- The well-known HTTPS endpoint (MTA-STS policies, autoconfig)
        const web = settings.wellKnown
            ? wellKnownEndpoint(this, {
                  prefix,
                  wellKnown: settings.wellKnown,
                  rendered: webRendered,
                  certificate,
                  acme,
                  images,
                  placement: servicePlacement,
                  restart: settings.restart,
                  labels,
              })
            : undefined;
        this.webContainerName = web ? web.container.name : pulumi.output(undefined);

        this.certificatePem = certificate ? certificate.certPem : pulumi.output(undefined);
        this.postfixContainerName = postfixContainer.name;
        this.saslauthdContainerName = sasl ? sasl.container.name : pulumi.output(undefined);
        this.queueVolumeName = queue.name;
        this.lmtpVolumeName = lmtp.name;
        this.networkName = network ? network.name : pulumi.output(undefined);
        this.mainCf = pulumi.output(rendered.find(f => f.path === "main.cf")!.content);
        this.registerOutputs({
            passwordHashCache: this.passwordHashCache,
            certificatePem: this.certificatePem,
            postfixContainerName: this.postfixContainerName,
            saslauthdContainerName: this.saslauthdContainerName,
            queueVolumeName: this.queueVolumeName,
            lmtpVolumeName: this.lmtpVolumeName,
            networkName: this.networkName,
            mainCf: this.mainCf,
            postfixConfigApplied: postfixJob.applied,
            saslauthdConfigApplied: sasl ? sasl.job.applied : pulumi.output(undefined),
            rspamdConfigApplied: filter ? filter.applied : pulumi.output(undefined),
            acmeCredentialsApplied: acme ? acme.credentialsApplied : pulumi.output(undefined),
            webContainerName: this.webContainerName,
            webConfigApplied: web ? web.applied : pulumi.output(undefined),
        });
    }
}

/**
 * Bridge mode hides client addresses behind Docker's gateway unless the Docker engine is set up
 * to keep them, which the component cannot see: said once per MailServer, at every preview and up.
 */
export function bridgeWarning(name: string): string {
    return (
        `MailServer ${name}: in bridge mode, clients can reach Postfix from the Docker network's gateway instead of ` +
        "their own address, so inbound SPF/DMARC checks, rate limits and AUTH throttling (authRateLimit: one client " +
        "failing can throttle everyone) see the gateway, and brute-force bans by address cannot work (the gateway is " +
        'never banned; bans by login still do). Use networkMode "host"; or check that Docker keeps client ' +
        "addresses: IPv4 clients from other hosts only through Docker's iptables NAT (not docker-proxy, which " +
        "carries them when iptables is off), IPv6 clients never on this component's IPv4-only network; " +
        'see README.md, "Client addresses in bridge mode".'
    );
}

// DovecotImap's validation recognises a MailServer by this mark, without importing Pulumi.
Object.defineProperty(MailServer.prototype, MAIL_SERVER_BRAND, { value: true });

/** inet_interfaces and inet_protocols when not Postfix's defaults ("all", "all"), else undefined. */
export function postfixStartupSettings(p: { inetInterfaces: string[]; inetProtocols: string }): string | undefined {
    const interfaces = p.inetInterfaces.join(", ");
    if (interfaces === "all" && p.inetProtocols === "all") return undefined;
    return `inet_interfaces = ${interfaces}; inet_protocols = ${p.inetProtocols}`;
}
