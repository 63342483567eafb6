// Live test of MailServer wellKnown: the nginx container (images/web) deployed by the real engine
// next to the mail services (host mode, 127.0.0.1, port base 34000, HTTPS on 34443), asked with
// curl as MTA-STS senders and Thunderbird ask it: the policy of a served domain (its MX hosts,
// text/plain), its autoconfig file at both paths (the domain's client ports), 404 for any other
// host or path, TLS 1.2 at least. Then a stack change (a new certificate, mode enforce) is served
// after the config job's reload, by the same container.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawnSync } from "child_process";
import { caFile, docker, HOST, keepLogs } from "./clients";
import { deploy, DeployResult, destroy, liveConfig, portsFrom, USERS } from "./stack";

const PREFIX = "webtest";
const PORTS = portsFrom(34000);
const HTTPS = 34443;
const SERVED = "example.test";
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

function config(overrides: { mtaStsMode?: string; validityHours?: number; tls?: unknown } = {}, prefix = PREFIX) {
    return liveConfig(
        {
            "mailserver:domains": [
                {
                    domain: SERVED,
                    mailboxes: [{ address: "alice" }, { address: "bob" }],
                    wellKnown: true,
                    mtaStsMode: overrides.mtaStsMode ?? "testing",
                    // What the autoconfig file tells clients: this stack's real ports.
                    clientPorts: {
                        imaps: PORTS.imaps,
                        imap: PORTS.imap,
                        submissions: PORTS.smtps,
                        submission: PORTS.submission,
                    },
                },
                { domain: "example.org", mailboxes: [{ address: "carol" }] },
            ],
            "mailserver:wellKnown": { httpsPort: HTTPS, address: HOST },
            "mailserver:spamFilter": { enabled: false },
            ...(overrides.validityHours
                ? { "mailserver:tls": { selfSigned: { validityHours: overrides.validityHours } } }
                : {}),
            ...(overrides.tls ? { "mailserver:tls": overrides.tls } : {}),
            "mailserver:passwords": Object.fromEntries(Object.values(USERS).map(u => [u.address, u.password])),
        },
        prefix,
        34000,
    );
}

interface Response {
    status: number;
    headers: Record<string, string>;
    body: string;
}
/** One HTTPS GET with curl, the name resolved to 127.0.0.1; ca undefined: no verification. */
function get(host: string, urlPath: string, ca: string | undefined, extra: string[] = []): Response {
    const r = spawnSync(
        "curl",
        [
            "-sS",
            "-D",
            "-",
            "--max-time",
            "10",
            "--resolve",
            `${host}:${HTTPS}:${HOST}`,
            ...(ca ? ["--cacert", ca] : ["--insecure"]),
            ...extra,
            `https://${host}:${HTTPS}${urlPath}`,
        ],
        { encoding: "utf8", timeout: 20_000 },
    );
    if (r.status !== 0) throw new Error(`curl https://${host}:${HTTPS}${urlPath}: exit ${r.status}: ${r.stderr}`);
    const [head, ...rest] = r.stdout.split("\r\n\r\n");
    const lines = head.split("\r\n");
    const headers = Object.fromEntries(
        lines.slice(1).map(l => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
    );
    return { status: Number(lines[0].split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
}

/** The XML as a tree of elements: a strict little parser for the autoconfig file (no DTD, no CDATA). */
interface Element {
    name: string;
    attrs: Record<string, string>;
    children: Element[];
    text: string;
}
function parseXml(xml: string): Element {
    const body = xml.replace(/^<\?xml [^?]*\?>\s*/, "");
    const root: Element = { name: "#document", attrs: {}, children: [], text: "" };
    const stack = [root];
    const token = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
    let m: RegExpExecArray | null;
    let at = 0;
    while ((m = token.exec(body)) !== null) {
        at = token.lastIndex;
        const top = stack[stack.length - 1];
        if (m[5] !== undefined) {
            if (m[5].trim() !== "") top.text += m[5];
            continue;
        }
        if (m[1] === "/") {
            assert.equal(m[2], top.name, `</${m[2]}> closes <${top.name}>`);
            stack.pop();
            continue;
        }
        const attrs = Object.fromEntries([...m[3].matchAll(/([\w.-]+)="([^"]*)"/g)].map(a => [a[1], a[2]]));
        const el: Element = { name: m[2], attrs, children: [], text: "" };
        top.children.push(el);
        if (m[4] !== "/") stack.push(el);
    }
    assert.equal(at, body.length, `well-formed up to the end (stopped at ${at}: ${body.slice(at, at + 40)})`);
    assert.equal(stack.length, 1, `unclosed <${stack[stack.length - 1].name}>`);
    assert.equal(root.children.length, 1, "one root element");
    return root.children[0];
}
const child = (e: Element, name: string) => e.children.find(c => c.name === name);

/** The serial and names of the certificate served for a name, and its PEM. */
function servedCert(host: string): { serial: string; names: string[]; pem: string } {
    const r = spawnSync("openssl", ["s_client", "-connect", `${HOST}:${HTTPS}`, "-servername", host], {
        input: "",
        encoding: "utf8",
        timeout: 20_000,
    });
    const pem = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
    assert.ok(pem, `a certificate on ${HTTPS}: ${r.stderr}`);
    const x = spawnSync("openssl", ["x509", "-noout", "-serial", "-ext", "subjectAltName"], {
        input: pem,
        encoding: "utf8",
    });
    return {
        serial: /serial=(\S+)/.exec(x.stdout)![1],
        names: [...x.stdout.matchAll(/DNS:([^,\s]+)/g)].map(m => m[1]).sort(),
        pem,
    };
}
const servedSerial = (host: string) => servedCert(host).serial;

let first: DeployResult;
let ca: string;

function keepLogsAndDestroy(prefix: string) {
    keepLogs(prefix, ["web"]);
    destroy(prefix);
}

describe("well-known HTTPS endpoint, live", () => {
    before(() => {
        destroy(PREFIX);
        first = deploy(config());
        ca = caFile(first.outputs.certificatePem, PREFIX);
    });
    after(() => keepLogsAndDestroy(PREFIX));

    test("the MTA-STS policy: text/plain, mode testing, the domain's MX hosts, as mtaStsPolicies says", () => {
        const r = get(`mta-sts.${SERVED}`, "/.well-known/mta-sts.txt", ca);
        assert.equal(r.status, 200);
        assert.equal(r.headers["content-type"], "text/plain");
        assert.equal(r.body, first.outputs.mtaStsPolicies[SERVED]);
        const lines = r.body.trim().split("\n");
        assert.equal(lines[0], "version: STSv1");
        assert.ok(lines.includes("mode: testing"), r.body);
        const mx = first.outputs.dnsRecords
            .filter((x: any) => x.name === SERVED && x.type === "MX")
            .sort((a: any, b: any) => a.priority - b.priority)
            .map((x: any) => x.value.replace(/\.$/, ""));
        assert.deepEqual(mx, ["mail.example.test"]);
        assert.deepEqual(
            lines.filter(l => l.startsWith("mx: ")).map(l => l.slice(4)),
            mx,
        );
        assert.match(r.body, /^max_age: 604800$/m);
    });

    test("the autoconfig file at both paths: well-formed, the hostname and this stack's ports", () => {
        for (const p of ["/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"]) {
            const r = get(`autoconfig.${SERVED}`, `${p}?emailaddress=${encodeURIComponent(USERS.alice.address)}`, ca);
            assert.equal(r.status, 200, p);
            assert.equal(r.headers["content-type"], "application/xml", p);
            const root = parseXml(r.body);
            assert.equal(root.name, "clientConfig");
            assert.equal(root.attrs.version, "1.1");
            const provider = child(root, "emailProvider")!;
            assert.equal(provider.attrs.id, SERVED);
            assert.equal(child(provider, "domain")?.text, SERVED);
            const servers = provider.children
                .filter(c => c.name.endsWith("Server"))
                .map(s =>
                    [
                        s.name,
                        s.attrs.type,
                        child(s, "hostname")?.text,
                        child(s, "port")?.text,
                        child(s, "socketType")?.text,
                        child(s, "username")?.text,
                    ].join(" "),
                );
            assert.deepEqual(servers, [
                `incomingServer imap mail.example.test ${PORTS.imaps} SSL %EMAILADDRESS%`,
                `incomingServer imap mail.example.test ${PORTS.imap} STARTTLS %EMAILADDRESS%`,
                `outgoingServer smtp mail.example.test ${PORTS.smtps} SSL %EMAILADDRESS%`,
                `outgoingServer smtp mail.example.test ${PORTS.submission} STARTTLS %EMAILADDRESS%`,
            ]);
        }
    });

    test("404 for another host, a domain without wellKnown, another path; no TLS below 1.2", () => {
        assert.equal(get("www.example.test", "/.well-known/mta-sts.txt", undefined).status, 404);
        assert.equal(get("mta-sts.example.org", "/.well-known/mta-sts.txt", undefined).status, 404);
        assert.equal(get(`mta-sts.${SERVED}`, "/", ca).status, 404);
        assert.equal(get(`mta-sts.${SERVED}`, "/mail/config-v1.1.xml", ca).status, 404);
        assert.equal(get(`autoconfig.${SERVED}`, "/.well-known/mta-sts.txt", ca).status, 404);
        assert.equal(get("x.test", "/", undefined, ["--tls-max", "1.2"]).status, 404, "TLS 1.2 is accepted");
        // The client allows TLS 1.1 (security level 0): the refusal is the server's alert.
        const old = spawnSync(
            "curl",
            [
                "-sSv",
                "--tls-max",
                "1.1",
                "--ciphers",
                "DEFAULT@SECLEVEL=0",
                "--insecure",
                "--resolve",
                `x.test:${HTTPS}:${HOST}`,
                `https://x.test:${HTTPS}/`,
            ],
            { encoding: "utf8", timeout: 20_000 },
        );
        assert.notEqual(old.status, 0, "a TLS 1.1 handshake must fail");
        assert.match(old.stderr, /alert protocol version/);
    });

    test("dnsRecords: the endpoint's names for the served domain only", () => {
        const named = first.outputs.dnsRecords
            .filter((r: any) => /^(mta-sts|autoconfig)\./.test(r.name))
            .map((r: any) => `${r.name} ${r.type} ${r.value}`);
        assert.deepEqual(named, [
            `mta-sts.${SERVED} CNAME mail.example.test.`,
            `autoconfig.${SERVED} CNAME mail.example.test.`,
        ]);
    });

    test("the container: healthy, read-only, nginx's workers as www-data, only SETUID/SETGID", () => {
        const inspect = JSON.parse(docker(["inspect", `${PREFIX}-web`]))[0];
        assert.equal(inspect.State.Health.Status, "healthy");
        assert.equal(inspect.HostConfig.ReadonlyRootfs, true);
        assert.deepEqual(inspect.HostConfig.CapAdd.sort(), ["CAP_SETGID", "CAP_SETUID"]);
        assert.deepEqual(inspect.HostConfig.CapDrop, ["ALL"]);
        const users = docker([
            "exec",
            `${PREFIX}-web`,
            "bash",
            "-c",
            'for p in /proc/[0-9]*; do c=$(tr "\\0" " " < $p/cmdline 2>/dev/null); case "$c" in nginx:*) echo "$(stat -c %U $p) $c";; esac; done',
        ]);
        assert.match(users, /^root nginx: master process/m);
        assert.match(users, /^www-data nginx: worker process/m);
        assert.doesNotMatch(users, /^root nginx: worker/m);
    });

    // Mode "none" (withdrawing the policy): "enforce" needs a publicly trusted certificate, and
    // MailServer refuses it next to a self-signed one.
    test("a new certificate and mode none are served after the reload, by the same container", async () => {
        const before = servedSerial(`mta-sts.${SERVED}`);
        const id = docker(["inspect", "-f", "{{.Id}}", `${PREFIX}-web`]).trim();
        const second = deploy(config({ mtaStsMode: "none", validityHours: 24 * 200 }));
        assert.ok(!second.replaced.includes(`${PREFIX}-web`), `replaced: ${second.replaced}`);
        assert.equal(docker(["inspect", "-f", "{{.Id}}", `${PREFIX}-web`]).trim(), id);
        const newCa = caFile(second.outputs.certificatePem, PREFIX);
        const deadline = Date.now() + 60_000;
        let serial = before,
            policy = "";
        while (Date.now() < deadline) {
            serial = servedSerial(`mta-sts.${SERVED}`);
            if (serial !== before) {
                policy = get(`mta-sts.${SERVED}`, "/.well-known/mta-sts.txt", newCa).body;
                if (policy.includes("mode: none")) break;
            }
            await sleep(1000);
        }
        assert.notEqual(serial, before, "the new certificate is served");
        assert.equal(policy, second.outputs.mtaStsPolicies[SERVED]);
        assert.match(policy, /^mode: none$/m);
        assert.match(docker(["logs", `${PREFIX}-web`]), /configuration .* -> .*, reloading/);
    });
});
