// Warnings the components log through pulumi.log.warn (the engine shows them at preview and up;
// without an engine, under mocks, Pulumi prints them with console.warn, which is what is read here).
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { installMocks, MockEnv } from "./mocks";

let env: MockEnv;
let c: typeof import("../../components");

before(async () => {
    env = await installMocks();
    c = await import("../../components");
});

/** The warnings logged while construct() runs and its outputs settle. */
async function warnings(construct: () => unknown): Promise<string[]> {
    const seen: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => {
        seen.push(args.map(String).join(" "));
    };
    try {
        construct();
        await env.settle();
    } finally {
        console.warn = original;
    }
    return seen;
}

const domain = (name: string) =>
    new c.VirtualDomain(`${name}-example.com`, {
        domain: "example.com",
        mailboxes: [{ address: "alice", password: env.pulumi.secret("alice-Valid-Password-1") }],
    });

test("bridge mode, internet mode: one warning that checks see the Docker gateway, and how to avoid it", async () => {
    const seen = await warnings(
        () => new c.MailServer("wb", { hostname: "mail.example.com", domains: [domain("wb")], networkMode: "bridge" }),
    );
    const ours = seen.filter(w => w.includes("MailServer wb"));
    assert.equal(ours.length, 1, seen.join("\n"));
    assert.match(ours[0], /Docker network's gateway/);
    assert.match(ours[0], /SPF\/DMARC checks, rate limits and AUTH throttling/);
    assert.match(ours[0], /networkMode "host"/);
    assert.match(ours[0], /iptables NAT \(not docker-proxy/);
    assert.match(ours[0], /README\.md, "Client addresses in bridge mode"/);
});

test("host mode, and relay mode in bridge mode (no inbound mail to check): no such warning", async () => {
    const host = await warnings(
        () => new c.MailServer("wh", { hostname: "mail.example.com", domains: [domain("wh")], networkMode: "host" }),
    );
    assert.deepEqual(
        host.filter(w => /gateway/.test(w)),
        [],
    );
    const relay = await warnings(
        () =>
            new c.MailServer("wr", {
                mode: "relay",
                hostname: "relay.example.com",
                relayhosts: [new c.Relayhost("wr-smarthost", { host: "smtp.provider.example" })],
            }),
    );
    assert.deepEqual(
        relay.filter(w => /gateway/.test(w)),
        [],
    );
});

test("ports.reinject, set by an older stack config: one warning that it is obsolete and ignored, and nothing listens there", async () => {
    let server: import("../../components").MailServer | undefined;
    const seen = await warnings(() => {
        server = new c.MailServer("wo", {
            hostname: "mail.example.com",
            domains: [domain("wo")],
            networkMode: "host",
            ports: { smtp: 2525, reinject: 10026 },
        });
    });
    const ours = seen.filter(w => w.includes("MailServer wo"));
    assert.equal(ours.length, 1, seen.join("\n"));
    assert.match(ours[0], /ports\.reinject \(10026\) is obsolete and ignored/);
    assert.match(ours[0], /unix socket/);
    assert.match(ours[0], /Remove ports\.reinject/);
    assert.deepEqual(server!.settings.postfix.ports, { smtp: 2525, submission: 587, smtps: 465 });
    const without = await warnings(
        () => new c.MailServer("wn", { hostname: "mail.example.com", domains: [domain("wn")], networkMode: "host" }),
    );
    assert.deepEqual(
        without.filter(w => /reinject/.test(w)),
        [],
    );
});

test("a loopback outboundAddress: one warning that only this host's loopback can be reached (no refusal: stacks side by side use it)", async () => {
    const seen = await warnings(
        () =>
            new c.MailServer("wl", {
                hostname: "mail.example.com",
                domains: [domain("wl")],
                networkMode: "host",
                outboundAddress: "127.0.0.11",
            }),
    );
    const ours = seen.filter(w => w.includes("MailServer wl: outboundAddress"));
    assert.equal(ours.length, 1, seen.join("\n"));
    assert.match(ours[0], /127\.0\.0\.11 is a loopback address: Postfix can then deliver only to mail servers/);
    const public4 = await warnings(
        () =>
            new c.MailServer("wp", {
                hostname: "mail.example.com",
                domains: [domain("wp")],
                networkMode: "host",
                outboundAddress: "192.0.2.25",
            }),
    );
    assert.deepEqual(
        public4.filter(w => w.includes("outboundAddress")),
        [],
    );
});
