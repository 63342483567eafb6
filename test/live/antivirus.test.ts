// Live test of MailServer antivirus: ClamAV (images/clamav) deployed by the real engine next to
// the mail services (host mode, 127.0.0.1, port base 47000), asked by rspamd for every message.
// freshclam cannot reach ClamAV's mirrors here, so the stack gives clamd a signature file of its
// own (antivirus.signatures): an .ndb body signature of the EICAR test string, named as ClamAV's
// own database names it. From an outsider (127.0.0.2) on port 25: a message with a clean
// attachment lands in the mailbox (read back over IMAP); one with the EICAR file is refused with a
// 554 naming the virus and lands nowhere; with clamd stopped a message is deferred (451), not
// passed unscanned. Then the default (antivirus off) removes the clamav container.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import {
    caFile,
    countBySubject,
    docker,
    fetchBySubject,
    keepLogs,
    OUTSIDER,
    smtp,
    SwaksResult,
    uniqueSubject,
} from "./clients";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom, stackContainers, USERS } from "./stack";

const PREFIX = "avtest";
const PORTS = portsFrom(47000);
const CLAMAV = `${PREFIX}-clamav`;
// The EICAR test file (eicar.org), in two halves so that this source file is not itself flagged.
const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
const SIGNATURE = `Eicar-Test-Signature:0:*:${Buffer.from(EICAR).toString("hex")}`;
const alice = USERS.alice;

function config(antivirus: Record<string, unknown> | undefined) {
    return liveConfig(antivirus ? { "mailserver:antivirus": antivirus } : {}, PREFIX, 47000);
}
const ANTIVIRUS = { enabled: true, updates: false, signatures: [{ name: "eicar.ndb", content: SIGNATURE }] };

let ca: string;

/** A message from an outsider on port 25 to alice, with one attachment of this content. */
function sendWithAttachment(subject: string, content: string): SwaksResult {
    const file = path.join(ARTIFACTS, `${PREFIX}-attachment-${Buffer.from(subject).toString("hex").slice(0, 16)}.txt`);
    fs.writeFileSync(file, content);
    try {
        return smtp({
            port: PORTS.smtp,
            source: OUTSIDER,
            from: "someone@sender.example",
            to: alice.address,
            subject,
            body: "The file is attached.",
            args: ["--attach-type", "application/octet-stream", "--attach-name", "notes.txt", "--attach", `@${file}`],
        });
    } finally {
        fs.rmSync(file, { force: true });
    }
}

/** The reply to the message's final dot (the line after 354). */
function finalReply(r: SwaksResult): string {
    const data = r.replies.findIndex(l => l.startsWith("354"));
    return (data >= 0 ? r.replies[data + 1] : undefined) ?? `none: ${r.transcript.slice(-1500)}`;
}

const health = (container: string) => docker(["inspect", "-f", "{{.State.Health.Status}}", container]);

describe("antivirus (ClamAV through rspamd), live", () => {
    before(() => {
        destroy(PREFIX);
        const r = deploy(config(ANTIVIRUS));
        ca = caFile(r.outputs.certificatePem, PREFIX);
    });
    after(() => {
        keepLogs(PREFIX, ["rspamd", "postfix"]);
        destroy(PREFIX);
    });

    test("clamd runs healthy as clamav, hardened, on its unix socket only, its signature file loaded", () => {
        assert.equal(health(CLAMAV), "healthy");
        const sockets = clamdSockets();
        assert.deepEqual(sockets.tcpListening, [], "clamd listens on no TCP port");
        assert.ok(sockets.unix.includes("/run/clamav/clamd.sock"), sockets.unix.join(", "));
        assert.deepEqual(processUsers("clamd"), ["clamav"]);
        // Least privilege, as its definition says: four capabilities, a read-only root, no new privileges.
        const host = JSON.parse(docker(["inspect", CLAMAV]))[0].HostConfig;
        assert.deepEqual([...host.CapAdd].sort(), ["CAP_CHOWN", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"]);
        assert.deepEqual(host.CapDrop, ["ALL"]);
        assert.equal(host.ReadonlyRootfs, true);
        assert.ok((host.SecurityOpt ?? []).includes("no-new-privileges:true"), JSON.stringify(host.SecurityOpt));
        assert.match(scan(EICAR), /stream: Eicar-Test-Signature\.UNOFFICIAL FOUND/);
        assert.match(scan("harmless\n"), /stream: OK/);
    });

    test("a clean attachment from outside is delivered into the mailbox", async () => {
        const subject = uniqueSubject("av clean");
        const r = sendWithAttachment(subject, "Minutes of the meeting.\n");
        assert.match(finalReply(r), /^250 /, r.transcript.slice(-1500));
        const source = await fetchBySubject(alice, subject, "imaps", ca, "INBOX", 20_000, PORTS);
        assert.match(source, /filename="?notes\.txt"?/);
        assert.ok(source.includes(Buffer.from("Minutes of the meeting.\n").toString("base64")), source);
    });

    test("an EICAR attachment from outside is refused with 554 naming the virus, and delivered nowhere", async () => {
        const subject = uniqueSubject("av eicar");
        const r = sendWithAttachment(subject, EICAR);
        const reply = finalReply(r);
        assert.match(
            reply,
            /^554 5\.7\.1 clamav: virus found: "Eicar-Test-Signature\.UNOFFICIAL"/,
            r.transcript.slice(-1500),
        );
        // A message sent after it has arrived, so the refused one would have too.
        const later = uniqueSubject("av after");
        assert.match(finalReply(sendWithAttachment(later, "fine\n")), /^250 /);
        await fetchBySubject(alice, later, "imaps", ca, "INBOX", 20_000, PORTS);
        assert.equal(await countBySubject(alice, subject, ca, PORTS), 0);
        assert.equal(await countBySubject(alice, subject, ca, PORTS, "Junk"), 0);
    });

    test("with clamd down a message is deferred (451), not passed unscanned; back up, it is delivered", async () => {
        docker(["stop", "-t", "10", CLAMAV]);
        try {
            const subject = uniqueSubject("av deferred");
            const r = sendWithAttachment(subject, "Scanned later.\n");
            assert.match(finalReply(r), /^451 4\.7\.1 .*virus scanner is not available/, r.transcript.slice(-1500));
        } finally {
            docker(["start", CLAMAV]);
        }
        await waitHealthy(CLAMAV, 60_000);
        const subject = uniqueSubject("av retried");
        assert.match(finalReply(sendWithAttachment(subject, "Scanned now.\n")), /^250 /);
        await fetchBySubject(alice, subject, "imaps", ca, "INBOX", 20_000, PORTS);
    });

    test("a second deploy changes nothing", () => {
        const r = deploy(config(ANTIVIRUS));
        assert.deepEqual(r.replaced, []);
        const changed = Object.entries(r.changeSummary).filter(([kind]) => kind !== "same");
        assert.deepEqual(changed, [], JSON.stringify(r.changeSummary));
    });

    test("by default (antivirus off) the stack has no clamav container and rspamd no antivirus rule", () => {
        keepLogs(PREFIX, ["clamav"]);
        deploy(config(undefined));
        const names = stackContainers(PREFIX).map(id => docker(["inspect", "-f", "{{.Name}}", id]).replace(/^\//, ""));
        assert.ok(names.includes(`${PREFIX}-rspamd`), names.join(", "));
        assert.ok(!names.some(n => n.includes("clamav")), names.join(", "));
        const files = docker(["exec", `${PREFIX}-rspamd`, "ls", "/config/current/local.d"]).split("\n");
        assert.ok(!files.includes("antivirus.conf"), files.join(", "));
    });
});

/** The user each process named `name` runs as, in the clamav container (its image has no ps). */
function processUsers(name: string): string[] {
    const script = `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = ${name} ] && stat -c %U $p; done; true`;
    return docker(["exec", CLAMAV, "sh", "-c", script]).split("\n").filter(Boolean);
}

/**
 * clamd's sockets, read from the host's /proc (the engine runs on this machine; inside the
 * container no user may read the fds of clamd, which changed its user): the TCP ports it listens
 * on and the paths of its unix sockets, matched by inode in its network namespace's tables.
 */
function clamdSockets(): { tcpListening: string[]; unix: string[] } {
    const pid = docker(["top", CLAMAV, "-eo", "pid,comm"])
        .split("\n")
        .map(l => l.trim().split(/\s+/))
        .find(([, comm]) => comm === "clamd")?.[0];
    assert.ok(pid, "a clamd process in the container");
    const inodes = new Set(
        fs
            .readdirSync(`/proc/${pid}/fd`)
            .map(fd => /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1])
            .filter((x): x is string => x !== undefined),
    );
    const rows = (table: string) =>
        fs
            .readFileSync(`/proc/${pid}/net/${table}`, "utf8")
            .split("\n")
            .slice(1)
            .map(l => l.trim().split(/\s+/));
    return {
        tcpListening: [...rows("tcp"), ...rows("tcp6")].filter(r => r[3] === "0A" && inodes.has(r[9])).map(r => r[1]),
        unix: rows("unix")
            .filter(r => inodes.has(r[6]) && r[7] !== undefined)
            .map(r => r[7]),
    };
}

/** clamdscan INSTREAM of `content` inside the clamav container, as rspamd asks clamd: its verdict. */
function scan(content: string): string {
    const r = spawnSync(
        "docker",
        [
            "exec",
            "-i",
            CLAMAV,
            "clamdscan",
            "--config-file=/config/current/clamd.conf",
            "--no-summary",
            "--stream",
            "-",
        ],
        { input: content, encoding: "utf8" },
    );
    return `${r.stdout}${r.stderr}`;
}

async function waitHealthy(container: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (health(container) === "healthy") return;
        await new Promise(r => setTimeout(r, 1000));
    }
    throw new Error(`${container} not healthy after ${timeoutMs / 1000} s`);
}
