// The policy pack's rules (policy/rules/), called directly: no PolicyPack is constructed (that
// would start the analyzer's gRPC server). Resource properties reach the rules exactly as the
// engine sends them (test/components/policy.ts): encoded on the wire (secrets and preview unknowns
// included), decoded by @pulumi/policy's own deserializer and wrapped in its unknown-checking
// proxy, as its server does. The mandatory rules judge the components' inputs (built here with
// the components' own builders, components/inputs.ts) and the config job containers.
import { monitoringDefaults } from "../../components/options/monitoring";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Secret, UnknownValueError } from "@pulumi/policy";
import { renderDovecotConf, renderDovecotFiles } from "../../components/render/dovecot";
import { dovecotSettings, mailServerSettings } from "../../components/inputs";
import { FILE_INPUTS, filesByPath, SECRET_FILE_INPUTS } from "../../components/services";
import { renderManifest } from "../../components/render/manifest";
import { postfixTables } from "../../components/render/postfixShared";
import { renderPostfixFiles } from "../../components/render/postfix";
import { renderSaslPasswords } from "../../components/render/postfixTables";
import { renderSaslauthdFiles } from "../../components/render/saslauthd";
import { PostfixSpec } from "../../components/model/spec";
import { paths } from "../../components/model/paths";
import { bridgeGatewayRisk, parseNetwork } from "../../components/model/net";
import { enabledProtocols, tooWide } from "../../policy/parse";
import {
    authRequiresTls,
    dkimAndDmarc,
    dmarcReportAddress,
    looksSecret,
    noOpenRelay,
    noPlaintextSecrets,
    policies,
    secretUploads,
    smtpReverseDns,
    tlsMinimumVersion,
} from "../../policy/rules";
import {
    COMPONENT_FILE_INPUTS,
    CONTAINER_TYPE,
    DOVECOT_IMAP_TYPE,
    MAIL_SERVER_TYPE,
    VIRTUAL_DOMAIN_TYPE,
} from "../../policy/resources";
import { validateVirtualDomain } from "../../components/options/validateVirtualDomain";
import { domainSettings } from "../../components/inputs";
import { Validator } from "../../components/model/validator";
import {
    decode,
    isWireSecret,
    policySdk as sdk,
    resourceArgs,
    StackEntry,
    UNKNOWN,
    validate,
    validateStack,
    WireResource,
    wireSecret as secret,
} from "../components/policy";
import { dovecotSpec, internetSpec, outboundTlsDefaults, relaySpec } from "./fixtures";

// ------------------------------------------------------------------------------------------
// Resources as our components register them: the components themselves (their settings and
// rendered files, components/inputs.ts) and the config job containers
// (components/platform/docker/configJob.ts).

const KEY_PEM =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";
const HASHES = "alice@example.com:$6$rounds=50000$x$y\n";

/**
 * Component inputs that are unknown at the preview of a new stack when the user passes unknown Outputs (images built
 * elsewhere, an ACME certificate).
 */
type UnrelatedUnknown = "images" | "tls";

interface ServerOptions {
    mainCf?: (text: string) => string;
    /**
     * A function edits master.cf; "absent" as in bridge mode (it holds the network's subnet); "unknown" as any value
     * not known yet.
     */
    masterCf?: ((text: string) => string) | "absent" | "unknown";
    /**
     * Unknown during preview: unrelated inputs, or main.cf itself (never the case for our components, whose files are
     * pure renders).
     */
    unknown?: Array<UnrelatedUnknown | "main.cf" | "postfixFiles" | "mynetworks">;
}

/** MailServer's inputs as the component registers them (components/mailServer.ts). */
function mailServer(spec: PostfixSpec, o: ServerOptions = {}): WireResource {
    const unknown = new Set(o.unknown ?? []);
    const files: Record<string, unknown> = filesByPath(
        renderPostfixFiles(spec).map(f => {
            if (f.path === "main.cf" && o.mainCf) return { ...f, content: o.mainCf(f.content) };
            if (f.path === "master.cf" && typeof o.masterCf === "function")
                return { ...f, content: o.masterCf(f.content) };
            return f;
        }),
    );
    if (o.masterCf === "absent") delete files["master.cf"];
    if (o.masterCf === "unknown") files["master.cf"] = UNKNOWN;
    if (unknown.has("main.cf")) files["main.cf"] = UNKNOWN;
    const settings = mailServerSettings({
        postfix: spec,
        placement: { networkMode: o.masterCf === "absent" ? "bridge" : "host", publishAddress: "0.0.0.0" },
        prefix: "mail",
        restart: "unless-stopped",
        users: [],
        warnings: [],
        certificate: spec.certificate,
        outboundTls: outboundTlsDefaults(),
        reports: { tls: true, dmarc: true, organization: undefined, address: undefined },
        proxyProtocol: { listeners: [], trustedNetworks: [] },
        tls: {
            acme: undefined,
            keyAlgorithm: "ECDSA",
            selfSigned: { validityHours: 8760 },
            ca: undefined,
            certPem: undefined,
            keyPem: undefined,
        },
        antivirus: { enabled: false, updates: true, checksPerDay: 12, signatures: [], onScanFailure: "defer" },
        monitoring: monitoringDefaults(),
        backup: {
            enabled: false,
            repository: "volume",
            intervalMinutes: 1440,
            keep: { last: 0, hourly: 0, daily: 7, weekly: 5, monthly: 12, yearly: 0 },
            staleAfterIntervals: 2,
            password: undefined,
            s3AccessKeyId: undefined,
            s3SecretAccessKey: undefined,
            restUsername: undefined,
            restPassword: undefined,
            sftpPrivateKey: undefined,
            sftpKnownHosts: undefined,
        },
        spamFilter: {
            enabled: true,
            rejectScore: 15,
            addHeaderScore: 6,
            outboundRejectScore: 10,
            messagesPerHour: 100,
            recipientsPerHour: 300,
            greylisting: false,
            greylistScore: 4,
            dnsbl: false,
            nameservers: [],
            dnsTimeout: "1s",
            dnsRetransmits: 5,
            scanProcesses: 2,
        },
        dns: "available",
    });
    return {
        type: MAIL_SERVER_TYPE,
        wire: {
            ...settings,
            mynetworks: unknown.has("mynetworks") ? UNKNOWN : settings.mynetworks,
            tls: unknown.has("tls")
                ? { certPem: UNKNOWN }
                : { selfSigned: { validityHours: 8760 }, keyAlgorithm: "ECDSA" },
            images: unknown.has("images")
                ? { postfix: UNKNOWN, saslauthd: UNKNOWN }
                : { postfix: "registry.example/postfix:1", saslauthd: "registry.example/saslauthd:1" },
            [FILE_INPUTS.postfix]: unknown.has("postfixFiles") ? UNKNOWN : files,
            [FILE_INPUTS.saslauthd]: filesByPath(renderSaslauthdFiles()),
            [SECRET_FILE_INPUTS.saslauthd]: secret({ passwd: HASHES }),
        },
    };
}

/** DovecotImap's inputs as the component registers them (components/dovecotImap.ts). */
function dovecotImap(mutate: (text: string) => string = t => t, unknown: UnrelatedUnknown[] = []): WireResource {
    const spec = dovecotSpec();
    const files = renderDovecotFiles(spec).map(f =>
        f.path === "dovecot.conf" ? { ...f, content: mutate(f.content) } : f,
    );
    return {
        type: DOVECOT_IMAP_TYPE,
        wire: {
            mailServer: `urn:pulumi:dev::mailserver::${MAIL_SERVER_TYPE}::mail`,
            ...dovecotSettings(spec),
            images: unknown.includes("images") ? { dovecot: UNKNOWN } : { dovecot: "registry.example/dovecot:1" },
            [FILE_INPUTS.dovecot]: filesByPath(files),
            [SECRET_FILE_INPUTS.dovecot]: secret({ users: `alice@example.com:{SHA512-CRYPT}${HASHES}` }),
        },
    };
}

interface JobOptions {
    mainCf?: (text: string) => string;
    /** A function edits master.cf; "unknown" as at the preview of a new stack in bridge mode (the network's subnet). */
    masterCf?: ((text: string) => string) | "unknown";
    /** The key as the engine sends it: a secret (default), plain text, or unknown. */
    key?: "secret" | "plain" | "unknown-secret" | "unknown-plain";
    /** Without our labels: a container that some other program declares. */
    foreign?: boolean;
}

/** The Postfix config job's properties: every rendered file under /staging, the key and relay passwords as secrets. */
function postfixJobWire(spec: PostfixSpec, o: JobOptions = {}): Record<string, unknown> {
    const files = renderPostfixFiles(spec).map(f => {
        if (f.path === "main.cf" && o.mainCf) return { ...f, content: o.mainCf(f.content) };
        if (f.path === "master.cf" && typeof o.masterCf === "function") return { ...f, content: o.masterCf(f.content) };
        return f;
    });
    const key = {
        secret: secret(KEY_PEM),
        plain: KEY_PEM,
        "unknown-secret": secret(UNKNOWN),
        "unknown-plain": UNKNOWN,
    }[o.key ?? "secret"];
    const saslPasswd = renderSaslPasswords([
        { nexthop: "[smtp.provider.example]:587", username: "u", password: "relay-password-1" },
    ]);
    return {
        name: "mail-postfix-config",
        image: UNKNOWN,
        command: ["apply-config"],
        networkMode: "none",
        uploads: [
            { file: `${paths.staging}/MANIFEST`, content: renderManifest(files, [postfixTables.saslPasswords]) },
            ...files.map(f => ({
                file: `${paths.staging}/${f.path}`,
                content: f.path === "master.cf" && o.masterCf === "unknown" ? UNKNOWN : f.content,
            })),
            {
                file: `${paths.staging}/tls/cert.pem`,
                content: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            },
            { file: `${paths.staging}/tls/key.pem`, content: key },
            { file: `${paths.staging}/${postfixTables.saslPasswords}`, content: secret(saslPasswd) },
        ],
        labels: o.foreign
            ? [{ label: "app", value: "mail" }]
            : [
                  { label: "mailserver.role", value: "config-job" },
                  { label: "mailserver.stack", value: "mail" },
              ],
    };
}

function postfixJob(spec: PostfixSpec, o: JobOptions = {}): WireResource {
    return { type: CONTAINER_TYPE, wire: postfixJobWire(spec, o) };
}

function dovecotJobWire(
    mutate: (text: string) => string = t => t,
    o: { foreign?: boolean } = {},
): Record<string, unknown> {
    return {
        name: "mail-dovecot-config",
        uploads: [
            { file: `${paths.staging}/dovecot.conf`, content: mutate(renderDovecotConf(dovecotSpec())) },
            { file: `${paths.staging}/tls/key.pem`, content: secret(UNKNOWN) },
            { file: `${paths.staging}/users`, content: secret("alice@example.com:{SHA512-CRYPT}$6$x$y::::::\n") },
        ],
        labels: o.foreign
            ? []
            : [
                  { label: "mailserver.role", value: "config-job" },
                  { label: "mailserver.stack", value: "mail" },
              ],
    };
}

function dovecotJob(mutate: (text: string) => string = t => t, o: { foreign?: boolean } = {}): WireResource {
    return { type: CONTAINER_TYPE, wire: dovecotJobWire(mutate, o) };
}

/** A long-running service container: bridge mode publishes its ports on `ip`, host mode none. */
function serviceContainer(
    name: string,
    o: {
        ports?: number[];
        ip?: string;
        networkMode?: string;
        envs?: unknown[];
        labels?: Array<{ label: string; value: unknown }>;
    } = {},
) {
    return {
        name,
        image: UNKNOWN,
        restart: "unless-stopped",
        ...(o.networkMode ? { networkMode: o.networkMode } : {}),
        ...(o.ports
            ? { ports: o.ports.map(p => ({ internal: p, external: p, ip: o.ip ?? "0.0.0.0", protocol: "tcp" })) }
            : {}),
        ...(o.envs ? { envs: o.envs } : {}),
        labels: o.labels ?? [
            { label: "mailserver.role", value: "service" },
            { label: "mailserver.stack", value: "mail" },
        ],
    };
}

/** Replaces one main.cf parameter line (or appends it when absent). */
const setParam = (key: string, value: string) => (text: string) => {
    const line = `${key} = ${value}`;
    const re = new RegExp(`^${key} = .*$`, "m");
    return re.test(text) ? text.replace(re, line) : `${text}${line}\n`;
};
const dropParam = (key: string) => (text: string) => text.replace(new RegExp(`^${key} = .*\\n`, "m"), "");

// ------------------------------------------------------------------------------------------

describe("the pack", () => {
    test("every rule is exported with its enforcement level, and the list holds each once", () => {
        const levels = Object.fromEntries(policies.map(p => [p.name, p.enforcementLevel]));
        assert.deepEqual(levels, {
            "mail-no-open-relay": "mandatory",
            "mail-auth-requires-tls": "mandatory",
            "mail-tls-1.2-minimum": "mandatory",
            "mail-no-plaintext-secrets": "mandatory",
            "mail-secret-uploads": "remediate",
            "mail-dkim-dmarc": "advisory",
            "mail-dmarc-report-address": "advisory",
            "mail-smtp-reverse-dns": "advisory",
        });
        assert.equal(new Set(policies).size, policies.length);
        for (const p of policies) assert.ok(p.description.length > 40, `${p.name} needs a description`);
    });

    test("the rules read the component inputs the components register", () => {
        assert.equal(COMPONENT_FILE_INPUTS.postfix, FILE_INPUTS.postfix);
        assert.equal(COMPONENT_FILE_INPUTS.dovecot, FILE_INPUTS.dovecot);
    });

    test("our rendered configurations pass every mandatory rule (internet and relay mode, Dovecot)", async () => {
        const resources = [
            mailServer(internetSpec()),
            mailServer(relaySpec()),
            mailServer(internetSpec(), { masterCf: "absent" }),
            dovecotImap(),
            postfixJob(internetSpec()),
            postfixJob(relaySpec()),
            dovecotJob(),
            postfixJob(internetSpec(), { foreign: true }),
            dovecotJob(t => t, { foreign: true }),
        ];
        for (const resource of resources) {
            for (const policy of [noOpenRelay, authRequiresTls, tlsMinimumVersion, noPlaintextSecrets]) {
                assert.deepEqual(await validate(policy, resource), [], policy.name);
            }
        }
    });

    test("rules ignore resources that are neither our mail components nor docker containers", async () => {
        const bad = mailServer(internetSpec(), { mainCf: setParam("mynetworks", "0.0.0.0/0") });
        for (const type of [
            "docker:index/volume:Volume",
            "mailserver:index:VirtualDomain",
            "mailserver:index:Relayhost",
        ]) {
            assert.deepEqual(await validate(noOpenRelay, { ...bad, type }), [], type);
        }
    });
});

describe("mail-no-open-relay", () => {
    test("passes our main.cf, including trusted networks up to /16 and loopback /8", async () => {
        const server = mailServer(internetSpec(), {
            mainCf: setParam("mynetworks", "127.0.0.0/8, [::1]/128, 172.16.0.0/16, [fc12:3456:789a::]/48, !10.0.0.0/8"),
        });
        assert.deepEqual(await validate(noOpenRelay, server), []);
    });

    test("bridge mode: fails mynetworks that can hold the Docker gateway, with the text the component uses", async () => {
        // The measured open relay: 172.21.0.0/16 passed the /16 width rule, and the gateway was in it.
        for (const [entry, pool] of [
            ["172.21.0.0/16", "172.16.0.0/12"],
            ["192.168.10.0/24", "192.168.0.0/16"],
            ["[fd00:1:2::]/48", "[fd00::]/8"],
        ]) {
            const mainCf = setParam("mynetworks", `127.0.0.0/8, [::1]/128, ${entry}`);
            const bridge = await validate(noOpenRelay, mailServer(internetSpec(), { masterCf: "absent", mainCf }));
            assert.equal(bridge.length, 1, bridge.join("\n"));
            assert.equal(
                bridge[0],
                `main.cf: mynetworks trusts ${entry} in Docker bridge mode: ${bridgeGatewayRisk(parseNetwork(entry)!)}.`,
            );
            assert.ok(bridge[0].includes(`overlaps ${pool}`), bridge[0]);
            // Host mode: clients keep their addresses; the same network is the operator's to trust.
            assert.deepEqual(await validate(noOpenRelay, mailServer(internetSpec(), { mainCf })), [], entry);
        }
        // Unknown main.cf: the typed mynetworks are judged the same way.
        const typed = await validate(
            noOpenRelay,
            mailServer(
                { ...internetSpec(), mynetworks: ["127.0.0.0/8", "172.21.0.0/16"] },
                { masterCf: "absent", unknown: ["main.cf"] },
            ),
        );
        assert.equal(typed.length, 1, typed.join("\n"));
        assert.match(typed[0], /^MailServer settings: mynetworks trusts 172\.21\.0\.0\/16 in Docker bridge mode: /);
        // Loopback and networks outside Docker's pools pass in bridge mode.
        const fine = setParam("mynetworks", "127.0.0.0/8, [::1]/128, 10.1.0.0/16, [fc12:3456:789a::]/48");
        assert.deepEqual(
            await validate(noOpenRelay, mailServer(internetSpec(), { masterCf: "absent", mainCf: fine })),
            [],
        );
    });

    test("the reinject socket's own mynetworks (127.0.0.1, every unix-socket client) is not flagged", async () => {
        // The config job carries master.cf and runs without a network.
        assert.deepEqual(await validate(noOpenRelay, postfixJob(internetSpec())), []);
    });

    test("a hand-written Postfix container on a bridge network is judged like bridge mode; on the host network it is not", async () => {
        const mainCf = setParam("mynetworks", "127.0.0.0/8, 172.17.0.0/16");
        const wire = postfixJobWire(internetSpec(), { foreign: true, mainCf });
        for (const networkMode of [undefined, "bridge", "my-bridge-net"]) {
            const { networkMode: _none, ...rest } = wire;
            const found = await validate(noOpenRelay, {
                type: CONTAINER_TYPE,
                wire: networkMode === undefined ? rest : { ...rest, networkMode },
            });
            assert.equal(found.length, 1, `${networkMode}: ${found.join("\n")}`);
            assert.match(found[0], /mynetworks trusts 172\.17\.0\.0\/16 in Docker bridge mode/);
        }
        assert.deepEqual(
            await validate(noOpenRelay, { type: CONTAINER_TYPE, wire: { ...wire, networkMode: "host" } }),
            [],
        );
    });

    test("fails mynetworks = 0.0.0.0/0, once for all services that share main.cf", async () => {
        const messages = await validate(
            noOpenRelay,
            mailServer(internetSpec(), { mainCf: setParam("mynetworks", "127.0.0.0/8, 0.0.0.0/0") }),
        );
        assert.equal(messages.length, 1);
        assert.match(messages[0], /^main\.cf: mynetworks trusts 0\.0\.0\.0\/0: it is the whole IPv4 Internet/);
    });

    test("fails networks wider than IPv4 /16 or IPv6 /48, including IPv4-mapped IPv6", async () => {
        for (const entry of [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "[::]/0",
            "[2001:db8::]/32",
            "[::ffff:0.0.0.0]/96",
            "[::ffff:10.0.0.0]/104",
        ]) {
            const messages = await validate(
                noOpenRelay,
                mailServer(internetSpec(), { mainCf: setParam("mynetworks", `127.0.0.0/8 ${entry}`) }),
            );
            assert.equal(messages.length, 1, entry);
            assert.ok(messages[0].includes(`trusts ${entry}:`), messages[0]);
        }
    });

    test("fails an unset mynetworks when mynetworks_style trusts the container's subnets", async () => {
        const server = mailServer(internetSpec(), {
            mainCf: t => setParam("mynetworks_style", "subnet")(dropParam("mynetworks")(t)),
        });
        const messages = await validate(noOpenRelay, server);
        assert.equal(messages.length, 1);
        assert.match(messages[0], /mynetworks is not set, so mynetworks_style = subnet/);
    });

    test("fails when neither restriction list rejects unauthorized destinations", async () => {
        const server = mailServer(internetSpec(), {
            mainCf: t =>
                setParam(
                    "smtpd_recipient_restrictions",
                    "permit_mynetworks",
                )(setParam("smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated")(t)),
        });
        const messages = await validate(noOpenRelay, server);
        assert.equal(messages.length, 1);
        assert.match(messages[0], /^main\.cf: neither smtpd_relay_restrictions .* reject_unauth_destination/);
    });

    test("passes when reject_unauth_destination is only in smtpd_recipient_restrictions", async () => {
        const server = mailServer(internetSpec(), {
            mainCf: t =>
                setParam(
                    "smtpd_recipient_restrictions",
                    "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
                )(setParam("smtpd_relay_restrictions", "")(t)),
        });
        assert.deepEqual(await validate(noOpenRelay, server), []);
    });

    test("fails a master.cf service whose -o override permits everything before the reject", async () => {
        const spec = internetSpec();
        const permitAll = (t: string) =>
            t.replace(
                "  -o syslog_name=postfix/smtp\n",
                "  -o syslog_name=postfix/smtp\n  -o smtpd_relay_restrictions=permit,reject_unauth_destination\n",
            );
        // On the component (host mode registers master.cf) and on the config job (bridge mode, once master.cf is
        // known).
        for (const resource of [mailServer(spec, { masterCf: permitAll }), postfixJob(spec, { masterCf: permitAll })]) {
            const messages = await validate(noOpenRelay, resource);
            assert.equal(messages.length, 1, resource.type);
            assert.ok(messages[0].startsWith(`master.cf service "${spec.ports.smtp}" (inet): neither`), messages[0]);
        }
    });

    test("network parsing: brackets, mapped IPv4, loopback", () => {
        assert.equal(tooWide(parseNetwork("127.0.0.0/8")!), undefined);
        assert.equal(tooWide(parseNetwork("[::1]/128")!), undefined);
        assert.equal(tooWide(parseNetwork("[::1]")!), undefined);
        assert.equal(tooWide(parseNetwork("192.0.2.7")!), undefined);
        assert.match(tooWide(parseNetwork("0.0.0.0/0")!)!, /whole IPv4/);
        assert.match(tooWide(parseNetwork("[::ffff:0:0]/96")!)!, /whole IPv4/);
        assert.match(tooWide(parseNetwork("::/0")!)!, /whole IPv6/);
        // One check with the components (trustRisk): public space host by host, private up to /16 (/48).
        assert.match(tooWide(parseNetwork("0.0.0.0/1")!)!, /public address space wider than a single host/);
        assert.match(tooWide(parseNetwork("192.0.2.0/24")!)!, /public address space wider than a single host/);
        assert.match(
            tooWide(parseNetwork("10.0.0.0/8")!)!,
            /private address space \(in 10\.0\.0\.0\/8\) wider than \/16/,
        );
        assert.equal(tooWide(parseNetwork("10.1.0.0/16")!), undefined);
        assert.equal(tooWide(parseNetwork("[fc12:3456:789a::]/48")!), undefined);
        assert.match(
            tooWide(parseNetwork("[2001:db8::]/64")!)!,
            /public address space wider than a single host \(a \/64\)/,
        );
        assert.equal(parseNetwork("lmdb:/etc/postfix/network_table"), undefined);
        assert.equal(parseNetwork("192.0.2.0/33"), undefined);
    });
});

describe("mail-auth-requires-tls", () => {
    test("passes our master.cf: AUTH on submission (STARTTLS required) and smtps (wrapper mode) only", async () => {
        // smtpd_tls_auth_only = no in main.cf: the services' own TLS settings must still carry it.
        assert.deepEqual(
            await validate(
                authRequiresTls,
                mailServer(internetSpec(), { mainCf: setParam("smtpd_tls_auth_only", "no") }),
            ),
            [],
        );
    });

    test("fails a submission service that neither requires TLS nor restricts AUTH to TLS", async () => {
        const spec = internetSpec();
        const server = mailServer(spec, {
            mainCf: setParam("smtpd_tls_auth_only", "no"),
            masterCf: t => t.replace("  -o smtpd_tls_security_level=encrypt\n", ""),
        });
        const messages = await validate(authRequiresTls, server);
        assert.equal(messages.length, 1);
        assert.ok(
            messages[0].startsWith(
                `master.cf service "${spec.ports.submission}" (inet): smtpd_sasl_auth_enable = yes, but TLS is not required`,
            ),
            messages[0],
        );
    });

    test("fails AUTH enabled in main.cf without smtpd_tls_auth_only (port 25 has no override)", async () => {
        const server = mailServer(relaySpec(), {
            mainCf: t => setParam("smtpd_tls_auth_only", "no")(setParam("smtpd_sasl_auth_enable", "yes")(t)),
        });
        const messages = await validate(authRequiresTls, server);
        assert.equal(messages.length, 1);
        assert.match(messages[0], /^main\.cf: smtpd_sasl_auth_enable = yes/);
    });

    test("passes our dovecot.conf (ssl = yes inside inet_listener imaps is implicit TLS, not the policy)", async () => {
        assert.deepEqual(await validate(authRequiresTls, dovecotImap()), []);
    });

    test("fails Dovecot cleartext authentication and ssl other than required", async () => {
        const cleartext = await validate(
            authRequiresTls,
            dovecotImap(t => t.replace("auth_allow_cleartext = no", "auth_allow_cleartext = yes")),
        );
        assert.equal(cleartext.length, 1);
        assert.match(cleartext[0], /auth_allow_cleartext = yes/);
        const sslYes = await validate(
            authRequiresTls,
            dovecotImap(t => t.replace("ssl = required", "ssl = yes")),
        );
        assert.equal(sslYes.length, 1);
        assert.match(sslYes[0], /ssl = yes; clients may log in without TLS/);
        const unset = await validate(
            authRequiresTls,
            dovecotImap(t => t.replace("ssl = required\n", "")),
        );
        assert.equal(unset.length, 1);
        assert.match(unset[0], /ssl is not set/);
        const legacy = await validate(
            authRequiresTls,
            dovecotImap(t => `${t}protocol imap {\n  disable_plaintext_auth = no\n}\n`),
        );
        assert.equal(legacy.length, 1);
        assert.match(legacy[0], /in "protocol imap".*disable_plaintext_auth = no/);
    });
});

describe("mail-tls-1.2-minimum", () => {
    test("passes our main.cf and inclusion lists of TLS 1.2 and newer", async () => {
        assert.deepEqual(await validate(tlsMinimumVersion, mailServer(internetSpec())), []);
        const server = mailServer(internetSpec(), {
            mainCf: t =>
                setParam("smtpd_tls_protocols", "TLSv1.2, TLSv1.3")(setParam("smtp_tls_protocols", ">=TLSv1.3")(t)),
        });
        assert.deepEqual(await validate(tlsMinimumVersion, server), []);
    });

    test("fails an exclusion list that leaves TLSv1 and TLSv1.1 on", async () => {
        const messages = await validate(
            tlsMinimumVersion,
            mailServer(internetSpec(), { mainCf: setParam("smtpd_tls_protocols", "!SSLv2, !SSLv3") }),
        );
        assert.equal(messages.length, 1);
        assert.equal(
            messages[0],
            'main.cf: smtpd_tls_protocols = "!SSLv2, !SSLv3" enables TLSv1, TLSv1.1. Set smtpd_tls_protocols = >=TLSv1.2.',
        );
    });

    test("fails an unset parameter (Postfix's default allows TLSv1) and a client-side >=TLSv1", async () => {
        const server = mailServer(internetSpec(), {
            mainCf: t =>
                setParam("smtp_tls_mandatory_protocols", ">=TLSv1")(dropParam("smtpd_tls_mandatory_protocols")(t)),
        });
        const messages = await validate(tlsMinimumVersion, server);
        assert.deepEqual(
            messages.map(m => m.split(" enables")[0]),
            [
                'main.cf: smtpd_tls_mandatory_protocols is not set; Postfix\'s default (">=TLSv1")',
                'main.cf: smtp_tls_mandatory_protocols = ">=TLSv1"',
            ],
        );
    });

    test("fails a master.cf service that lowers the protocols", async () => {
        const spec = internetSpec();
        const lower = (t: string) =>
            t.replace(
                "  -o syslog_name=postfix/smtps\n",
                "  -o syslog_name=postfix/smtps\n  -o { smtpd_tls_mandatory_protocols = >=TLSv1.1 }\n",
            );
        for (const resource of [mailServer(spec, { masterCf: lower }), postfixJob(spec, { masterCf: lower })]) {
            const messages = await validate(tlsMinimumVersion, resource);
            assert.equal(messages.length, 1, resource.type);
            assert.ok(
                messages[0].startsWith(
                    `master.cf service "${spec.ports.smtps}" (inet): smtpd_tls_mandatory_protocols = ">=TLSv1.1" enables TLSv1.1.`,
                ),
                messages[0],
            );
        }
    });

    test("passes our dovecot.conf, and a legacy ssl_protocols list that excludes TLS 1.0 and 1.1", async () => {
        assert.deepEqual(await validate(tlsMinimumVersion, dovecotImap()), []);
        const legacy = dovecotImap(t =>
            t.replace("ssl_min_protocol = TLSv1.2", "ssl_protocols = !SSLv3 !TLSv1 !TLSv1.1"),
        );
        assert.deepEqual(await validate(tlsMinimumVersion, legacy), []);
    });

    test("fails Dovecot ssl_min_protocol below TLSv1.2, or unset", async () => {
        const low = await validate(
            tlsMinimumVersion,
            dovecotImap(t => t.replace("ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1.1")),
        );
        assert.equal(low.length, 1);
        assert.match(low[0], /^dovecot\.conf: ssl_min_protocol = TLSv1\.1 allows protocols older than TLS 1\.2/);
        const unset = await validate(
            tlsMinimumVersion,
            dovecotImap(t => t.replace("ssl_min_protocol = TLSv1.2\n", "")),
        );
        assert.equal(unset.length, 1);
        assert.match(unset[0], /ssl_min_protocol is not set/);
    });

    test("protocol list semantics", () => {
        assert.deepEqual(enabledProtocols(">=TLSv1.2"), ["TLSv1.2", "TLSv1.3"]);
        assert.deepEqual(enabledProtocols("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"), ["TLSv1.2", "TLSv1.3"]);
        assert.deepEqual(enabledProtocols("!SSLv2:!SSLv3"), ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]);
        assert.deepEqual(enabledProtocols("TLSv1.2 TLSv1.3"), ["TLSv1.2", "TLSv1.3"]);
        assert.deepEqual(enabledProtocols(">=TLSv1 <=TLSv1.2 !TLSv1.1"), ["TLSv1", "TLSv1.2"]);
        assert.deepEqual(enabledProtocols(""), ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]);
    });
});

// Each mandatory rule, called with the properties the engine passes at the preview of a new stack:
// the components' inputs are known (pure renders of validated settings) except master.cf in bridge
// mode, which MailServer leaves out, and whatever Outputs the user passes (images, certificate);
// the config jobs' uploads hold unknowns (master.cf's subnet, the generated key). A rule must judge
// what is known, never stop with "can't run during preview", and still fail an open relay.
describe("mandatory rules at the preview of a new stack", () => {
    const MANDATORY = [noOpenRelay, authRequiresTls, tlsMinimumVersion];
    const UNRELATED: UnrelatedUnknown[] = ["images", "tls"];
    const wide = (mynetworks: string[]) => ({ ...internetSpec(), mynetworks });

    test("the MailServer of the dev stack (bridge mode: no master.cf) passes every rule, unrelated inputs unknown", async () => {
        const server = mailServer(internetSpec(), { masterCf: "absent", unknown: UNRELATED });
        for (const policy of MANDATORY) assert.deepEqual(await validate(policy, server), [], policy.name);
        assert.deepEqual(
            await validate(
                authRequiresTls,
                dovecotImap(t => t, ["images"]),
            ),
            [],
        );
        assert.deepEqual(
            await validate(
                tlsMinimumVersion,
                dovecotImap(t => t, ["images"]),
            ),
            [],
        );
    });

    test("an open mynetworks in the MailServer's settings is a mandatory violation naming the rule, main.cf known or not", async () => {
        assert.equal(noOpenRelay.enforcementLevel, "mandatory");
        for (const networks of [["0.0.0.0/0"], ["127.0.0.0/8", "10.0.0.0/8"], ["127.0.0.0/8", "[2001:db8::]/32"]]) {
            const entry = networks[networks.length - 1];
            // As the component registers it: settings and main.cf rendered from the same spec.
            const known = await validate(
                noOpenRelay,
                mailServer(wide(networks), { masterCf: "absent", unknown: UNRELATED }),
            );
            assert.equal(known.length, 1, `${entry}: ${known.join(" | ")}`);
            assert.ok(known[0].startsWith(`main.cf: mynetworks trusts ${entry}: `), known[0]);
            // Should main.cf ever be unknown, the typed setting carries the decision.
            for (const unknown of [["main.cf"], ["postfixFiles"]] as const) {
                const fallback = await validate(
                    noOpenRelay,
                    mailServer(wide(networks), { masterCf: "unknown", unknown: [...unknown, ...UNRELATED] }),
                );
                assert.equal(fallback.length, 1, `${entry} with ${unknown}`);
                assert.ok(fallback[0].startsWith(`MailServer settings: mynetworks trusts ${entry}: `), fallback[0]);
            }
        }
    });

    test("nothing known is nothing reported, and no rule throws", async () => {
        const server = mailServer(wide(["10.0.0.0/8"]), {
            masterCf: "unknown",
            unknown: ["postfixFiles", "mynetworks", ...UNRELATED],
        });
        const dovecot: WireResource = {
            type: DOVECOT_IMAP_TYPE,
            wire: { ...dovecotImap().wire, [FILE_INPUTS.dovecot]: UNKNOWN },
        };
        // The unknowns are the SDK's: reading one throws, as during a real preview.
        assert.throws(() => decode(server.wire)[FILE_INPUTS.postfix], UnknownValueError);
        for (const policy of MANDATORY) {
            assert.deepEqual(await validate(policy, server), [], policy.name);
            assert.deepEqual(await validate(policy, dovecot), [], policy.name);
        }
    });

    test("a config job with an unknown master.cf (bridge mode) and key passes without throwing; its main.cf is judged on the MailServer", async () => {
        const open = setParam("mynetworks", "0.0.0.0/0");
        const job = postfixJob(internetSpec(), { masterCf: "unknown", key: "unknown-secret", mainCf: open });
        for (const policy of MANDATORY) assert.deepEqual(await validate(policy, job), [], policy.name);
        // Known again (an update, or the next preview), the job still reports main.cf problems only on the component...
        assert.deepEqual(await validate(noOpenRelay, postfixJob(internetSpec(), { mainCf: open })), []);
        assert.equal(
            (await validate(noOpenRelay, mailServer(internetSpec(), { mainCf: open, masterCf: "absent" }))).length,
            1,
        );
        // ...and its dovecot.conf too.
        assert.deepEqual(
            await validate(
                authRequiresTls,
                dovecotJob(t => t.replace("ssl = required", "ssl = yes")),
            ),
            [],
        );
    });

    test("a container that is not ours is judged on the files its uploads carry and are known", async () => {
        const open = setParam("mynetworks", "0.0.0.0/0");
        for (const masterCf of [undefined, "unknown"] as const) {
            const messages = await validate(
                noOpenRelay,
                postfixJob(internetSpec(), { foreign: true, mainCf: open, masterCf, key: "unknown-plain" }),
            );
            assert.equal(messages.length, 1, `master.cf ${masterCf ?? "known"}`);
            assert.match(messages[0], /^main\.cf: mynetworks trusts 0\.0\.0\.0\/0/);
        }
        assert.equal(
            (
                await validate(
                    authRequiresTls,
                    dovecotJob(t => t.replace("ssl = required", "ssl = yes"), { foreign: true }),
                )
            ).length,
            1,
        );
        // An unknown main.cf: nothing to judge yet, and no "can't run".
        const unknownMain = postfixJob(internetSpec(), { foreign: true });
        (unknownMain.wire.uploads as Array<{ file: string; content: unknown }>).find(u =>
            u.file.endsWith("/main.cf"),
        )!.content = UNKNOWN;
        for (const policy of MANDATORY) assert.deepEqual(await validate(policy, unknownMain), [], policy.name);
    });

    test("the component's secret inputs reach validations unwrapped, like every secret (never echoed by the rules)", async () => {
        const props = decode(mailServer(internetSpec()).wire);
        assert.equal(props[SECRET_FILE_INPUTS.saslauthd].passwd, HASHES);
        for (const policy of MANDATORY) {
            for (const m of await validate(
                policy,
                mailServer(internetSpec(), { mainCf: setParam("mynetworks", "0.0.0.0/0") }),
            ))
                assert.ok(!m.includes("$6$"), m);
        }
    });
});

describe("mail-no-plaintext-secrets", () => {
    test("passes our containers and harmless variables", async () => {
        const wire = serviceContainer("mail-postfix", {
            envs: [
                "TZ=UTC",
                "DB_PASSWORD_FILE=/run/secrets/db",
                "TLS_KEY_PATH=/config/current/tls/key.pem",
                "KEY_ALGORITHM=ECDSA",
                "SSH_AUTH_SOCK=/tmp/agent",
            ],
        });
        assert.deepEqual(await validate(noPlaintextSecrets, { type: CONTAINER_TYPE, wire }), []);
        assert.deepEqual(await validate(noPlaintextSecrets, postfixJob(internetSpec())), []);
    });

    test("fails password, token and key variables and labels, secret or not, without echoing the value", async () => {
        const wire = serviceContainer("mail-app", {
            envs: [
                "RELAY_PASSWORD=hunter2-hunter2",
                secret("API_TOKEN=tok-123456"),
                "dkimPrivateKey=abc",
                "MAIL_SECRET=",
            ],
            labels: [
                { label: "mailserver.stack", value: "mail" },
                { label: "com.example.apiKey", value: "k-987" },
            ],
        });
        const messages = await validate(noPlaintextSecrets, { type: CONTAINER_TYPE, wire });
        assert.deepEqual(
            messages.map(m => /^(Environment variable|Label) \S+/.exec(m)?.[0]),
            [
                "Environment variable RELAY_PASSWORD",
                "Environment variable API_TOKEN",
                "Environment variable dkimPrivateKey",
                "Label com.example.apiKey",
            ],
        );
        for (const m of messages) assert.ok(!/hunter2|tok-123456|abc\b|k-987/.test(m), m);
    });

    test("name heuristics", () => {
        for (const n of [
            "PASSWORD",
            "db_passwd",
            "SMTP_PASS",
            "SECRET_KEY_BASE",
            "GITHUBTOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "sasl.credentials",
        ])
            assert.ok(looksSecret(n), n);
        for (const n of [
            "MONKEY",
            "KEYRING_BACKEND",
            "PASSWORD_FILE",
            "AWS_ACCESS_KEY_ID",
            "TOKENIZER",
            "mailserver.role",
        ])
            assert.ok(!looksSecret(n), n);
    });
});

describe("mail-secret-uploads (remediation)", () => {
    async function remediate(wire: Record<string, unknown>, type = CONTAINER_TYPE) {
        const result = await secretUploads.remediateResource!(resourceArgs(wire, { type, forRemediation: true }));
        // What the SDK sends back to the engine.
        return result ? await sdk.serializeProperties(result) : undefined;
    }
    const contentOf = (wire: Record<string, any>, suffix: string) =>
        wire.uploads.find((u: any) => u.file.endsWith(suffix)).content;

    test("is a remediation only", () => {
        assert.equal(secretUploads.enforcementLevel, "remediate");
        assert.equal(secretUploads.validateResource, undefined);
    });

    test("leaves a job whose key and password files are already secrets alone (also when the key is unknown)", async () => {
        assert.equal(await remediate(postfixJobWire(internetSpec())), undefined);
        assert.equal(await remediate(postfixJobWire(internetSpec(), { key: "unknown-secret" })), undefined);
        assert.equal(await remediate(dovecotJobWire()), undefined);
    });

    test("marks a plain key.pem secret, keeping other secrets secret and plain files plain", async () => {
        const out = await remediate(postfixJobWire(internetSpec(), { key: "plain" }));
        assert.ok(out);
        assert.deepEqual(contentOf(out, "/tls/key.pem"), secret(KEY_PEM));
        assert.ok(isWireSecret(contentOf(out, "/sasl_passwd")));
        assert.equal(typeof contentOf(out, "/main.cf"), "string");
        assert.equal(typeof contentOf(out, "/tls/cert.pem"), "string");
        assert.equal(out.name, "mail-postfix-config");
        assert.equal(out.image, UNKNOWN);
    });

    test("marks an unknown plain key, password files and PEM keys under other names", async () => {
        assert.deepEqual(
            contentOf((await remediate(postfixJobWire(internetSpec(), { key: "unknown-plain" })))!, "/tls/key.pem"),
            secret(UNKNOWN),
        );
        const wire = {
            uploads: [
                { file: "/staging/users", content: "alice@example.com:{SHA512-CRYPT}$6$x$y\n" },
                { file: "/etc/ssl/bundle.pem", content: `cert\n${KEY_PEM}` },
                { file: "/etc/opendkim/keys/mail.private", contentBase64: Buffer.from("k").toString("base64") },
                { file: "/staging/dovecot.conf", content: "ssl = required\n" },
            ],
        };
        const out = (await remediate(wire))!;
        assert.deepEqual(
            out.uploads.map((u: any) => isWireSecret(u.content ?? u.contentBase64)),
            [true, true, true, false],
        );
    });

    test("ignores other resource types", async () => {
        assert.equal(
            await remediate(postfixJobWire(internetSpec(), { key: "plain" }), "docker:index/volume:Volume"),
            undefined,
        );
    });

    test("the SDK still hides secretness from validations (why this is a remediation)", () => {
        const props = decode(postfixJobWire(internetSpec()));
        const key = props.uploads.find((u: any) => u.file.endsWith("/tls/key.pem")).content;
        assert.ok(!(key instanceof Secret));
        assert.equal(key, KEY_PEM);
    });
});

describe("mail-dkim-dmarc", () => {
    // The spam filter off: no milter in main.cf, so nothing signs.
    const job = (o: JobOptions = {}): StackEntry => ({
        name: "mail-postfix-config",
        wire: postfixJobWire({ ...internetSpec(), milter: false }, o),
    });

    test("notes a mail server with neither DKIM signing nor a DMARC record", async () => {
        const out = await validateStack(dkimAndDmarc, [
            job(),
            {
                name: "mail-postfix",
                wire: serviceContainer("mail-postfix", { ports: [25] }),
                dependsOn: ["mail-postfix-config"],
            },
        ]);
        assert.equal(out.length, 2);
        assert.match(out[0].message, /^No DKIM signing is configured for example\.com, example\.org/);
        assert.match(out[1].message, /^No DMARC record is published for example\.com, example\.org/);
        assert.equal(out[0].urn, `urn:pulumi:dev::mailserver::${CONTAINER_TYPE}::mail-postfix-config`);
    });

    test("passes with a signing milter in main.cf and a DMARC value in the stack outputs", async () => {
        const out = await validateStack(dkimAndDmarc, [
            job({
                mainCf: t =>
                    setParam("non_smtpd_milters", "$smtpd_milters")(setParam("smtpd_milters", "inet:opendkim:8891")(t)),
            }),
            {
                name: "mailserver-dev",
                type: "pulumi:pulumi:Stack",
                wire: { dnsRecords: [{ name: "_dmarc.example.com", type: "TXT", value: "v=DMARC1; p=quarantine" }] },
            },
        ]);
        assert.deepEqual(out, []);
    });

    test("passes with an opendkim container and a DNS record resource for _dmarc", async () => {
        const out = await validateStack(dkimAndDmarc, [
            job(),
            { name: "opendkim", wire: { name: "mail-opendkim", image: "instrumentisto/opendkim:2.11" } },
            {
                name: "dmarc",
                type: "cloudflare:index/record:Record",
                wire: { name: "_dmarc", type: "TXT", content: UNKNOWN },
            },
        ]);
        assert.deepEqual(out, []);
    });

    test("does nothing in a stack without a mail server", async () => {
        assert.deepEqual(
            await validateStack(dkimAndDmarc, [{ name: "web", wire: serviceContainer("web", { ports: [443] }) }]),
            [],
        );
    });
});

/** A VirtualDomain as it registers itself: its validated settings (components/inputs.ts). */
function virtualDomain(args: Record<string, unknown>): StackEntry {
    const { spec, dns, dkim } = validateVirtualDomain(new Validator("VirtualDomain t"), {
        mailboxes: [{ address: "alice", password: "a-long-enough-password" }],
        ...args,
    });
    return { name: spec.name, type: VIRTUAL_DOMAIN_TYPE, wire: domainSettings(spec, dns, dkim) };
}

describe("mail-dkim-dmarc: the package's own keys and records", () => {
    // The spam filter on: Postfix passes mail through the package's rspamd, which signs with the VirtualDomains' keys.
    const job: StackEntry = { name: "mail-postfix-config", wire: postfixJobWire(internetSpec()) };

    test("passes when every mail domain has a VirtualDomain with dkim on (its DMARC record comes with it)", async () => {
        const out = await validateStack(dkimAndDmarc, [
            job,
            virtualDomain({ domain: "example.com" }),
            virtualDomain({ domain: "example.org" }),
        ]);
        assert.deepEqual(out, []);
    });

    test("names the domains whose VirtualDomain has dkim off, or that have none", async () => {
        const out = await validateStack(dkimAndDmarc, [job, virtualDomain({ domain: "example.com", dkim: false })]);
        assert.equal(out.length, 2);
        assert.match(out[0].message, /^No DKIM signing is configured for example\.com, example\.org: .*Set dkim: true/);
        assert.match(out[1].message, /^No DMARC record is published for example\.org:/);
    });

    test("with the spam filter off nothing signs, whatever the VirtualDomains say", async () => {
        const out = await validateStack(dkimAndDmarc, [
            { name: "mail-postfix-config", wire: postfixJobWire({ ...internetSpec(), milter: false }) },
            virtualDomain({ domain: "example.com" }),
            virtualDomain({ domain: "example.org" }),
        ]);
        assert.equal(out.length, 1, JSON.stringify(out));
        assert.match(
            out[0].message,
            /^No DKIM signing is configured for example\.com, example\.org: .*spamFilter enabled/,
        );
    });

    test("the package's own rspamd (milter and container) signs only with VirtualDomains' keys, so it covers no other domain", async () => {
        // The spam filter on: main.cf names rspamd's socket, and the rspamd container runs.
        const ownFilter: StackEntry[] = [
            { name: "mail-postfix-config", wire: postfixJobWire(internetSpec()) },
            { name: "mail-rspamd", wire: serviceContainer("mail-rspamd") },
        ];
        const out = await validateStack(dkimAndDmarc, [
            ...ownFilter,
            virtualDomain({ domain: "example.com", dkim: false }),
        ]);
        assert.equal(out.length, 2);
        assert.match(out[0].message, /^No DKIM signing is configured for example\.com, example\.org: /);
        assert.match(out[1].message, /^No DMARC record is published for example\.org:/);
        assert.deepEqual(
            await validateStack(dkimAndDmarc, [
                ...ownFilter,
                virtualDomain({ domain: "example.com" }),
                virtualDomain({ domain: "example.org" }),
            ]),
            [],
        );
        // Another milter beside ours, or an rspamd of someone else's, still counts as signing.
        const other = await validateStack(dkimAndDmarc, [
            {
                name: "mail-postfix-config",
                wire: postfixJobWire(internetSpec(), {
                    mainCf: setParam("smtpd_milters", "unix:/run/rspamd-milter/milter.sock, inet:opendkim:8891"),
                }),
            },
            virtualDomain({ domain: "example.com", dkim: false }),
        ]);
        assert.doesNotMatch(other.map(v => v.message).join("\n"), /No DKIM signing/);
        const foreign = await validateStack(dkimAndDmarc, [
            ...ownFilter,
            { name: "rspamd", wire: serviceContainer("rspamd", { labels: [{ label: "app", value: "mail" }] }) },
            virtualDomain({ domain: "example.com", dkim: false }),
        ]);
        assert.doesNotMatch(foreign.map(v => v.message).join("\n"), /No DKIM signing/);
    });
});

describe("mail-dmarc-report-address", () => {
    test("quarantine or reject without rua: the failures go unseen", async () => {
        const out = await validateStack(dmarcReportAddress, [
            virtualDomain({ domain: "example.com", dmarcPolicy: "reject" }),
        ]);
        assert.equal(out.length, 1);
        assert.match(out[0].message, /^The DMARC policy of example\.com has p=reject and no report address \(rua\)/);
        assert.equal(out[0].urn, `urn:pulumi:dev::mailserver::${VIRTUAL_DOMAIN_TYPE}::example.com`);
    });

    test("p=none without rua asks nothing; rua to a mailbox or alias of any VirtualDomain passes", async () => {
        const out = await validateStack(dmarcReportAddress, [
            virtualDomain({ domain: "example.com" }),
            virtualDomain({
                domain: "example.org",
                dmarcPolicy: "quarantine",
                dmarcReportAddress: "alice@example.com",
            }),
            virtualDomain({
                domain: "example.net",
                aliases: [{ address: "dmarc", targets: ["alice@example.net"] }],
                dmarcPolicy: "reject",
                dmarcReportAddress: "dmarc@example.net",
            }),
        ]);
        assert.deepEqual(out, []);
    });

    test("rua outside the stack is flagged, unless listed in externalReportAddresses", async () => {
        const stack = [
            virtualDomain({ domain: "example.com", dmarcReportAddress: "reports@dmarc.example.net" }),
            // The same record as a stack output is not judged twice.
            {
                name: "mailserver-dev",
                type: "pulumi:pulumi:Stack",
                wire: {
                    dnsRecords: [
                        {
                            name: "_dmarc.example.com",
                            type: "TXT",
                            value: "v=DMARC1; p=none; rua=mailto:reports@dmarc.example.net",
                        },
                    ],
                },
            },
        ];
        const out = await validateStack(dmarcReportAddress, stack);
        assert.equal(out.length, 1);
        assert.match(
            out[0].message,
            /^The DMARC policy of example\.com sends its aggregate reports to reports@dmarc\.example\.net, which no VirtualDomain of this stack defines/,
        );
        assert.deepEqual(
            await validateStack(dmarcReportAddress, stack, { externalReportAddresses: ["Reports@dmarc.example.net"] }),
            [],
        );
    });

    test("DMARC records of other resources are judged too (a DNS provider's record)", async () => {
        const out = await validateStack(dmarcReportAddress, [
            virtualDomain({ domain: "example.com" }),
            {
                name: "dmarc-org",
                type: "cloudflare:index/record:Record",
                wire: {
                    name: "_dmarc",
                    type: "TXT",
                    content: "v=DMARC1; p=quarantine; rua=mailto:alice@example.com!10m,mailto:x@example.org",
                },
            },
        ]);
        assert.equal(out.length, 1);
        assert.match(
            out[0].message,
            /^The DMARC record "v=DMARC1; p=quarantine; .*" \(dmarc-org\) sends its aggregate reports to x@example\.org/,
        );
    });

    test("does nothing in a stack without a VirtualDomain", async () => {
        assert.deepEqual(
            await validateStack(dmarcReportAddress, [
                { name: "dmarc", type: "cloudflare:index/record:Record", wire: { content: "v=DMARC1; p=reject" } },
            ]),
            [],
        );
    });
});

describe("mail-smtp-reverse-dns", () => {
    const relayJob: StackEntry = { name: "mail-postfix-config", wire: postfixJobWire(relaySpec()) };

    test("notes a container publishing port 25, naming the job's myhostname", async () => {
        const out = await validateStack(smtpReverseDns, [
            relayJob,
            {
                name: "mail-postfix",
                wire: serviceContainer("mail-postfix", { ports: [25, 587, 465] }),
                dependsOn: ["mail-postfix-config"],
            },
        ]);
        assert.equal(out.length, 1);
        assert.match(
            out[0].message,
            /^Container mail-postfix publishes port 25 on 0\.0\.0\.0\. Set the PTR record .* to "mail\.example\.com"/,
        );
        assert.equal(out[0].urn, `urn:pulumi:dev::mailserver::${CONTAINER_TYPE}::mail-postfix`);
    });

    test("notes host network mode when the container's Postfix listens on port 25", async () => {
        const out = await validateStack(smtpReverseDns, [
            relayJob,
            {
                name: "mail-postfix",
                wire: serviceContainer("mail-postfix", { networkMode: "host" }),
                dependsOn: ["mail-postfix-config"],
            },
            { name: "mail-dovecot", wire: serviceContainer("mail-dovecot", { networkMode: "host" }) },
        ]);
        assert.equal(out.length, 1);
        assert.match(
            out[0].message,
            /^Container mail-postfix listens on port 25 \(master\.cf service "25"\) in host network mode/,
        );
    });

    test("is silenced by reverseDnsConfirmed: true", async () => {
        const out = await validateStack(
            smtpReverseDns,
            [
                relayJob,
                {
                    name: "mail-postfix",
                    wire: serviceContainer("mail-postfix", { ports: [25] }),
                    dependsOn: ["mail-postfix-config"],
                },
            ],
            { reverseDnsConfirmed: true },
        );
        assert.deepEqual(out, []);
    });

    test("passes ports on loopback or other than 25, and host mode on other ports", async () => {
        const out = await validateStack(smtpReverseDns, [
            relayJob,
            {
                name: "dev-postfix",
                wire: serviceContainer("dev-postfix", { ports: [25], ip: "127.0.0.1" }),
                dependsOn: ["mail-postfix-config"],
            },
            {
                name: "alt-postfix",
                wire: serviceContainer("alt-postfix", { ports: [2525] }),
                dependsOn: ["mail-postfix-config"],
            },
            { name: "internet-config", wire: postfixJobWire(internetSpec()) },
            {
                name: "host-postfix",
                wire: serviceContainer("host-postfix", { networkMode: "host" }),
                dependsOn: ["internet-config"],
            },
        ]);
        assert.deepEqual(out, []);
    });
});
