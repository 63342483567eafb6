import * as docker from "@pulumi/docker";
import { renderScrapeConfigs, scrapeTargets } from "./render/metrics";
import { renderAlertRules } from "./render/monitoringRules";
import { metricsSpec } from "./services/metrics";
import { monitoringSpec } from "./services/monitoring";
import * as pulumi from "@pulumi/pulumi";
import { MailServerArgs } from "./args/mailServer";
import { ServerCertificate, serverCertificate, serviceCertificate, ServiceCertificate } from "./certificates";
import { mailServerSettings } from "./inputs";
import { hashLogins } from "./logins";
import { wellKnownNames } from "./model/dns";
import { PasswordHashCache } from "./model/password";
import { RelayCredentials } from "./model/relay";
import { MailServerSettings } from "./model/settings";
import { Credential, DkimSigningKey } from "./model/spec";
import { Validator } from "./model/validator";
import { MAIL_SERVER_BRAND } from "./options/mailServer";
import { validateMailServer } from "./options/validateMailServer";
import { applyKubernetes } from "./options/kubernetes";
import type { KubernetesDeployment } from "./platform/kubernetes/deploy";
import { kubernetesPlatform } from "./platform/kubernetes/load";
import { NetworkPlacement } from "./platform/docker/container";
import { deployServices, Deployment } from "./platform/docker/deploy";
import { stackPlacement } from "./platform/docker/network";
import { fileInputs, IMAP_SERVICES, MAIL_SERVER_SERVICES, planServices } from "./services";
import { BACKUP_REPOSITORY_VOLUME } from "./services/backup";
import { checkNamePrefix } from "./options/namePrefix";
import type { BackupSecrets, MailServerSecrets } from "./services/definition";
import type { BackupSettings } from "./model/backup";
import type { Relayhost } from "./relayhost";
import { VirtualDomain } from "./virtualDomain";

export { MailServerSettings };

/**
 * The MTA and the services around it, each defined once in components/services (postfix, saslauthd
 * in relay mode, rspamd and Valkey, the ACME client with tls.acme, the well-known endpoint with
 * wellKnown) and deployed by components/platform/docker: images, config jobs, containers,
 * volumes and the stack's network. Configuration reaches the running containers through config
 * volumes, so mailbox and alias changes never replace them.
 *
 * Registered inputs (for `pulumi preview --diff` and policies): the validated settings, named as
 * in MailServerArgs (inputs.ts); `<service>Files` of each service, every non-secret file by its
 * path in the config volume; saslauthdSecretFiles, the password hashes, a secret. Never the TLS
 * key or the relay passwords (sasl_passwd), which only the config job carries.
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
    /** What every service that serves the certificate gets of it (DovecotImap's too). */
    public readonly serviceCertificate: ServiceCertificate;
    /** undefined with tls.acme: the certificate changes at run time, in the certs volume. */
    public readonly certificatePem: pulumi.Output<string | undefined>;
    /** tls.acme: the ACME client container and the certs volume it installs key and certificate in. */
    public readonly acme: { container: docker.Container; certsVolumeName: pulumi.Output<string> } | undefined;
    /**
     * @internal kubernetes set: what it deployed on the cluster (DovecotImap deploys beside it). Left out
     * of the published declarations: its types are @pulumi/kubernetes's, an optional peer dependency.
     */
    public readonly kubernetes: KubernetesDeployment | undefined;
    /** kubernetes set: each Service it made (`<prefix>-postfix` and the internal ones), by name: its cluster IP. */
    public readonly kubernetesServices: Record<string, pulumi.Output<string>> | undefined;
    /** Its services' volumes and containers, by name: DovecotImap mounts and waits for some of them. */
    public readonly deployment: Deployment;
    public readonly postfixContainerName: pulumi.Output<string>;
    /** Relay mode only: internet mode's SMTP AUTH goes through DovecotImap's auth service. */
    public readonly saslauthdContainerName: pulumi.Output<string | undefined>;
    /** backup: the repository password and store credentials (Pulumi secrets) its DovecotImap stages. */
    public readonly backupSecrets: BackupSecrets | undefined;
    /** The well-known HTTPS endpoint's container (wellKnown); undefined when no domain is served. */
    public readonly webContainerName: pulumi.Output<string | undefined>;
    public readonly queueVolumeName: pulumi.Output<string>;
    /** The volume through which Dovecot receives mail from Postfix over LMTP. */
    public readonly lmtpVolumeName: pulumi.Output<string>;
    public readonly networkName: pulumi.Output<string | undefined>;
    /** The prefix of its containers and volumes: give it back as previousNamePrefix next time. */
    public readonly namePrefix: pulumi.Output<string>;
    /** The main.cf in force, for review in `pulumi preview --diff` and the stack outputs. */
    public readonly mainCf: pulumi.Output<string>;
    /** With monitoring.metrics: scrape_configs for a Prometheus of your own on this host. */
    public readonly metricsScrapeConfig: pulumi.Output<string | undefined>;
    /** With monitoring.metrics: the alert rules (Prometheus rule file), as the monitoring service runs them. */
    public readonly alertRules: pulumi.Output<string | undefined>;

    constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`MailServer ${name}`);
        const given = args.images as Record<string, unknown> | undefined;
        const settings = applyKubernetes(v, validateMailServer(v, name, args), args.kubernetes, given);
        const domains = args.domains ?? [];
        // Relay mode's SMTP AUTH users are checked by saslauthd like mailboxes (internet mode has none).
        const relayUsers = hashLogins(
            v,
            (args.users ?? []).map((u, i) => ({ ...u, address: settings.users[i], field: `users[${i}]` })),
            args.passwordHashCache,
        );
        const credentials = pulumi.secret(
            pulumi.all([...domains.map(d => d.credentials), relayUsers.credentials]).apply(lists => lists.flat()),
        );
        const secrets = mailServerSecrets(settings, domains, args.relayhosts ?? [], credentials);
        // Rendered once, before registering: the component's inputs, the config jobs and the
        // outputs share these files.
        const planned = planServices(MAIL_SERVER_SERVICES, settings, secrets);
        const inputs = fileInputs(MAIL_SERVER_SERVICES, planned);
        // Before anything is registered: a prefix change would leave the data volumes behind.
        // The backup's repository volume holds data only with repository "volume".
        const repositoryVolume = settings.backup.enabled && settings.backup.repository === "volume";
        const dataVolumes = [...planned.map(p => p.definition), ...IMAP_SERVICES]
            .flatMap(d => (d.volumes ?? []).filter(x => x.kind === "data").map(x => x.name))
            .filter(n => n !== BACKUP_REPOSITORY_VOLUME || repositoryVolume);
        checkNamePrefix(v, settings.prefix, args.previousNamePrefix, args.allowNamePrefixChange ?? false, [
            ...new Set(dataVolumes),
        ]);
        super(
            "mailserver:index:MailServer",
            name,
            {
                ...mailServerSettings(settings),
                images: args.images,
                ...inputs.files,
                // The hashes change with any password: "[secret] => [secret]" in the diff says so.
                ...Object.fromEntries(Object.entries(inputs.secretFiles).map(([k, f]) => [k, pulumi.secret(f)])),
            },
            opts,
        );
        const { prefix, postfix } = settings;
        const k = settings.kubernetes;
        if (!k && settings.placement.networkMode === "bridge" && postfix.mode === "internet")
            pulumi.log.warn(bridgeWarning(name), this);
        for (const warning of settings.warnings) pulumi.log.warn(warning, this);
        this.settings = settings;
        this.domains = domains;
        this.credentials = credentials;
        this.passwordHashCache = relayUsers.cache;
        this.backupSecrets = backupSecrets(settings.backup);
        // On Kubernetes no Docker network: pods have their own.
        const { placement, network } = k
            ? { placement: settings.placement, network: undefined }
            : stackPlacement(this, prefix, settings.placement);
        this.placement = placement;

        // Supplied, CA-signed or self-signed; with tls.acme the ACME service obtains it at run time.
        this.certificate = settings.certificate.acme
            ? undefined
            : serverCertificate(
                  this,
                  prefix,
                  postfix.hostname,
                  wellKnownNames(settings.wellKnown?.domains ?? []),
                  settings.tls,
                  v,
              );
        this.serviceCertificate = serviceCertificate(settings.certificate, this.certificate);

        const images = { ...args.images } as Record<string, pulumi.Input<string> | undefined>;
        this.kubernetes = k
            ? kubernetesPlatform().deployMailServerOnKubernetes(this, planned, {
                  prefix,
                  k,
                  settings,
                  images,
                  certificate: this.serviceCertificate,
              })
            : undefined;
        this.kubernetesServices = this.kubernetes
            ? Object.fromEntries([...this.kubernetes.services].map(([n, svc]) => [n, svc.spec.clusterIP]))
            : undefined;
        const deployment = k
            ? { volumes: new Map(), containers: new Map(), jobs: new Map() }
            : deployServices(this, planned, {
                  prefix,
                  settings,
                  images: args.images,
                  placement,
                  restart: settings.restart,
                  certificate: this.serviceCertificate,
              });
        const onCluster = (o: pulumi.Output<string> | undefined) => (k ? o : undefined);
        const sts = (group: string) => onCluster(this.kubernetes?.statefulSets.get(group)?.metadata.name);
        this.deployment = deployment;
        const container = (service: string) => deployment.containers.get(service);
        const applied = (service: string) => deployment.jobs.get(service)?.applied ?? pulumi.output(undefined);
        const acmeContainer = container("acme");
        this.acme = acmeContainer && {
            container: acmeContainer,
            certsVolumeName: deployment.volumes.get("certs")!.name,
        };
        this.certificatePem = this.certificate ? this.certificate.certPem : pulumi.output(undefined);
        this.postfixContainerName = sts("postfix") ?? container("postfix")!.name;
        this.saslauthdContainerName = container("saslauthd")?.name ?? pulumi.output(undefined);
        this.webContainerName = container("web")?.name ?? pulumi.output(undefined);
        // On Kubernetes: the claim template's name (each Postfix pod has its own claim, queue-<pod>).
        this.queueVolumeName = k ? pulumi.output("queue") : deployment.volumes.get("queue")!.name;
        this.lmtpVolumeName = k ? pulumi.output("lmtp") : deployment.volumes.get("lmtp")!.name;
        this.networkName = network ? network.name : pulumi.output(undefined);
        this.namePrefix = pulumi.output(prefix);
        const postfixFiles = planned.find(p => p.definition.name === "postfix")!.files;
        this.mainCf = pulumi.output(postfixFiles.find(f => f.path === "main.cf")!.content);
        const m = settings.monitoring.metrics;
        this.metricsScrapeConfig = pulumi.output(
            m ? renderScrapeConfigs(scrapeTargets(metricsSpec(settings), true)) : undefined,
        );
        this.alertRules = pulumi.output(m ? renderAlertRules(monitoringSpec(settings).rules) : undefined);
        this.registerOutputs({
            passwordHashCache: this.passwordHashCache,
            certificatePem: this.certificatePem,
            postfixContainerName: this.postfixContainerName,
            saslauthdContainerName: this.saslauthdContainerName,
            queueVolumeName: this.queueVolumeName,
            lmtpVolumeName: this.lmtpVolumeName,
            networkName: this.networkName,
            namePrefix: this.namePrefix,
            mainCf: this.mainCf,
            postfixConfigApplied: applied("postfix"),
            saslauthdConfigApplied: applied("saslauthd"),
            rspamdConfigApplied: applied("rspamd"),
            acmeCredentialsApplied: applied("acme"),
            webContainerName: this.webContainerName,
            webConfigApplied: applied("web"),
            metricsScrapeConfig: this.metricsScrapeConfig,
            alertRules: this.alertRules,
        });
    }
}

/** The secrets MailServer's services make files of, each a Pulumi secret whatever way it was given. */
function mailServerSecrets(
    settings: MailServerSettings,
    domains: VirtualDomain[],
    relays: Relayhost[],
    logins: pulumi.Output<Credential[]>,
): MailServerSecrets {
    const relayCredentials: pulumi.Output<RelayCredentials[]> = pulumi.secret(
        pulumi
            .all(relays.map(r => pulumi.all([r.username, r.password])))
            .apply(creds => relays.map((r, i) => ({ spec: r.spec, username: creds[i][0], password: creds[i][1] }))),
    );
    const none: pulumi.Output<DkimSigningKey[]> = pulumi.output([]);
    return {
        logins,
        relayCredentials,
        dkimSigningKeys: Object.fromEntries(
            domains.map(d => [d.spec.name, pulumi.secret(d.dkimSigningKeys ?? none)] as const),
        ),
        dnsCredentials: Object.fromEntries(
            Object.entries(settings.tls.acme?.dnsCredentials ?? {}).map(([k, x]) => [k, pulumi.secret(x)]),
        ),
    };
}

/** The backup's secrets, each a Pulumi secret whatever way it was given; undefined while backup is off. */
function backupSecrets(b: BackupSettings): BackupSecrets | undefined {
    if (!b.enabled || b.password === undefined) return undefined;
    const both = <T>(
        x: pulumi.Input<string> | undefined,
        y: pulumi.Input<string> | undefined,
        f: (a: string, b: string) => T,
    ) =>
        x !== undefined && y !== undefined ? pulumi.secret(pulumi.all([x, y]).apply(([a, c]) => f(a, c))) : undefined;
    return {
        password: pulumi.secret(pulumi.output(b.password)),
        s3: both(b.s3AccessKeyId, b.s3SecretAccessKey, (id, secret) => ({ id, secret })),
        rest: both(b.restUsername, b.restPassword, (username, password) => ({ username, password })),
        sftpPrivateKey: b.sftpPrivateKey === undefined ? undefined : pulumi.secret(pulumi.output(b.sftpPrivateKey)),
    };
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
