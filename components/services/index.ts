// The service registry: every service the components deploy, one module each. Every per-service
// list is derived from it: the image options (options/images.ts), each component's services, the
// hardening table, the inputs that carry rendered files (previews, the policy pack, the golden
// files). Adding a service is a module in this folder, a line here and a folder in images/
// (CONTRIBUTING.md).
import type { RenderedFile } from "../model/spec";
import { acme } from "./acme";
import { authpolicy } from "./authpolicy";
import { backup } from "./backup";
import { clamav } from "./clamav";
import type { AnyService, ImapService, MailServerService, ServiceDefinition, StagedFile } from "./definition";
import { dovecot } from "./dovecot";
import { metrics } from "./metrics";
import { monitoring } from "./monitoring";
import { mtasts } from "./mtaSts";
import { postfix } from "./postfix";
import { resolver } from "./resolver";
import { rspamd } from "./rspamd";
import { saslauthd } from "./saslauthd";
import { valkey } from "./valkey";
import { web } from "./web";

/** Every service, in the order their image options are documented. */
export const SERVICES: readonly AnyService[] = [
    postfix,
    dovecot,
    saslauthd,
    rspamd,
    valkey,
    acme,
    web,
    authpolicy,
    clamav,
    metrics,
    monitoring,
    backup,
    resolver,
    mtasts,
];

export type ComponentName = AnyService["component"];

/** The services MailServer deploys. */
export const MAIL_SERVER_SERVICES = SERVICES.filter((s): s is MailServerService => s.component === "MailServer");
/** The services DovecotImap deploys. */
export const IMAP_SERVICES = SERVICES.filter((s): s is ImapService => s.component === "DovecotImap");

/** A component's type token, e.g. "mailserver:index:MailServer". */
export const componentType = (component: ComponentName) => `mailserver:index:${component}`;

/** The component input holding a service's rendered files, keyed by their path in its config volume. */
export const fileInput = (service: string) => `${service}Files`;
/** The secret component input holding a service's files of password hashes. */
export const secretFileInput = (service: string) => `${service}SecretFiles`;

/** Service -> the input that holds its rendered files: what previews show and policies judge. */
export const FILE_INPUTS: Record<string, string> = Object.fromEntries(
    SERVICES.filter(s => s.config?.files).map(s => [s.name, fileInput(s.name)]),
);
/** Service -> the secret input that holds its files of password hashes. */
export const SECRET_FILE_INPUTS: Record<string, string> = Object.fromEntries(
    SERVICES.filter(s => s.config?.registerSecretFiles).map(s => [s.name, secretFileInput(s.name)]),
);

/** Component type -> the services whose rendered files it registers, and whether each always runs. */
export const COMPONENT_FILE_SERVICES: Record<string, Array<{ service: string; optional: boolean }>> = {};
for (const s of SERVICES.filter(x => x.config?.files)) {
    const type = componentType(s.component);
    (COMPONENT_FILE_SERVICES[type] ??= []).push({ service: s.name, optional: s.runs !== undefined });
}

/** A service as a component deploys it: its definition and its files, rendered once. */
export interface PlannedService<C extends string, S, X> {
    definition: ServiceDefinition<C, S, X>;
    files: RenderedFile[];
    secretFiles: StagedFile[];
}

/** The services that run with these settings, each with its files. */
export function planServices<C extends string, S, X>(
    services: ReadonlyArray<ServiceDefinition<C, S, X>>,
    settings: S,
    secrets: X,
): Array<PlannedService<C, S, X>> {
    return services
        .filter(d => d.runs?.(settings) ?? true)
        .map(definition => ({
            definition,
            files: definition.config?.files?.(settings) ?? [],
            secretFiles: definition.config?.secretFiles?.(settings, secrets) ?? [],
        }));
}

/** Files by their path under the config volume (/config/current/<path>), as main.cf refers to them. */
export function filesByPath(files: Array<{ path: string; content: unknown }>): Record<string, any> {
    const map: Record<string, unknown> = {};
    for (const f of files) {
        if (f.path in map) throw new Error(`two rendered files at ${f.path}`);
        map[f.path] = f.content;
    }
    return map;
}

/**
 * The inputs a component registers for its services' files: `<name>Files` of each running service
 * (and `{}` for one registered when off), and its password hashes' files as `<name>SecretFiles`,
 * which the component makes a secret as a whole.
 */
export function fileInputs<C extends string, S, X>(
    services: ReadonlyArray<ServiceDefinition<C, S, X>>,
    planned: Array<PlannedService<C, S, X>>,
): { files: Record<string, Record<string, string>>; secretFiles: Record<string, Record<string, unknown>> } {
    const files: Record<string, Record<string, string>> = {};
    const secretFiles: Record<string, Record<string, unknown>> = {};
    for (const d of services) {
        const p = planned.find(x => x.definition === d);
        if (d.config?.files && (p || d.config.inputWhenOff)) files[fileInput(d.name)] = filesByPath(p?.files ?? []);
        if (p && d.config?.registerSecretFiles) secretFiles[secretFileInput(d.name)] = filesByPath(p.secretFiles);
    }
    return { files, secretFiles };
}
