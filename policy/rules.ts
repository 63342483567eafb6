// The mail server policies. Importing this module has no side effects: the PolicyPack that
// serves them (and starts a gRPC server) is constructed in index.ts only, so tests import from here.
//
// What the mandatory rules judge. Each component registers as its inputs its validated settings
// and the text of the files it deploys (components/render/inputs.ts): MailServer its typed
// settings (mynetworks, ports, ...) and postfixFiles["main.cf"], ["master.cf"], ...; DovecotImap
// dovecotFiles["dovecot.conf"]. Those inputs are known at the preview of a new stack, when the
// config jobs' uploads may not be: in bridge mode master.cf holds the subnet of a Docker network
// that does not exist yet. That subnet also keeps master.cf out of MailServer's inputs in bridge
// mode (internet mode): an input cannot wait for the component's own child. So:
//   - mailserver:index:MailServer and mailserver:index:DovecotImap are judged on main.cf (with
//     master.cf when registered) and dovecot.conf; should main.cf be unknown, on the typed mynetworks;
//   - our config jobs (docker containers labelled mailserver.role=config-job) add only what their
//     component cannot show: master.cf's per-service -o overrides, judged once master.cf is known;
//   - any other docker container is judged on whichever of main.cf, master.cf and dovecot.conf
//     its uploads carry and are known.
// An unknown value is never read as a failure and never stops a rule ("can't run during preview"
// would switch a mandatory rule off): what is known is judged, the rest when it becomes known.
import {
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
    UnknownValueError,
} from "@pulumi/policy";
import {
    DovecotSetting,
    expand,
    isLoopbackHost,
    isYes,
    listensOnPort25,
    MasterService,
    parseDovecotConf,
    parseMainCf,
    postfixList,
    PostfixConfig,
    restrictsRelay,
    tooWide,
    weakProtocols,
} from "./parse";
import { bridgeGatewayRisk, MAX_PRIVATE_WIDTH, parseNetwork } from "../components/model/net";
import { DmarcPolicy } from "../components/model/dns";
import { dmarcValue } from "../components/render/dns";
import { RSPAMD_MILTER_SOCKET } from "../components/render/rspamd";

export const CONTAINER_TYPE = "docker:index/container:Container";
export const MAIL_SERVER_TYPE = "mailserver:index:MailServer";
export const DOVECOT_IMAP_TYPE = "mailserver:index:DovecotImap";
export const VIRTUAL_DOMAIN_TYPE = "mailserver:index:VirtualDomain";
/** The component inputs that hold rendered files, keyed by their path in the config volume. */
export const COMPONENT_FILE_INPUTS = { postfix: "postfixFiles", dovecot: "dovecotFiles" } as const;

// ------------------------------------------------------------------------------------------
// Reading resource properties

function isUnknownError(e: unknown): boolean {
    return (
        e instanceof UnknownValueError ||
        (e instanceof Error && e.name === "UnknownValueError") ||
        (e instanceof Error && e.constructor?.name === "UnknownValueError")
    );
}

/** f(), or undefined when it touches a value that is unknown during preview. */
function known<T>(f: () => T): T | undefined {
    try {
        return f();
    } catch (e) {
        if (isUnknownError(e)) return undefined;
        throw e;
    }
}

/** A string property, or undefined when it is absent, not a string or unknown. */
function knownString(f: () => unknown): string | undefined {
    const value = known(f);
    return typeof value === "string" ? value : undefined;
}

function basename(file: string): string {
    return file.split("/").pop() ?? file;
}

/**
 * An upload's text: `content`, or `contentBase64` decoded; undefined for `source` (a local file). Unknown values throw.
 */
function uploadText(upload: any): string | undefined {
    const content = upload?.content;
    if (typeof content === "string") return content;
    const b64 = upload?.contentBase64;
    if (typeof b64 === "string") return Buffer.from(b64, "base64").toString("utf8");
    return undefined;
}

export interface ConfigFiles {
    mainCf?: string;
    masterCf?: string;
    dovecotConf?: string;
}

const CONFIG_FILES: Record<string, keyof ConfigFiles> = {
    "main.cf": "mainCf",
    "master.cf": "masterCf",
    "dovecot.conf": "dovecotConf",
};

/**
 * The Postfix and Dovecot configuration files a container's uploads carry, each undefined when
 * absent or unknown during preview. Only these uploads are read, so an unknown key or password
 * does not stop the checks.
 */
export function configFiles(props: Record<string, any>): ConfigFiles {
    const files: ConfigFiles = {};
    const uploads = known(() => props.uploads);
    if (!Array.isArray(uploads)) return files;
    for (let i = 0; i < uploads.length; i++) {
        const file = knownString(() => uploads[i]?.file);
        if (file === undefined) continue;
        const key = CONFIG_FILES[basename(file)];
        if (key && files[key] === undefined) files[key] = known(() => uploadText(uploads[i]));
    }
    return files;
}

function labelsOf(props: Record<string, any>): Map<string, string> {
    const labels = new Map<string, string>();
    const list = known(() => props.labels);
    if (!Array.isArray(list)) return labels;
    for (let i = 0; i < list.length; i++) {
        const label = known(() => list[i]?.label);
        const value = known(() => list[i]?.value);
        if (typeof label === "string") labels.set(label, typeof value === "string" ? value : "");
    }
    return labels;
}

/** What the mandatory rules can judge of one resource, known now. */
export interface Subject extends ConfigFiles {
    /** MailServer's typed mynetworks, read only when its main.cf is not known. */
    mynetworks?: string[];
    /**
     * Runs in Docker bridge mode (a MailServer with networkMode "bridge", a container on a bridge
     * network): every client may arrive from the gateway, so main.cf's mynetworks must not reach it.
     */
    bridge: boolean;
    /**
     * One of our config jobs: its main.cf and dovecot.conf are judged on the component that
     * registered them, so only master.cf's per-service overrides are judged here.
     */
    configJob: boolean;
}

/**
 * The configuration a resource carries, or undefined for resources the mandatory rules do not judge. Exported for
 * tests.
 */
export function subjectOf(type: string, props: Record<string, any>): Subject | undefined {
    if (type === MAIL_SERVER_TYPE) {
        const file = (path: string) => knownString(() => props[COMPONENT_FILE_INPUTS.postfix]?.[path]);
        const mainCf = file("main.cf");
        const bridge = known(() => props.networkMode) === "bridge";
        const subject: Subject = { mainCf, masterCf: file("master.cf"), configJob: false, bridge };
        if (mainCf === undefined) {
            const list = known(() => props.mynetworks);
            if (Array.isArray(list))
                subject.mynetworks = list
                    .map((_, i) => knownString(() => list[i]))
                    .filter((n): n is string => n !== undefined);
        }
        return subject;
    }
    if (type === DOVECOT_IMAP_TYPE) {
        return {
            dovecotConf: knownString(() => props[COMPONENT_FILE_INPUTS.dovecot]?.["dovecot.conf"]),
            configJob: false,
            bridge: false,
        };
    }
    if (type === CONTAINER_TYPE) {
        const files = configFiles(props);
        if (labelsOf(props).get("mailserver.role") !== "config-job")
            return { ...files, configJob: false, bridge: onBridgeNetwork(props) };
        // A config job is not the service: its MailServer says where the service runs.
        return { mainCf: files.mainCf, masterCf: files.masterCf, configJob: true, bridge: false };
    }
    return undefined;
}

/** Whether a container runs on a Docker bridge network (Docker's default when no network mode is given). */
function onBridgeNetwork(props: Record<string, any>): boolean {
    const mode = known(() => props.networkMode);
    if (mode === undefined || mode === null || mode === "bridge" || mode === "default") return true;
    return typeof mode === "string" && !["host", "none"].includes(mode) && !mode.startsWith("container:");
}

/** A problem, and whether a master.cf service's own -o override causes it (rather than main.cf). */
export interface Finding {
    message: string;
    inMasterCf: boolean;
}

function where(service: MasterService): string {
    return service.name === "(main.cf)" ? "main.cf" : `master.cf service "${service.name}" (${service.type})`;
}

/**
 * Located where the keys' values come from: the service when it overrides one of them, else main.cf (so one main.cf
 * problem is reported once).
 */
function finding(service: MasterService, keys: string[], text: string): Finding {
    const inMasterCf = keys.some(k => service.options.has(k));
    return { message: `${inMasterCf ? where(service) : "main.cf"}: ${text}`, inMasterCf };
}

/** Postfix findings for what is known: never master.cf alone (it would be judged against Postfix's defaults). */
function postfixProblems(subject: Subject, findings: (pf: PostfixConfig) => Finding[]): string[] {
    if (subject.mainCf === undefined) return [];
    if (subject.configJob && subject.masterCf === undefined) return [];
    return findings(new PostfixConfig(subject.mainCf, subject.masterCf))
        .filter(f => !subject.configJob || f.inMasterCf)
        .map(f => f.message);
}

/** A resource validation reporting check(subject) for every resource the mandatory rules judge, each message once. */
function onSubjects(check: (subject: Subject) => string[]) {
    return (args: ResourceValidationArgs, reportViolation: ReportViolation): void => {
        const subject = subjectOf(args.type, args.props);
        if (subject === undefined) return;
        for (const message of new Set(check(subject))) reportViolation(message);
    };
}

// ------------------------------------------------------------------------------------------
// Mandatory: open relay

function trustsTooMuch(entry: string, why: string): string {
    return (
        `mynetworks trusts ${entry}: ${why}. Clients in mynetworks relay without authentication (permit_mynetworks), ` +
        "so this is an open relay. Trust loopback, single public hosts (/32, IPv6 /128) and private networks no wider " +
        `than /${MAX_PRIVATE_WIDTH[4]} (IPv6 /${MAX_PRIVATE_WIDTH[6]}).`
    );
}

function trustsGateway(entry: string, risk: string): string {
    return `mynetworks trusts ${entry} in Docker bridge mode: ${risk}.`;
}

/**
 * Open-relay findings; with `bridge`, also main.cf's mynetworks entries that can contain the
 * Docker gateway (a service's own mynetworks, such as the reinject socket's 127.0.0.1, is judged
 * by width only).
 */
export function openRelayFindings(pf: PostfixConfig, bridge = false): Finding[] {
    const findings: Finding[] = [];
    for (const service of pf.smtpdServices()) {
        const networkKeys = ["mynetworks", "mynetworks_style"];
        if (!pf.isSet("mynetworks", service)) {
            const level = parseFloat(pf.main.get("compatibility_level") ?? "0");
            const style = (
                service.options.get("mynetworks_style") ??
                pf.main.get("mynetworks_style") ??
                (level >= 2 ? "host" : "subnet")
            ).trim();
            if (style !== "host") {
                findings.push(
                    finding(
                        service,
                        networkKeys,
                        `mynetworks is not set, so mynetworks_style = ${style} trusts every client in the container's ${style === "class" ? "address classes" : "subnets"}. ` +
                            "In Docker bridge mode that is the bridge network, through which docker-proxy forwards outside clients: an open relay. Set mynetworks explicitly (e.g. 127.0.0.0/8 [::1]/128).",
                    ),
                );
            }
        }
        for (const entry of postfixList(pf.get("mynetworks", service))) {
            if (entry.startsWith("!")) continue;
            const network = parseNetwork(entry);
            const why = network && tooWide(network);
            if (why) findings.push(finding(service, networkKeys, trustsTooMuch(entry, why)));
            const risk = bridge && network && !service.options.has("mynetworks") && bridgeGatewayRisk(network);
            if (risk && !why) findings.push(finding(service, networkKeys, trustsGateway(entry, risk)));
        }
        const relay = pf.get("smtpd_relay_restrictions", service);
        const recipient = pf.get("smtpd_recipient_restrictions", service);
        if (!restrictsRelay(relay) && !restrictsRelay(recipient)) {
            findings.push(
                finding(
                    service,
                    ["smtpd_relay_restrictions", "smtpd_recipient_restrictions"],
                    `neither smtpd_relay_restrictions ("${relay}") nor smtpd_recipient_restrictions ("${recipient}") ends relaying with ` +
                        "reject_unauth_destination or defer_unauth_destination (or a final reject) before an unconditional permit: this smtpd relays mail " +
                        "for anyone to anywhere. Add reject_unauth_destination after your permit_* entries.",
                ),
            );
        }
    }
    return findings;
}

export function openRelayProblems(pf: PostfixConfig): string[] {
    return openRelayFindings(pf).map(f => f.message);
}

/** MailServer's typed mynetworks, judged like main.cf's when main.cf itself is not known. */
export function mynetworksProblems(mynetworks: string[], bridge = false): string[] {
    return mynetworks.flatMap(entry => {
        const network = parseNetwork(entry);
        const why = network && tooWide(network);
        if (why) return [`MailServer settings: ${trustsTooMuch(entry, why)}`];
        const risk = bridge && network && bridgeGatewayRisk(network);
        return risk ? [`MailServer settings: ${trustsGateway(entry, risk)}`] : [];
    });
}

export const noOpenRelay: ResourceValidationPolicy = {
    name: "mail-no-open-relay",
    description:
        "Postfix must not relay for strangers. mynetworks may trust loopback, public addresses one host at a time, and " +
        `private networks no wider than IPv4 /${MAX_PRIVATE_WIDTH[4]} (65,536 addresses) or IPv6 /${MAX_PRIVATE_WIDTH[6]} (one site) — the ` +
        "components refuse the rest with the same check (components/net.ts trustRisk); in bridge mode no entry (but loopback) may overlap " +
        "Docker's address pools (172.16.0.0/12, 192.168.0.0/16, fd00::/8), where the gateway lives — and every smtpd service needs reject_unauth_destination " +
        "(or defer_unauth_destination) in smtpd_relay_restrictions or smtpd_recipient_restrictions.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: onSubjects(subject => [
        ...postfixProblems(subject, pf => openRelayFindings(pf, subject.bridge)),
        ...(subject.mynetworks ? mynetworksProblems(subject.mynetworks, subject.bridge) : []),
    ]),
};

// ------------------------------------------------------------------------------------------
// Mandatory: authentication without TLS

export function postfixAuthFindings(pf: PostfixConfig): Finding[] {
    const findings: Finding[] = [];
    for (const service of pf.smtpdServices()) {
        if (!isYes(pf.get("smtpd_sasl_auth_enable", service))) continue;
        const wrapper = isYes(pf.get("smtpd_tls_wrappermode", service));
        const level = pf.get("smtpd_tls_security_level", service).trim();
        const enforced = level === "encrypt" || (level === "" && isYes(pf.get("smtpd_enforce_tls", service)));
        const authOnly = isYes(pf.get("smtpd_tls_auth_only", service));
        if (!wrapper && !enforced && !authOnly) {
            findings.push(
                finding(
                    service,
                    [
                        "smtpd_sasl_auth_enable",
                        "smtpd_tls_wrappermode",
                        "smtpd_tls_security_level",
                        "smtpd_enforce_tls",
                        "smtpd_tls_auth_only",
                    ],
                    `smtpd_sasl_auth_enable = yes, but TLS is not required before AUTH (smtpd_tls_auth_only = ` +
                        `"${pf.get("smtpd_tls_auth_only", service)}", smtpd_tls_security_level = "${level}", no smtpd_tls_wrappermode): passwords can cross ` +
                        "the network in clear text. Set smtpd_tls_auth_only = yes, or smtpd_tls_security_level = encrypt on this service.",
                ),
            );
        }
    }
    return findings;
}

export function postfixAuthProblems(pf: PostfixConfig): string[] {
    return postfixAuthFindings(pf).map(f => f.message);
}

function section(s: DovecotSetting): string {
    return s.sections.length === 0 ? "dovecot.conf" : `dovecot.conf (in ${s.sections.map(x => `"${x}"`).join(" > ")})`;
}

/** inet_listener's own "ssl = yes" means implicit TLS on that port, not the global TLS policy. */
const inListener = (s: DovecotSetting) => s.sections.some(x => /^inet_listener\b/.test(x));

export function dovecotAuthProblems(text: string): string[] {
    const settings = parseDovecotConf(text);
    const problems: string[] = [];
    for (const s of settings) {
        if (s.key === "auth_allow_cleartext" && isYes(s.value)) {
            problems.push(
                `${section(s)}: auth_allow_cleartext = ${s.value} lets IMAP/POP3 clients send passwords without TLS. Set auth_allow_cleartext = no.`,
            );
        }
        if (s.key === "disable_plaintext_auth" && !isYes(s.value)) {
            problems.push(
                `${section(s)}: disable_plaintext_auth = ${s.value} lets IMAP/POP3 clients send passwords without TLS. Set disable_plaintext_auth = yes.`,
            );
        }
    }
    const ssl = settings.filter(s => s.key === "ssl" && !inListener(s));
    if (!ssl.some(s => s.sections.length === 0)) {
        problems.push(
            'dovecot.conf: ssl is not set, so it is "yes": clients may log in before STARTTLS. Set ssl = required.',
        );
    }
    for (const s of ssl) {
        if (s.value.toLowerCase() !== "required") {
            problems.push(`${section(s)}: ssl = ${s.value}; clients may log in without TLS. Set ssl = required.`);
        }
    }
    return problems;
}

export const authRequiresTls: ResourceValidationPolicy = {
    name: "mail-auth-requires-tls",
    description:
        "Passwords must not cross the network in clear text: Postfix services with SMTP AUTH need smtpd_tls_auth_only = yes, " +
        "smtpd_tls_security_level = encrypt or wrapper mode; Dovecot needs ssl = required and no cleartext authentication.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: onSubjects(subject => [
        ...postfixProblems(subject, postfixAuthFindings),
        ...(subject.dovecotConf === undefined ? [] : dovecotAuthProblems(subject.dovecotConf)),
    ]),
};

// ------------------------------------------------------------------------------------------
// Mandatory: TLS 1.2 or newer

export function postfixTlsFindings(pf: PostfixConfig): Finding[] {
    const findings: Finding[] = [];
    const check = (services: MasterService[], keys: string[]) => {
        for (const service of services) {
            for (const key of keys) {
                const value = pf.get(key, service);
                const weak = weakProtocols(value);
                if (weak.length === 0) continue;
                const setting = pf.isSet(key, service)
                    ? `${key} = "${value}"`
                    : `${key} is not set; Postfix's default ("${value}")`;
                findings.push(
                    finding(service, [key], `${setting} enables ${weak.join(", ")}. Set ${key} = >=TLSv1.2.`),
                );
            }
        }
    };
    check(pf.smtpdServices(), ["smtpd_tls_protocols", "smtpd_tls_mandatory_protocols"]);
    check(pf.smtpClientServices(), ["smtp_tls_protocols", "smtp_tls_mandatory_protocols"]);
    return findings;
}

export function postfixTlsProblems(pf: PostfixConfig): string[] {
    return postfixTlsFindings(pf).map(f => f.message);
}

const DOVECOT_MIN_OK = ["tlsv1.2", "tlsv1.3", "latest"];

export function dovecotTlsProblems(text: string): string[] {
    const settings = parseDovecotConf(text).filter(s => !inListener(s));
    const problems: string[] = [];
    const mins = settings.filter(s => s.key === "ssl_min_protocol");
    for (const s of mins) {
        if (!DOVECOT_MIN_OK.includes(s.value.toLowerCase())) {
            problems.push(
                `${section(s)}: ssl_min_protocol = ${s.value} allows protocols older than TLS 1.2. Set ssl_min_protocol = TLSv1.2.`,
            );
        }
    }
    if (!mins.some(s => s.sections.length === 0)) {
        const legacy = settings.filter(s => s.key === "ssl_protocols" && s.sections.length === 0).pop();
        const weak = legacy ? weakProtocols(legacy.value) : [];
        if (!legacy) {
            problems.push(
                "dovecot.conf: ssl_min_protocol is not set, so the minimum is the Dovecot build's default (TLSv1 in older releases). Set ssl_min_protocol = TLSv1.2.",
            );
        } else if (weak.length > 0) {
            problems.push(
                `dovecot.conf: ssl_protocols = ${legacy.value} enables ${weak.join(", ")}. Set ssl_min_protocol = TLSv1.2.`,
            );
        }
    }
    return problems;
}

export const tlsMinimumVersion: ResourceValidationPolicy = {
    name: "mail-tls-1.2-minimum",
    description:
        "TLS 1.0/1.1 and SSL are deprecated (RFC 8996): Postfix's smtpd_/smtp_tls_protocols and _mandatory_protocols must enable " +
        'nothing below TLSv1.2 (e.g. ">=TLSv1.2"; Postfix\'s defaults and lists like "!SSLv2, !SSLv3" leave TLSv1 on), and ' +
        "Dovecot's ssl_min_protocol must be TLSv1.2 or newer.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: onSubjects(subject => [
        ...postfixProblems(subject, postfixTlsFindings),
        ...(subject.dovecotConf === undefined ? [] : dovecotTlsProblems(subject.dovecotConf)),
    ]),
};

// ------------------------------------------------------------------------------------------
// Mandatory: secrets in environment variables and labels

const SECRET_WORDS = new Set([
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "key",
    "apikey",
    "privatekey",
    "credential",
    "credentials",
]);
const SECRET_PARTS = ["password", "passwd", "passphrase", "secret", "apikey", "privatekey", "accesskey", "credential"];
/** A last word that makes the name describe a secret rather than hold one (KEY_FILE, TLS_KEY_PATH, KEY_ALGORITHM). */
const NOT_A_SECRET_SUFFIX = new Set([
    "file",
    "path",
    "dir",
    "directory",
    "size",
    "type",
    "algorithm",
    "algo",
    "length",
    "len",
    "bits",
    "id",
    "name",
    "format",
    "mode",
    "usage",
    "count",
    "url",
    "uri",
]);

/** Whether an environment variable or label name looks like it holds a password, secret, token or key. */
export function looksSecret(name: string): boolean {
    const words = name
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter(Boolean);
    if (words.length === 0) return false;
    if (NOT_A_SECRET_SUFFIX.has(words[words.length - 1])) return false;
    if (words.some(w => SECRET_WORDS.has(w))) return true;
    return words.some(w => SECRET_PARTS.some(p => w.includes(p)) || w.endsWith("token"));
}

export const noPlaintextSecrets: ResourceValidationPolicy = {
    name: "mail-no-plaintext-secrets",
    description:
        "Containers must not get passwords, secrets, tokens or keys through environment variables or labels: whether or not the " +
        "value is a Pulumi secret, Docker shows it to anyone who can inspect the container. Deliver secrets as files instead.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: (args, reportViolation) => {
        if (args.type !== CONTAINER_TYPE) return;
        const envs = known(() => args.props.envs);
        if (Array.isArray(envs)) {
            for (let i = 0; i < envs.length; i++) {
                const entry = known(() => envs[i]);
                if (typeof entry !== "string") continue;
                const eq = entry.indexOf("=");
                const name = eq < 0 ? entry : entry.slice(0, eq);
                // The value is never echoed.
                if (eq > 0 && entry.length > eq + 1 && looksSecret(name)) {
                    reportViolation(
                        `Environment variable ${name} holds what looks like a secret in clear text (visible in \`docker inspect\`). ` +
                            `Pass it as a file (an upload whose content is a Pulumi secret) and point the program at it, e.g. ${name}_FILE.`,
                    );
                }
            }
        }
        for (const [label, value] of labelsOf(args.props)) {
            if (value !== "" && looksSecret(label)) {
                reportViolation(
                    `Label ${label} holds what looks like a secret in clear text (labels are public to anyone who can list containers). Remove it.`,
                );
            }
        }
    },
};

// ------------------------------------------------------------------------------------------
// Remediation: key and password uploads become Pulumi secrets

/**
 * @pulumi/policy (1.21.0) hands remediations the resource's inputs behind two proxies that unwrap
 * secrets on read; the proxy target, with secret values still wrapped in `Secret`, is reachable
 * under this key (proxy.ts `getSpecialProxyTarget`, internal). Validations get no secret markers
 * at all, which is why this check is a remediation.
 */
const PROXY_TARGET_KEY = "__getSpecialProxyTarget";

/** The raw property bag under the SDK's proxies (or the value itself when it is not proxied). */
export function unproxied(value: any): any {
    let current = value;
    for (let i = 0; i < 8; i++) {
        const next = current !== null && typeof current === "object" ? current[PROXY_TARGET_KEY] : undefined;
        if (next === undefined || next === current) return current;
        current = next;
    }
    return current;
}

const SENSITIVE_FILE =
    /(^|[-_.]|priv)key\.pem$|\.key$|\.private$|^(sasl_passwd|passwd|shadow|users|htpasswd|\.htpasswd)$|\.(p12|pfx)$/i;

/** Whether an upload (by its file name, or a PEM private key in its content) carries a key or password hashes. */
export function isSensitiveUpload(file: string, content: unknown): boolean {
    return (
        SENSITIVE_FILE.test(basename(file)) ||
        (typeof content === "string" && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(content))
    );
}

/** The remediated props, or undefined when every sensitive upload is already a secret. Exported for tests. */
export function secretUploadsRemediation(props: Record<string, any>): Record<string, any> | undefined {
    const raw = unproxied(props);
    // Still behind a proxy (an SDK whose internals differ): secretness is not visible, and copying
    // through the proxy would unwrap the other secrets, so leave the resource alone.
    if (raw === null || typeof raw !== "object" || raw.__isSpecialProxy === true) return undefined;
    const uploads = raw.uploads;
    if (!Array.isArray(uploads)) return undefined; // absent, unknown, or one secret list
    let changed = false;
    const next = uploads.map((upload: any) => {
        if (upload === null || typeof upload !== "object" || upload instanceof Secret) return upload;
        const file = upload.file instanceof Secret ? upload.file.value : upload.file;
        if (typeof file !== "string") return upload;
        const copy = { ...upload };
        for (const field of ["content", "contentBase64"]) {
            const value = upload[field];
            if (value === undefined || value === null || value instanceof Secret) continue;
            const text =
                field === "contentBase64" && typeof value === "string"
                    ? Buffer.from(value, "base64").toString("utf8")
                    : value;
            if (!isSensitiveUpload(file, text)) continue;
            copy[field] = new Secret(value);
            changed = true;
        }
        return copy;
    });
    return changed ? { ...raw, uploads: next } : undefined;
}

export const secretUploads: ResourceValidationPolicy = {
    name: "mail-secret-uploads",
    description:
        "Private keys and password files uploaded into containers must be Pulumi secrets (encrypted in the state, masked in " +
        "previews); this remediation marks them so. (Only a remediation can see secretness: validations receive secrets unwrapped.)",
    enforcementLevel: "remediate",
    severity: "high",
    remediateResource: args => (args.type === CONTAINER_TYPE ? secretUploadsRemediation(args.props) : undefined),
};

// ------------------------------------------------------------------------------------------
// Advisory: DKIM and DMARC

function isContainer(r: PolicyResource): boolean {
    return r.type === CONTAINER_TYPE;
}

/** Every string inside a value (depth-limited), skipping values unknown during preview. */
function collectStrings(value: unknown, out: string[], depth = 0): void {
    if (typeof value === "string") {
        out.push(value);
        return;
    }
    if (value === null || typeof value !== "object" || depth > 8) return;
    for (const key of Object.keys(value)) {
        const child = known(() => (value as Record<string, unknown>)[key]);
        collectStrings(child, out, depth + 1);
    }
}

const DKIM_SOFTWARE = /opendkim|rspamd|dkim/i;
/** The package's own rspamd: it signs only with VirtualDomains' keys, which the rule judges per domain. */
const OWN_MILTER = `unix:${RSPAMD_MILTER_SOCKET}`;

/** Whether a main.cf (and master.cf) passes mail through the package's own rspamd, which signs VirtualDomains' mail. */
function hasOwnMilter(mainCf: string | undefined, masterCf: string | undefined): boolean {
    const pf = new PostfixConfig(mainCf, masterCf);
    const ours = (value: string) => postfixList(value).includes(OWN_MILTER);
    return ours(pf.get("smtpd_milters")) || pf.services.some(s => ours(pf.get("smtpd_milters", s)));
}

/**
 * Whether a main.cf (and master.cf) makes Postfix pass mail through a milter (which is how DKIM signing is
 * attached) other than the package's own rspamd.
 */
function hasMilters(mainCf: string | undefined, masterCf: string | undefined): boolean {
    const pf = new PostfixConfig(mainCf, masterCf);
    const other = (value: string) => postfixList(value).some(m => m !== OWN_MILTER);
    const keys = ["smtpd_milters", "non_smtpd_milters"];
    return keys.some(k => other(pf.get(k))) || pf.services.some(s => keys.some(k => other(pf.get(k, s))));
}

function mailDomains(mainCf: string): string[] {
    const main = parseMainCf(mainCf);
    const domains = postfixList(expand(main.get("virtual_mailbox_domains") ?? "", main)).filter(
        d => !d.includes(":") && !d.startsWith("$"),
    );
    if (domains.length > 0) return domains;
    const mydomain = main.get("mydomain");
    return mydomain ? [expand(mydomain, main)] : [];
}

/** What a VirtualDomain registers about its mail and DNS (components/render/inputs.ts, domainSettings). */
export interface VirtualDomainFacts {
    resource: PolicyResource;
    domain: string;
    /** DKIM on: the package makes its keys, publishes their records and signs with them. */
    dkim: boolean;
    dmarcPolicy?: string;
    dmarcPercent?: number;
    dmarcReportAddress?: string;
    /** Addresses that receive mail here: mailboxes, their aliases, aliases. */
    addresses: string[];
    catchAll: boolean;
}

/** Every VirtualDomain of the stack, read from its inputs; values unknown at preview are left out. */
export function virtualDomains(resources: PolicyResource[]): VirtualDomainFacts[] {
    const out: VirtualDomainFacts[] = [];
    for (const r of resources.filter(x => x.type === VIRTUAL_DOMAIN_TYPE)) {
        const domain = knownString(() => r.props.domain);
        if (domain === undefined) continue;
        const addresses: string[] = [];
        const mailboxes = known(() => r.props.mailboxes);
        if (Array.isArray(mailboxes))
            for (let i = 0; i < mailboxes.length; i++) {
                const a = knownString(() => mailboxes[i]?.address);
                if (a !== undefined) addresses.push(a);
                const aliases = known(() => mailboxes[i]?.aliases);
                if (Array.isArray(aliases))
                    for (let j = 0; j < aliases.length; j++) {
                        const alias = knownString(() => aliases[j]);
                        if (alias !== undefined) addresses.push(alias);
                    }
            }
        const aliases = known(() => r.props.aliases);
        if (Array.isArray(aliases))
            for (let i = 0; i < aliases.length; i++) {
                const a = knownString(() => aliases[i]?.address);
                if (a !== undefined) addresses.push(a);
            }
        out.push({
            resource: r,
            domain,
            dkim: known(() => r.props.dkim) === true,
            dmarcPolicy: knownString(() => r.props.dmarcPolicy),
            dmarcPercent: (n => (typeof n === "number" ? n : undefined))(known(() => r.props.dmarcPercent)),
            dmarcReportAddress: knownString(() => r.props.dmarcReportAddress),
            addresses: addresses.map(a => a.toLowerCase()),
            catchAll: knownString(() => r.props.catchAll) !== undefined,
        });
    }
    return out;
}

export const dkimAndDmarc: StackValidationPolicy = {
    name: "mail-dkim-dmarc",
    description:
        "Mail without DKIM signatures and a DMARC policy is often rejected or filed as spam (Gmail and Yahoo require both of bulk " +
        "senders), and the domain is easy to spoof.",
    enforcementLevel: "advisory",
    severity: "medium",
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
        const mailServers: Array<{ resource: PolicyResource; mainCf: string; masterCf?: string }> = [];
        let dkim = false;
        let dmarc = false;
        // The package's rspamd signs a VirtualDomain's mail only when Postfix passes mail through it.
        let ownSigner = false;
        for (const r of args.resources) {
            if (isContainer(r)) {
                const files = configFiles(r.props);
                if (files.mainCf !== undefined) {
                    mailServers.push({ resource: r, mainCf: files.mainCf, masterCf: files.masterCf });
                    if (hasMilters(files.mainCf, files.masterCf)) dkim = true;
                    if (hasOwnMilter(files.mainCf, files.masterCf)) ownSigner = true;
                }
                const identity = [known(() => r.props.name), known(() => r.props.image), r.name]
                    .filter(x => typeof x === "string")
                    .join(" ");
                // Our own rspamd container (labelled) signs with VirtualDomains' keys only.
                const ours = labelsOf(r.props).has("mailserver.role");
                if (!ours && DKIM_SOFTWARE.test(identity)) dkim = true;
            }
            // Component outputs, e.g. MailServer.mainCf.
            const mainCf = known(() => r.props.mainCf);
            if (typeof mainCf === "string" && hasMilters(mainCf, undefined)) dkim = true;
            if (typeof mainCf === "string" && hasOwnMilter(mainCf, undefined)) ownSigner = true;
            const strings: string[] = [];
            collectStrings(r.props, strings);
            if (strings.some(s => /^"?v=DMARC1\b/i.test(s.trim()) || /^_dmarc(\.|$)/i.test(s.trim()))) dmarc = true;
        }
        if (mailServers.length === 0) return;
        // The package's own: a VirtualDomain with dkim on has its keys and signs with them, and every
        // VirtualDomain publishes a DMARC record in its dnsRecords.
        const own = new Map(virtualDomains(args.resources).map(d => [d.domain, d]));
        const domains = [...new Set(mailServers.flatMap(m => mailDomains(m.mainCf)))];
        const judged = domains.length > 0 ? domains : [...own.keys()];
        const urn = mailServers[0].resource.urn;
        // Nothing judged (no domain known): the stack as a whole, as before there were VirtualDomains.
        const missing = (covered: (d: VirtualDomainFacts | undefined) => boolean) =>
            judged.length === 0 ? ["your mail domains"] : judged.filter(d => !covered(own.get(d)));
        const unsigned = dkim ? [] : missing(d => ownSigner && d?.dkim === true);
        if (unsigned.length > 0) {
            reportViolation(
                `No DKIM signing is configured for ${unsigned.join(", ")}: main.cf passes mail through no other milter, no ` +
                    "opendkim or rspamd container of your own is deployed, and the MailServer's own rspamd signs only the " +
                    `VirtualDomains with dkim on, and only when Postfix passes mail through it (${ownSigner ? "it does" : "here it does not"}). ` +
                    "Set dkim: true on its VirtualDomain (the default) with the MailServer's spamFilter enabled (the default), " +
                    "or add a DKIM signing milter and publish its selector._domainkey TXT record.",
                urn,
            );
        }
        const withoutDmarc = dmarc ? [] : missing(d => d?.dmarcPolicy !== undefined);
        if (withoutDmarc.length > 0) {
            reportViolation(
                `No DMARC record is published for ${withoutDmarc.join(", ")}: no resource or stack output holds "v=DMARC1". ` +
                    `Publish a TXT record _dmarc.<domain> such as "v=DMARC1; p=quarantine; rua=mailto:postmaster@<domain>" ` +
                    "(and export it or create it with your DNS provider).",
                urn,
            );
        }
    },
};

// ------------------------------------------------------------------------------------------
// Advisory: DMARC reports reach a mailbox of the stack

/** The p= and rua= addresses of a DMARC record's text, or undefined when it is none. */
export function parseDmarc(text: string): { policy?: string; rua: string[] } | undefined {
    const t = text.trim().replace(/^"|"$/g, "");
    if (!/^v=DMARC1\s*(;|$)/i.test(t)) return undefined;
    const tags = new Map(
        t
            .split(";")
            .map(x => x.trim())
            .filter(x => x.includes("="))
            .map(x => [x.slice(0, x.indexOf("=")).trim().toLowerCase(), x.slice(x.indexOf("=") + 1).trim()]),
    );
    const rua = (tags.get("rua") ?? "")
        .split(",")
        .map(u => u.trim())
        .filter(u => /^mailto:/i.test(u))
        // A size limit may follow the address: mailto:a@example.com!10m.
        .map(u => u.slice("mailto:".length).replace(/!.*$/, "").toLowerCase());
    return { policy: tags.get("p")?.toLowerCase(), rua };
}

export interface DmarcReportsConfig {
    /** Report addresses outside the stack that are read (e.g. a DMARC report service that authorised the domain). */
    externalReportAddresses?: string[];
}

export const dmarcReportAddress: StackValidationPolicy = {
    name: "mail-dmarc-report-address",
    description:
        "A DMARC policy that quarantines or rejects, or that asks for reports, needs its aggregate reports (rua) to reach someone: " +
        "an address that is a mailbox or alias of a VirtualDomain of the stack (or listed in externalReportAddresses).",
    enforcementLevel: "advisory",
    severity: "low",
    configSchema: {
        properties: {
            externalReportAddresses: {
                type: "array",
                items: { type: "string" },
                default: [],
                description:
                    "rua addresses outside the stack that someone reads (a DMARC report service, another server).",
            },
        },
    },
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
        const domains = virtualDomains(args.resources);
        if (domains.length === 0) return;
        const external = new Set(
            (args.getConfig<DmarcReportsConfig>().externalReportAddresses ?? []).map(a => a.toLowerCase()),
        );
        const defined = new Set(domains.flatMap(d => d.addresses));
        const catchAll = new Set(domains.filter(d => d.catchAll).map(d => d.domain));
        const reaches = (a: string) =>
            defined.has(a) || external.has(a) || catchAll.has(a.slice(a.lastIndexOf("@") + 1));
        const judge = (what: string, policy: string | undefined, rua: string[], urn: string) => {
            const enforcing = policy === "quarantine" || policy === "reject";
            if (!enforcing && rua.length === 0) return;
            if (rua.length === 0) {
                reportViolation(
                    `${what} has p=${policy} and no report address (rua): mail it quarantines or rejects goes unseen. ` +
                        "Set dmarcReportAddress to a mailbox or alias of the stack.",
                    urn,
                );
                return;
            }
            for (const a of rua.filter(x => !reaches(x)))
                reportViolation(
                    `${what} sends its aggregate reports to ${a}, which no VirtualDomain of this stack defines as a mailbox or alias: ` +
                        "nobody here reads them (and another domain must authorise them, RFC 7489 section 7.1). Use a mailbox or " +
                        "alias of the stack, or list the address in this policy's externalReportAddresses.",
                    urn,
                );
        };
        const seen = new Set<string>();
        for (const d of domains) {
            if (d.dmarcPolicy === undefined) continue;
            seen.add(
                dmarcValue({ policy: d.dmarcPolicy as DmarcPolicy, percent: 100, reportAddress: d.dmarcReportAddress }),
            );
            judge(
                `The DMARC policy of ${d.domain}`,
                d.dmarcPolicy,
                d.dmarcReportAddress === undefined ? [] : [d.dmarcReportAddress.toLowerCase()],
                d.resource.urn,
            );
        }
        // DMARC records elsewhere: a DNS provider's record resource, a stack output.
        for (const r of args.resources.filter(x => x.type !== VIRTUAL_DOMAIN_TYPE)) {
            const strings: string[] = [];
            collectStrings(r.props, strings);
            for (const text of new Set(strings)) {
                const record = parseDmarc(text);
                // A VirtualDomain's own record, e.g. in the stack's dnsRecords output, was judged above.
                if (record === undefined || seen.has(text.trim())) continue;
                seen.add(text.trim());
                judge(`The DMARC record "${text.trim()}" (${r.name})`, record.policy, record.rua, r.urn);
            }
        }
    },
};

// ------------------------------------------------------------------------------------------
// Advisory: reverse DNS for the SMTP port

function isPublicBind(ip: unknown): boolean {
    return typeof ip !== "string" || ip === "" || !isLoopbackHost(ip);
}

/** Whether a container publishes TCP port 25 on a non-loopback host address. */
function publishesPort25(r: PolicyResource): string | undefined {
    const ports = known(() => r.props.ports);
    if (!Array.isArray(ports)) return undefined;
    for (let i = 0; i < ports.length; i++) {
        const external = known(() => ports[i]?.external);
        const protocol = known(() => ports[i]?.protocol) ?? "tcp";
        const ip = known(() => ports[i]?.ip);
        if (external === 25 && protocol === "tcp" && isPublicBind(ip))
            return `publishes port 25 on ${typeof ip === "string" && ip ? ip : "0.0.0.0"}`;
    }
    return undefined;
}

function mainCfListensBeyondLoopback(mainCf: string | undefined): boolean {
    if (mainCf === undefined) return true;
    const main = parseMainCf(mainCf);
    const interfaces = postfixList(expand(main.get("inet_interfaces") ?? "all", main));
    return !interfaces.every(a => a === "loopback-only" || isLoopbackHost(a));
}

export interface ReverseDnsConfig {
    /** The PTR record of the server's public IP is set to myhostname (and myhostname resolves back to it). */
    reverseDnsConfirmed?: boolean;
}

export const smtpReverseDns: StackValidationPolicy = {
    name: "mail-smtp-reverse-dns",
    description:
        "A server that sends and receives on port 25 needs a reverse DNS (PTR) name for its public IP that matches myhostname " +
        "and resolves back to the IP; without it many receivers reject its mail. Set reverseDnsConfirmed: true once it is in place.",
    enforcementLevel: "advisory",
    severity: "low",
    configSchema: {
        properties: {
            reverseDnsConfirmed: {
                type: "boolean",
                default: false,
                description:
                    "The PTR record of the server's public IP is set to its myhostname, which resolves back to that IP.",
            },
        },
    },
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
        if (args.getConfig<ReverseDnsConfig>().reverseDnsConfirmed === true) return;
        const configJobs = args.resources
            .filter(isContainer)
            .map(r => ({ r, files: configFiles(r.props) }))
            .filter(j => j.files.mainCf !== undefined || j.files.masterCf !== undefined);
        for (const r of args.resources.filter(isContainer)) {
            // The Postfix configuration this container runs: a config job it depends on, else one with the same
            // mailserver.stack label.
            const stack = labelsOf(r.props).get("mailserver.stack");
            const job =
                configJobs.find(j => j.r !== r && r.dependencies.some(d => d.urn === j.r.urn)) ??
                configJobs.find(
                    j => j.r !== r && stack !== undefined && labelsOf(j.r.props).get("mailserver.stack") === stack,
                );
            let how = publishesPort25(r);
            if (
                !how &&
                known(() => r.props.networkMode) === "host" &&
                job !== undefined &&
                r.dependencies.some(d => d.urn === job.r.urn)
            ) {
                const pf = new PostfixConfig(job.files.mainCf, job.files.masterCf);
                const smtp = pf.services.find(listensOnPort25);
                if (smtp && mainCfListensBeyondLoopback(job.files.mainCf))
                    how = `listens on port 25 (master.cf service "${smtp.name}") in host network mode`;
            }
            if (!how) continue;
            const hostname =
                job?.files.mainCf !== undefined ? parseMainCf(job.files.mainCf).get("myhostname") : undefined;
            const name = hostname ? `"${hostname}"` : "the server's myhostname";
            reportViolation(
                `Container ${known(() => r.props.name) ?? r.name} ${how}. Set the PTR record of the server's public IP address to ${name}, ` +
                    `and make sure ${name} resolves back to that address (forward-confirmed reverse DNS); then set reverseDnsConfirmed: true ` +
                    "in this policy's config.",
                r.urn,
            );
        }
    },
};

// ------------------------------------------------------------------------------------------

/** Every policy of the pack, in the order they are reported. */
export const policies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
    noOpenRelay,
    authRequiresTls,
    tlsMinimumVersion,
    noPlaintextSecrets,
    secretUploads,
    dkimAndDmarc,
    dmarcReportAddress,
    smtpReverseDns,
];
