// Advisory: a server that publishes port 25 beyond loopback needs forward-confirmed reverse DNS.
import { PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { expand, isLoopbackHost, listensOnPort25, parseMainCf, postfixList, PostfixConfig } from "../parse";
import { configFiles, isContainer, known, labelsOf } from "../resources";

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
