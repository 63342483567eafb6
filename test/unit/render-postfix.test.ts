import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
    NULL_SENDER_REJECT,
    postfixTables,
    REINJECT_SERVICE,
    SUBMISSION_CLEANUP,
    SUBMISSION_HEADER_CHECKS,
} from "../../components/render/postfixShared";
import { renderMainCf, renderPostfixFiles } from "../../components/render/postfix";
import { renderMasterCf } from "../../components/render/postfixMaster";
import {
    renderOwnSenderDomains,
    renderRelayRecipients,
    renderSaslPasswords,
    renderSenderLogins,
    renderSenderRelays,
    renderSubmissionHeaderChecks,
    renderSubmissionSenders,
    renderSystemAliases,
    renderVirtualAliases,
    renderVirtualMailboxes,
} from "../../components/render/postfixTables";
import { PostfixSpec } from "../../components/model/spec";
import { paths } from "../../components/model/paths";
import {
    defaultRelay,
    duplicates,
    internetSpec,
    parseAliases,
    parseMainCf,
    parseMasterCf,
    parseTable,
    relaySpec,
    splitList,
    uniqueMap,
} from "./fixtures";

const renderers: Array<[string, (s: PostfixSpec) => string]> = [
    ["main.cf", renderMainCf],
    ["master.cf", renderMasterCf],
    ["vmailbox", renderVirtualMailboxes],
    ["virtual", renderVirtualAliases],
    ["aliases", renderSystemAliases],
    ["sender_login", renderSenderLogins],
    ["sender_relay", renderSenderRelays],
    ["relay_recipients", renderRelayRecipients],
];

function perSenderSpec(): PostfixSpec {
    return {
        ...internetSpec(),
        relayhosts: [
            defaultRelay({ host: "smtp.provider.example", hasCredentials: false }),
            defaultRelay({
                host: "relay.other.example",
                port: 465,
                senderDomains: ["example.org"],
                hasCredentials: true,
            }),
        ],
    };
}

describe("postfix renderers are deterministic", () => {
    for (const [name, render] of renderers) {
        for (const [mode, build] of [
            ["internet", internetSpec],
            ["relay", () => relaySpec()],
            ["per-sender relays", perSenderSpec],
        ] as const) {
            test(`${name} (${mode}): two renders of equal specs are byte-identical`, () => {
                const a = render(build());
                const b = render(build());
                assert.equal(typeof a, "string");
                assert.ok(a.length > 0);
                assert.equal(a, b);
            });
        }
    }

    test("renderPostfixFiles gives the same paths, modes and contents twice", () => {
        assert.deepEqual(renderPostfixFiles(internetSpec()), renderPostfixFiles(internetSpec()));
    });

    test("renderSaslPasswords is deterministic", () => {
        const entries = [{ nexthop: "[smtp.provider.example]:587", username: "u", password: "relay-secret" }];
        assert.equal(renderSaslPasswords(entries), renderSaslPasswords(entries.map(e => ({ ...e }))));
    });

    test("renderers do not mutate the spec", () => {
        const spec = internetSpec();
        const before = JSON.stringify(spec);
        for (const [, render] of renderers) render(spec);
        assert.equal(JSON.stringify(spec), before);
    });
});

describe("main.cf", () => {
    // Parsed inside each test, so a parse failure fails the test rather than the whole suite.
    const parsed = () => parseMainCf(renderMainCf(internetSpec()));

    test("takes its values from the spec as key = value lines", () => {
        const { values } = parsed();
        assert.equal(values.get("myhostname"), "mail.example.com");
        assert.equal(values.get("mydomain"), "example.com");
        assert.equal(values.get("myorigin"), "example.com");
        assert.deepEqual(splitList(values.get("mydestination")!), ["$myhostname", "localhost"]);
        assert.deepEqual(splitList(values.get("mynetworks")!), ["127.0.0.0/8", "[::1]/128", "10.20.30.0/24"]);
        assert.equal(values.get("message_size_limit"), "31457280");
        assert.equal(values.get("maximal_queue_lifetime"), "3d");
        assert.equal(values.get("bounce_queue_lifetime"), "2d");
        assert.equal(values.get("delay_warning_time"), "6h");
        assert.deepEqual(splitList(values.get("masquerade_domains")!), ["example.com", "example.org"]);
        assert.equal(values.get("disable_vrfy_command"), "yes");
        assert.equal(values.get("recipient_delimiter"), "+");
        assert.equal(values.get("inet_interfaces"), "all");
        assert.equal(values.get("inet_protocols"), "all");
        assert.deepEqual(splitList(values.get("relay_domains")!), ["backup.example.net"]);
        assert.deepEqual(splitList(values.get("virtual_mailbox_domains")!), ["example.com", "example.org"]);
    });

    test("other spec values change the rendered values", () => {
        const other: PostfixSpec = {
            ...internetSpec(),
            hostname: "mx1.example.org",
            disableVrfy: false,
            recipientDelimiter: "-",
            inetInterfaces: ["192.0.2.10", "2001:db8::10"],
            messageSizeLimit: 1000,
            masqueradeDomains: [],
        };
        const o = parseMainCf(renderMainCf(other)).values;
        assert.equal(o.get("myhostname"), "mx1.example.org");
        assert.equal(o.get("disable_vrfy_command"), "no");
        assert.equal(o.get("recipient_delimiter"), "-");
        assert.deepEqual(splitList(o.get("inet_interfaces")!), ["192.0.2.10", "2001:db8::10"]);
        assert.equal(o.get("message_size_limit"), "1000");
        assert.equal(o.get("masquerade_domains"), "");
    });

    test("an empty recipient delimiter renders as an empty value", () => {
        const o = parseMainCf(renderMainCf({ ...internetSpec(), recipientDelimiter: "" })).values;
        assert.equal(o.get("recipient_delimiter"), "");
    });

    test("no key is assigned twice (internet, relay, per-sender relays)", () => {
        const { counts } = parsed();
        for (const s of [
            internetSpec(),
            relaySpec(),
            relaySpec(defaultRelay({ hasCredentials: false })),
            perSenderSpec(),
        ]) {
            assert.deepEqual(duplicates(parseMainCf(renderMainCf(s)).counts), [], `mode ${s.mode}`);
        }
        assert.ok(counts.size > 50, "the parser found the parameters");
    });

    test("AUTH only over TLS, and off globally (master.cf enables it per port)", () => {
        const { values } = parsed();
        assert.equal(values.get("smtpd_tls_auth_only"), "yes");
        assert.equal(values.get("smtpd_sasl_auth_enable"), "no");
        assert.match(values.get("smtpd_sasl_security_options")!, /noanonymous/);
    });

    test("never an open relay: smtpd_relay_restrictions ends with reject_unauth_destination", () => {
        const { values } = parsed();
        const r = splitList(values.get("smtpd_relay_restrictions")!);
        assert.equal(r[r.length - 1], "reject_unauth_destination");
        assert.ok(!r.includes("permit"), "no unconditional permit");
        assert.equal(values.get("allow_percent_hack"), "no");
        assert.equal(values.get("swap_bangpath"), "no");
    });

    test("TLS 1.2 or newer for both server and client side", () => {
        const { values } = parsed();
        for (const key of [
            "smtpd_tls_protocols",
            "smtpd_tls_mandatory_protocols",
            "smtp_tls_protocols",
            "smtp_tls_mandatory_protocols",
        ]) {
            assert.equal(values.get(key), ">=TLSv1.2", key);
        }
        assert.equal(values.get("smtpd_tls_security_level"), "may");
    });

    test("lookup tables are lmdb:, never hash: or btree:", () => {
        const { values } = parsed();
        for (const s of [internetSpec(), relaySpec(), perSenderSpec()]) {
            const text = renderMainCf(s);
            assert.doesNotMatch(text, /\b(hash|btree|dbm|sdbm|cdb):/);
        }
        for (const key of [
            "alias_maps",
            "alias_database",
            "virtual_mailbox_maps",
            "virtual_alias_maps",
            "smtpd_sender_login_maps",
            "relay_recipient_maps",
        ]) {
            assert.match(values.get(key)!, /^lmdb:\/config\/current\/[a-z_]+$/, key);
        }
        assert.equal(values.get("virtual_mailbox_maps"), `lmdb:/config/current/${postfixTables.virtualMailboxes}`);
        assert.equal(values.get("virtual_alias_maps"), `lmdb:/config/current/${postfixTables.virtualAliases}`);
    });

    test("internet mode delivers to Dovecot over LMTP and has no relayhost", () => {
        const { values } = parsed();
        assert.equal(values.get("virtual_transport"), "lmtp:unix:/run/lmtp/lmtp");
        assert.equal(values.get("relayhost"), "");
        // Direct deliveries: DANE (with DNSSEC lookups), MTA-STS through the policy daemon's socketmap.
        assert.equal(values.get("smtp_tls_security_level"), "dane");
        assert.equal(values.get("smtp_dns_support_level"), "dnssec");
        assert.equal(values.get("smtp_tls_policy_maps"), "socketmap:unix:/run/mta-sts/policy.sock:postfix");
        assert.ok(!values.has("smtp_sasl_password_maps"));
        assert.ok(!values.has("smtp_sasl_auth_enable"));
    });

    test("relay_recipient_maps is set only when relay recipients are given", () => {
        const { values } = parsed();
        assert.equal(values.get("relay_recipient_maps"), `lmdb:/config/current/${postfixTables.relayRecipients}`);
        const none = parseMainCf(renderMainCf({ ...internetSpec(), relayRecipients: [] })).values;
        assert.equal(none.get("relay_recipient_maps"), "");
    });

    test("relay mode: no virtual mailboxes, relayhost = [host]:port, TLS level from the relay", () => {
        const r = parseMainCf(renderMainCf(relaySpec(defaultRelay({ port: 465, tlsPolicy: "verify" })))).values;
        assert.ok(!r.has("virtual_mailbox_maps") || r.get("virtual_mailbox_maps") === "");
        assert.equal(r.get("virtual_mailbox_domains"), "");
        assert.equal(r.get("virtual_alias_maps"), "");
        assert.ok(!r.has("virtual_transport"));
        assert.equal(r.get("relayhost"), "[smtp.provider.example]:465");
        assert.equal(r.get("smtp_tls_security_level"), "verify");
        assert.equal(r.get("smtpd_sender_login_maps"), "");
    });

    test("relay with credentials: sasl password map and soft bounce on auth failure", () => {
        const r = parseMainCf(renderMainCf(relaySpec())).values;
        assert.equal(r.get("smtp_sasl_auth_enable"), "yes");
        assert.equal(r.get("smtp_sasl_password_maps"), `lmdb:/config/current/${postfixTables.saslPasswords}`);
        assert.equal(r.get("smtp_sasl_auth_soft_bounce"), "yes");
        assert.match(r.get("smtp_sasl_security_options")!, /noanonymous/);
        assert.ok(!r.has("smtp_sender_dependent_authentication"));
    });

    test("relay without credentials: no SASL client settings", () => {
        const r = parseMainCf(renderMainCf(relaySpec(defaultRelay({ hasCredentials: false })))).values;
        assert.equal(r.get("relayhost"), "[smtp.provider.example]:587");
        for (const key of ["smtp_sasl_auth_enable", "smtp_sasl_password_maps", "smtp_sasl_auth_soft_bounce"])
            assert.ok(!r.has(key), key);
    });

    test("per-sender relays: sender_dependent maps and per-sender authentication", () => {
        const r = parseMainCf(renderMainCf(perSenderSpec())).values;
        assert.equal(r.get("relayhost"), "[smtp.provider.example]:587");
        assert.equal(r.get("sender_dependent_relayhost_maps"), `lmdb:/config/current/${postfixTables.senderRelays}`);
        assert.equal(r.get("smtp_sender_dependent_authentication"), "yes");
        assert.equal(r.get("smtp_sasl_auth_soft_bounce"), "yes");
    });

    test("a credentialed per-sender relay's tlsPolicy reaches Postfix (credentials never over opportunistic TLS)", () => {
        const spec: PostfixSpec = {
            ...internetSpec(),
            relayhosts: [
                defaultRelay({
                    host: "relay.other.example",
                    senderDomains: ["example.org"],
                    tlsPolicy: "verify",
                    hasCredentials: true,
                }),
            ],
        };
        const r = parseMainCf(renderMainCf(spec)).values;
        assert.equal(r.get("smtp_sasl_auth_enable"), "yes");
        const level = r.get("smtp_tls_security_level")!;
        const policyMap = r.get("smtp_tls_policy_maps") ?? "";
        if (policyMap === "") {
            assert.ok(
                !["may", "none"].includes(level),
                `relay credentials may be sent with smtp_tls_security_level = ${level} and no smtp_tls_policy_maps`,
            );
            return;
        }
        // The policy table the map points at gives the relay's next hop its own tlsPolicy.
        // The relays' table comes first: a relay's next hop never reaches the MTA-STS daemon.
        const m = /^lmdb:\/config\/current\/(.+)$/.exec(policyMap.split(/,\s*/)[0]);
        assert.ok(m, `smtp_tls_policy_maps = ${policyMap}`);
        const file = renderPostfixFiles(spec).find(f => f.path === m[1]);
        assert.ok(file, `smtp_tls_policy_maps names ${m[1]}, which is not rendered`);
        const policies = uniqueMap(parseTable(file.content), m[1]);
        assert.equal(policies.get("[relay.other.example]:587"), "verify");
    });
});

describe("spoof protection (port 25)", () => {
    test("internet mode: a sender of our own domains needs a login or mynetworks; bounces pass", () => {
        const { values } = parseMainCf(renderMainCf(internetSpec()));
        assert.equal(
            values.get("smtpd_sender_restrictions"),
            `permit_mynetworks, permit_sasl_authenticated, check_sender_access lmdb:/config/current/${postfixTables.ownSenderDomains}`,
        );
        const table = new Map(parseTable(renderOwnSenderDomains(internetSpec())));
        assert.deepEqual(
            [...table.keys()],
            internetSpec().domains.map(d => d.name),
        );
        for (const [domain, action] of table) {
            // REJECT with an enhanced status code and a text that says what to do instead.
            assert.match(
                action,
                new RegExp(
                    `^REJECT 5\\.7\\.1 Mail from ${domain.replace(/\./g, "\\.")} is accepted only from its authenticated users`,
                ),
            );
        }
        assert.ok(!table.has("<>"), "the null sender (bounces) is never refused");
    });

    test("relay mode has no domains of its own: no sender restriction, an empty table", () => {
        assert.equal(parseMainCf(renderMainCf(relaySpec())).values.has("smtpd_sender_restrictions"), false);
        assert.deepEqual(parseTable(renderOwnSenderDomains(relaySpec())), []);
    });

    test("the submission ports and the reinject socket keep their own sender rules", () => {
        const services = parseMasterCf(renderMasterCf(internetSpec()));
        const opt = (name: string) => services.find(s => s.name === name)!.options.get("smtpd_sender_restrictions");
        // A login sends only as an address it owns, and never with the null sender (which
        // reject_sender_login_mismatch lets pass).
        const own = "reject_sender_login_mismatch,check_sender_access,lmdb:/config/current/submission_senders";
        assert.equal(opt("5870"), own);
        assert.equal(opt("4650"), own);
        // The reinject socket inherits main.cf's, where permit_mynetworks (its own: 127.0.0.1, every
        // unix-socket client) comes first.
        assert.equal(opt(REINJECT_SERVICE), undefined);
        assert.equal(opt("2525"), undefined);
        // Relay mode's users may send as anyone.
        const relay = parseMasterCf(renderMasterCf(relaySpec()));
        assert.equal(relay.find(s => s.name === "587")!.options.get("smtpd_sender_restrictions"), "");
    });

    test("submission_senders refuses the null sender in internet mode (smtpd looks it up as <>); empty in relay mode", () => {
        assert.deepEqual(parseTable(renderSubmissionSenders(internetSpec())), [["<>", NULL_SENDER_REJECT]]);
        assert.match(NULL_SENDER_REJECT, /^REJECT 5\.7\.1 /);
        assert.deepEqual(parseTable(renderSubmissionSenders(relaySpec())), []);
        assert.ok(renderPostfixFiles(internetSpec()).some(f => f.path === "submission_senders"));
    });
});

describe("submission privacy", () => {
    test("587 and 465 use a cleanup service that drops client headers; port 25 and reinject do not", () => {
        for (const build of [internetSpec, () => relaySpec()]) {
            const services = parseMasterCf(renderMasterCf(build()));
            const inet = services.filter(s => s.type === "inet");
            for (const s of inet) {
                const submission = s.options.get("smtpd_sasl_auth_enable") === "yes";
                assert.equal(
                    s.options.get("cleanup_service_name"),
                    submission ? SUBMISSION_CLEANUP : undefined,
                    s.name,
                );
            }
            const cleanup = services.find(s => s.name === SUBMISSION_CLEANUP && s.type === "unix");
            assert.ok(cleanup, "the submission cleanup service");
            assert.equal(cleanup.columns[cleanup.columns.length - 1], "cleanup");
            assert.equal(cleanup.options.get("header_checks"), `regexp:/config/current/${SUBMISSION_HEADER_CHECKS}`);
            // Attached messages (message/rfc822 parts) keep their headers.
            assert.equal(cleanup.options.get("nested_header_checks"), "");
        }
    });

    test("the header checks drop Received, User-Agent, X-Mailer and X-Originating-IP, nothing else", () => {
        const rules = renderSubmissionHeaderChecks()
            .split("\n")
            .filter(l => l && !l.startsWith("#"));
        assert.deepEqual(rules, [
            "/^Received:/ IGNORE",
            "/^User-Agent:/ IGNORE",
            "/^X-Mailer:/ IGNORE",
            "/^X-Originating-IP:/ IGNORE",
        ]);
        const file = renderPostfixFiles(internetSpec()).find(f => f.path === SUBMISSION_HEADER_CHECKS);
        assert.equal(file?.content, renderSubmissionHeaderChecks());
    });
});

describe("milter (rspamd) and the outbound address", () => {
    test("milter on: every smtpd and local submission pass through rspamd's socket; mail waits if it is down", () => {
        const { values, counts } = parseMainCf(renderMainCf(internetSpec()));
        assert.deepEqual(duplicates(counts), []);
        assert.equal(values.get("smtpd_milters"), "unix:/run/rspamd-milter/milter.sock");
        assert.equal(values.get("non_smtpd_milters"), "$smtpd_milters");
        assert.equal(values.get("milter_protocol"), "6");
        assert.equal(values.get("milter_default_action"), "tempfail");
        // The login, so rspamd signs and does not score what users send.
        assert.ok(splitList(values.get("milter_mail_macros")!).includes("{auth_authen}"));
        assert.equal(
            parseMainCf(renderMainCf(relaySpec())).values.get("smtpd_milters"),
            "unix:/run/rspamd-milter/milter.sock",
        );
    });

    test("milter off: no milter setting at all", () => {
        const { values } = parseMainCf(renderMainCf({ ...internetSpec(), milter: false }));
        for (const key of values.keys()) assert.doesNotMatch(key, /milter/, key);
    });

    test("the reinject socket names itself to rspamd (MTA-Name), so Sieve's mail is signed; no other service does", () => {
        const smtpd = parseMasterCf(renderMasterCf(internetSpec())).filter(x => x.columns.at(-1) === "smtpd");
        const named = new Map(smtpd.map(x => [x.name, x.options.get("milter_macro_daemon_name")]));
        assert.equal(named.get(REINJECT_SERVICE), "sieve");
        // Submission says ORIGINATING; port 25 keeps Postfix's default ($myhostname).
        assert.deepEqual(
            [named.get("5870"), named.get("4650"), named.get("2525")],
            ["ORIGINATING", "ORIGINATING", undefined],
        );
        assert.deepEqual(
            [...named].filter(([, v]) => v === "sieve").map(([k]) => k),
            [REINJECT_SERVICE],
        );
    });

    test("outboundAddress: smtp_bind_address for IPv4, smtp_bind_address6 for IPv6, neither by default", () => {
        const get = (outboundAddress?: string) => parseMainCf(renderMainCf({ ...internetSpec(), outboundAddress }));
        const v4 = get("192.0.2.25");
        assert.deepEqual(duplicates(v4.counts), []);
        assert.equal(v4.values.get("smtp_bind_address"), "192.0.2.25");
        assert.equal(v4.values.has("smtp_bind_address6"), false);
        const v6 = get("2001:db8::25");
        assert.equal(v6.values.get("smtp_bind_address6"), "2001:db8::25");
        assert.equal(v6.values.has("smtp_bind_address"), false);
        const none = get(undefined);
        assert.equal(none.values.has("smtp_bind_address"), false);
        assert.equal(none.values.has("smtp_bind_address6"), false);
    });
});

describe("master.cf", () => {
    const services = () => parseMasterCf(renderMasterCf(internetSpec()));
    const byName = (name: string) => {
        const s = services().find(x => x.type === "inet" && x.name === name);
        assert.ok(s, `no inet service ${name}`);
        return s;
    };

    test("the three smtpd ports come from spec.ports, and no other TCP port: Sieve's mail comes over a unix socket", () => {
        const smtpd = services().filter(s => s.type === "inet");
        assert.deepEqual(smtpd.map(s => s.name).sort(), ["2525", "4650", "5870"]);
        for (const s of smtpd) assert.equal(s.columns[s.columns.length - 1], "smtpd");
        const unixSmtpd = services().filter(s => s.type === "unix" && s.columns.at(-1) === "smtpd");
        assert.deepEqual(
            unixSmtpd.map(s => s.name),
            [REINJECT_SERVICE],
        );
        const defaults = parseMasterCf(renderMasterCf(relaySpec()))
            .filter(s => s.type === "inet")
            .map(s => s.name)
            .sort();
        assert.deepEqual(defaults, ["25", "465", "587"]);
    });

    test("the reinject socket relays without AUTH for its clients, whom Postfix sees as 127.0.0.1; relay mode has none", () => {
        const r = services().find(s => s.name === REINJECT_SERVICE)!;
        // A public unix service (private = n): its socket is public/reinject/smtp, which the
        // image links into the LMTP volume (paths.reinjectSocket).
        assert.deepEqual(r.columns.slice(0, 3), [REINJECT_SERVICE, "unix", "n"]);
        assert.equal(paths.reinjectSocket, `${paths.reinjectDir}/smtp`);
        assert.equal(REINJECT_SERVICE, `reinject/${paths.reinjectSocket.split("/").pop()}`);
        assert.equal(r.options.get("mynetworks"), "127.0.0.1/32");
        assert.equal(r.options.get("smtpd_relay_restrictions"), "permit_mynetworks,reject");
        assert.equal(r.options.get("smtpd_client_restrictions"), "permit_mynetworks,reject");
        assert.equal(r.options.get("smtpd_sasl_auth_enable"), "no");
        assert.equal(
            parseMasterCf(renderMasterCf(relaySpec())).some(s => s.name === REINJECT_SERVICE),
            false,
        );
    });

    test("AUTH only on submission and smtps, never on the port-25 service", () => {
        const smtp = byName("2525");
        assert.notEqual(smtp.options.get("smtpd_sasl_auth_enable"), "yes");
        assert.ok(!smtp.options.has("smtpd_sasl_auth_enable"));
        assert.equal(byName("5870").options.get("smtpd_sasl_auth_enable"), "yes");
        assert.equal(byName("4650").options.get("smtpd_sasl_auth_enable"), "yes");
        // And no other service turns it on.
        const withAuth = services()
            .filter(s => s.options.get("smtpd_sasl_auth_enable") === "yes")
            .map(s => s.name)
            .sort();
        assert.deepEqual(withAuth, ["4650", "5870"]);
    });

    test("465 uses implicit TLS; submission requires STARTTLS; port 25 neither", () => {
        assert.equal(byName("4650").options.get("smtpd_tls_wrappermode"), "yes");
        assert.equal(byName("5870").options.get("smtpd_tls_security_level"), "encrypt");
        assert.ok(!byName("5870").options.has("smtpd_tls_wrappermode"));
        assert.ok(!byName("2525").options.has("smtpd_tls_wrappermode"));
        assert.ok(!byName("2525").options.has("smtpd_tls_security_level"), "port 25 must keep opportunistic TLS");
    });

    test("authenticated ports relay only for authenticated clients", () => {
        for (const name of ["5870", "4650"]) {
            assert.equal(
                byName(name).options.get("smtpd_relay_restrictions"),
                "permit_sasl_authenticated,reject",
                name,
            );
            assert.match(
                byName(name).options.get("smtpd_sender_restrictions")!,
                /^reject_sender_login_mismatch,/,
                name,
            );
        }
        const relay = parseMasterCf(renderMasterCf(relaySpec())).find(s => s.name === "587")!;
        assert.equal(relay.options.get("smtpd_sender_restrictions"), "");
    });

    test("every service line has chroot column n", () => {
        const all = services();
        assert.ok(all.length >= 20);
        for (const s of all) assert.equal(s.columns[4], "n", `${s.name} ${s.type}`);
    });

    test("each service name/type pair is defined once", () => {
        const keys = services().map(s => `${s.name}/${s.type}`);
        assert.equal(new Set(keys).size, keys.length);
    });
});

describe("lookup tables", () => {
    const spec = internetSpec();
    const virtualTable = () => uniqueMap(parseTable(renderVirtualAliases(internetSpec())), "virtual");
    const mailboxes = spec.domains.flatMap(d => d.mailboxes.map(m => m.address));

    test("virtual: each non-forwarded mailbox maps to itself, so a catch-all cannot swallow it", () => {
        const virtual = virtualTable();
        assert.equal(virtual.get("alice@example.com"), "alice@example.com");
        assert.equal(virtual.get("dave@example.org"), "dave@example.org");
        for (const m of mailboxes) assert.ok(virtual.has(m), `${m} missing from the virtual table`);
    });

    test("virtual: catch-all line only for the domain that sets one", () => {
        const virtual = virtualTable();
        assert.equal(virtual.get("@example.com"), "alice@example.com");
        assert.ok(!virtual.has("@example.org"));
        const noCatchAll: PostfixSpec = {
            ...internetSpec(),
            domains: internetSpec().domains.map(d => ({ ...d, catchAll: undefined })),
        };
        const keys = parseTable(renderVirtualAliases(noCatchAll)).map(([k]) => k);
        assert.ok(!keys.some(k => k.startsWith("@")), "no catch-all line without catchAll");
    });

    test("virtual: postmaster@ and abuse@ of each domain go to adminAddress unless the domain defines them", () => {
        const virtual = virtualTable();
        assert.equal(virtual.get("postmaster@example.com"), "bob@example.com", "own definition wins");
        assert.equal(virtual.get("abuse@example.com"), "alice@example.com");
        assert.equal(virtual.get("postmaster@example.org"), "alice@example.com");
        assert.equal(virtual.get("abuse@example.org"), "dave@example.org", "own definition wins");
        const other = uniqueMap(
            parseTable(renderVirtualAliases({ ...internetSpec(), adminAddress: "hostmaster@external.example" })),
            "virtual",
        );
        assert.equal(other.get("abuse@example.com"), "hostmaster@external.example");
        assert.equal(other.get("postmaster@example.org"), "hostmaster@external.example");
    });

    test("virtual: a postmaster@ defined as a mailbox alias is not overridden", () => {
        const s = internetSpec();
        s.domains[1].mailboxes[0].aliases = ["postmaster@example.org"];
        const t = uniqueMap(parseTable(renderVirtualAliases(s)), "virtual");
        assert.equal(t.get("postmaster@example.org"), "dave@example.org");
    });

    test("virtual: forwards with keepCopy include the mailbox itself, without keepCopy only the targets", () => {
        const virtual = virtualTable();
        assert.deepEqual(splitList(virtual.get("bob@example.com")!).sort(), [
            "bob@elsewhere.example",
            "bob@example.com",
        ]);
        assert.deepEqual(splitList(virtual.get("carol@example.com")!).sort(), [
            "carol2@elsewhere.example",
            "carol@elsewhere.example",
        ]);
    });

    test("virtual: mailbox aliases deliver to their mailbox, domain aliases to their targets", () => {
        const virtual = virtualTable();
        assert.equal(virtual.get("info@example.com"), "alice@example.com");
        assert.equal(virtual.get("a.smith@example.com"), "alice@example.com");
        assert.deepEqual(splitList(virtual.get("sales@example.com")!), ["alice@example.com", "bob@example.com"]);
        assert.equal(virtual.get("partners@example.com"), "someone@external.example");
    });

    test("vmailbox lists every mailbox, and nothing else", () => {
        const t = uniqueMap(parseTable(renderVirtualMailboxes(spec)), "vmailbox");
        assert.deepEqual([...t.keys()].sort(), [...mailboxes].sort());
    });

    test("sender_login: a mailbox owns itself and its aliases; domain aliases belong to their local mailbox targets", () => {
        const t = uniqueMap(parseTable(renderSenderLogins(spec)), "sender_login");
        for (const m of mailboxes) assert.equal(t.get(m), m);
        assert.equal(t.get("info@example.com"), "alice@example.com");
        assert.equal(t.get("a.smith@example.com"), "alice@example.com");
        assert.deepEqual(splitList(t.get("sales@example.com")!).sort(), ["alice@example.com", "bob@example.com"]);
        assert.equal(t.get("postmaster@example.com"), "bob@example.com");
        assert.equal(t.get("abuse@example.org"), "dave@example.org");
        assert.ok(!t.has("partners@example.com"), "an alias with only external targets has no login");
    });

    test("system aliases: root, postmaster, abuse and mailer-daemon go to adminAddress", () => {
        const t = uniqueMap(parseAliases(renderSystemAliases(spec)), "aliases");
        for (const name of ["root", "postmaster", "abuse", "mailer-daemon"])
            assert.equal(t.get(name), "alice@example.com", name);
        const other = uniqueMap(
            parseAliases(renderSystemAliases({ ...spec, adminAddress: "ops@external.example" })),
            "aliases",
        );
        assert.equal(other.get("root"), "ops@external.example");
    });

    test("sender_relay maps each sender domain of a per-sender relay to its next hop", () => {
        const t = uniqueMap(parseTable(renderSenderRelays(perSenderSpec())), "sender_relay");
        assert.deepEqual([...t], [["@example.org", "[relay.other.example]:465"]]);
        assert.deepEqual(parseTable(renderSenderRelays(internetSpec())), []);
    });

    test("relay_recipients lists the relay recipients", () => {
        const t = uniqueMap(parseTable(renderRelayRecipients(spec)), "relay_recipients");
        assert.deepEqual(
            [...t],
            [
                ["x@backup.example.net", "OK"],
                ["y@backup.example.net", "OK"],
            ],
        );
    });

    test("no table has a duplicate key", () => {
        const notTables = new Set(["main.cf", "master.cf", "probe", "sasl/smtpd.conf", postfixTables.systemAliases]);
        for (const s of [internetSpec(), relaySpec(), perSenderSpec()]) {
            let tables = 0;
            for (const f of renderPostfixFiles(s)) {
                if (notTables.has(f.path)) continue;
                uniqueMap(parseTable(f.content), `${s.mode} ${f.path}`);
                tables++;
            }
            assert.ok(tables >= 6, `only ${tables} tables checked`);
            uniqueMap(parseAliases(renderSystemAliases(s)), "aliases");
        }
    });

    test("renderPostfixFiles: every table file the config job compiles is rendered", () => {
        const files = renderPostfixFiles(spec);
        const paths = files.map(f => f.path);
        assert.equal(new Set(paths).size, paths.length);
        for (const t of Object.values(postfixTables)) {
            if (t === postfixTables.saslPasswords) continue; // rendered by the component from secrets
            assert.ok(paths.includes(t), `${t} not rendered`);
        }
        assert.ok(paths.includes("main.cf") && paths.includes("master.cf"));
        // Internet mode's smtpd asks Dovecot; only relay mode has a Cyrus SASL (saslauthd) config.
        assert.ok(!paths.includes("sasl/smtpd.conf"));
        assert.ok(renderPostfixFiles(relaySpec()).some(f => f.path === "sasl/smtpd.conf"));
        for (const f of files) assert.match(f.mode, /^0[0-7]{3}$/);
    });

    test("SMTP AUTH: internet mode asks Dovecot's auth service on the shared socket, relay mode saslauthd", () => {
        const internet = parseMainCf(renderMainCf(spec)).values;
        assert.equal(internet.get("smtpd_sasl_type"), "dovecot");
        assert.equal(internet.get("smtpd_sasl_path"), "/run/lmtp/auth");
        assert.equal(internet.get("cyrus_sasl_config_path"), undefined);
        const relay = parseMainCf(renderMainCf(relaySpec())).values;
        assert.equal(relay.get("smtpd_sasl_type"), "cyrus");
        assert.equal(relay.get("smtpd_sasl_path"), "smtpd");
    });

    test("sasl_passwd is keyed by next hop with user:password", () => {
        const text = renderSaslPasswords([
            { nexthop: "[smtp.provider.example]:587", username: "user@provider.example", password: "relay-secret" },
            { nexthop: "@example.org", username: "other", password: "pw2-secret" },
        ]);
        assert.deepEqual(parseTable(text), [
            ["[smtp.provider.example]:587", "user@provider.example:relay-secret"],
            ["@example.org", "other:pw2-secret"],
        ]);
    });
});
