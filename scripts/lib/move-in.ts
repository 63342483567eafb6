// Moving mailboxes in from any IMAP server: Dovecot's own dsync (`doveadm backup`/`sync` with the
// imapc storage, Dovecot 2.4) run in the stack's Dovecot container, one mailbox at a time. It keeps
// folders, flags, keywords and dates, and it is incremental: a second run copies only what changed
// at the source, so it can run again right before the switch-over; after the MX points here, a
// final run with --final (one-way sync, `sync -1`) brings the last messages without touching what
// has arrived here since.
//
// The plan is a JSON file of the user's (it holds the source passwords: mode 0600 is demanded):
//   { "source": { "host": "imap.old.example", "port": 993, "tls": "imaps" },
//     "mailboxes": [ { "address": "alice@example.com", "login": "alice", "password": "..." } ] }
// tls: "imaps" (default, port 993), "starttls" (143), or "none" (only for a loopback address).
// The source's certificate is verified, against the system's CAs or "caPem" (the PEM of the CA
// that issued it, e.g. a private one); its name (or IP address) must match "host".
// The source login and password reach Dovecot in a file on its tmpfs (written through docker exec's
// standard input, removed afterwards), never on a command line, in an environment or in a log.
import { Validator } from "../../components/model/validator";

export interface MoveInSource {
    host: string;
    port: number;
    tls: "imaps" | "starttls" | "none";
    /** The CA (PEM) the source's certificate must chain to; the system's CAs otherwise. */
    caPem?: string;
}
export interface MoveInMailbox {
    /** The mailbox here (a mailbox of the stack). */
    address: string;
    /** The login at the source. */
    login: string;
    password: string;
}
export interface MoveInPlan {
    source: MoveInSource;
    mailboxes: MoveInMailbox[];
}

const isLoopback = (host: string) => /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1" || host === "localhost";

/** The plan file's content, checked: every error names the field; passwords are never shown. */
export function readMoveInPlan(json: unknown): MoveInPlan {
    const v = new Validator("move-in plan");
    if (typeof json !== "object" || json === null)
        v.fail("plan", json, 'expected an object with "source" and "mailboxes"');
    const o = json as Record<string, any>;
    const s = o.source;
    if (typeof s !== "object" || s === null) v.fail("source", s, "expected { host, port?, tls? }");
    const host =
        typeof s.host === "string" && /^[A-Za-z0-9.:-]+$/.test(s.host)
            ? s.host
            : v.fail("source.host", s.host, "expected a host name or an address");
    const tls = s.tls ?? "imaps";
    if (!["imaps", "starttls", "none"].includes(tls))
        v.fail("source.tls", tls, 'expected "imaps", "starttls" or "none"');
    if (tls === "none" && !isLoopback(host))
        v.fail(
            "source.tls",
            tls,
            `expected "imaps" or "starttls": the passwords would cross the network to ${host} in clear`,
        );
    const port = s.port ?? (tls === "imaps" ? 993 : 143);
    if (!Number.isInteger(port) || port < 1 || port > 65535) v.fail("source.port", port, "expected a port 1-65535");
    const caPem = s.caPem;
    if (
        caPem !== undefined &&
        (typeof caPem !== "string" || !/^-----BEGIN CERTIFICATE-----\n/.test(caPem.trim() + "\n"))
    )
        v.fail("source.caPem", caPem, "expected the PEM of the CA that issued the source's certificate");
    if (caPem !== undefined && tls === "none") v.fail("source.caPem", "(given)", 'expected no CA with tls "none"');
    if (!Array.isArray(o.mailboxes) || o.mailboxes.length === 0)
        v.fail("mailboxes", o.mailboxes, "expected a list of { address, login, password }");
    const mailboxes = (o.mailboxes as Array<Record<string, unknown>>).map((m, i) => {
        const address = v.address(`mailboxes[${i}].address`, m?.address);
        if (typeof m.login !== "string" || m.login === "" || /[\r\n"\\]/.test(m.login))
            v.fail(`mailboxes[${i}].login`, m.login, "expected the login at the source server");
        if (typeof m.password !== "string" || m.password === "" || /[\r\n]/.test(m.password))
            v.fail(`mailboxes[${i}].password`, "(a secret)", "expected the password at the source server (one line)");
        return { address: address.toLowerCase(), login: m.login as string, password: m.password as string };
    });
    mailboxes.forEach((m, i) => {
        if (mailboxes.findIndex(x => x.address === m.address) !== i)
            v.fail(`mailboxes[${i}].address`, m.address, "each mailbox may be listed once");
    });
    return { source: { host, port, tls, ...(caPem !== undefined ? { caPem } : {}) }, mailboxes };
}

/** A Dovecot string value in double quotes (backslash and quote escaped). */
const quoted = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/** Where the source's CA goes beside the run's config file (when the plan gives one). */
export const caFileOf = (configFile: string) => `${configFile}.ca.pem`;

/**
 * The doveadm config of one mailbox's run: the stack's dovecot.conf, and the source as imapc
 * settings. Secret (it holds the password): written to a 0600 file on the container's tmpfs.
 */
export function imapcConfig(source: MoveInSource, mailbox: MoveInMailbox, configFile: string): string {
    return [
        // Dovecot 2.4 demands the version first, also before an include that sets it again.
        "dovecot_config_version = 2.4.0",
        "!include /etc/dovecot/dovecot.conf",
        `imapc_host = ${source.host}`,
        `imapc_port = ${source.port}`,
        `imapc_ssl = ${source.tls === "none" ? "no" : source.tls}`,
        "ssl_client_require_valid_cert = yes",
        source.caPem !== undefined
            ? `ssl_client_ca_file = ${caFileOf(configFile)}`
            : "ssl_client_ca_dir = /etc/ssl/certs",
        `imapc_user = ${quoted(mailbox.login)}`,
        `imapc_password = ${quoted(mailbox.password)}`,
        "",
    ].join("\n");
}

/**
 * doveadm's arguments for one mailbox: `backup -R` makes it a copy of the source (incremental: a
 * second run copies only what changed); `sync -1 -R` (final) adds the source's news and keeps what
 * arrived here since.
 */
export function doveadmArgs(configFile: string, address: string, final: boolean): string[] {
    return ["doveadm", "-c", configFile, ...(final ? ["sync", "-1"] : ["backup"]), "-R", "-u", address, "imapc:"];
}
