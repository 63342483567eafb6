import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
    dovecotUsersFile,
    JUNK_SIEVE,
    JUNK_SIEVE_PATH,
    renderDovecotConf,
    renderDovecotFiles,
    renderDovecotUsers,
} from "../../components/render/dovecot";
import { renderManifest } from "../../components/render/manifest";
import { hashPassword } from "../../components/model/password";
import { renderMainCf, renderPostfixFiles } from "../../components/render/postfix";
import {
    renderPamSmtp,
    renderSaslauthdFiles,
    renderSaslauthdPasswd,
    saslauthdPasswdFile,
} from "../../components/render/saslauthd";
import { Credential, LMTP_CONCURRENCY, LMTP_USER_CONCURRENCY, RenderedFile } from "../../components/model/spec";
import { DovecotSetting, readDovecotConf } from "../../policy/parse";
import { contentLines, dovecotSpec, exampleCom, exampleOrg, internetSpec, parseMainCf } from "./fixtures";

// Known passwords, so the tests can search every rendered file for them.
const passwords: Record<string, string> = {
    "alice@example.com": "Alice-Plaintext-Pass-01",
    "bob@example.com": "bob plaintext passphrase 02",
    "carol@example.com": "carol:colon$dollar-03",
    "dave@example.org": "DavePlaintextPassword04",
};
const credentials: Credential[] = Object.entries(passwords).map(([address, pw]) => ({
    address,
    hash: hashPassword(address, pw),
}));
const domains = () => [exampleCom(), exampleOrg()];
const HASH = String.raw`\$6\$rounds=50000\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}`;

/** dovecot.conf's settings, read by the policy pack's parser; a line it cannot read fails the test. */
function dovecotSettings(conf: string): DovecotSetting[] {
    const parsed = readDovecotConf(conf);
    assert.deepEqual(parsed.errors, [], "dovecot.conf has lines the parser cannot read");
    return parsed.settings;
}

function listenerPort(conf: string, listener: string): number {
    const port = dovecotSettings(conf).find(
        s => s.key === "port" && s.sections[s.sections.length - 1] === `inet_listener ${listener}`,
    );
    assert.ok(port, `no inet_listener ${listener} with a port`);
    return Number(port.value);
}

function protocols(conf: string): string[] {
    const m = topLevel(conf).get("protocols");
    assert.ok(m !== undefined, "no protocols line");
    return m.split(/\s+/).filter(Boolean);
}

/** Top-level "key = value" settings (outside any section), each key once. */
function topLevel(conf: string): Map<string, string> {
    const map = new Map<string, string>();
    for (const s of dovecotSettings(conf).filter(x => x.sections.length === 0)) {
        assert.ok(!map.has(s.key), `dovecot.conf sets ${s.key} twice at top level`);
        map.set(s.key, s.value);
    }
    return map;
}

describe("dovecot.conf", () => {
    const conf = renderDovecotConf(dovecotSpec());
    const settings = topLevel(conf);

    test("is deterministic", () => {
        assert.equal(renderDovecotConf(dovecotSpec()), conf);
        assert.deepEqual(renderDovecotFiles(dovecotSpec()), renderDovecotFiles(dovecotSpec()));
        assert.equal(renderDovecotFiles(dovecotSpec())[0].content, conf);
    });

    test("LMTP: Dovecot admits more deliveries to one mailbox at once than Postfix makes to the socket", () => {
        const postfix = parseMainCf(renderMainCf(internetSpec())).values;
        assert.equal(settings.get("lmtp_user_concurrency_limit"), String(LMTP_USER_CONCURRENCY));
        assert.ok(LMTP_USER_CONCURRENCY > LMTP_CONCURRENCY, "Dovecot admits more than Postfix ever sends");
        assert.equal(postfix.get("lmtp_destination_concurrency_limit"), String(LMTP_CONCURRENCY));
        assert.equal(postfix.get("lmtp_connection_cache_on_demand"), "no");
    });

    test("Dovecot 2.4 syntax, TLS required, TLS 1.2+, no cleartext auth", () => {
        assert.equal(settings.get("dovecot_config_version"), "2.4.0");
        assert.match(
            conf.split("\n").filter(l => !l.startsWith("#"))[0],
            /^dovecot_config_version = 2\.4\.0$/,
            "dovecot_config_version must be the first setting",
        );
        assert.equal(settings.get("ssl"), "required");
        assert.equal(settings.get("ssl_min_protocol"), "TLSv1.2");
        assert.equal(settings.get("auth_allow_cleartext"), "no");
        assert.equal(settings.get("hostname"), "mail.example.com");
        assert.equal(settings.get("recipient_delimiter"), "+");
    });

    test("listener ports come from the spec", () => {
        assert.equal(listenerPort(conf, "imap"), 1143);
        assert.equal(listenerPort(conf, "imaps"), 1993);
        assert.equal(listenerPort(conf, "sieve"), 14190);
        const d = renderDovecotConf(dovecotSpec({ imap: 143, imaps: 993, managesieve: 4190 }));
        assert.equal(listenerPort(d, "imap"), 143);
        assert.equal(listenerPort(d, "imaps"), 993);
        assert.equal(listenerPort(d, "sieve"), 4190);
    });

    test("pop3 off: port 0 and not in protocols", () => {
        assert.equal(listenerPort(conf, "pop3"), 0);
        assert.equal(listenerPort(conf, "pop3s"), 0);
        assert.ok(!protocols(conf).includes("pop3"));
        assert.deepEqual([...protocols(conf)].sort(), ["imap", "lmtp", "sieve"]);
    });

    test("pop3 on: its port, and pop3 in protocols", () => {
        const on = renderDovecotConf(dovecotSpec({ pop3: 1110 }));
        assert.equal(listenerPort(on, "pop3"), 1110);
        assert.ok(protocols(on).includes("pop3"));
        const onlyPop3s = renderDovecotConf(dovecotSpec({ pop3s: 1995 }));
        assert.equal(listenerPort(onlyPop3s, "pop3s"), 1995);
        assert.ok(protocols(onlyPop3s).includes("pop3"));
    });

    test("special-use folders Drafts, Sent, Trash and Junk are auto-subscribed", () => {
        for (const folder of ["Drafts", "Sent", "Trash", "Junk"]) {
            const m = new RegExp(String.raw`mailbox ${folder} \{([^}]*)\}`).exec(conf);
            assert.ok(m, `no mailbox ${folder}`);
            assert.match(m[1], new RegExp(String.raw`special_use = \\${folder}\b`), folder);
            assert.match(m[1], /auto = subscribe/, folder);
        }
    });

    test("vacation limits come from the spec", () => {
        const s = dovecotSpec();
        s.vacation = { minPeriod: "2h", defaultPeriod: "3d", maxPeriod: "60d" };
        const t = topLevel(renderDovecotConf(s));
        assert.equal(t.get("sieve_vacation_min_period"), "2h");
        assert.equal(t.get("sieve_vacation_default_period"), "3d");
        assert.equal(t.get("sieve_vacation_max_period"), "60d");
    });

    test("spam filter on: rspamd's X-Spam goes to Junk in a global script that runs before the personal one", () => {
        assert.equal(JUNK_SIEVE_PATH, "sieve-global/junk.sieve");
        const junk = conf.indexOf("sieve_script junk {\n  type = before\n  driver = file\n");
        assert.ok(junk >= 0, "a junk script of type before");
        assert.ok(junk < conf.indexOf("sieve_script personal {"), "junk comes before the personal script");
        assert.match(conf, /^ {2}path = \/config\/current\/sieve-global\/junk\.sieve$/m);
        const file = renderDovecotFiles(dovecotSpec()).find(f => f.path === JUNK_SIEVE_PATH);
        assert.deepEqual(file, {
            path: JUNK_SIEVE_PATH,
            content: JUNK_SIEVE,
            mode: "0644",
            owner: "root",
            group: "root",
        });
        assert.match(
            JUNK_SIEVE,
            /^require \["fileinto"\];\nif header :is "X-Spam" "Yes" \{\n {2}fileinto "Junk";\n {2}stop;\n\}\n$/m,
        );
        // Spam filter off: neither the script nor its storage.
        const off = { ...dovecotSpec(), junkSpam: false };
        assert.doesNotMatch(renderDovecotConf(off), /sieve_script junk|sieve-global/);
        assert.equal(
            renderDovecotFiles(off).find(f => f.path === JUNK_SIEVE_PATH),
            undefined,
        );
    });

    test("a Sieve redirect leaves with the mailbox as envelope sender (signed, SPF-aligned, bounces to the mailbox)", () => {
        assert.equal(settings.get("sieve_redirect_envelope_from"), "recipient");
    });

    test("Postfix's SMTP AUTH: an auth listener on the socket volume Postfix mounts too", () => {
        const listener = dovecotSettings(conf).filter(
            x => x.sections.join(" > ") === "service auth > unix_listener /run/lmtp/auth",
        );
        assert.deepEqual(
            listener.map(x => `${x.key} = ${x.value}`),
            ["mode = 0666"],
        );
    });

    test("brute force: the auth policy asks the service on its socket, with the thresholds and exemptions as attributes", () => {
        const withPolicy = renderDovecotConf({
            ...dovecotSpec(),
            bruteForce: {
                maxFailures: 4,
                maxLoginFailures: 12,
                findTime: "15m",
                banTime: "2h",
                exempt: ["127.0.0.0/8", "::1/128"],
                exemptGateway: true,
            },
        });
        const top = topLevel(withPolicy);
        assert.equal(top.get("auth_policy_server_url"), "http://authpolicy/");
        assert.ok(top.get("auth_policy_hash_nonce"), "Dovecot requires a nonce");
        assert.equal(top.get("auth_policy_check_after_auth"), "no");
        const inPolicy = (section: string) =>
            Object.fromEntries(
                dovecotSettings(withPolicy)
                    .filter(x => x.sections.join(" > ") === section)
                    .map(x => [x.key, x.value]),
            );
        assert.deepEqual(inPolicy("auth_policy"), { http_client_proxy_socket_path: "/run/authpolicy/policy.sock" });
        assert.deepEqual(inPolicy("auth_policy > request_attributes"), {
            max_failures: "4",
            max_login_failures: "12",
            find_seconds: "900",
            ban_seconds: "7200",
            exempt: "127.0.0.0/8 ::1/128 gateway",
        });
        // Dovecot's own per-address penalty is off (mode 0: the auth process cannot reach it).
        assert.deepEqual(inPolicy("service anvil > unix_listener anvil-auth-penalty"), { mode: "0" });
        // Off: no policy at all (the auth listener for Postfix stays).
        assert.equal(topLevel(conf).get("auth_policy_server_url"), undefined);
        assert.doesNotMatch(conf, /auth_policy|anvil-auth-penalty/);
    });

    test("braces are balanced", () => {
        let depth = 0;
        for (const ch of conf) {
            if (ch === "{") depth++;
            if (ch === "}") depth--;
            assert.ok(depth >= 0);
        }
        assert.equal(depth, 0);
    });
});

describe("users and passwd files", () => {
    const users = renderDovecotUsers(credentials, domains());
    const passwd = renderSaslauthdPasswd(credentials);

    test("are deterministic", () => {
        assert.equal(
            renderDovecotUsers(
                credentials.map(c => ({ ...c })),
                domains(),
            ),
            users,
        );
        assert.equal(renderSaslauthdPasswd(credentials.map(c => ({ ...c }))), passwd);
        assert.equal(renderPamSmtp(), renderPamSmtp());
    });

    test("Dovecot users: address:{SHA512-CRYPT}$6$...:::::: with a quota where one is set", () => {
        const lines = contentLines(users);
        assert.equal(lines.length, credentials.length);
        const byAddress = new Map(lines.map(l => [l.split(":")[0], l]));
        for (const c of credentials) {
            const line = byAddress.get(c.address);
            assert.ok(line, `${c.address} missing`);
            assert.match(
                line,
                new RegExp(String.raw`^${c.address.replace(/\./g, "\\.")}:\{SHA512-CRYPT\}${HASH}::::::`),
            );
            assert.ok(line.startsWith(`${c.address}:{SHA512-CRYPT}${c.hash}::::::`));
            // user:password:uid:gid:gecos:home:shell:extra_fields -> 7 colons before the extra fields
            assert.equal(line.split(":").length, 8, line);
        }
        assert.equal(byAddress.get("alice@example.com")!.split(":")[7], "userdb_quota_storage_size=2G");
        assert.equal(byAddress.get("carol@example.com")!.split(":")[7], "userdb_quota_storage_size=500M");
        assert.equal(byAddress.get("bob@example.com")!.split(":")[7], "");
        assert.equal(byAddress.get("dave@example.org")!.split(":")[7], "");
    });

    test("saslauthd passwd: address:$6$... (no scheme prefix)", () => {
        const lines = contentLines(passwd);
        assert.equal(lines.length, credentials.length);
        for (const [i, c] of credentials.entries()) {
            assert.equal(lines[i], `${c.address}:${c.hash}`);
            assert.match(lines[i], new RegExp(String.raw`^[^:]+:${HASH}$`));
        }
    });

    test("PAM service reads the passwd file of the config volume", () => {
        assert.match(renderPamSmtp(), /^auth\s+required\s+pam_pwdfile\.so\s+pwdfile=\/config\/current\/passwd$/m);
    });

    test("hash files are not world-readable", () => {
        assert.equal(dovecotUsersFile(users).mode, "0640");
        assert.equal(dovecotUsersFile(users).group, "dovecot");
        assert.equal(saslauthdPasswdFile(passwd).mode, "0600");
    });
});

describe("all rendered files", () => {
    const all = (): RenderedFile[] => [
        ...renderPostfixFiles(internetSpec()),
        ...renderDovecotFiles(dovecotSpec()),
        dovecotUsersFile(renderDovecotUsers(credentials, domains())),
        ...renderSaslauthdFiles(),
        saslauthdPasswdFile(renderSaslauthdPasswd(credentials)),
    ];

    test("manifest is deterministic and independent of file order", () => {
        const files = all();
        const manifest = renderManifest(files, ["vmailbox", "virtual"], ["aliases"]);
        assert.equal(renderManifest(all(), ["vmailbox", "virtual"], ["aliases"]), manifest);
        assert.equal(renderManifest([...files].reverse(), ["vmailbox", "virtual"], ["aliases"]), manifest);
        const lines = contentLines(manifest);
        assert.equal(lines.filter(l => l.startsWith("file ")).length, files.length);
        assert.ok(lines.includes("file 0640 root dovecot users"));
        assert.ok(lines.includes("file 0600 root root passwd"));
        assert.ok(lines.includes("postmap vmailbox") && lines.includes("postalias aliases"));
    });

    test("no plaintext password appears in any rendered file", () => {
        const files = all();
        files.push({ path: "manifest", content: renderManifest(files), mode: "0644", owner: "root", group: "root" });
        for (const f of files) {
            for (const [address, pw] of Object.entries(passwords)) {
                assert.ok(!f.content.includes(pw), `${f.path} contains the password of ${address}`);
            }
        }
        // The search itself works: the hashes are there.
        const users = files.find(f => f.path === "users")!.content;
        for (const c of credentials) assert.ok(users.includes(c.hash));
    });
});
