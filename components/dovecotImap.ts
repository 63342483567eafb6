import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { configJob, ImageArgs, serviceContainer, serviceImage, volumeMount } from "./internal/docker";
import { MailServer } from "./mailServer";
import { DovecotSpec, dovecotUsersFile, renderDovecotFiles, renderDovecotUsers } from "./render/dovecot";
import { dovecotSettings, FILE_INPUTS, filesByPath, SECRET_FILE_INPUTS } from "./render/inputs";
import { paths } from "./render/spec";
import { Validator } from "./validate";

export interface DovecotPorts {
    /** IMAP with STARTTLS (default 143; 0 turns it off). */
    imap?: number;
    /** IMAP over implicit TLS (default 993; 0 turns it off). */
    imaps?: number;
    /** ManageSieve with STARTTLS (default 4190; 0 turns it off). */
    managesieve?: number;
    /** POP3 with STARTTLS (default 0: off). */
    pop3?: number;
    /** POP3 over implicit TLS (default 0: off). */
    pop3s?: number;
}

export interface VacationLimits {
    /** Shortest period a script may ask for between two replies to one sender (default "1d"). */
    minPeriod?: string;
    /** Period when a script gives no :days (default "7d"). */
    defaultPeriod?: string;
    /** Longest period a script may ask for (default "30d"). */
    maxPeriod?: string;
}

export interface DovecotImapArgs {
    /** The MailServer whose domains, certificate, network and LMTP socket this store serves. */
    mailServer: MailServer;
    ports?: DovecotPorts;
    /** Addresses Dovecot listens on (default ["*", "::"]: all). */
    listen?: string[];
    vacation?: VacationLimits;
    images?: ImageArgs;
}

/**
 * The mailbox store: a Dovecot container serving IMAP/IMAPS (and POP3 when asked), ManageSieve,
 * and LMTP for delivery from the MailServer's Postfix; mail lives on a named volume.
 *
 * Registered inputs (for `pulumi preview --diff` and policies): the MailServer's URN, the
 * validated ports, listen and vacation settings; dovecotFiles, dovecot.conf and each Sieve script
 * by path; dovecotSecretFiles, the users file of password hashes, a secret. Never the TLS key.
 */
export class DovecotImap extends pulumi.ComponentResource {
    public readonly spec: DovecotSpec;
    public readonly containerName: pulumi.Output<string>;
    public readonly mailVolumeName: pulumi.Output<string>;
    public readonly dovecotConf: pulumi.Output<string>;

    constructor(name: string, args: DovecotImapArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`DovecotImap ${name}`);
        const spec = validateDovecot(v, args);
        const server = args.mailServer;
        // Rendered once, for the component's inputs, the config job and the outputs alike.
        const rendered = renderDovecotFiles(spec);
        const users = pulumi.secret(server.credentials.apply(c => renderDovecotUsers(c, spec.domains)));
        super("mailserver:index:DovecotImap", name, {
            mailServer: server.urn,
            ...dovecotSettings(spec),
            images: args.images,
            [FILE_INPUTS.dovecot]: filesByPath(rendered),
            // The hashes change with any password: "[secret] => [secret]" in the diff says so.
            [SECRET_FILE_INPUTS.dovecot]: pulumi.secret({ [dovecotUsersFile("").path]: users }),
        }, opts);
        this.spec = spec;
        const { prefix, placement, restart } = server.settings;
        const labels = { "mailserver.stack": prefix };

        const mail = new docker.Volume(`${prefix}-mail`, { name: `${prefix}-mail` }, { parent: this, retainOnDelete: true });
        const config = new docker.Volume(`${prefix}-dovecot-config`, { name: `${prefix}-dovecot-config` }, { parent: this });
        const image = serviceImage(this, prefix, "dovecot", args.images);
        const files = [
            ...rendered,
            { path: "tls/cert.pem", content: server.certificate.certPem, mode: "0644", owner: "root", group: "root" },
            { path: "tls/key.pem", content: server.certificate.keyPem, mode: "0600", owner: "root", group: "root" },
            { ...dovecotUsersFile(""), content: users },
        ];
        const job = configJob(this, `${prefix}-dovecot-config`, { image, configVolume: config.name, files, labels });
        const p = spec.ports;
        const container = serviceContainer(this, `${prefix}-dovecot`, {
            service: "dovecot",
            image,
            placement,
            ports: [p.imap, p.imaps, p.managesieve, p.pop3, p.pop3s],
            mounts: [
                volumeMount(config.name, "/config", true),
                volumeMount(mail.name, paths.mailRoot),
                volumeMount(server.lmtpVolumeName, paths.lmtpSocketDir),
            ],
            healthcheck: ["/usr/local/lib/mail/healthcheck"],
            restart,
            labels,
        }, [job.container]);

        this.containerName = container.name;
        this.mailVolumeName = mail.name;
        this.dovecotConf = pulumi.output(rendered.find(f => f.path === "dovecot.conf")!.content);
        this.registerOutputs({
            containerName: this.containerName,
            mailVolumeName: this.mailVolumeName,
            dovecotConf: this.dovecotConf,
            configApplied: job.applied,
        });
    }
}

export function validateDovecot(v: Validator, args: DovecotImapArgs): DovecotSpec {
    if (!args || !(args.mailServer instanceof MailServer)) v.fail("mailServer", args?.mailServer, "expected the MailServer this mailbox store belongs to");
    const server = args.mailServer.settings;
    if (server.postfix.mode !== "internet") v.fail("mailServer", server.postfix.mode, "a mailbox store needs a MailServer in \"internet\" mode");
    const ports = {
        imap: v.port("ports.imap", args.ports?.imap ?? 143, true),
        imaps: v.port("ports.imaps", args.ports?.imaps ?? 993, true),
        managesieve: v.port("ports.managesieve", args.ports?.managesieve ?? 4190, true),
        pop3: v.port("ports.pop3", args.ports?.pop3 ?? 0, true),
        pop3s: v.port("ports.pop3s", args.ports?.pop3s ?? 0, true),
    };
    const taken = new Map<number, string>(Object.entries(server.postfix.ports).map(([k, p]) => [p, `MailServer ports.${k}`]));
    for (const [k, p] of Object.entries(ports)) {
        if (p === 0) continue;
        if (taken.has(p)) v.fail(`ports.${k}`, p, `port ${p} is already used by ${taken.get(p)}; each service needs its own port`);
        taken.set(p, `ports.${k}`);
    }
    const listen = args.listen ?? ["*", "::"];
    listen.forEach((a, i) => {
        if (!/^(\*|::|[0-9.]+|[0-9a-f:]+)$/i.test(a)) v.fail(`listen[${i}]`, a, "expected \"*\", \"::\" or an IP address");
    });
    const period = (field: string, value: string | undefined, fallback: string) => {
        const p = value ?? fallback;
        if (!/^\d+[smhd]$/.test(p)) v.fail(field, value, "expected a period such as \"12h\" or \"7d\"");
        return p;
    };
    const vacation = {
        minPeriod: period("vacation.minPeriod", args.vacation?.minPeriod, "1d"),
        defaultPeriod: period("vacation.defaultPeriod", args.vacation?.defaultPeriod, "7d"),
        maxPeriod: period("vacation.maxPeriod", args.vacation?.maxPeriod, "30d"),
    };
    // Pigeonhole refuses to start vacation otherwise; say so at preview rather than at deploy.
    const seconds = (p: string) => Number(p.slice(0, -1)) * { s: 1, m: 60, h: 3600, d: 86400 }[p.slice(-1) as "s" | "m" | "h" | "d"];
    if (seconds(vacation.maxPeriod) === 0) v.fail("vacation.maxPeriod", vacation.maxPeriod, "expected a period longer than 0");
    if (seconds(vacation.minPeriod) > seconds(vacation.defaultPeriod) || seconds(vacation.defaultPeriod) > seconds(vacation.maxPeriod)) {
        v.fail("vacation", vacation, "expected minPeriod <= defaultPeriod <= maxPeriod (defaults \"1d\", \"7d\", \"30d\")");
    }
    // Sieve's outgoing mail enters Postfix on its SMTP port: on the host's loopback (or its first
    // address) in host mode, by container name on the stack's network in bridge mode. Mail to
    // other domains is relayed only for clients in the MailServer's mynetworks.
    // Postfix's unpublished reinject listener, which relays for Dovecot only.
    const reinject = server.postfix.reinject;
    const submissionHost = server.placement.networkMode === "host"
        ? `${reinject.address}:${reinject.port}`
        : `${server.prefix}-postfix:${reinject.port}`;
    return {
        hostname: server.postfix.hostname,
        listen,
        ports,
        recipientDelimiter: server.postfix.recipientDelimiter,
        messageSizeLimit: server.postfix.messageSizeLimit,
        vacation,
        submissionHost,
        domains: server.postfix.domains,
    };
}
