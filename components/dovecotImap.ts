import * as pulumi from "@pulumi/pulumi";
import { DovecotImapArgs } from "./args/dovecotImap";
import { dovecotSettings } from "./inputs";
import { DovecotSpec } from "./model/spec";
import { Validator } from "./model/validator";
import { validateDovecot } from "./options/dovecotImap";
import { deployServices } from "./platform/docker/deploy";
import { checkKubernetesImages } from "./options/kubernetes";
import type { deployImapOnKubernetes } from "./platform/kubernetes/deploy";
import { kubernetesPlatform } from "./platform/kubernetes/load";
import { renderBackendFiles } from "./render/dovecotProxy";
import { fileInputs, filesByPath, IMAP_SERVICES, planServices } from "./services";
import type { ImapSettings } from "./services/definition";

/**
 * The mailbox store: Dovecot (components/services/dovecot.ts) serving IMAP/IMAPS (and POP3 when
 * asked), ManageSieve, and LMTP for delivery from the MailServer's Postfix, and its brute-force
 * policy service (services/authpolicy.ts); mail lives on a named volume.
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
    /**
     * @internal MailServer kubernetes: Dovecot's StatefulSet and the Service its clients connect to. Left out
     * of the published declarations: its types are @pulumi/kubernetes's, an optional peer dependency.
     */
    public readonly kubernetes: ReturnType<typeof deployImapOnKubernetes> | undefined;
    /** MailServer kubernetes: the Service Dovecot's clients use (`<prefix>-dovecot`), by name: its cluster IP. */
    public readonly kubernetesServices: Record<string, pulumi.Output<string>> | undefined;

    constructor(name: string, args: DovecotImapArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = new Validator(`DovecotImap ${name}`);
        const spec = validateDovecot(v, args);
        const server = args.mailServer;
        const settings: ImapSettings = { server: server.settings, imap: spec };
        // Rendered once, for the component's inputs, the config job and the outputs alike.
        const planned = planServices(IMAP_SERVICES, settings, {
            logins: server.credentials,
            backup: server.backupSecrets,
        });
        const inputs = fileInputs(IMAP_SERVICES, planned);
        const images = { ...args.images } as Record<string, pulumi.Input<string> | undefined>;
        const base = server.kubernetes;
        if (base)
            checkKubernetesImages(
                v,
                planned.map(p => p.definition.name),
                images,
            );
        super(
            "mailserver:index:DovecotImap",
            name,
            {
                mailServer: server.urn,
                ...dovecotSettings(spec),
                images: args.images,
                ...inputs.files,
                // kubernetes.shards: dovecotFiles are the proxy's, these the backends'.
                ...(spec.shards
                    ? {
                          kubernetes: spec.shards,
                          dovecotBackendFiles: filesByPath(renderBackendFiles(spec, spec.shards.trustedNetworks)),
                      }
                    : {}),
                // The hashes change with any password: "[secret] => [secret]" in the diff says so.
                ...Object.fromEntries(Object.entries(inputs.secretFiles).map(([k, f]) => [k, pulumi.secret(f)])),
            },
            opts,
        );
        this.spec = spec;
        if (base) {
            const k8s = kubernetesPlatform().deployImapOnKubernetes(this, planned, {
                prefix: server.settings.prefix,
                base,
                settings,
                images,
                certificate: server.serviceCertificate,
                logins: server.credentials,
            });
            this.kubernetes = k8s;
            this.kubernetesServices = { [`${server.settings.prefix}-dovecot`]: k8s.service.spec.clusterIP };
            this.containerName = k8s.statefulSet.metadata.name;
            // The claim template's name (the pod's claim is mail-<pod>).
            this.mailVolumeName = pulumi.output("mail");
            this.dovecotConf = pulumi.output(
                planned.find(p => p.definition.name === "dovecot")!.files.find(f => f.path === "dovecot.conf")!.content,
            );
            this.registerOutputs({
                containerName: this.containerName,
                mailVolumeName: this.mailVolumeName,
                dovecotConf: this.dovecotConf,
            });
            return;
        }
        const deployment = deployServices(this, planned, {
            prefix: server.settings.prefix,
            settings,
            images: args.images,
            // Dovecot publishes its ports on its own publishAddress (services/dovecot.ts).
            placement: server.placement,
            restart: server.settings.restart,
            certificate: server.serviceCertificate,
            base: server.deployment,
        });
        const dovecot = planned.find(p => p.definition.name === "dovecot")!;
        this.containerName = deployment.containers.get("dovecot")!.name;
        this.mailVolumeName = deployment.volumes.get("mail")!.name;
        this.dovecotConf = pulumi.output(dovecot.files.find(f => f.path === "dovecot.conf")!.content);
        this.registerOutputs({
            containerName: this.containerName,
            mailVolumeName: this.mailVolumeName,
            dovecotConf: this.dovecotConf,
            configApplied: deployment.jobs.get("dovecot")!.applied,
        });
    }
}
