import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DovecotImapArgs } from "./args";
import { configJob, serviceContainer, serviceImage, volumeMount } from "./internal/docker";
import { CERTS_MOUNT } from "./internal/acme";
import { validateDovecot } from "./options/dovecotImap";
import { dovecotUsersFile, renderDovecotFiles, renderDovecotUsers } from "./render/dovecot";
import { DovecotSpec } from "./model/spec";
import { dovecotSettings, FILE_INPUTS, filesByPath, SECRET_FILE_INPUTS } from "./render/inputs";
import { paths } from "./model/paths";
import { Validator } from "./model/validator";

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
        super(
            "mailserver:index:DovecotImap",
            name,
            {
                mailServer: server.urn,
                ...dovecotSettings(spec),
                images: args.images,
                [FILE_INPUTS.dovecot]: filesByPath(rendered),
                // The hashes change with any password: "[secret] => [secret]" in the diff says so.
                [SECRET_FILE_INPUTS.dovecot]: pulumi.secret({ [dovecotUsersFile("").path]: users }),
            },
            opts,
        );
        this.spec = spec;
        const { prefix, restart } = server.settings;
        const labels = { "mailserver.stack": prefix };

        const mail = new docker.Volume(
            `${prefix}-mail`,
            { name: `${prefix}-mail` },
            { parent: this, retainOnDelete: true },
        );
        const config = new docker.Volume(
            `${prefix}-dovecot-config`,
            { name: `${prefix}-dovecot-config` },
            { parent: this },
        );
        const image = serviceImage(this, prefix, "dovecot", args.images);
        const cert = server.certificate;
        const files = [
            ...rendered,
            // tls.acme: the pair is in the certs volume instead, never in a config generation.
            ...(cert
                ? [
                      { path: "tls/cert.pem", content: cert.certPem, mode: "0644", owner: "root", group: "root" },
                      { path: "tls/key.pem", content: cert.keyPem, mode: "0600", owner: "root", group: "root" },
                  ]
                : []),
            { ...dovecotUsersFile(""), content: users },
        ];
        const job = configJob(this, `${prefix}-dovecot-config`, {
            service: "dovecot",
            image,
            configVolume: config.name,
            files,
            labels,
        });
        // The brute-force policy service: no network, one socket in a volume only Dovecot shares.
        const policy = spec.bruteForce
            ? (() => {
                  const run = new docker.Volume(
                      `${prefix}-authpolicy-run`,
                      { name: `${prefix}-authpolicy-run` },
                      { parent: this },
                  );
                  const container = serviceContainer(
                      this,
                      `${prefix}-authpolicy`,
                      {
                          service: "authpolicy",
                          image: serviceImage(this, prefix, "authpolicy", args.images),
                          placement: { ...server.placement, networkMode: "none", network: undefined },
                          ports: [],
                          mounts: [volumeMount(run.name, paths.authPolicyDir)],
                          healthcheck: [
                              "python3",
                              "/usr/local/lib/mail/authpolicy.py",
                              "--check",
                              paths.authPolicySocket,
                          ],
                          restart,
                          labels,
                      },
                      [],
                  );
                  return { run, container };
              })()
            : undefined;
        const p = spec.ports;
        const container = serviceContainer(
            this,
            `${prefix}-dovecot`,
            {
                service: "dovecot",
                image,
                placement: { ...server.placement, publishAddress: spec.publishAddress },
                ports: [p.imap, p.imaps, p.managesieve, p.pop3, p.pop3s],
                mounts: [
                    volumeMount(config.name, "/config", true),
                    volumeMount(mail.name, paths.mailRoot),
                    volumeMount(server.lmtpVolumeName, paths.lmtpSocketDir),
                    ...(server.acme ? [volumeMount(server.acme.certsVolumeName, CERTS_MOUNT, true)] : []),
                    ...(policy ? [volumeMount(policy.run.name, paths.authPolicyDir)] : []),
                ],
                healthcheck: ["/usr/local/lib/mail/healthcheck"],
                restart,
                labels,
            },
            [job.container, ...(server.acme ? [server.acme.container] : []), ...(policy ? [policy.container] : [])],
        );

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
