// Shared fixtures for the unit tests, and strict views of policy/parse.ts's main.cf and master.cf
// parsers. Pure: no Pulumi imports, so the render tests load fast. Every builder returns a fresh
// object, so two calls give equal but unshared specs.
import assert from "node:assert/strict";
import { DovecotSpec } from "../../components/model/spec";
import { DomainSpec, PostfixSpec, RelayhostSpec } from "../../components/model/spec";
import { certificateSpec } from "../../components/model/certificate";
import type { MailServerSettings } from "../../components/model/settings";
import { MailConfigError } from "../../components/model/validator";
import { MAIL_SERVER_BRAND } from "../../components/options/mailServer";
import { MasterService, postfixList, readMainCf, readMasterCf } from "../../policy/parse";

export function exampleCom(): DomainSpec {
    return {
        name: "example.com",
        mailboxes: [
            { address: "alice@example.com", quota: "2G", aliases: ["info@example.com", "a.smith@example.com"] },
            { address: "bob@example.com", aliases: [] },
            { address: "carol@example.com", quota: "500M", aliases: [] },
        ],
        aliases: [
            { address: "sales@example.com", targets: ["alice@example.com", "bob@example.com"] },
            // The domain defines its own postmaster: the admin default must not override it.
            { address: "postmaster@example.com", targets: ["bob@example.com"] },
            { address: "partners@example.com", targets: ["someone@external.example"] },
        ],
        catchAll: "alice@example.com",
        forwards: [
            { address: "bob@example.com", targets: ["bob@elsewhere.example"], keepCopy: true },
            {
                address: "carol@example.com",
                targets: ["carol@elsewhere.example", "carol2@elsewhere.example"],
                keepCopy: false,
            },
        ],
        dkimSelectors: [
            { selector: "mail-rsa", algorithm: "rsa" },
            { selector: "mail-ed25519", algorithm: "ed25519" },
        ],
    };
}

export function exampleOrg(): DomainSpec {
    return {
        name: "example.org",
        mailboxes: [{ address: "dave@example.org", aliases: [] }],
        // The domain defines its own abuse address, but not postmaster.
        aliases: [{ address: "abuse@example.org", targets: ["dave@example.org"] }],
        forwards: [],
        dkimSelectors: [],
    };
}

export function internetSpec(): PostfixSpec {
    return {
        mode: "internet",
        hostname: "mail.example.com",
        mydomain: "example.com",
        myorigin: "example.com",
        mydestination: ["$myhostname", "localhost"],
        mynetworks: ["127.0.0.0/8", "[::1]/128", "10.20.30.0/24"],
        inetInterfaces: ["all"],
        inetProtocols: "all",
        peernameLookup: true,
        relayDomains: ["backup.example.net"],
        relayRecipients: ["x@backup.example.net", "y@backup.example.net"],
        messageSizeLimit: 31457280,
        maximalQueueLifetime: "3d",
        bounceQueueLifetime: "2d",
        delayWarningTime: "6h",
        masqueradeDomains: ["example.com", "example.org"],
        disableVrfy: true,
        recipientDelimiter: "+",
        adminAddress: "alice@example.com",
        notifyClasses: ["bounce", "2bounce", "delay", "resource", "software"],
        authRateLimit: 20,
        // Not the defaults, so the tests see that master.cf takes them from the spec.
        ports: { smtp: 2525, submission: 5870, smtps: 4650 },
        domains: [exampleCom(), exampleOrg()],
        relayhosts: [],
        milter: true,
        certificate: certificateSpec(false),
        outboundTls: { dane: true, mtaSts: true, trustedCa: false, tlsReports: true },
    };
}

export function defaultRelay(overrides: Partial<RelayhostSpec> = {}): RelayhostSpec {
    return {
        host: "smtp.provider.example",
        port: 587,
        tlsPolicy: "encrypt",
        senderDomains: [],
        hasCredentials: true,
        ...overrides,
    };
}

/** A relay-only server: no mailboxes, everything through one authenticated smarthost. */
export function relaySpec(relay: RelayhostSpec = defaultRelay()): PostfixSpec {
    return {
        ...internetSpec(),
        mode: "relay",
        myorigin: "example.com",
        relayDomains: [],
        relayRecipients: [],
        adminAddress: "postmaster@example.com",
        ports: { smtp: 25, submission: 587, smtps: 465 },
        domains: [],
        relayhosts: [relay],
    };
}

export function dovecotSpec(ports: Partial<DovecotSpec["ports"]> = {}): DovecotSpec {
    return {
        hostname: "mail.example.com",
        listen: ["*", "::"],
        publishAddress: "0.0.0.0",
        ports: { imap: 1143, imaps: 1993, managesieve: 14190, pop3: 0, pop3s: 0, ...ports },
        recipientDelimiter: "+",
        messageSizeLimit: 31457280,
        vacation: { minPeriod: "1d", defaultPeriod: "7d", maxPeriod: "30d" },
        junkSpam: true,
        domains: [exampleCom(), exampleOrg()],
        certificate: certificateSpec(false),
    };
}

/** Non-comment, non-blank lines. */
export function contentLines(text: string): string[] {
    return text.split("\n").filter(l => l.trim() !== "" && !l.trimStart().startsWith("#"));
}

/**
 * main.cf read by the policy pack's parser (policy/parse.ts, the one main.cf parser): key ->
 * value (last assignment wins, as in Postfix) and how often each key is assigned. A line the
 * parser cannot read fails the test.
 */
export function parseMainCf(text: string): { values: Map<string, string>; counts: Map<string, number> } {
    const main = readMainCf(text);
    assert.deepEqual(main.errors, [], 'main.cf has lines that are not "key = value"');
    const counts = new Map<string, number>();
    for (const { key } of main.assignments) counts.set(key, (counts.get(key) ?? 0) + 1);
    return { values: main.values, counts };
}

/** Keys assigned more than once. */
export function duplicates(counts: Map<string, number>): string[] {
    return [...counts].filter(([, n]) => n > 1).map(([k]) => k);
}

/**
 * master.cf's services read by the policy pack's parser (columns, "-o" overrides). A line it
 * cannot read, or an option given twice for one service, fails the test.
 */
export function parseMasterCf(text: string): MasterService[] {
    const master = readMasterCf(text);
    assert.deepEqual(master.errors, [], "master.cf has lines the parser cannot read");
    for (const s of master.services) {
        const keys = s.overrides.map(o => o.key);
        assert.deepEqual(
            keys.filter((k, i) => keys.indexOf(k) !== i),
            [],
            `options given twice for service ${s.name}`,
        );
    }
    return master.services;
}

/** Parses a Postfix lookup table source ("key<TAB>value") into entries, in order. */
export function parseTable(text: string): Array<[string, string]> {
    return contentLines(text).map(line => {
        const m = /^(\S+)\s+(\S.*)$/.exec(line);
        assert.ok(m, `table line is not "key value": ${JSON.stringify(line)}`);
        return [m[1], m[2]] as [string, string];
    });
}

/** Parses an aliases(5) file ("name: value"). */
export function parseAliases(text: string): Array<[string, string]> {
    return contentLines(text).map(line => {
        const m = /^([^:\s]+):\s*(\S.*)$/.exec(line);
        assert.ok(m, `aliases line is not "name: value": ${JSON.stringify(line)}`);
        return [m[1], m[2]] as [string, string];
    });
}

/** Asserts no key occurs twice and returns the entries as a map. */
export function uniqueMap(entries: Array<[string, string]>, what: string): Map<string, string> {
    const map = new Map<string, string>();
    for (const [k, v] of entries) {
        assert.ok(!map.has(k), `${what}: key ${k} appears more than once`);
        map.set(k, v);
    }
    return map;
}

/** "a, b,c" -> ["a", "b", "c"]: Postfix's list splitting, as the policy pack does it. */
export const splitList = postfixList;

/** MailServer outboundTls with every default (validated settings). */
export function outboundTlsDefaults() {
    return {
        dane: true,
        mtaSts: true,
        resolver: false,
        resolverAddress: "127.0.0.153",
        stubZones: [],
        trustAnchors: [],
        trustedCaPem: undefined,
    };
}

/** A MailServer as validateDovecot sees it: its brand (the component's own check) and its settings. */
export function fakeMailServer(settings: MailServerSettings): { settings: MailServerSettings } {
    return Object.assign(Object.create({ [MAIL_SERVER_BRAND]: true }), { settings });
}

/**
 * fn must throw a MailConfigError "<label>: <field> = <shown> is not accepted; <explanation>" whose
 * explanation matches; returns the message.
 */
export function refused(fn: () => unknown, label: string, field: string, shown: string, explanation: RegExp): string {
    try {
        fn();
    } catch (e) {
        assert.ok(e instanceof MailConfigError, `expected a MailConfigError, got ${String(e)}`);
        assert.ok(e.message.startsWith(`${label}: ${field} = ${shown} is not accepted; `), e.message);
        assert.match(e.message.slice(e.message.indexOf(" is not accepted; ")), explanation);
        return e.message;
    }
    assert.fail(`expected a MailConfigError for ${field}`);
}
