// Live proof of signing and inbound checks between two stacks, through DNS this test serves itself.
// Stack A (a.test, a2.test) sends from 127.0.0.11, stack B (b.test) from 127.0.0.12 (outboundAddress);
// both listen on 127.0.0.1, on ports of their own (Postfix listens only on addresses an interface
// has, and the host's loopback has 127.0.0.1 alone; any 127.0.0.0/8 address can be a source).
// An NSD on 127.0.0.60 serves exactly the zones A and B output (dnsZones, PTRs), and both
// stacks' rspamd ask it (spamFilter.nameservers). Outsiders connect from 127.0.0.2.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DnsRecord } from "../../components/model/dns";
import {
    dockerLogs,
    fetchBySubject,
    imapClient,
    keepLogs,
    OUTSIDER,
    smtp,
    SmtpSession,
    uniqueSubject,
} from "./clients";
import { startDnsServer, DnsServer } from "./dns-server";
import { spawnSync } from "node:child_process";
import { ARTIFACTS, deploy, destroy, liveConfig, portsFrom, stackContainers } from "./stack";

const DNS = { address: "127.0.0.60", port: 15453 };
/** Where both stacks listen. */
const SERVER = "127.0.0.1";

interface Side {
    prefix: string;
    /** Where its mail comes from: the address of its A record, PTR and SPF. */
    address: string;
    ports: ReturnType<typeof portsFrom>;
    hostname: string;
    ca?: string;
}
const A: Side = { prefix: "dlva", address: "127.0.0.11", ports: portsFrom(30000), hostname: "mail.a.test" };
const B: Side = { prefix: "dlvb", address: "127.0.0.12", ports: portsFrom(31000), hostname: "mail.b.test" };

const alice = { address: "alice@a.test", password: "alice-Secret-2026!" };
const away = { address: "away@a.test", password: "away-Secret-2026!!" };
const redir = { address: "redir@a.test", password: "redir-Secret-2026!" };
const xena = { address: "xena@a2.test", password: "xena-Secret-2026!!" };
const bob = { address: "bob@b.test", password: "bob-Secret-2026!xx" };

function sideConfig(side: Side, portBase: number, other: Side, domains: unknown[], passwords: object) {
    return liveConfig(
        {
            "mailserver:hostname": side.hostname,
            "mailserver:outboundAddress": side.address,
            "mailserver:transports": [
                {
                    domain: other === A ? "a.test" : "b.test",
                    nexthop: `[${SERVER}]:${other.ports.smtp}`,
                },
                ...(other === A ? [{ domain: "a2.test", nexthop: `[${SERVER}]:${A.ports.smtp}` }] : []),
            ],
            "mailserver:spamFilter": { nameservers: [`${DNS.address}:${DNS.port}`] },
            "mailserver:domains": domains,
            "mailserver:passwords": passwords,
        },
        side.prefix,
        portBase,
    );
}

const configA = sideConfig(
    A,
    30000,
    B,
    [
        {
            domain: "a.test",
            mxHosts: ["mail.a.test"],
            mailHostAddresses: [A.address],
            dmarcPolicy: "reject",
            mailboxes: [
                { address: "alice" },
                { address: "away", vacation: { subject: "Out of office", body: "Back on Monday." } },
                { address: "redir", sieveScript: 'redirect "bob@b.test";\n' },
            ],
            aliases: [
                { address: "fwd", targets: [bob.address] },
                { address: "postmaster", targets: [alice.address] },
            ],
        },
        {
            domain: "a2.test",
            mxHosts: ["mail.a.test"],
            dmarcPolicy: "none",
            mailboxes: [{ address: "xena" }],
        },
    ],
    Object.fromEntries([alice, away, redir, xena].map(u => [u.address, u.password])),
);
const configB = sideConfig(
    B,
    31000,
    A,
    [
        {
            domain: "b.test",
            mxHosts: ["mail.b.test"],
            mailHostAddresses: [B.address],
            mailboxes: [{ address: "bob", fileInto: [{ header: "Subject", contains: "[lists]", folder: "Lists" }] }],
        },
    ],
    { [bob.address]: bob.password },
);

let dns: DnsServer | undefined;

const imapServer = (side: Side) => ({ host: SERVER, servername: side.hostname });
const imap = (side: Side, user: typeof bob) => imapClient(user, "imaps", caPath(side), side.ports, imapServer(side));
/** Waits (bounded) for a message with this subject in the folder; its source. */
const fetch = (side: Side, user: typeof bob, subject: string, folder = "INBOX") =>
    fetchBySubject(user, subject, "imaps", caPath(side), folder, 30_000, side.ports, imapServer(side));

/** The headers of a message, unfolded, in order. */
function headers(source: string): Array<[string, string]> {
    const head = source.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, " ");
    return head.split(/\r?\n/).map(l => {
        const i = l.indexOf(":");
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()] as [string, string];
    });
}
const header = (source: string, name: string) =>
    headers(source)
        .filter(([n]) => n === name)
        .map(([, v]) => v);

/** The Authentication-Results B's rspamd added (the topmost one naming mail.b.test). */
function resultsAtB(source: string): string {
    const mine = header(source, "authentication-results").find(v => v.startsWith(`${B.hostname};`));
    assert.ok(mine, `no Authentication-Results of ${B.hostname} in:\n${source.split(/\r?\n\r?\n/)[0]}`);
    return mine;
}

/** What a session to a side's port says, where to and from. */
type Message = Omit<SmtpSession, "server" | "port">;
function send(side: Side, message: Message) {
    return smtp({ server: SERVER, port: side.ports.smtp, ...message });
}
/** Port 25 from an outside address (not in mynetworks, not in any SPF record). */
function fromOutsider(side: Side, from: string, to: string, message: Message = {}) {
    return send(side, { source: OUTSIDER, from, to, ...message });
}
function submit(side: Side, user: typeof bob, message: Message) {
    return smtp({
        server: SERVER,
        port: side.ports.submission,
        tls: "starttls",
        auth: user,
        from: user.address,
        ...message,
    });
}
const caPath = (side: Side) => path.join(ARTIFACTS, `server-ca-${side.prefix}.pem`);

/** deploy(), and on failure every container's log of that stack in the artifacts. */
function deployKeepingLogs(config: Record<string, unknown>, side: Side) {
    try {
        return deploy(config);
    } catch (e) {
        for (const id of stackContainers(side.prefix)) {
            const name = spawnSync("docker", ["inspect", "-f", "{{.Name}}", id], { encoding: "utf8" }).stdout.trim();
            fs.writeFileSync(path.join(ARTIFACTS, `${name.replace(/^\//, "")}.log`), dockerLogs(id));
        }
        throw e;
    }
}

describe("deliverability between two stacks, live", { timeout: 20 * 60_000 }, () => {
    before(async () => {
        destroy(A.prefix);
        destroy(B.prefix);
        const outA = deployKeepingLogs(configA, A).outputs;
        const outB = deployKeepingLogs(configB, B).outputs;
        for (const [side, out] of [
            [A, outA],
            [B, outB],
        ] as const) {
            side.ca = out.certificatePem;
            fs.writeFileSync(caPath(side), out.certificatePem);
        }
        const zones = [...Object.values(outA.dnsZones), ...Object.values(outB.dnsZones)] as string[];
        const reverse = [...outA.dnsRecords, ...outB.dnsRecords].filter((r: DnsRecord) => r.type === "PTR");
        fs.writeFileSync(path.join(ARTIFACTS, "deliverability-zones.txt"), zones.join("\n"));
        dns = await startDnsServer({ ...DNS, zones, reverse, stackLabel: "dlvdns" });
    });
    after(async () => {
        for (const side of [A, B]) keepLogs(side.prefix, ["rspamd", "postfix"]);
        await dns?.stop();
        destroy(A.prefix);
        destroy(B.prefix);
    });

    let signed = "";
    test("mail submitted on A arrives at B with dkim=pass (RSA and Ed25519), spf=pass, dmarc=pass", async () => {
        const subject = uniqueSubject("signed");
        const r = submit(A, alice, { to: bob.address, subject, body: "Signed twice." });
        assert.equal(r.status, 0, r.transcript);
        signed = await fetch(B, bob, subject);
        const sigs = header(signed, "dkim-signature");
        assert.ok(
            sigs.some(s => /a=rsa-sha256/.test(s) && /d=a\.test/.test(s) && /s=mail-rsa/.test(s)),
            sigs.join("\n"),
        );
        assert.ok(
            sigs.some(s => /a=ed25519-sha256/.test(s) && /d=a\.test/.test(s) && /s=mail-ed25519/.test(s)),
            sigs.join("\n"),
        );
        const results = resultsAtB(signed);
        assert.match(results, /dkim=pass header\.d=a\.test header\.s=mail-rsa/);
        assert.match(results, /dkim=pass header\.d=a\.test header\.s=mail-ed25519/);
        assert.match(results, /spf=pass/);
        assert.match(results, /dmarc=pass/);
        assert.doesNotMatch(results, /dkim=fail/);
    });

    test("the same message with a changed body arrives with dkim=fail", async () => {
        assert.ok(signed, "needs the signed message of the test before");
        const subject = header(signed, "subject")[0];
        const tamperedSubjectLess = signed
            .split(/\r?\n/)
            // B's own trace headers go: the copy is what an attacker replaying A's mail would send.
            .filter(l => !/^(Authentication-Results|Return-Path|Delivered-To|X-Spam):/i.test(l));
        const tampered = tamperedSubjectLess.join("\r\n").replace("Signed twice.", "Signed twice. Or was it?");
        const file = path.join(ARTIFACTS, "tampered.eml");
        fs.writeFileSync(file, tampered);
        const r = send(B, { source: A.address, from: alice.address, to: bob.address, args: ["--data", `@${file}`] });
        assert.equal(r.status, 0, r.transcript);
        const client = await imap(B, bob);
        try {
            const deadline = Date.now() + 30_000;
            let found: string | undefined;
            while (!found && Date.now() < deadline) {
                const lock = await client.getMailboxLock("INBOX");
                try {
                    for await (const m of client.fetch({ subject }, { source: true })) {
                        const text = m.source!.toString("utf8");
                        if (text.includes("Or was it?")) found = text;
                    }
                } finally {
                    lock.release();
                }
                if (!found) await new Promise(res => setTimeout(res, 500));
            }
            assert.ok(found, "the tampered copy did not arrive");
            const results = resultsAtB(found);
            assert.match(results, /dkim=fail/);
            assert.doesNotMatch(results, /dkim=pass/);
        } finally {
            await client.logout().catch(() => undefined);
        }
    });

    test("mail forged as a.test (DMARC p=reject) by an outsider is refused; as a2.test (p=none) delivered with dmarc=fail", async () => {
        const forged = fromOutsider(B, "ceo@a.test", bob.address, { subject: uniqueSubject("forged-reject") });
        assert.ok(
            forged.replies.some(l => /^5\d\d/.test(l)),
            forged.transcript,
        );
        const subject = uniqueSubject("forged-none");
        const r = fromOutsider(B, "ceo@a2.test", bob.address, { subject });
        assert.equal(r.status, 0, r.transcript);
        const results = resultsAtB(await fetch(B, bob, subject));
        assert.match(results, /dmarc=fail/);
        assert.match(results, /spf=fail/);
    });

    test("GTUBE is refused at SMTP time with 5xx; a spam-header score files into Junk before the mailbox's own rules", async () => {
        const gtube = fromOutsider(B, "someone@elsewhere.test", bob.address, {
            body: "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
        });
        assert.notEqual(gtube.status, 0);
        assert.ok(
            gtube.replies.some(l => /^5\d\d/.test(l)),
            gtube.transcript,
        );
        // YJS...: rspamd's test pattern for "add header"; the subject matches bob's fileInto rule.
        const subject = `[lists] ${uniqueSubject("junk")}`;
        const r = fromOutsider(B, "someone@elsewhere.test", bob.address, {
            subject,
            body: "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
        });
        assert.equal(r.status, 0, r.transcript);
        const junk = await fetch(B, bob, subject, "Junk");
        assert.deepEqual(header(junk, "x-spam"), ["Yes"]);
    });

    test("mail an outsider sends to an alias of A that forwards to B carries a valid ARC set (arc=pass at B)", async () => {
        const subject = uniqueSubject("forwarded");
        const r = fromOutsider(A, "someone@elsewhere.test", "fwd@a.test", { subject });
        assert.equal(r.status, 0, r.transcript);
        const message = await fetch(B, bob, subject);
        assert.ok(
            header(message, "arc-seal").some(s => /d=a\.test/.test(s)),
            `no ARC-Seal of a.test:\n${message.split(/\r?\n\r?\n/)[0]}`,
        );
        assert.match(resultsAtB(message), /arc=pass/);
    });

    test("mail from B's mynetworks to its own mailbox gets no ARC seal: it is ours, not received from elsewhere", async () => {
        // The control: an outsider's message to the same mailbox is sealed by B.
        const outside = uniqueSubject("sealed");
        assert.equal(fromOutsider(B, "someone@elsewhere.test", bob.address, { subject: outside }).status, 0);
        assert.ok(
            header(await fetch(B, bob, outside), "arc-seal").some(s => /d=b\.test/.test(s)),
            "an outsider's message was not sealed by B",
        );
        const subject = uniqueSubject("from mynetworks");
        const r = send(B, { from: "app@elsewhere.test", to: bob.address, subject });
        assert.equal(r.status, 0, r.transcript);
        const message = await fetch(B, bob, subject);
        assert.deepEqual(header(message, "arc-seal"), [], message.split(/\r?\n\r?\n/)[0]);
    });

    test("a vacation reply and a Sieve redirect leaving A are DKIM-signed (dkim=pass at B)", async () => {
        const subject = uniqueSubject("to-away");
        const r = submit(B, bob, { to: away.address, subject });
        assert.equal(r.status, 0, r.transcript);
        const reply = await fetch(B, bob, "Out of office");
        assert.match(resultsAtB(reply), /dkim=pass header\.d=a\.test header\.s=mail-rsa/);
        assert.match(resultsAtB(reply), /dkim=pass header\.d=a\.test header\.s=mail-ed25519/);

        const redirected = uniqueSubject("redirected");
        const s = fromOutsider(A, "someone@elsewhere.test", redir.address, { subject: redirected });
        assert.equal(s.status, 0, s.transcript);
        const copy = await fetch(B, bob, redirected);
        assert.match(resultsAtB(copy), /dkim=pass header\.d=a\.test/);
    });

    test("rspamd keeps its state in Valkey, on a volume that outlives the containers", () => {
        const keys = spawnSync(
            "docker",
            ["exec", `${B.prefix}-valkey`, "valkey-cli", "-s", "/run/valkey/valkey.sock", "dbsize"],
            { encoding: "utf8" },
        );
        assert.equal(keys.status, 0, keys.stderr);
        assert.ok(Number(keys.stdout.trim()) > 0, `Valkey holds ${keys.stdout.trim()} keys after the scans`);
        const mounts = spawnSync(
            "docker",
            ["inspect", "-f", "{{range .Mounts}}{{.Name}}={{.Destination}} {{end}}", `${B.prefix}-valkey`],
            { encoding: "utf8" },
        ).stdout;
        assert.match(mounts, new RegExp(`${B.prefix}-valkey-data=/var/lib/valkey`));
    });

    test("a spam-filter change reaches the running rspamd by a reload: no container replaced, the new score in force", async () => {
        const changed = {
            ...configB,
            "mailserver:spamFilter": {
                nameservers: [`${DNS.address}:${DNS.port}`],
                addHeaderScore: 7,
                rejectScore: 14,
            },
        };
        const before = spawnSync("docker", ["inspect", "-f", "{{.Id}}", `${B.prefix}-rspamd`], {
            encoding: "utf8",
        }).stdout.trim();
        const result = deploy(changed);
        assert.ok(!result.replaced.some(n => /-(rspamd|valkey|postfix)$/.test(n)), result.replaced.join(", "));
        const after = spawnSync("docker", ["inspect", "-f", "{{.Id}}", `${B.prefix}-rspamd`], {
            encoding: "utf8",
        }).stdout.trim();
        assert.equal(after, before, "the rspamd container was replaced");
        // The running workers' reject threshold, as a scan reports it ("Score: 0.00 / 14.00").
        const scan = () =>
            spawnSync(
                "docker",
                [
                    "exec",
                    "-i",
                    `${B.prefix}-rspamd`,
                    "rspamc",
                    "-h",
                    "/run/rspamd/normal.sock",
                    "--header",
                    "Settings={ symbols_enabled = [] }",
                    "symbols",
                ],
                { encoding: "utf8", input: "Subject: probe\r\n\r\nprobe\r\n" },
            ).stdout;
        const deadline = Date.now() + 60_000;
        let report = scan();
        while (!/\/ 14\.00/.test(report) && Date.now() < deadline) {
            await new Promise(r => setTimeout(r, 1000));
            report = scan();
        }
        assert.match(report, /Score: [-0-9.]+ \/ 14\.00/);
        const dumped = spawnSync("docker", ["exec", `${B.prefix}-rspamd`, "rspamadm", "configdump", "actions"], {
            encoding: "utf8",
        }).stdout;
        assert.match(dumped, /add_header = 7/);
        // And mail still flows through the reloaded milter.
        const subject = uniqueSubject("after-reload");
        const r = fromOutsider(B, "someone@elsewhere.test", bob.address, { subject });
        assert.equal(r.status, 0, r.transcript);
        await fetch(B, bob, subject);
    });
});
