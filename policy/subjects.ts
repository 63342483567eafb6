// What the mandatory rules judge. Each component registers as its inputs its validated settings
// and the text of the files it deploys (components/inputs.ts): MailServer its typed
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
import { ReportViolation, ResourceValidationArgs } from "@pulumi/policy";
import { DovecotSetting, MasterService, PostfixConfig } from "./parse";
import {
    COMPONENT_FILE_INPUTS,
    CONTAINER_TYPE,
    ConfigFiles,
    configFiles,
    DOVECOT_IMAP_TYPE,
    known,
    knownString,
    labelsOf,
    MAIL_SERVER_TYPE,
} from "./resources";

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

/** The configuration a resource carries, or undefined for resources the mandatory rules do not judge. */
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

/** Postfix findings for what is known: never master.cf alone (it would be judged against Postfix's defaults). */
export function postfixProblems(subject: Subject, findings: (pf: PostfixConfig) => Finding[]): string[] {
    if (subject.mainCf === undefined) return [];
    if (subject.configJob && subject.masterCf === undefined) return [];
    return findings(new PostfixConfig(subject.mainCf, subject.masterCf))
        .filter(f => !subject.configJob || f.inMasterCf)
        .map(f => f.message);
}

/** A resource validation reporting check(subject) for every resource the mandatory rules judge, each message once. */
export function onSubjects(check: (subject: Subject) => string[]) {
    return (args: ResourceValidationArgs, reportViolation: ReportViolation): void => {
        const subject = subjectOf(args.type, args.props);
        if (subject === undefined) return;
        for (const message of new Set(check(subject))) reportViolation(message);
    };
}

/**
 * A resource validation judging the Postfix configuration (main.cf with master.cf) and dovecot.conf
 * a subject carries, each when known.
 */
export function onPostfixAndDovecot(
    postfix: (pf: PostfixConfig) => Finding[],
    dovecot: (dovecotConf: string) => string[],
) {
    return onSubjects(subject => [
        ...postfixProblems(subject, postfix),
        ...(subject.dovecotConf === undefined ? [] : dovecot(subject.dovecotConf)),
    ]);
}

// ------------------------------------------------------------------------------------------
// Where a finding is: the master.cf service or main.cf, the dovecot.conf section

/** A problem, and whether a master.cf service's own -o override causes it (rather than main.cf). */
export interface Finding {
    message: string;
    inMasterCf: boolean;
}

/** The master.cf service, or main.cf for the pseudo-service that stands for it. */
function where(service: MasterService): string {
    return service.name === "(main.cf)" ? "main.cf" : `master.cf service "${service.name}" (${service.type})`;
}

/**
 * Located where the keys' values come from: the service when it overrides one of them, else main.cf (so one main.cf
 * problem is reported once).
 */
export function finding(service: MasterService, keys: string[], text: string): Finding {
    const inMasterCf = keys.some(k => service.options.has(k));
    return { message: `${inMasterCf ? where(service) : "main.cf"}: ${text}`, inMasterCf };
}

/** Where a dovecot.conf setting is, for a message: the file and its enclosing sections. */
export function section(s: DovecotSetting): string {
    return s.sections.length === 0 ? "dovecot.conf" : `dovecot.conf (in ${s.sections.map(x => `"${x}"`).join(" > ")})`;
}

/** inet_listener's own "ssl = yes" means implicit TLS on that port, not the global TLS policy. */
export const inListener = (s: DovecotSetting) => s.sections.some(x => /^inet_listener\b/.test(x));
