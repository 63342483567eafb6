// The rspamd renderer (components/render/rspamd.ts): rspamd's local.d/override.d files from an
// RspamdSpec (trusted networks, resolvers, scores, greylisting, blocklists), the Lua conditions
// that pick DKIM and ARC keys, the settings that exempt our own mail from scoring, and the form
// of the DKIM key files rspamd loads.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import {
    dkimKeyPath,
    FROM_OWNER_SYMBOL,
    OWNED_FROM_VARIABLE,
    RSPAMD_MILTER_SOCKET,
    rspamdDkimKey,
    RspamdSpec,
    SIEVE_MTA_TAG,
    VALKEY_SOCKET_DIR,
} from "../../components/render/rspamdShared";
import { renderRspamdFiles } from "../../components/render/rspamd";
import { rspamdSpec } from "../../components/services/rspamd";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import { validateRelayhost } from "../../components/options/relayhost";
import { Validator } from "../../components/model/validator";

function spec(overrides: Partial<RspamdSpec> = {}): RspamdSpec {
    return {
        trustedNetworks: ["127.0.0.0/8", "::1/128", "192.0.2.0/24", "198.51.100.7"],
        nameservers: [],
        dnsTimeout: "1s",
        dnsRetransmits: 5,
        scanProcesses: 2,
        dnsLookups: true,
        rejectScore: 15,
        addHeaderScore: 6,
        outboundRejectScore: 10,
        messagesPerHour: 100,
        recipientsPerHour: 300,
        greylisting: false,
        greylistScore: 4,
        dnsbl: false,
        signing: [
            {
                domain: "example.com",
                keys: [
                    { selector: "mail-rsa", algorithm: "rsa" },
                    { selector: "mail-ed25519", algorithm: "ed25519" },
                ],
            },
            {
                domain: "example.org",
                keys: [
                    { selector: "2026-rsa", algorithm: "rsa" },
                    { selector: "2026-ed25519", algorithm: "ed25519" },
                ],
            },
        ],
        recipientDelimiter: "+",
        ...overrides,
    };
}

/** Internet mode: alice owns her address and info@, sales@ belongs to alice and bob. */
const OWNERS: Array<[string, string[]]> = [
    ["alice@example.com", ["alice@example.com"]],
    ["info@example.com", ["alice@example.com"]],
    ["bob@example.com", ["bob@example.com"]],
    ["sales@example.com", ["alice@example.com", "bob@example.com"]],
];
const internet = (overrides: Partial<RspamdSpec> = {}) => spec({ senderOwners: OWNERS, ...overrides });

/** The rendered files by path. */
function files(s: RspamdSpec = spec()): Map<string, string> {
    return new Map(renderRspamdFiles(s).map(f => [f.path, f.content]));
}
const file = (path: string, s?: RspamdSpec) => {
    const content = files(s).get(path);
    assert.ok(content !== undefined, `${path} is rendered`);
    return content;
};
/** The Lua chunk between "sign_condition =<<EOD" and "EOD". */
const condition = (text: string) => {
    const m = /^sign_condition =<<EOD\n([\s\S]*?)\nEOD$/m.exec(text);
    assert.ok(m, "a sign_condition heredoc");
    return m[1];
};

describe("rspamd files", () => {
    test("deterministic: the same spec renders the same files, in the same order, root-owned 0644", () => {
        const a = renderRspamdFiles(spec());
        assert.deepEqual(renderRspamdFiles(spec()), a);
        assert.deepEqual(
            a.map(f => f.path),
            [
                "override.d/logging.inc",
                "override.d/options.inc",
                "override.d/worker-proxy.inc",
                "override.d/worker-normal.inc",
                "override.d/worker-controller.inc",
                "local.d/redis.conf",
                "local.d/actions.conf",
                "local.d/greylist.conf",
                "local.d/rbl.conf",
                "local.d/spf.conf",
                "local.d/dkim.conf",
                "local.d/dmarc.conf",
                "local.d/milter_headers.conf",
                "local.d/settings.conf",
                "local.d/ratelimit.conf",
                "local.d/dkim_signing.conf",
                "local.d/arc.conf",
            ],
        );
        for (const f of a) {
            assert.deepEqual([f.mode, f.owner, f.group], ["0644", "root", "root"], f.path);
            assert.match(f.content, /^# Rendered by the mailserver package \(components\/render\/rspamd\.ts\)/, f.path);
            assert.ok(f.content.endsWith("\n"), `${f.path} ends with a newline`);
        }
    });

    test("options.inc: local_addrs is exactly the trusted networks; the resolver's timeout, retransmits and nameservers", () => {
        const options = file("override.d/options.inc");
        assert.match(
            options,
            /^local_addrs = \["127\.0\.0\.0\/8", "::1\/128", "192\.0\.2\.0\/24", "198\.51\.100\.7"\];$/m,
        );
        // rspamd's own defaults, stated; no nameserver: the container's /etc/resolv.conf.
        assert.ok(options.endsWith("dns {\n  timeout = 1s;\n  retransmits = 5;\n  sockets = 16;\n}\n"), options);
        assert.doesNotMatch(options, /nameserver/);
        assert.match(file("override.d/options.inc", spec({ trustedNetworks: [] })), /^local_addrs = \[\];$/m);
        const withDns = file(
            "override.d/options.inc",
            spec({ nameservers: ["192.0.2.53", "[2001:db8::53]:5353"], dnsTimeout: "500ms", dnsRetransmits: 2 }),
        );
        assert.ok(
            withDns.endsWith(
                'dns {\n  timeout = 500ms;\n  retransmits = 2;\n  sockets = 16;\n  nameserver = ["192.0.2.53", "[2001:db8::53]:5353"];\n}\n',
            ),
            withDns,
        );
        // The rest does not depend on the resolver.
        assert.equal(withDns.replace(/dns \{[\s\S]*\}\n$/, ""), options.replace(/dns \{[\s\S]*\}\n$/, ""));
    });

    test('dns "none": inbound mail is checked without the checks that ask DNS; fuzzy_check is off; signing rules unchanged', () => {
        const on = files();
        const off = files(spec({ dnsLookups: false }));
        assert.equal(on.get("local.d/fuzzy_check.conf"), undefined);
        assert.match(off.get("local.d/fuzzy_check.conf")!, /^enabled = false;$/m);
        const settings = off.get("local.d/settings.conf")!;
        // The rule for everything that is not our own mail (authenticated, trusted and sieve rank higher).
        const rule = /\ndnsless \{\n([\s\S]*?)\n\}\n/.exec(settings);
        assert.ok(rule, settings);
        assert.match(rule[1], /^ {2}priority = low;$/m);
        assert.match(rule[1], /^ {2}authenticated = yes;\n {2}inverse = true;$/m);
        assert.match(
            rule[1],
            /symbols_disabled = \["RDNS_CHECK", "HFILTER_CHECK", "ASN_CHECK", "SPF_CHECK", "DKIM_CHECK", "ARC_CHECK", "DMARC_CHECK"\];/,
        );
        // Our own scored mail (logins, mynetworks) skips them too; apart from that the rules are unchanged.
        const outbound = /symbols_disabled = (\[.*\]);/g;
        const own = [...settings.replace(/\n# dns "none"[\s\S]*$/, "").matchAll(outbound)].map(m => m[1]);
        assert.deepEqual(own, [
            '["SPF_CHECK", "DKIM_CHECK", "DMARC_CHECK", "ARC_CHECK", "RDNS_CHECK", "HFILTER_CHECK", "ASN_CHECK"]',
            '["SPF_CHECK", "DKIM_CHECK", "DMARC_CHECK", "ARC_CHECK", "RDNS_CHECK", "HFILTER_CHECK", "ASN_CHECK"]',
        ]);
        const note = /\n {4}# dns "none": the other checks.*/g;
        assert.equal(
            settings
                .replace(/\n# dns "none"[\s\S]*$/, "")
                .replace(note, "")
                .replace(outbound, "symbols_disabled = X;"),
            on.get("local.d/settings.conf")!.replace(outbound, "symbols_disabled = X;"),
        );
        assert.doesNotMatch(on.get("local.d/settings.conf")!, /dnsless/);
        // Nothing else changes: signing, scores and the milter stay as they are.
        for (const [path, content] of on)
            if (path !== "local.d/settings.conf") assert.equal(off.get(path), content, path);
    });

    test("actions.conf: the scores, and greylist null when greylisting is off", () => {
        assert.match(file("local.d/actions.conf"), /\nreject = 15;\nadd_header = 6;\ngreylist = null;\n$/);
        assert.match(
            file(
                "local.d/actions.conf",
                spec({ rejectScore: 20, addHeaderScore: 9, greylisting: true, greylistScore: 3 }),
            ),
            /\nreject = 20;\nadd_header = 9;\ngreylist = 3;\n$/,
        );
    });

    test("greylist.conf and rbl.conf follow greylisting and dnsbl", () => {
        for (const on of [false, true]) {
            assert.match(
                file("local.d/greylist.conf", spec({ greylisting: on })),
                new RegExp(`^enabled = ${on};$`, "m"),
            );
            assert.match(file("local.d/rbl.conf", spec({ dnsbl: on })), new RegExp(`^enabled = ${on};$`, "m"));
        }
        // Each file switches only its own module.
        assert.match(file("local.d/rbl.conf", spec({ greylisting: true })), /^enabled = false;$/m);
        assert.match(file("local.d/greylist.conf", spec({ dnsbl: true })), /^enabled = false;$/m);
    });

    test("the milter on the socket Postfix shares, Valkey on its socket, no TCP listener", () => {
        const proxy = file("override.d/worker-proxy.inc");
        assert.match(proxy, new RegExp(`^bind_socket = "${RSPAMD_MILTER_SOCKET} mode=0666";$`, "m"));
        assert.equal(RSPAMD_MILTER_SOCKET, "/run/rspamd-milter/milter.sock");
        assert.match(proxy, /^milter = yes;$/m);
        assert.match(proxy, /^reject_message = "5\.7\.1 Message rejected as spam";$/m);
        // Scans run in the milter processes themselves: as many as scanProcesses says.
        assert.match(proxy, /^ {2}self_scan = yes;$/m);
        assert.match(proxy, /^count = 2;$/m);
        assert.match(file("override.d/worker-proxy.inc", spec({ scanProcesses: 4 })), /^count = 4;$/m);
        assert.match(file("local.d/redis.conf"), new RegExp(`^servers = "${VALKEY_SOCKET_DIR}/valkey\\.sock";$`, "m"));
        for (const [path, text] of files())
            assert.doesNotMatch(text, /bind_socket = "?(\*|localhost|[0-9.]+):\d+/, `${path}: a TCP socket`);
    });

    test("SPF, DKIM, DMARC and ARC also check local clients; DMARC's reject and quarantine are acted on", () => {
        for (const m of ["spf", "dkim", "dmarc", "arc"])
            assert.match(file(`local.d/${m}.conf`), /^check_local = true;$/m);
        assert.match(
            file("local.d/dmarc.conf"),
            /actions \{\n {2}quarantine = "add header";\n {2}reject = "reject";\n\}/,
        );
    });
});

describe("DKIM signing and ARC sealing", () => {
    test("dkim_signing.conf: each domain's selectors with their key paths under /config/current/dkim", () => {
        const text = file("local.d/dkim_signing.conf");
        assert.match(text, /^enabled = true;$/m);
        assert.match(text, /^allow_envfrom_empty = true;$/m);
        const lua = condition(text);
        assert.match(lua, /^return function\(task\)$/m);
        assert.ok(lua.endsWith("\nend"));
        const keys = [...lua.matchAll(/\{ selector = "([^"]+)", key = "([^"]+)" \}/g)].map(m => [m[1], m[2]]);
        assert.deepEqual(keys, [
            ["mail-rsa", "/config/current/dkim/example.com.mail-rsa.key"],
            ["mail-ed25519", "/config/current/dkim/example.com.mail-ed25519.key"],
            ["2026-rsa", "/config/current/dkim/example.org.2026-rsa.key"],
            ["2026-ed25519", "/config/current/dkim/example.org.2026-ed25519.key"],
        ]);
        assert.match(lua, /^ {4}\["example\.com"\] = \{\n {6}\{ selector = "mail-rsa"/m);
        assert.match(lua, /^ {4}\["example\.org"\] = \{\n {6}\{ selector = "2026-rsa"/m);
        assert.equal(dkimKeyPath("example.com", "mail-rsa"), "dkim/example.com.mail-rsa.key");
    });

    test("the condition signs only our own mail: Sieve's reinjected mail first, then logins, then mynetworks", () => {
        const lua = condition(file("local.d/dkim_signing.conf", internet()));
        assert.match(lua, new RegExp(`if tag ~= nil and tostring\\(tag\\) == "${SIEVE_MTA_TAG}" then`));
        assert.match(lua, /local tag = task:get_request_header\('MTA-Name'\)/);
        // Sieve: a null envelope (vacation, rejection) signs for the From domain; a redirect for
        // the mailbox's domain, and only when the From header is not one of ours.
        assert.match(
            lua,
            /if edom == nil then\n {6}domain = hdom\n {4}elseif not \(hdom and keys\[hdom\]\) then\n {6}domain = edom\n {4}end/,
        );
        // A login only with the ownership check's verdict; anyone else only from mynetworks.
        assert.match(
            lua,
            new RegExp(
                `if task:get_user\\(\\) ~= nil then\\n.*\\n {4}if task:get_mempool\\(\\):get_variable\\("${OWNED_FROM_VARIABLE}"\\) == nil then return false end\\n {4}elseif not trusted\\(task:get_from_ip\\(\\)\\) then\\n {6}return false`,
            ),
        );
        assert.match(lua, /if edom == nil or edom == hdom then domain = hdom end/);
        assert.match(lua, /if not domain or not keys\[domain\] then return false end/);
        // Relay mode: its users sign without an ownership verdict (they may send as anyone).
        const relay = condition(file("local.d/dkim_signing.conf"));
        assert.doesNotMatch(relay, new RegExp(OWNED_FROM_VARIABLE));
        assert.match(
            relay,
            /if task:get_user\(\) ~= nil then\n {4}-- Relay mode: its users may send as any sender\.\n {4}elseif not trusted/,
        );
        // mynetworks as { address, prefix }: a bare address is a /32 or /128.
        assert.match(
            lua,
            /local networks = \{ \{ "127\.0\.0\.0", 8 \}, \{ "::1", 128 \}, \{ "192\.0\.2\.0", 24 \}, \{ "198\.51\.100\.7", 32 \} \}/,
        );
        assert.match(
            condition(file("local.d/dkim_signing.conf", spec({ trustedNetworks: ["2001:db8::25"] }))),
            /local networks = \{ \{ "2001:db8::25", 128 \} \}/,
        );
        assert.match(
            condition(file("local.d/dkim_signing.conf", spec({ trustedNetworks: [] }))),
            /local networks = \{ {2}\}/,
        );
    });

    test("no signing domain: signing and sealing are off, and no key is named", () => {
        for (const signing of [[], [{ domain: "example.com", keys: [] }]]) {
            const s = spec({ signing });
            for (const path of ["local.d/dkim_signing.conf", "local.d/arc.conf"]) {
                const text = file(path, s);
                assert.match(text, /^enabled = false;$/m, path);
                assert.doesNotMatch(text, /example\.com|\/config\/current\/dkim\//, path);
            }
        }
        // A domain without keys is left out, the others still sign.
        const partial = spec({
            signing: [{ domain: "example.net", keys: [] }, ...spec().signing],
        });
        assert.doesNotMatch(file("local.d/dkim_signing.conf", partial), /example\.net/);
        assert.match(file("local.d/dkim_signing.conf", partial), /^enabled = true;$/m);
    });

    test("arc.conf seals with each domain's RSA selector only", () => {
        const text = file("local.d/arc.conf");
        assert.match(text, /^enabled = true;$/m);
        const lua = condition(text);
        assert.match(
            lua,
            /^ {4}\["example\.com"\] = \{ selector = "mail-rsa", key = "\/config\/current\/dkim\/example\.com\.mail-rsa\.key" \},$/m,
        );
        assert.match(
            lua,
            /^ {4}\["example\.org"\] = \{ selector = "2026-rsa", key = "\/config\/current\/dkim\/example\.org\.2026-rsa\.key" \},$/m,
        );
        assert.doesNotMatch(lua, /ed25519/);
        // Inbound mail only: never what a logged-in user or mynetworks sends; Sieve's mail (from
        // 127.0.0.1 too) is still sealed.
        assert.match(lua, /if task:get_user\(\) ~= nil then return false end/);
        assert.match(
            lua,
            /local networks = \{ \{ "127\.0\.0\.0", 8 \}, \{ "::1", 128 \}, \{ "192\.0\.2\.0", 24 \}, \{ "198\.51\.100\.7", 32 \} \}/,
        );
        assert.match(lua, /^ {2}if not sieve and trusted\(task:get_from_ip\(\)\) then return false end$/m);
        // A domain with only an Ed25519 selector is not sealed.
        const edOnly = spec({ signing: [{ domain: "example.net", keys: [{ selector: "ed", algorithm: "ed25519" }] }] });
        assert.doesNotMatch(condition(file("local.d/arc.conf", edOnly)), /example\.net/);
    });
});

describe("settings.conf: our own mail is signed; logins' and mynetworks' mail is scored against its own threshold", () => {
    const rule = (text: string, name: string) => {
        const m = new RegExp(`^${name} \\{\\n([\\s\\S]*?)\\n\\}$`, "m").exec(text);
        return m?.[1];
    };

    test("authenticated users and mynetworks: every symbol but the sender checks, refused at outboundRejectScore; Sieve's mail unscored", () => {
        const text = file("local.d/settings.conf", spec({ outboundRejectScore: 9 }));
        const authenticated = rule(text, "authenticated");
        const trusted = rule(text, "trusted");
        const sieve = rule(text, "sieve");
        assert.ok(authenticated && trusted && sieve, text);
        assert.match(authenticated, /^ {2}priority = high;\n {2}authenticated = yes;$/m);
        assert.match(trusted, /^ {2}ip = \["127\.0\.0\.0\/8", "::1\/128", "192\.0\.2\.0\/24", "198\.51\.100\.7"\];$/m);
        assert.match(sieve, new RegExp(`^  request_header = \\{ "MTA-Name" = "\\^${SIEVE_MTA_TAG}\\$"; \\}$`, "m"));
        for (const r of [authenticated, trusted]) {
            assert.doesNotMatch(r, /symbols_enabled/);
            assert.match(r, /symbols_disabled = \["SPF_CHECK", "DKIM_CHECK", "DMARC_CHECK", "ARC_CHECK"\];/);
            assert.match(
                r,
                /actions \{ reject = 9; "add header" = null; "rewrite subject" = null; greylist = null; \}/,
            );
        }
        assert.match(sieve, /symbols_enabled = \["DKIM_SIGNED", "ARC_SIGNED"\];/);
        assert.match(
            sieve,
            /actions \{ reject = null; "add header" = null; "rewrite subject" = null; greylist = null; \}/,
        );
    });

    test("ratelimit.conf: per login (the SMTP AUTH user), a message bucket and a recipient bucket of an hour; none at 0", () => {
        const text = file("local.d/ratelimit.conf", spec({ messagesPerHour: 40, recipientsPerHour: 120 }));
        assert.match(text, /^enabled = true;$/m);
        const bucket = (name: string) => new RegExp(`^  ${name} \\{\\n([\\s\\S]*?)\\n  \\}$`, "m").exec(text)?.[1];
        const messages = bucket("login_messages");
        const recipients = bucket("login_recipients");
        assert.ok(messages && recipients, text);
        // One Valkey key per login and bucket: rspamd keys a bucket by its selector's value alone.
        assert.match(messages, /^ {4}selector = "user\.lower;id\('messages'\)";$/m);
        assert.match(recipients, /^ {4}selector = "user\.lower;id\('recipients'\)";$/m);
        assert.match(
            messages,
            /burst = 40;\n\s+rate = "40 \/ 1h";\n\s+skip_recipients = true;\n\s+message = "Too many messages from this login: at most 40 per hour; try again later";/,
        );
        assert.match(
            recipients,
            /burst = 120;\n\s+rate = "120 \/ 1h";\n\s+message = "Too many recipients from this login: at most 120 per hour; try again later";/,
        );
        // No recipient exempts a message (rspamd's default list would: postmaster, mailer-daemon).
        assert.match(text, /^whitelisted_rcpts = \["\\u0001"\];$/m);
        const off = file("local.d/ratelimit.conf", spec({ messagesPerHour: 0, recipientsPerHour: 7 }));
        assert.equal(bucket.call(null, "login_messages"), messages);
        assert.doesNotMatch(off, /login_messages/);
        assert.match(off, /login_recipients/);
        assert.match(
            file("local.d/ratelimit.conf", spec({ messagesPerHour: 0, recipientsPerHour: 0 })),
            /^enabled = false;$/m,
        );
    });

    test("a login's mail keeps the reject action (a disabled one would void the From check's pre-result)", () => {
        const text = file("local.d/settings.conf", internet());
        assert.match(rule(text, "authenticated")!, /actions \{ reject = \d+; /);
    });

    test("no trusted rule without trusted networks", () => {
        const text = file("local.d/settings.conf", spec({ trustedNetworks: [] }));
        assert.equal(rule(text, "trusted"), undefined);
        assert.ok(rule(text, "authenticated") && rule(text, "sieve"));
    });
});

describe("rspamdDkimKey: the key files as rspamd loads them", () => {
    test("RSA: the PEM unchanged, ending with a newline", () => {
        const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
        const pem = privateKey.export({ format: "pem", type: "pkcs1" }).toString();
        assert.ok(pem.endsWith("\n"));
        assert.equal(rspamdDkimKey(pem, "rsa"), pem);
        assert.equal(rspamdDkimKey(pem.trimEnd(), "rsa"), pem);
    });

    test("Ed25519: the base64 of the 32-byte seed, which rebuilds the same key", () => {
        const { privateKey, publicKey } = generateKeyPairSync("ed25519");
        const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
        const out = rspamdDkimKey(pem, "ed25519");
        assert.match(out, /^[A-Za-z0-9+/]{43}=\n$/);
        const seed = Buffer.from(out.trim(), "base64");
        assert.equal(seed.length, 32);
        // PKCS#8 of Ed25519 (RFC 8410): a fixed 16-byte prefix, then the seed.
        const rebuilt = createPrivateKey({
            key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
            format: "der",
            type: "pkcs8",
        });
        const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ format: "der", type: "spki" });
        assert.deepEqual(spki(createPublicKey(rebuilt)), spki(publicKey));
        assert.equal(rspamdDkimKey(pem, "ed25519"), out, "deterministic");
    });

    test("Ed25519: something that is not a private key is refused", () => {
        assert.throws(() =>
            rspamdDkimKey("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", "ed25519"),
        );
    });
});

describe("rspamdSpec: MailServer's settings as rspamd takes them", () => {
    const domain = (args: Record<string, unknown>) => ({
        spec: validateDomain(new Validator("VirtualDomain t"), {
            mailboxes: [{ address: "alice", password: "a-long-enough-password" }],
            ...args,
        }),
    });

    test("mynetworks without Postfix's brackets, the filter's options, one signing entry per domain", () => {
        const settings = validateMailServer(new Validator("MailServer t"), "t", {
            hostname: "mail.example.com",
            networkMode: "host",
            mynetworks: ["127.0.0.0/8", "[::1]/128", "[fd12:3456:789a::]/48", "192.0.2.7/32"],
            domains: [
                domain({ domain: "example.com" }),
                domain({ domain: "example.org", dkimSelector: "s2026" }),
                domain({ domain: "example.net", dkim: false }),
            ],
            spamFilter: { rejectScore: 12, greylisting: true, dnsbl: true, nameservers: ["192.0.2.53"] },
        });
        assert.deepEqual(rspamdSpec(settings), {
            trustedNetworks: ["127.0.0.0/8", "::1/128", "fd12:3456:789a::/48", "192.0.2.7/32"],
            nameservers: ["192.0.2.53"],
            dnsTimeout: "1s",
            dnsRetransmits: 5,
            scanProcesses: 2,
            dnsLookups: true,
            rejectScore: 12,
            addHeaderScore: 6,
            outboundRejectScore: 10,
            messagesPerHour: 100,
            recipientsPerHour: 300,
            greylisting: true,
            greylistScore: 4,
            dnsbl: true,
            signing: [
                {
                    domain: "example.com",
                    keys: [
                        { selector: "mail-rsa", algorithm: "rsa" },
                        { selector: "mail-ed25519", algorithm: "ed25519" },
                    ],
                },
                {
                    domain: "example.org",
                    keys: [
                        { selector: "s2026-rsa", algorithm: "rsa" },
                        { selector: "s2026-ed25519", algorithm: "ed25519" },
                    ],
                },
                { domain: "example.net", keys: [] },
            ],
            senderOwners: ["example.com", "example.org", "example.net"].map(d => [`alice@${d}`, [`alice@${d}`]]),
            recipientDelimiter: "+",
            // reports.dmarc is on by default (test/unit/render-dmarc-reports.test.ts).
            dmarcReporting: {
                email: "noreply-reports@example.com",
                domain: "example.com",
                orgName: "mail.example.com",
                fromName: "mail.example.com",
                smtpHost: "127.0.0.1",
                smtpPort: 25,
                helo: "mail.example.com",
            },
        });
        // The domain with dkim off is named nowhere in the signing files.
        const rendered = files(rspamdSpec(settings));
        assert.doesNotMatch(rendered.get("local.d/dkim_signing.conf")!, /example\.net/);
        assert.match(rendered.get("local.d/dkim_signing.conf")!, /example\.org\.s2026-ed25519\.key/);
    });
});

describe("local.d/rspamd.lua: a login sends only with a From header it owns (internet mode)", () => {
    const lua = () => file("local.d/rspamd.lua", internet());

    test("rendered in internet mode only, after the settings; relay mode has no such rule", () => {
        const paths = renderRspamdFiles(internet()).map(f => f.path);
        assert.equal(paths.indexOf("local.d/rspamd.lua"), paths.indexOf("local.d/settings.conf") + 1);
        assert.equal(files().has("local.d/rspamd.lua"), false);
        assert.match(lua(), /^-- Rendered by the mailserver package \(components\/render\/rspamd\.ts\)/);
    });

    test("the owners table is the one Postfix checks the envelope sender with, each address with its logins", () => {
        const table = /^local owners = \{\n([\s\S]*?)\n\}$/m.exec(lua())?.[1];
        assert.equal(
            table,
            [
                '  ["alice@example.com"] = { "alice@example.com" },',
                '  ["info@example.com"] = { "alice@example.com" },',
                '  ["bob@example.com"] = { "bob@example.com" },',
                '  ["sales@example.com"] = { "alice@example.com", "bob@example.com" },',
            ].join("\n"),
        );
        assert.match(lua(), /^local delimiter = "\+"$/m);
        assert.match(file("local.d/rspamd.lua", internet({ recipientDelimiter: "" })), /^local delimiter = ""$/m);
    });

    test("a prefilter that runs whatever the settings enable, refuses a From the login does not own, and records its verdict", () => {
        const text = lua();
        assert.match(
            text,
            new RegExp(
                `name = "${FROM_OWNER_SYMBOL}",\\n {2}type = "prefilter",\\n(.*\\n){2} {2}priority = 12,\\n.*\\n {2}flags = "explicit_disable",`,
            ),
        );
        assert.match(text, /local login = task:get_user\(\)\n {4}if login == nil then return end/);
        assert.match(text, /task:set_pre_result\("reject", why, "mailserver"\)/);
        assert.match(text, /if #headers ~= 1 then/);
        assert.match(text, /"From header <%s> is not owned by %s", address, login/);
        assert.match(text, new RegExp(`task:get_mempool\\(\\):set_variable\\("${OWNED_FROM_VARIABLE}", login\\)`));
        // user+tag@domain: the owners of user@domain, cut at the first delimiter as Postfix does.
        assert.match(text, /local cut = user and user:find\(delimiter, 1, true\)/);
    });

    test("rspamdSpec: internet mode passes the owners of senderOwners and the delimiter; relay mode no owners", () => {
        const d = {
            spec: validateDomain(new Validator("VirtualDomain t"), {
                domain: "example.com",
                mailboxes: [
                    { address: "alice", password: "a-long-enough-password", aliases: ["info"] },
                    { address: "bob", password: "another-long-password" },
                ],
                aliases: [
                    { address: "sales", targets: ["alice@example.com", "bob@example.com", "x@elsewhere.example"] },
                ],
            }),
        };
        const internetSettings = validateMailServer(new Validator("MailServer t"), "t", {
            hostname: "mail.example.com",
            domains: [d],
            recipientDelimiter: "-",
        });
        const s = rspamdSpec(internetSettings);
        assert.deepEqual(s.senderOwners, OWNERS);
        assert.equal(s.recipientDelimiter, "-");
        const relaySettings = validateMailServer(new Validator("MailServer r"), "r", {
            hostname: "mail.example.com",
            mode: "relay",
            domains: [],
            relayhosts: [{ spec: validateRelayhost(new Validator("Relayhost r"), { host: "smtp.provider.example" }) }],
        });
        assert.equal(rspamdSpec(relaySettings).senderOwners, undefined);
    });
});
