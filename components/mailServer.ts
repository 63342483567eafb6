import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { configJob, ImageArgs, NetworkPlacement, serviceContainer, serviceImage, StagedFile, volumeMount } from "./internal/docker";
import { isIPv4, Relayhost } from "./relayhost";
import { FILE_INPUTS, filesByPath, mailServerSettings, SECRET_FILE_INPUTS } from "./render/inputs";
import { hashPassword } from "./render/password";
import { postfixTables, relayImplicitTls, relayNexthop, renderMasterCf, renderPostfixFiles, renderSaslPasswords } from "./render/postfix";
import { renderSaslauthdFiles, renderSaslauthdPasswd, saslauthdPasswdFile } from "./render/saslauthd";
import { Credential, DomainSpec, paths, PostfixSpec, TransportSpec } from "./render/spec";
import { serverCertificate, ServerCertificate, TlsArgs, tlsSettings, validateTls } from "./tls";
import { isDomain, Validator } from "./validate";
import { VirtualDomain } from "./virtualDomain";

export interface MailServerPorts {
    /** MTA-to-MTA SMTP with optional STARTTLS, no AUTH (default 25). */
    smtp?: number;
    /** Submission with mandatory STARTTLS and AUTH (default 587). */
    submission?: number;
    /** Submission over implicit TLS (default 465). */
    smtps?: number;
    /** Internal, never published: where Dovecot's Sieve hands mail back to Postfix (default 10026). */
    reinject?: number;
}

export interface MailServerArgs {
    /** "internet" (default): receives mail for its domains and sends out; "relay": no mailboxes, everything via the relayhost. */
    mode?: string;
    /** Postfix myhostname: the server's fully qualified name, also the certificate's name. */
    hostname: string;
    /** The mail domains this server receives for (internet mode). */
    domains?: VirtualDomain[];
    /** Outbound smarthosts: one without senderDomains serves everything; others serve their sender domains. */
    relayhosts?: Relayhost[];
    /** Mailbox that receives mail for root, postmaster, abuse, MAILER-DAEMON and each domain's postmaster@/abuse@. Default: the first mailbox of the first domain. */
    adminAddress?: string;
    /** Postfix myorigin (default: the first domain, or the hostname's parent domain). */
    myorigin?: string;
    /** Postfix mydestination (default ["$myhostname", "localhost"]). Never list a virtual domain here. */
    mydestination?: string[];
    /** Trusted clients that may relay without AUTH (default loopback only: ["127.0.0.0/8", "[::1]/128"]). */
    mynetworks?: string[];
    /** Postfix inet_interfaces (default ["all"]). */
    inetInterfaces?: string[];
    /** Postfix inet_protocols: "all" (default), "ipv4" or "ipv6". */
    inetProtocols?: string;
    /** Domains accepted for relaying to their own MX (backup MX); default none. */
    relayDomains?: string[];
    /** With relayDomains: the recipients to accept (relay_recipient_maps); default: every address of those domains. */
    relayRecipients?: string[];
    /**
     * Recipient domains delivered to a next hop of their own instead of the relayhost or their MX
     * (Postfix transport_maps), e.g. a backup MX handing relayDomains to the primary:
     * [{ domain: "example.com", nexthop: "[mx1.example.com]:25" }]. nexthop: "[host]:port", "[host]",
     * "host:port" or "host" (the last two look up MX records); host is a fully qualified name or,
     * in brackets, an IPv4 address. Relay credentials are never offered to these next hops.
     */
    transports?: TransportArgs[];
    /**
     * Relay mode only: the SMTP AUTH logins (an address-like name and a password of at least 12
     * characters, a Pulumi secret) that may send through this relay on the submission and smtps
     * ports, from anywhere, with any sender address. Without users only mynetworks may relay.
     * Internet mode authenticates its mailboxes instead.
     */
    users?: RelayUserArgs[];
    /** Largest message in bytes, for SMTP and LMTP alike (default 26214400 = 25 MiB). */
    messageSizeLimit?: number;
    /** How long to retry before bouncing (default "5d"). */
    maximalQueueLifetime?: string;
    /** How long to retry a bounce (default "5d"). */
    bounceQueueLifetime?: string;
    /** When the sender gets a "still trying" notice; "0h" turns it off (default "4h"). */
    delayWarningTime?: string;
    /** Rewrite user@host.example.com to user@example.com for these domains (default none). */
    masqueradeDomains?: string[];
    /** Which problems adminAddress gets a copy of (Postfix notify_classes; default ["2bounce", "delay", "resource", "software"]; add "bounce" for a copy of every bounce, which also sends transcripts of rejected SMTP sessions). */
    notifyClasses?: string[];
    /** AUTH commands one client (outside mynetworks) may send per minute before Postfix refuses it (default 20). */
    authRateLimit?: number;
    /** Answer VRFY with 502 so addresses cannot be harvested (default true). */
    disableVrfy?: boolean;
    /** user+tag@domain delivers to user@domain (default "+"). */
    recipientDelimiter?: string;
    ports?: MailServerPorts;
    /** "bridge" (default: a Docker network of its own, ports published) or "host" (daemons bind the host's addresses; keeps real client IPs). */
    networkMode?: string;
    /** Host address the published ports bind to in bridge mode (default "0.0.0.0"). */
    publishAddress?: string;
    tls?: TlsArgs;
    images?: ImageArgs;
    /** Prefix of container, volume and network names (default: the component's name). */
    namePrefix?: string;
    /** Docker restart policy of the services (default "unless-stopped"). */
    restart?: string;
}

export interface TransportArgs {
    domain: string;
    nexthop: string;
}

export interface RelayUserArgs {
    /** The login, e.g. "app@example.com" (lower-cased). */
    address: string;
    /** A Pulumi secret; only a SHA512-CRYPT hash reaches saslauthd. */
    password: pulumi.Input<string>;
}

export const MIN_RELAY_USER_PASSWORD_LENGTH = 12;

/**
 * saslauthd's passwd when nobody may log in (relay mode without users): renderSaslauthdPasswd([])
 * gives one blank line, which the image's validate-config refuses, and the docker provider refuses
 * an empty upload; so one well-formed line whose "hash" no password can produce.
 */
export const NO_LOGINS = "no-login:$6$!\n";

export const MAIL_SERVER_MODES = ["internet", "relay"] as const;
export const NETWORK_MODES = ["bridge", "host"] as const;

/** The validated settings other components (DovecotImap) build on. */
export interface MailServerSettings {
    prefix: string;
    postfix: PostfixSpec;
    placement: NetworkPlacement;
    restart: string;
}

/**
 * The MTA: Postfix (25, 587, 465) and saslauthd containers, their config jobs, the TLS
 * certificate, the Docker network and the queue volume. Configuration reaches the running
 * containers through config volumes, so mailbox and alias changes never replace them.
 *
 * Registered inputs (for `pulumi preview --diff` and policies): the validated settings, named as
 * in MailServerArgs; postfixFiles and saslauthdFiles, every non-secret file by its path in the
 * config volume (master.cf only outside bridge mode's internet mode, where it holds the subnet
 * of this component's own network); saslauthdSecretFiles, the password hashes, a secret. Never
 * the TLS key or the relay passwords (sasl_passwd), which only the config job carries.
 */
export class MailServer extends pulumi.ComponentResource {
    public readonly settings: MailServerSettings;
    public readonly domains: VirtualDomain[];
    /** All mailbox hashes of all domains; a Pulumi secret. */
    public readonly credentials: pulumi.Output<Credential[]>;
    public readonly certificate: ServerCertificate;
    public readonly certificatePem: pulumi.Output<string>;
    public readonly postfixContainerName: pulumi.Output<string>;
    public readonly saslauthdContainerName: pulumi.Output<string>;
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
        // Rendered once, before registering: the component's inputs, the config jobs and the
        // outputs share these files.
        const rendered = renderPostfixFiles(postfix);
        const saslauthdRendered = renderSaslauthdFiles();
        // Relay mode's SMTP AUTH users are checked by saslauthd like mailboxes (internet mode has none).
        const credentials = pulumi.secret(pulumi.all([...domains.map(d => d.credentials), relayUserCredentials(v, args.users)]).apply(lists => lists.flat()));
        const saslauthdPasswd = pulumi.secret(credentials.apply(c => c.length > 0 ? renderSaslauthdPasswd(c) : NO_LOGINS));
        // In bridge mode (internet mode only: relay mode has no reinject listener) master.cf trusts
        // the subnet of this component's own network, which Docker assigns. As an input of this
        // component it would wait for its own child, which waits for this registration: never.
        const masterCfNeedsSubnet = placement.networkMode === "bridge" && postfix.mode === "internet";
        super("mailserver:index:MailServer", name, {
            ...mailServerSettings({
                postfix, networkMode: placement.networkMode, publishAddress: placement.publishAddress,
                namePrefix: prefix, restart: settings.restart, users: (args.users ?? []).map(u => u.address.toLowerCase()),
            }),
            tls: tlsSettings(args.tls),
            images: args.images,
            [FILE_INPUTS.postfix]: filesByPath(rendered.filter(f => !(masterCfNeedsSubnet && f.path === "master.cf"))),
            [FILE_INPUTS.saslauthd]: filesByPath(saslauthdRendered),
            // The hashes change with any password: "[secret] => [secret]" in the diff says so.
            [SECRET_FILE_INPUTS.saslauthd]: pulumi.secret({ [saslauthdPasswdFile("").path]: saslauthdPasswd }),
        }, opts);
        this.settings = settings;
        this.domains = domains;
        this.credentials = credentials;
        const labels = { "mailserver.stack": prefix };

        let network: docker.Network | undefined;
        if (placement.networkMode === "bridge") {
            network = new docker.Network(`${prefix}-net`, { name: `${prefix}-net`, driver: "bridge" }, { parent: this });
            placement.network = network.name;
        }
        // Mail and queue volumes outlive the stack: `pulumi destroy` must never lose mail.
        const keep = { parent: this, retainOnDelete: true };
        const volume = (suffix: string, retain = false) =>
            new docker.Volume(`${prefix}-${suffix}`, { name: `${prefix}-${suffix}` }, retain ? keep : { parent: this });
        const queue = volume("queue", true);
        const lmtp = volume("lmtp");
        const saslRun = volume("saslauthd-run");
        const postfixConfig = volume("postfix-config");
        const saslConfig = volume("saslauthd-config");

        this.certificate = serverCertificate(this, prefix, postfix.hostname, [], args.tls, v);

        // --- Postfix
        const relays = args.relayhosts ?? [];
        const saslPasswd = pulumi.secret(pulumi.all(relays.map(r => pulumi.all([r.username, r.password])))
            .apply(creds => renderSaslPasswords(relays.flatMap((r, i) => {
                const [username, password] = creds[i];
                if (!r.spec.hasCredentials || username === undefined || password === undefined) return [];
                // Per-sender relays are looked up by sender address first, the default relay by next hop.
                const keys = r.spec.senderDomains.length > 0 ? r.spec.senderDomains.map(d => `@${d}`) : [relayNexthop(r.spec)];
                return keys.map(nexthop => ({ nexthop, username, password }));
            }))));
        // The reinject listener trusts the network's subnet, which only Docker knows; every other
        // file is known now.
        const subnet = masterCfNeedsSubnet ? network?.ipamConfigs.apply(configs => configs?.find(c => c.subnet)?.subnet) : undefined;
        const postfixFiles: StagedFile[] = rendered.map(f => f.path !== "master.cf" || !subnet ? f : {
            ...f,
            content: subnet.apply(s => renderMasterCf({ ...postfix, reinject: { ...postfix.reinject, trusted: s ? [s] : [] } })),
        });
        postfixFiles.push(
            { path: "tls/cert.pem", content: this.certificate.certPem, mode: "0644", owner: "root", group: "root" },
            { path: "tls/key.pem", content: this.certificate.keyPem, mode: "0600", owner: "root", group: "root" },
            { path: postfixTables.saslPasswords, content: saslPasswd, mode: "0600", owner: "root", group: "root" },
        );
        const images = args.images;
        const postfixImage = serviceImage(this, prefix, "postfix", images);
        const postfixJob = configJob(this, `${prefix}-postfix-config`, {
            image: postfixImage,
            configVolume: postfixConfig.name,
            files: postfixFiles,
            postmap: [postfixTables.virtualMailboxes, postfixTables.virtualAliases, postfixTables.senderLogins,
                postfixTables.senderRelays, postfixTables.relayRecipients, postfixTables.saslPasswords,
                postfixTables.senderTransports, postfixTables.transports, postfixTables.tlsPolicies],
            postalias: [postfixTables.systemAliases],
            labels,
        });

        // --- saslauthd
        const saslImage = serviceImage(this, prefix, "saslauthd", images);
        const saslJob = configJob(this, `${prefix}-saslauthd-config`, {
            image: saslImage,
            configVolume: saslConfig.name,
            files: [...saslauthdRendered, { ...saslauthdPasswdFile(""), content: saslauthdPasswd }],
            labels,
        });
        const saslauthd = serviceContainer(this, `${prefix}-saslauthd`, {
            service: "saslauthd",
            image: saslImage,
            placement: { ...placement, networkMode: "none", network: undefined },
            ports: [],
            mounts: [volumeMount(saslConfig.name, "/config", true), volumeMount(saslRun.name, paths.saslauthdDir)],
            healthcheck: ["/usr/local/lib/mail/healthcheck"],
            restart: settings.restart,
            labels,
        }, [saslJob.container]);

        const postfixContainer = serviceContainer(this, `${prefix}-postfix`, {
            service: "postfix",
            image: postfixImage,
            placement,
            ports: [postfix.ports.smtp, postfix.ports.submission, postfix.ports.smtps],
            mounts: [
                volumeMount(postfixConfig.name, "/config", true),
                volumeMount(queue.name, paths.postfixQueue),
                volumeMount(lmtp.name, paths.lmtpSocketDir),
                volumeMount(saslRun.name, paths.saslauthdDir),
            ],
            healthcheck: ["/usr/local/lib/mail/healthcheck"],
            restart: settings.restart,
            labels,
        }, [postfixJob.container, saslauthd]);

        this.certificatePem = this.certificate.certPem;
        this.postfixContainerName = postfixContainer.name;
        this.saslauthdContainerName = saslauthd.name;
        this.queueVolumeName = queue.name;
        this.lmtpVolumeName = lmtp.name;
        this.networkName = network ? network.name : pulumi.output(undefined);
        this.mainCf = pulumi.output(rendered.find(f => f.path === "main.cf")!.content);
        this.registerOutputs({
            certificatePem: this.certificatePem,
            postfixContainerName: this.postfixContainerName,
            saslauthdContainerName: this.saslauthdContainerName,
            queueVolumeName: this.queueVolumeName,
            lmtpVolumeName: this.lmtpVolumeName,
            networkName: this.networkName,
            mainCf: this.mainCf,
            postfixConfigApplied: postfixJob.applied,
            saslauthdConfigApplied: saslJob.applied,
        });
    }
}

/** Validates MailServer arguments, including everything that spans domains. Exported for tests. */
export function validateMailServer(v: Validator, name: string, args: MailServerArgs): MailServerSettings {
    if (typeof args !== "object" || args === null) v.fail("args", args, "expected an object with at least \"hostname\"");
    const mode = v.oneOf("mode", args.mode ?? "internet", MAIL_SERVER_MODES);
    const hostname = v.hostname("hostname", args.hostname);
    const domains: DomainSpec[] = (args.domains ?? []).map(d => d.spec);
    if (mode === "internet" && domains.length === 0) v.fail("domains", args.domains, "internet mode needs at least one VirtualDomain (or use mode \"relay\")");
    if (mode === "relay" && domains.length > 0) v.fail("domains", domains.map(d => d.name), "relay mode has no mailboxes: leave domains empty, or use mode \"internet\"");
    const names = new Set<string>();
    domains.forEach((d, i) => {
        if (names.has(d.name)) v.fail(`domains[${i}]`, d.name, "each domain may be given once");
        names.add(d.name);
    });
    checkAddressGraph(v, domains);

    const mydomain = hostname.split(".").slice(1).join(".");
    if (!mydomain.includes(".")) v.fail("hostname", args.hostname, "expected a host name inside a domain, such as mail.example.com");
    const mydestination = (args.mydestination ?? ["$myhostname", "localhost"]).map((d, i) => {
        // $myhostname/$mydomain stand for names that must not be virtual domains either.
        const meaning = d === "$myhostname" ? hostname : d === "$mydomain" ? mydomain : undefined;
        if (meaning !== undefined && names.has(meaning)) v.fail(`mydestination[${i}]`, d, `${d} is ${meaning}, a virtual domain, which must not also be in mydestination (choose another hostname, or leave ${d} out of mydestination)`);
        if (meaning !== undefined || d === "localhost") return d;
        const domain = v.domain(`mydestination[${i}]`, d);
        if (names.has(domain)) v.fail(`mydestination[${i}]`, d, "a virtual domain must not also be in mydestination; it is delivered through Dovecot");
        return domain;
    });
    const mynetworks = (args.mynetworks ?? ["127.0.0.0/8", "[::1]/128"]).map((n, i) => v.network(`mynetworks[${i}]`, n));
    const inetInterfaces = args.inetInterfaces ?? ["all"];
    if (!Array.isArray(inetInterfaces) || inetInterfaces.length === 0) v.fail("inetInterfaces", args.inetInterfaces, "expected [\"all\"], [\"loopback-only\"] or a list of addresses");
    inetInterfaces.forEach((a, i) => {
        if (!["all", "loopback-only"].includes(a) && !/^[0-9.]+$|^[0-9a-f:]+$/i.test(a)) v.fail(`inetInterfaces[${i}]`, a, "expected \"all\", \"loopback-only\" or an IP address");
    });
    const inetProtocols = v.oneOf("inetProtocols", args.inetProtocols ?? "all", ["all", "ipv4", "ipv6"]);
    const relayDomains = (args.relayDomains ?? []).map((d, i) => {
        const domain = v.domain(`relayDomains[${i}]`, d);
        if (names.has(domain)) v.fail(`relayDomains[${i}]`, d, `expected another server's domain (backup MX): ${domain} is a VirtualDomain of this server, delivered to its mailboxes`);
        const local = mydestination.map(m => m === "$myhostname" ? hostname : m === "$mydomain" ? mydomain : m);
        if (local.includes(domain)) v.fail(`relayDomains[${i}]`, d, `expected a domain that is not delivered here: ${domain} is in mydestination, and a domain is either local or relayed`);
        return domain;
    });
    const relayRecipients = (args.relayRecipients ?? []).map((r, i) => {
        const address = v.address(`relayRecipients[${i}]`, r);
        if (!relayDomains.some(d => address.endsWith(`@${d}`))) v.fail(`relayRecipients[${i}]`, r, `expected an address of relayDomains (${relayDomains.join(", ") || "none given"})`);
        return address;
    });
    const messageSizeLimit = v.positiveInteger("messageSizeLimit", args.messageSizeLimit ?? 26214400, "expected a whole number of bytes > 0, e.g. 26214400 for 25 MiB");
    const maximalQueueLifetime = v.postfixTime("maximalQueueLifetime", args.maximalQueueLifetime ?? "5d");
    const bounceQueueLifetime = v.postfixTime("bounceQueueLifetime", args.bounceQueueLifetime ?? "5d");
    const delayWarningTime = v.postfixTime("delayWarningTime", args.delayWarningTime ?? "4h");
    const masqueradeDomains = (args.masqueradeDomains ?? []).map((d, i) => v.domain(`masqueradeDomains[${i}]`, d));
    const recipientDelimiter = args.recipientDelimiter ?? "+";
    if (typeof recipientDelimiter !== "string" || !/^[+\-_.=]{0,1}$/.test(recipientDelimiter)) {
        v.fail("recipientDelimiter", args.recipientDelimiter, "expected one of \"+\", \"-\", \"_\", \".\", \"=\" or \"\" (off)");
    }
    const ports = {
        smtp: v.port("ports.smtp", args.ports?.smtp ?? 25),
        submission: v.port("ports.submission", args.ports?.submission ?? 587),
        smtps: v.port("ports.smtps", args.ports?.smtps ?? 465),
        reinject: v.port("ports.reinject", args.ports?.reinject ?? 10026),
    };
    const seen = new Map<number, string>();
    for (const [k, p] of Object.entries(ports)) {
        if (seen.has(p)) v.fail(`ports.${k}`, p, `port ${p} is already used by ports.${seen.get(p)}; each service needs its own port`);
        seen.set(p, k);
    }
    const networkMode = v.oneOf("networkMode", args.networkMode ?? "bridge", NETWORK_MODES);
    const publishAddress = args.publishAddress ?? "0.0.0.0";
    if (!/^[0-9.]+$|^[0-9a-f:]+$/i.test(publishAddress)) v.fail("publishAddress", publishAddress, "expected an IP address such as 0.0.0.0 or 192.0.2.10");

    const relayhosts = (args.relayhosts ?? []).map(r => r.spec);
    if (relayhosts.filter(r => r.senderDomains.length === 0).length > 1) v.fail("relayhosts", relayhosts.map(r => r.host), "at most one relayhost may serve all senders (no senderDomains)");
    if (mode === "relay" && !relayhosts.some(r => r.senderDomains.length === 0)) v.fail("relayhosts", relayhosts.map(r => r.host), "relay mode needs a relayhost without senderDomains: every message leaves through it");
    checkRelayhosts(v, relayhosts);
    const transports = validateTransports(v, args.transports, names);
    validateRelayUsers(v, mode, args.users);

    const allMailboxes = domains.flatMap(d => d.mailboxes.map(m => m.address));
    let adminAddress: string;
    if (args.adminAddress !== undefined) {
        adminAddress = v.address("adminAddress", args.adminAddress);
        const domain = adminAddress.split("@")[1];
        if (names.has(domain) && !localAddresses(domains, false).has(adminAddress)) v.fail("adminAddress", args.adminAddress, `expected an existing mailbox or alias of ${domain}`);
    } else if (mode === "internet") {
        if (allMailboxes.length === 0) v.fail("adminAddress", undefined, "give adminAddress, or define at least one mailbox to receive postmaster and abuse mail");
        adminAddress = allMailboxes[0];
    } else {
        adminAddress = `postmaster@${mydomain}`;
    }
    const myorigin = args.myorigin === undefined ? (domains[0]?.name ?? mydomain) : v.domain("myorigin", args.myorigin);
    const authRateLimit = v.positiveInteger("authRateLimit", args.authRateLimit ?? 20, "expected a whole number of AUTH commands per minute > 0");
    // Not "bounce" by default: it also mails the admin a transcript of every rejected SMTP session.
    const notifyClasses = (args.notifyClasses ?? ["2bounce", "delay", "resource", "software"])
        .map((c, i) => v.oneOf(`notifyClasses[${i}]`, c, ["bounce", "2bounce", "data", "delay", "policy", "protocol", "resource", "software"]));
    const restart = v.oneOf("restart", args.restart ?? "unless-stopped", ["no", "on-failure", "always", "unless-stopped"]);
    validateTls(v, args.tls);

    const prefix = args.namePrefix ?? name;
    if (!/^[a-z0-9][a-z0-9_.-]*$/i.test(prefix)) v.fail("namePrefix", prefix, "expected letters, digits, '.', '_' or '-' (a Docker name)");
    return {
        prefix,
        restart,
        placement: { networkMode, publishAddress },
        postfix: {
            mode, hostname, mydomain, myorigin, mydestination, mynetworks, inetInterfaces, inetProtocols,
            relayDomains, relayRecipients, messageSizeLimit, maximalQueueLifetime, bounceQueueLifetime,
            delayWarningTime, masqueradeDomains, disableVrfy: args.disableVrfy ?? true, recipientDelimiter,
            adminAddress, notifyClasses, authRateLimit, ports, domains, relayhosts, transports,
            // Host mode: Dovecot shares the host's loopback. Bridge mode: the network's subnet,
            // known once Docker has created the network (filled in by the component).
            reinject: networkMode === "host"
                ? { address: "127.0.0.1", port: ports.reinject, trusted: ["127.0.0.0/8"] }
                : { address: "0.0.0.0", port: ports.reinject, trusted: [] },
        },
    };
}

/** Sender domains belong to one relay; relays that share a next hop must agree on how to reach it. */
function checkRelayhosts(v: Validator, relayhosts: PostfixSpec["relayhosts"]): void {
    const bySender = new Map<string, string>();
    const byNexthop = new Map<string, PostfixSpec["relayhosts"][number]>();
    relayhosts.forEach((r, i) => {
        for (const d of r.senderDomains) {
            const other = bySender.get(d);
            if (other) v.fail(`relayhosts[${i}].senderDomains`, d, `expected one relayhost per sender domain (each sender domain may have one relay): ${d} already uses ${other}`);
            bySender.set(d, relayNexthop(r));
        }
        const same = byNexthop.get(relayNexthop(r));
        if (same && (same.tlsPolicy !== r.tlsPolicy || relayImplicitTls(same) !== relayImplicitTls(r))) {
            v.fail(`relayhosts[${i}]`, relayNexthop(r), "expected the same tlsPolicy and implicitTls for relayhosts with the same host and port");
        }
        byNexthop.set(relayNexthop(r), r);
    });
}

const NEXTHOP = /^(?:\[([^\]]+)\]|([^[\]:]+))(?::(\d+))?$/;

/** MailServer transports: one entry per domain, never a domain this server delivers itself. */
export function validateTransports(v: Validator, transports: TransportArgs[] | undefined, ownDomains: Set<string>): TransportSpec[] {
    if (transports === undefined) return [];
    if (!Array.isArray(transports)) v.fail("transports", transports, "expected a list of { domain, nexthop }");
    const seen = new Set<string>();
    return transports.map((t, i) => {
        if (typeof t !== "object" || t === null) v.fail(`transports[${i}]`, t, "expected { domain, nexthop }");
        const domain = v.domain(`transports[${i}].domain`, t.domain);
        if (ownDomains.has(domain)) v.fail(`transports[${i}].domain`, t.domain, `expected a domain of another server: ${domain} is one of this server's own domains, delivered to its mailboxes`);
        if (seen.has(domain)) v.fail(`transports[${i}].domain`, t.domain, "expected one transport per domain");
        seen.add(domain);
        const accepted = "expected \"[host]:port\", \"[host]\", \"host:port\" or \"host\": a fully qualified host name, or an IPv4 address in brackets, and a TCP port 1-65535";
        const m = typeof t.nexthop === "string" ? NEXTHOP.exec(t.nexthop) : null;
        if (!m) v.fail(`transports[${i}].nexthop`, t.nexthop, accepted);
        const bracketed = m[1] !== undefined;
        const host = (m[1] ?? m[2]).toLowerCase();
        if (!(bracketed && isIPv4(host)) && !isDomain(host)) v.fail(`transports[${i}].nexthop`, t.nexthop, accepted);
        const port = m[3] === undefined ? undefined : Number(m[3]);
        if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535 || m[3] !== String(port))) v.fail(`transports[${i}].nexthop`, t.nexthop, accepted);
        return { domain, nexthop: `${bracketed ? `[${host}]` : host}${port === undefined ? "" : `:${port}`}` };
    });
}

/** Relay-mode SMTP AUTH logins: address-like, unique, and only in relay mode. Returns them lower-cased. */
export function validateRelayUsers(v: Validator, mode: string, users: RelayUserArgs[] | undefined): string[] {
    if (users === undefined) return [];
    if (!Array.isArray(users)) v.fail("users", users, "expected a list of { address, password }");
    if (users.length > 0 && mode !== "relay") {
        v.fail("users", users.map(u => u?.address), "expected no users in internet mode, where the mailboxes log in; users are the SMTP AUTH logins of a relay-mode server");
    }
    const seen = new Set<string>();
    return users.map((u, i) => {
        if (typeof u !== "object" || u === null) v.fail(`users[${i}]`, u, "expected { address, password }");
        const address = v.address(`users[${i}].address`, u.address);
        if (seen.has(address)) v.fail(`users[${i}].address`, u.address, "expected each user once");
        seen.add(address);
        if (u.password === undefined || u.password === null) v.fail(`users[${i}].password`, undefined, "expected a password for every user (a Pulumi secret)");
        // A plain string can be checked now, before anything is registered; a secret when it resolves.
        if (typeof u.password === "string") checkRelayUserPassword(v, `users[${i}].password`, u.password);
        return address;
    });
}

function checkRelayUserPassword(v: Validator, field: string, password: unknown): string {
    if (typeof password !== "string" || password.length < MIN_RELAY_USER_PASSWORD_LENGTH) {
        // Never echo a password, not even a bad one.
        v.fail(field, typeof password === "string" ? `(a secret of ${password.length} characters)` : password,
            `expected a password of at least ${MIN_RELAY_USER_PASSWORD_LENGTH} characters, passed as a Pulumi secret`);
    }
    return password as string;
}

/** The relay users' SHA512-CRYPT hashes for saslauthd; a Pulumi secret. */
function relayUserCredentials(v: Validator, users: RelayUserArgs[] | undefined): pulumi.Output<Credential[]> {
    const list = (users ?? []).map((u, i) => {
        const address = u.address.toLowerCase();
        const field = `users[${i}].password`;
        if (typeof u.password === "string") checkRelayUserPassword(v, field, u.password);
        return pulumi.output(u.password).apply(p => ({ address, hash: hashPassword(address, checkRelayUserPassword(v, field, p)) }));
    });
    return pulumi.secret(pulumi.all(list));
}

/** Every address the domains answer for, besides catch-alls. */
function localAddresses(domains: DomainSpec[], withRoleAddresses = true): Set<string> {
    const set = new Set<string>();
    for (const d of domains) {
        d.mailboxes.forEach(m => { set.add(m.address); m.aliases.forEach(a => set.add(a)); });
        d.aliases.forEach(a => set.add(a.address));
        // postmaster@ and abuse@ exist automatically (they go to adminAddress), unless defined.
        if (withRoleAddresses) {
            set.add(`postmaster@${d.name}`);
            set.add(`abuse@${d.name}`);
        }
    }
    return set;
}

/** Local alias targets must exist, and aliases must not loop. */
function checkAddressGraph(v: Validator, domains: DomainSpec[]): void {
    const byName = new Map(domains.map(d => [d.name, d]));
    const local = localAddresses(domains);
    const edges = new Map<string, string[]>();
    domains.forEach((d, i) => {
        const check = (field: string, target: string) => {
            const domain = byName.get(target.split("@")[1]);
            if (domain && !local.has(target) && !domain.catchAll) v.fail(field, target, `expected an existing mailbox or alias of ${domain.name}`);
        };
        d.aliases.forEach((a, j) => {
            a.targets.forEach((t, k) => check(`domains[${i}] (${d.name}).aliases[${j}].targets[${k}]`, t));
            edges.set(a.address, a.targets);
        });
        d.forwards.forEach((f, j) => f.targets.forEach((t, k) => check(`domains[${i}] (${d.name}).forwards[${j}].targets[${k}]`, t)));
        // A catch-all must point at something real: pointing it at itself would accept every
        // address and bounce it later, to forged senders.
        if (d.catchAll && byName.has(d.catchAll.split("@")[1]) && !local.has(d.catchAll)) {
            v.fail(`domains[${i}] (${d.name}).catchAll`, d.catchAll, `expected an existing mailbox or alias of ${d.catchAll.split("@")[1]}`);
        }
        d.forwards.forEach(f => edges.set(f.address, f.targets.filter(t => t !== f.address)));
        // A mailbox alias delivers into its mailbox, so it is an edge of the graph too.
        d.mailboxes.forEach(m => m.aliases.forEach(a => edges.set(a, [m.address])));
    });
    const state = new Map<string, number>();
    const visit = (node: string, trail: string[]) => {
        if (state.get(node) === 2) return;
        if (state.get(node) === 1) v.fail("aliases", [...trail.slice(trail.indexOf(node)), node].join(" -> "), "aliases and forwards must not form a loop");
        state.set(node, 1);
        for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
        state.set(node, 2);
    };
    for (const node of edges.keys()) visit(node, []);
}
