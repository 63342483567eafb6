// What a person needs after a stack is deployed on this machine: where each service listens, where
// the generated passwords and the server's certificate are, and one command that sends a test
// message and one that reads it back. test/live/setup.test.ts runs these commands as printed.
export interface NextStepsInput {
    stack: string;
    /** The stack's config (stacks/Pulumi.<stack>.yaml), keys as "mailserver:<name>". */
    config: Record<string, unknown>;
    /** Files written by the deploy, relative to the repository root. */
    passwordsFile: string;
    certificateFile: string;
    /** The stack's Docker engine, when it is not Docker's default socket. */
    dockerHost?: string;
}

const SMTP_DEFAULTS = { smtp: 25, submission: 587, smtps: 465 };
const IMAP_DEFAULTS = { imap: 143, imaps: 993, managesieve: 4190 };

/** "alice@example.test"-style addresses of the stack's mailboxes, in config order. */
export function mailboxAddresses(config: Record<string, unknown>): string[] {
    const domains = (config["mailserver:domains"] ?? []) as Array<{
        domain: string;
        mailboxes?: Array<{ address: string }>;
    }>;
    return domains.flatMap(d =>
        (d.mailboxes ?? []).map(m => (m.address.includes("@") ? m.address : `${m.address}@${d.domain}`)),
    );
}

export function nextSteps(input: NextStepsInput): string {
    const c = input.config;
    const hostname = String(c["mailserver:hostname"]);
    const smtp = { ...SMTP_DEFAULTS, ...(c["mailserver:ports"] as object | undefined) };
    const imap = { ...IMAP_DEFAULTS, ...(c["mailserver:imapPorts"] as object | undefined) };
    const address = publishedAddress(c);
    const internet = (c["mailserver:mode"] ?? "internet") === "internet";
    const [from, to = from] = mailboxAddresses(c);
    const password = (a: string) => `"$(node -p 'require("./${input.passwordsFile}")["${a}"]')"`;
    const lines = [
        `Stack ${input.stack} is running. Listening on ${address}:`,
        `  SMTP (incoming mail)          ${address}:${smtp.smtp}`,
        `  Submission (STARTTLS + AUTH)  ${address}:${smtp.submission}`,
        `  Submissions (implicit TLS)    ${address}:${smtp.smtps}`,
    ];
    if (internet) {
        lines.push(
            `  IMAP (STARTTLS)               ${address}:${imap.imap}`,
            `  IMAPS                         ${address}:${imap.imaps}`,
            `  ManageSieve (STARTTLS)        ${address}:${imap.managesieve}`,
        );
    }
    lines.push(
        `Mailbox passwords (generated, mode 0600): ${input.passwordsFile}`,
        `The server's certificate: ${input.certificateFile}`,
    );
    if (input.dockerHost)
        lines.push(
            `Docker engine: ${input.dockerHost} (npm run stack -- ... ${input.stack} finds it by itself, in any shell; ` +
                `for the docker CLI: export DOCKER_HOST=${input.dockerHost})`,
        );
    if (from !== undefined && internet && smtp.submission > 0 && imap.imaps > 0) {
        lines.push(
            "",
            `Send a test message (${from} to ${to}, authenticated submission), from this folder:`,
            `  swaks --server ${address}:${smtp.submission} --tls --tls-verify --tls-ca-path ${input.certificateFile} ` +
                `--tls-sni ${hostname} --auth-user ${from} --auth-password=${password(from)} ` +
                `--from ${from} --to ${to} --header 'Subject: Hello from the ${input.stack} stack'`,
            `Read back ${to}'s newest message over IMAPS:`,
            `  curl --cacert ${input.certificateFile} --connect-to ${hostname}:${imap.imaps}:${address}:${imap.imaps} ` +
                `--user ${to}:${password(to)} 'imaps://${hostname}:${imap.imaps}/INBOX;MAILINDEX=*'`,
        );
    }
    return lines.join("\n");
}

/** The address a client on this machine uses: the published one in bridge mode, else the first listener. */
function publishedAddress(c: Record<string, unknown>): string {
    const bridge = (c["mailserver:networkMode"] ?? "bridge") === "bridge";
    const listen = bridge
        ? String(c["mailserver:publishAddress"] ?? "0.0.0.0")
        : String(((c["mailserver:inetInterfaces"] as string[] | undefined) ?? ["all"])[0]);
    return ["0.0.0.0", "all", "::", "loopback-only"].includes(listen) ? "127.0.0.1" : listen;
}
