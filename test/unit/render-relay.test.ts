// Relayhosts, relay mode and backup MX: validation of Relayhost, MailServer transports and
// relay-mode users, and what the Postfix renderers make of them (implicit-TLS smtp client,
// per-relay TLS policy, transport_maps). Pure: no Pulumi engine, no Docker.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MailServerArgs, RelayhostArgs } from "../../components/args";
import { validateRelayUsers, validateTransports } from "../../components/options/mailServerRules";
import { validateMailServer } from "../../components/options/validateMailServer";
import { MailServerSettings } from "../../components/model/settings";
import { isIPv4 } from "../../components/model/net";
import { relayImplicitTls } from "../../components/model/relay";
import { validateRelayhost } from "../../components/options/relayhost";
import { DIRECT_TRANSPORT, IMPLICIT_TLS_TRANSPORT, postfixTables } from "../../components/render/postfixShared";
import { renderMainCf, renderPostfixFiles } from "../../components/render/postfix";
import { renderMasterCf } from "../../components/render/postfixMaster";
import {
    renderSenderRelays,
    renderSenderTransports,
    renderTlsPolicies,
    renderTransports,
} from "../../components/render/postfixTables";
import { DomainSpec, PostfixSpec, RelayhostSpec } from "../../components/model/spec";
import { Validator } from "../../components/model/validator";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import {
    defaultRelay,
    duplicates,
    internetSpec,
    parseMainCf,
    parseMasterCf,
    parseTable,
    refused,
    relaySpec,
    uniqueMap,
} from "./fixtures";

const RELAY = "Relayhost smarthost";
const SERVER = "MailServer mx";

const relayhost = (args: RelayhostArgs) => validateRelayhost(new Validator(RELAY), args);

const internet = (over: Partial<PostfixSpec> = {}): PostfixSpec => ({ ...internetSpec(), ...over });
const relayMode = (...relays: RelayhostSpec[]): PostfixSpec => ({ ...relaySpec(relays[0]), relayhosts: relays });
const main = (s: PostfixSpec) => parseMainCf(renderMainCf(s)).values;
const service = (s: PostfixSpec, name: string) => parseMasterCf(renderMasterCf(s)).find(x => x.name === name);

describe("validateRelayhost: hosts and ports", () => {
    test("an IPv4 address is accepted as the host and kept as is; names still must be fully qualified", () => {
        assert.deepEqual(relayhost({ host: "127.0.0.1", port: 25501 }), {
            host: "127.0.0.1",
            port: 25501,
            tlsPolicy: "encrypt",
            senderDomains: [],
            hasCredentials: false,
        });
        assert.equal(relayhost({ host: "192.0.2.25" }).host, "192.0.2.25");
        for (const host of [
            "localhost",
            "smtp",
            "999.0.0.1",
            "127.0.0.1/32",
            "127.0.0.01",
            "[127.0.0.1]",
            "2001:db8::1",
        ]) {
            refused(() => relayhost({ host }), RELAY, "host", JSON.stringify(host), /fully qualified host name/);
        }
        assert.ok(isIPv4("10.0.0.255") && !isIPv4("10.0.0") && !isIPv4("10.0.0.256") && !isIPv4("a.b.c.d"));
    });

    test("any TCP port 1-65535 (2525 and high ports are real smarthost ports); nothing else", () => {
        for (const port of [25, 465, 587, 2525, 25501, 1, 65535])
            assert.equal(relayhost({ host: "smtp.provider.example", port }).port, port);
        assert.equal(relayhost({ host: "smtp.provider.example" }).port, 587, "default 587");
        for (const port of [0, 65536, 1.5, -25, "587"]) {
            refused(
                () => relayhost({ host: "smtp.provider.example", port: port as number }),
                RELAY,
                "port",
                JSON.stringify(port),
                /TCP port 1-65535/,
            );
        }
    });

    test("implicit TLS: default on 465 only, or asked for on any port; never without TLS", () => {
        assert.equal(relayImplicitTls(relayhost({ host: "smtp.provider.example", port: 465 })), true);
        assert.equal(relayImplicitTls(relayhost({ host: "smtp.provider.example", port: 587 })), false);
        const custom = relayhost({ host: "127.0.0.1", port: 25502, implicitTls: true });
        assert.equal(custom.implicitTls, true);
        assert.equal(relayImplicitTls(custom), true);
        assert.equal(
            relayImplicitTls(
                relayhost({ host: "smtp.provider.example", port: 465, implicitTls: false, tlsPolicy: "none" }),
            ),
            false,
        );
        refused(
            () => relayhost({ host: "smtp.provider.example", port: 465, tlsPolicy: "none" }),
            RELAY,
            "tlsPolicy",
            '"none"',
            /implicit TLS \(port 465\).*implicitTls: false/,
        );
        refused(
            () => relayhost({ host: "smtp.provider.example", port: 2465, implicitTls: true, tlsPolicy: "may" }),
            RELAY,
            "tlsPolicy",
            '"may"',
            /implicitTls: true/,
        );
        refused(
            () => relayhost({ host: "smtp.provider.example", implicitTls: "yes" as any }),
            RELAY,
            "implicitTls",
            '"yes"',
            /true or false/,
        );
    });

    test("an IP address cannot be verified by name: verify and secure are refused for it", () => {
        for (const tlsPolicy of ["verify", "secure"]) {
            refused(
                () => relayhost({ host: "127.0.0.1", port: 2525, tlsPolicy: tlsPolicy as any }),
                RELAY,
                "tlsPolicy",
                JSON.stringify(tlsPolicy),
                /host name/,
            );
        }
        assert.equal(relayhost({ host: "smtp.provider.example", tlsPolicy: "secure" }).tlsPolicy, "secure");
    });

    test("credentials still need TLS, and the password is never shown", () => {
        const msg = refused(
            () =>
                relayhost({
                    host: "127.0.0.1",
                    port: 2525,
                    username: "u",
                    password: "relay-secret-pw",
                    tlsPolicy: "may",
                }),
            RELAY,
            "tlsPolicy",
            '"may"',
            /must use TLS/,
        );
        assert.ok(!msg.includes("relay-secret-pw"));
    });
});

describe("main.cf and master.cf: which smtp client reaches which relay", () => {
    test("STARTTLS relays use Postfix's own smtp client: no extra service, no transport settings", () => {
        const s = relayMode(
            defaultRelay(),
            defaultRelay({ host: "relay.other.example", senderDomains: ["example.org"] }),
        );
        const m = main(s);
        assert.equal(m.get("relayhost"), "[smtp.provider.example]:587");
        for (const key of [
            "default_transport",
            "relay_transport",
            "sender_dependent_default_transport_maps",
            "transport_maps",
        ])
            assert.ok(!m.has(key), key);
        assert.equal(service(s, IMPLICIT_TLS_TRANSPORT), undefined);
        assert.deepEqual(parseTable(renderSenderTransports(s)), []);
    });

    test("a default relay on 465: default_transport and relay_transport use the wrapper-mode client", () => {
        const s = relayMode(defaultRelay({ port: 465 }));
        const m = main(s);
        assert.equal(m.get("relayhost"), "[smtp.provider.example]:465");
        assert.equal(m.get("default_transport"), IMPLICIT_TLS_TRANSPORT);
        assert.equal(m.get("relay_transport"), IMPLICIT_TLS_TRANSPORT);
        const svc = service(s, IMPLICIT_TLS_TRANSPORT)!;
        assert.ok(svc, "master.cf has the implicit-TLS client");
        assert.equal(svc.type, "unix");
        assert.equal(svc.columns[svc.columns.length - 1], "smtp");
        assert.equal(svc.options.get("smtp_tls_wrappermode"), "yes");
        assert.equal(svc.options.get("smtp_tls_security_level"), "encrypt");
        assert.equal(
            service(s, "smtp")!.options.get("smtp_tls_wrappermode"),
            undefined,
            "the plain smtp client keeps STARTTLS",
        );
    });

    test("implicitTls on a non-standard port works like 465", () => {
        const s = relayMode(defaultRelay({ host: "127.0.0.1", port: 25502, implicitTls: true }));
        assert.equal(main(s).get("default_transport"), IMPLICIT_TLS_TRANSPORT);
        assert.equal(main(s).get("relayhost"), "[127.0.0.1]:25502");
    });

    test("per-sender relays whose client differs from the default get sender_dependent_default_transport_maps", () => {
        // Default STARTTLS, per-sender implicit: the per-sender one needs the wrapper client.
        const a = relayMode(
            defaultRelay(),
            defaultRelay({ host: "relay.other.example", port: 465, senderDomains: ["example.org", "example.net"] }),
        );
        assert.equal(
            main(a).get("sender_dependent_default_transport_maps"),
            `lmdb:/config/current/${postfixTables.senderTransports}`,
        );
        assert.deepEqual(parseTable(renderSenderTransports(a)), [
            ["@example.org", `${IMPLICIT_TLS_TRANSPORT}:[relay.other.example]:465`],
            ["@example.net", `${IMPLICIT_TLS_TRANSPORT}:[relay.other.example]:465`],
        ]);
        assert.ok(!main(a).has("default_transport"));
        // Default implicit, per-sender STARTTLS: the per-sender one must leave the wrapper client.
        const b = relayMode(
            defaultRelay({ port: 465 }),
            defaultRelay({ host: "relay.other.example", port: 587, senderDomains: ["example.org"] }),
        );
        assert.deepEqual(parseTable(renderSenderTransports(b)), [["@example.org", "smtp:[relay.other.example]:587"]]);
        // Both implicit: nothing to override.
        const c = relayMode(
            defaultRelay({ port: 465 }),
            defaultRelay({ host: "relay.other.example", port: 465, senderDomains: ["example.org"] }),
        );
        assert.deepEqual(parseTable(renderSenderTransports(c)), []);
        assert.ok(!main(c).has("sender_dependent_default_transport_maps"));
        // No default relay (internet mode): a per-sender implicit relay still gets its client.
        const d = internet({
            relayhosts: [defaultRelay({ host: "relay.other.example", port: 465, senderDomains: ["example.org"] })],
        });
        assert.deepEqual(parseTable(renderSenderTransports(d)), [
            ["@example.org", `${IMPLICIT_TLS_TRANSPORT}:[relay.other.example]:465`],
        ]);
        assert.ok(!main(d).has("default_transport"), "direct delivery stays the default");
        // The next hop per sender stays in sender_relay as before.
        assert.deepEqual(parseTable(renderSenderRelays(d)), [["@example.org", "[relay.other.example]:465"]]);
    });

    test("every relay's tlsPolicy is in smtp_tls_policy_maps, so a per-sender relay never gets opportunistic TLS", () => {
        const s = internet({
            relayhosts: [
                defaultRelay({ host: "relay.other.example", senderDomains: ["example.org"], tlsPolicy: "verify" }),
            ],
        });
        const m = main(s);
        assert.equal(
            m.get("smtp_tls_security_level"),
            "dane",
            "direct MX delivery: DANE, else MTA-STS or opportunistic",
        );
        assert.equal(
            m.get("smtp_tls_policy_maps"),
            `lmdb:/config/current/${postfixTables.tlsPolicies}, socketmap:unix:/run/mta-sts/policy.sock:postfix`,
        );
        assert.deepEqual(parseTable(renderTlsPolicies(s)), [["[relay.other.example]:587", "verify"]]);
        const two = relayMode(
            defaultRelay({ port: 465 }),
            defaultRelay({ host: "127.0.0.1", port: 25501, senderDomains: ["example.org"] }),
        );
        assert.deepEqual(parseTable(renderTlsPolicies(two)), [
            ["[smtp.provider.example]:465", "encrypt"],
            ["[127.0.0.1]:25501", "encrypt"],
        ]);
        assert.ok(!(main(internet()).get("smtp_tls_policy_maps") ?? "").includes("lmdb:"), "no relays, no relay table");
        assert.deepEqual(parseTable(renderTlsPolicies(internet())), []);
    });
});

describe("transport_maps (MailServer transports)", () => {
    const backup = (): PostfixSpec => ({
        ...relayMode(defaultRelay()),
        relayDomains: ["example.test"],
        relayRecipients: ["alice@example.test"],
        transports: [
            { domain: "example.test", nexthop: "[127.0.0.1]:21025" },
            { domain: "partner.example", nexthop: "mx.partner.example" },
        ],
    });

    test("each domain goes to its next hop through the 'direct' client, which never authenticates", () => {
        const s = backup();
        assert.equal(main(s).get("transport_maps"), `lmdb:/config/current/${postfixTables.transports}`);
        assert.deepEqual(parseTable(renderTransports(s)), [
            ["example.test", `${DIRECT_TRANSPORT}:[127.0.0.1]:21025`],
            ["partner.example", `${DIRECT_TRANSPORT}:mx.partner.example`],
        ]);
        const svc = service(s, DIRECT_TRANSPORT)!;
        assert.ok(svc);
        assert.equal(svc.columns[svc.columns.length - 1], "smtp");
        assert.equal(svc.options.get("smtp_sasl_auth_enable"), "no");
        assert.equal(main(s).get("relay_recipient_maps"), `lmdb:/config/current/${postfixTables.relayRecipients}`);
    });

    test("without transports: no transport_maps and no 'direct' service (spec field may be absent)", () => {
        const s = relayMode(defaultRelay());
        delete s.transports;
        assert.ok(!main(s).has("transport_maps"));
        assert.equal(service(s, DIRECT_TRANSPORT), undefined);
        assert.deepEqual(parseTable(renderTransports(s)), []);
    });

    test("renderers stay deterministic, assign no key twice, and every new table file is rendered", () => {
        const specs = [
            backup(),
            relayMode(
                defaultRelay({ port: 465 }),
                defaultRelay({ host: "relay.other.example", senderDomains: ["example.org"] }),
            ),
        ];
        for (const s of specs) {
            const before = JSON.stringify(s);
            assert.deepEqual(renderPostfixFiles(s), renderPostfixFiles(JSON.parse(before)));
            assert.equal(JSON.stringify(s), before, "the spec is not mutated");
            assert.deepEqual(duplicates(parseMainCf(renderMainCf(s)).counts), []);
            const names = parseMasterCf(renderMasterCf(s)).map(x => x.name);
            assert.equal(new Set(names).size, names.length, "no service twice");
            uniqueMap(parseTable(renderTransports(s)), "transport");
            uniqueMap(parseTable(renderTlsPolicies(s)), "tls_policy");
            uniqueMap(parseTable(renderSenderTransports(s)), "sender_transport");
            const paths = renderPostfixFiles(s).map(f => f.path);
            for (const t of [postfixTables.senderTransports, postfixTables.transports, postfixTables.tlsPolicies])
                assert.ok(paths.includes(t), t);
            assert.doesNotMatch(renderMainCf(s), /\b(hash|btree|dbm|cdb):/);
        }
    });
});

describe("validateMailServer: transports, relay users, relay combinations", () => {
    const pw = "a-long-enough-password";
    const vd = (spec: DomainSpec) => ({ spec }) as any;
    const rh = (args: RelayhostArgs) => ({ spec: relayhost(args) }) as any;
    const settings = (args: Partial<MailServerArgs>): MailServerSettings =>
        validateMailServer(new Validator(SERVER), "mx", {
            hostname: "mail.example.com",
            domains: [
                vd(
                    validateDomain(new Validator("VirtualDomain d"), {
                        domain: "example.com",
                        mailboxes: [{ address: "alice", password: pw }],
                    }),
                ),
            ],
            ...args,
        } as MailServerArgs);
    const relayServer = (args: Partial<MailServerArgs>) =>
        settings({ mode: "relay", domains: [], relayhosts: [rh({ host: "smtp.provider.example" })], ...args });

    test("transports reach the spec, normalized; IP next hops only in brackets", () => {
        const s = relayServer({
            relayDomains: ["example.test"],
            transports: [
                { domain: "Example.TEST", nexthop: "[127.0.0.1]:21025" },
                { domain: "b.example", nexthop: "MX.B.example:2525" },
                { domain: "c.example", nexthop: "[mx.c.example]" },
            ],
        });
        assert.deepEqual(s.postfix.transports, [
            { domain: "example.test", nexthop: "[127.0.0.1]:21025" },
            { domain: "b.example", nexthop: "mx.b.example:2525" },
            { domain: "c.example", nexthop: "[mx.c.example]" },
        ]);
        assert.deepEqual(relayServer({}).postfix.transports, []);
    });

    test("bad transports are refused, naming the entry", () => {
        const bad = (nexthop: unknown) =>
            refused(
                () => relayServer({ transports: [{ domain: "example.test", nexthop: nexthop as string }] }),
                SERVER,
                "transports[0].nexthop",
                JSON.stringify(nexthop),
                /\[host\]:port/,
            );
        for (const n of [
            "127.0.0.1:25",
            "[127.0.0.1]:0",
            "[127.0.0.1]:65536",
            "[127.0.0.1]:025",
            "mx",
            "[mx.example.com",
            "smtp:[mx.example.com]",
            "[2001:db8::1]:25",
            "",
            25,
        ])
            bad(n);
        refused(
            () => settings({ transports: [{ domain: "example.com", nexthop: "[192.0.2.1]" }] }),
            SERVER,
            "transports[0].domain",
            '"example.com"',
            /own domains/,
        );
        refused(
            () =>
                relayServer({
                    transports: [
                        { domain: "a.example", nexthop: "[192.0.2.1]" },
                        { domain: "A.example", nexthop: "[192.0.2.2]" },
                    ],
                }),
            SERVER,
            "transports[1].domain",
            '"A.example"',
            /one transport per domain/,
        );
        refused(
            () => relayServer({ transports: [{ domain: "not a domain", nexthop: "[192.0.2.1]" }] }),
            SERVER,
            "transports[0].domain",
            '"not a domain"',
            /domain name/,
        );
        refused(
            () => validateTransports(new Validator(SERVER), "x" as any, new Set()),
            SERVER,
            "transports",
            '"x"',
            /list/,
        );
    });

    test("users: relay mode only, address-like, once each, with a password", () => {
        assert.deepEqual(
            validateRelayUsers(new Validator(SERVER), "relay", [{ address: "App@Example.com", password: pw }]),
            ["app@example.com"],
        );
        relayServer({ users: [{ address: "app@example.com", password: pw }] });
        refused(
            () => settings({ users: [{ address: "app@example.com", password: pw }] }),
            SERVER,
            "users",
            '["app@example.com"]',
            /relay-mode/,
        );
        refused(
            () => relayServer({ users: [{ address: "app", password: pw }] }),
            SERVER,
            "users[0].address",
            '"app"',
            /e-mail address/,
        );
        refused(
            () =>
                relayServer({
                    users: [
                        { address: "a@example.com", password: pw },
                        { address: "A@example.com", password: pw },
                    ],
                }),
            SERVER,
            "users[1].address",
            '"A@example.com"',
            /each user once/,
        );
        refused(
            () => relayServer({ users: [{ address: "a@example.com" } as any] }),
            SERVER,
            "users[0].password",
            "(missing)",
            /password/,
        );
        const short = refused(
            () => relayServer({ users: [{ address: "a@example.com", password: "hunter2" }] }),
            SERVER,
            "users[0].password",
            '"(a secret of 7 characters)"',
            /at least 12 characters/,
        );
        assert.ok(!short.includes("hunter2"), "a bad password is never shown");
    });

    test("relayDomains are other servers' domains: never a VirtualDomain of this server, never local", () => {
        refused(
            () => settings({ relayDomains: ["example.com"] }),
            SERVER,
            "relayDomains[0]",
            '"example.com"',
            /VirtualDomain/,
        );
        refused(
            () => relayServer({ relayDomains: ["mail.example.com"] }),
            SERVER,
            "relayDomains[0]",
            '"mail.example.com"',
            /mydestination/,
        );
        refused(
            () => relayServer({ mydestination: ["$mydomain"], relayDomains: ["example.com"] }),
            SERVER,
            "relayDomains[0]",
            '"example.com"',
            /mydestination/,
        );
        assert.deepEqual(relayServer({ relayDomains: ["Example.TEST"] }).postfix.relayDomains, ["example.test"]);
    });

    test("a sender domain may have one relay; relays sharing host:port must agree on TLS", () => {
        refused(
            () =>
                relayServer({
                    relayhosts: [
                        rh({ host: "smtp.provider.example" }),
                        rh({ host: "a.example.net", senderDomains: ["example.org"] }),
                        rh({ host: "b.example.net", senderDomains: ["Example.org"] }),
                    ],
                }),
            SERVER,
            "relayhosts[2].senderDomains",
            '"example.org"',
            /one relay/,
        );
        refused(
            () =>
                relayServer({
                    relayhosts: [
                        rh({ host: "smtp.provider.example" }),
                        rh({ host: "smtp.provider.example", tlsPolicy: "verify", senderDomains: ["example.org"] }),
                    ],
                }),
            SERVER,
            "relayhosts[1]",
            '"[smtp.provider.example]:587"',
            /same tlsPolicy/,
        );
        // Same host, different ports and credentials (two smarthost accounts): fine.
        const s = relayServer({
            relayhosts: [
                rh({ host: "127.0.0.1", port: 25501 }),
                rh({ host: "127.0.0.1", port: 25502, senderDomains: ["example.org"] }),
            ],
        });
        assert.deepEqual(
            s.postfix.relayhosts.map(r => `${r.host}:${r.port}`),
            ["127.0.0.1:25501", "127.0.0.1:25502"],
        );
    });
});
