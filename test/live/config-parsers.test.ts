// The one configuration parser (policy/parse.ts, which the policy pack and the unit tests use)
// agrees with Postfix and Dovecot themselves: on a generation deployed through the real engine,
// what it reads from main.cf, master.cf and dovecot.conf is what postconf and doveconf report.
// postconf's and doveconf's outputs are read here with small readers of their fixed output
// formats, not with the parser under test, so a parser mistake cannot cancel itself out.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { docker } from "./clients";
import { deploy, destroy, liveConfig } from "./stack";
import { DovecotSetting, readDovecotConf, readMainCf, readMasterCf } from "../../policy/parse";

const PREFIX = "parsetest";
const POSTFIX = `${PREFIX}-postfix`;
const DOVECOT = `${PREFIX}-dovecot`;

// Beyond the default live stack: a smarthost with implicit TLS for one sender domain and a fixed
// transport, so main.cf and master.cf carry the relay parameters and the extra smtp service.
// Nothing is sent, so nothing needs to listen on these ports.
const config = () =>
    liveConfig(
        {
            "mailserver:relayhosts": [
                {
                    name: "smarthost",
                    host: "127.0.0.1",
                    port: 28501,
                    username: "relay@smarthost.test",
                    senderDomains: ["example.org"],
                    implicitTls: true,
                },
            ],
            "mailserver:relayPasswords": { smarthost: "Relay-Secret-2026!parse" },
            "mailserver:transports": [{ domain: "held.example", nexthop: "[127.0.0.1]:9" }],
        },
        PREFIX,
        28000,
    );

/** A file of the active generation, as the daemons see it. */
const current = (container: string, file: string) => docker(["exec", container, "cat", `/config/current/${file}`]);
/** postconf on the active generation (the image sets MAIL_CONFIG too; explicit here). */
const postconf = (...args: string[]) =>
    docker(["exec", "-e", "MAIL_CONFIG=/config/current", POSTFIX, "postconf", ...args]);
const doveconf = (...args: string[]) => docker(["exec", DOVECOT, "doveconf", ...args]);

/** postconf's "name = value" lines (value may be empty: "name ="), in output order. */
function postconfLines(output: string): Array<[string, string]> {
    return output
        .split("\n")
        .filter(Boolean)
        .map(line => {
            const m = /^(\S+) =(?: (.*))?$/.exec(line);
            assert.ok(m, `postconf line is not "name = value": ${JSON.stringify(line)}`);
            return [m[1], m[2] ?? ""] as [string, string];
        });
}

interface Doveconf {
    path: string[];
    key: string;
    value: string;
}

/**
 * doveconf's output: "# ..." header lines, "name {", "}", and "key = value" lines, where a
 * value doveconf had to quote is "..." with \\ and \" escapes.
 */
function doveconfSettings(output: string): Doveconf[] {
    const settings: Doveconf[] = [];
    const path: string[] = [];
    for (const raw of output.split("\n")) {
        const line = raw.trim();
        if (line === "" || (path.length === 0 && line.startsWith("#"))) continue;
        if (line === "}") {
            assert.ok(path.pop() !== undefined, "doveconf: unbalanced }");
            continue;
        }
        if (line.endsWith(" {")) {
            path.push(line.slice(0, -2));
            continue;
        }
        const m = /^(\S+) =(?: (.*))?$/.exec(line);
        assert.ok(m, `doveconf line is not "key = value": ${JSON.stringify(raw)}`);
        const v = m[2] ?? "";
        const value = /^".*"$/.test(v) ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v;
        settings.push({ path: [...path], key: m[1], value });
    }
    assert.equal(path.length, 0, "doveconf: unclosed section");
    return settings;
}

const where = (path: string[], key: string) => [...path, key].join(" > ");

// Dovecot 2.4's built-in auth_policy request attributes. The file's request_attributes section
// adds to them (the brute-force limits), and doveconf -n prints the merged list, so these appear
// in doveconf -n without being in the file. Only these names, with exactly these values, may.
const DOVECOT_DEFAULT_POLICY_ATTRIBUTES = new Map(
    Object.entries({
        login: "%{requested_username}",
        pwhash: "%{hashed_password}",
        remote: "%{remote_ip}",
        device_id: "%{client_id}",
        protocol: "%{protocol}",
        session_id: "%{session}",
        fail_type: "%{fail_type}",
    }).map(([k, v]) => [where(["auth_policy", "request_attributes"], k), v]),
);

describe("config parsers agree with postconf and doveconf, live", () => {
    before(() => {
        destroy(PREFIX);
        deploy(config());
    });

    after(() => destroy(PREFIX));

    test("main.cf: every key and value equals postconf -n", () => {
        const main = readMainCf(current(POSTFIX, "main.cf"));
        assert.deepEqual(main.errors, []);
        assert.ok(
            main.values.has("relayhost") || main.values.has("sender_dependent_relayhost_maps"),
            "the relay parameters were rendered",
        );
        const parsed = [...main.values].map(([k, v]) => `${k} = ${v}`);
        // postconf -n prints main.cf's explicit settings sorted by name, values unexpanded, blanks
        // around "=" and at the ends dropped; MAIL_CONFIG adds config_directory, which main.cf
        // does not set.
        const expected = [...parsed, "config_directory = /config/current"].sort();
        const reported = postconfLines(postconf("-n")).map(([k, v]) => `${k} = ${v}`);
        assert.ok(reported.length > 60, `postconf -n printed ${reported.length} settings`);
        assert.deepEqual(expected, [...reported].sort());
    });

    test("master.cf: services, their columns, command and -o overrides equal postconf -F and -P", () => {
        const master = readMasterCf(current(POSTFIX, "master.cf"));
        assert.deepEqual(master.errors, []);
        assert.ok(master.services.length >= 25, `${master.services.length} services`);
        // postconf -F: every field of every service, in file order; "command" is the command
        // with its arguments (the -o overrides included) joined by single spaces. (A Postfix 3
        // "{ name = value }" group would print as "{name=value}"; the renderer writes none.)
        const fields = ["service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit"];
        const parsedFields = master.services.flatMap(s => [
            ...fields.map((f, i) => `${s.name}/${s.type}/${f} = ${s.columns[i]}`),
            `${s.name}/${s.type}/command = ${[s.command, ...s.args].join(" ")}`,
        ]);
        assert.deepEqual(
            parsedFields,
            postconfLines(postconf("-F")).map(([k, v]) => `${k} = ${v}`),
        );
        // postconf -P: each service's -o overrides (sorted by name within the service).
        const parsedOverrides = master.services.flatMap(s =>
            [...s.options].map(([k, v]) => `${s.name}/${s.type}/${k} = ${v}`),
        );
        const reported = postconfLines(postconf("-P")).map(([k, v]) => `${k} = ${v}`);
        assert.ok(reported.length >= 25, `postconf -P printed ${reported.length} overrides`);
        assert.deepEqual([...parsedOverrides].sort(), [...reported].sort());
        // The implicit-TLS smarthost's transport is among them, with its TLS wrapper.
        assert.ok(master.services.some(s => s.command === "smtp" && s.options.get("smtp_tls_wrappermode") === "yes"));
    });

    test("dovecot.conf: every setting doveconf -n prints is the parser's, and the rest are Dovecot's defaults", () => {
        const conf = readDovecotConf(current(DOVECOT, "dovecot.conf"));
        assert.deepEqual(conf.errors, []);
        // The rule. doveconf -n prints the settings that differ from the defaults, sorted and
        // regrouped: Dovecot 2.4 prints "ssl_server_cert_file = x" as "ssl_server { cert_file = x }",
        // so a setting inside a section whose name has no blank (a group, not a named filter
        // such as "service imap-login") may be the group's name + "_" + key one level up.
        // (1) Each setting doveconf -n prints must be exactly one setting of the file, with the
        //     same value (doveconf quotes values with backslashes; its quoting is undone).
        // (2) Each setting of the file that doveconf -n does not print (it restates a default)
        //     must be a top-level one whose value is, word for word, the one doveconf -a prints
        //     (every setting's effective value, defaults included; -d lacks some, e.g. base_dir).
        // So a value the parser mis-reads differs from doveconf's in (1) or (2), and a setting
        // it misses leaves a doveconf -n setting without a partner in (1).
        const byPath = new Map<string, DovecotSetting>();
        for (const s of conf.settings) byPath.set(where(s.sections, s.key), s); // the last one wins, as in Dovecot
        const matched = new Set<string>();
        // -P: secret settings too (auth_policy_hash_nonce), which doveconf otherwise prints as "hidden".
        const n = doveconfSettings(doveconf("-n", "-P"));
        assert.ok(n.length > 50, `doveconf -n printed ${n.length} settings`);
        for (const d of n) {
            const group = d.path[d.path.length - 1];
            const candidates = [where(d.path, d.key)];
            if (group !== undefined && !group.includes(" "))
                candidates.push(where(d.path.slice(0, -1), `${group}_${d.key}`));
            const found = candidates.filter(c => byPath.has(c));
            if (found.length === 0 && DOVECOT_DEFAULT_POLICY_ATTRIBUTES.get(where(d.path, d.key)) === d.value) continue;
            assert.equal(
                found.length,
                1,
                `doveconf -n's ${where(d.path, d.key)} = ${d.value}: the parser has ${found.length === 0 ? "no" : "several"} such setting`,
            );
            assert.equal(byPath.get(found[0])!.value, d.value, `${found[0]}: parser and doveconf -n disagree`);
            matched.add(found[0]);
        }
        const effective = new Map(
            doveconfSettings(doveconf("-a", "-P"))
                .filter(d => d.path.length === 0)
                .map(d => [d.key, d.value]),
        );
        const rest = [...byPath].filter(([path]) => !matched.has(path));
        for (const [path, s] of rest) {
            assert.equal(
                s.sections.length,
                0,
                `${path} = ${s.value} is inside a section but doveconf -n does not print it`,
            );
            assert.ok(effective.has(s.key), `${path}: doveconf -a knows no such setting`);
            assert.equal(
                s.value,
                effective.get(s.key),
                `${path}: parser and doveconf -a disagree (doveconf -n does not print it)`,
            );
        }
        // Both rules were exercised: most settings differ from the defaults, a few restate them.
        assert.ok(
            matched.size > 50 && rest.length > 0,
            `${matched.size} compared with doveconf -n, ${rest.length} with doveconf -a`,
        );
    });
});
