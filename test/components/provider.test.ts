// The component provider (provider/) with Pulumi mocks: what other Pulumi languages get. Each
// schema output is an Output of the TypeScript class; a reference to a component turns back into
// the live component this provider constructed (so MailServer reads its VirtualDomains as in
// TypeScript); a reference it did not construct, or to the wrong class, fails with the field's
// name; an input the SDK made secret as a whole gets its declared secret fields back as secrets.
// test/live/yaml.test.ts runs the same through the real engine from a YAML program.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { installMocks, MockEnv, T, value } from "./mocks";

let env: MockEnv;
let pulumi: typeof import("@pulumi/pulumi");
let prov: typeof import("../../provider/provider");
let schema: typeof import("../../provider/schema");
let provider: import("../../provider/provider").MailServerProvider;

before(async () => {
    env = await installMocks();
    pulumi = await import("@pulumi/pulumi");
    prov = await import("../../provider/provider");
    schema = await import("../../provider/schema");
    provider = new prov.MailServerProvider("0.1.0");
});

const PASSWORD = "a-Valid-Password-2026";
const type = (name: string) => `mailserver:index:${name}`;

/** What the SDK's provider server makes of a resource reference it deserializes. */
function reference(urn: string): unknown {
    return pulumi.runtime.getResourceModule("mailserver", "index", "0.1.0")!.construct("", "", urn);
}

async function construct(name: string, component: string, inputs: Record<string, unknown>) {
    const result = await provider.construct(name, type(component), inputs, {});
    return { urn: await value(pulumi.output(result.urn)), state: result.state };
}

test("the schema's outputs of each component are Output fields of its TypeScript class", async () => {
    const domain = await construct("outputs.test", "VirtualDomain", {
        domain: "outputs.test",
        mailboxes: [{ address: "alice", password: pulumi.secret(PASSWORD) }],
    });
    const relay = await construct("relay", "Relayhost", {
        host: "smtp.relay.test",
        username: "u",
        password: pulumi.secret("relay-Password-2026"),
    });
    const mx = await construct("outputs-mx", "MailServer", {
        hostname: "mail.outputs.test",
        domains: [reference(domain.urn)],
        relayhosts: [reference(relay.urn)],
    });
    const imap = await construct("outputs-imap", "DovecotImap", { mailServer: reference(mx.urn) });
    for (const [component, result] of [
        ["VirtualDomain", domain],
        ["Relayhost", relay],
        ["MailServer", mx],
        ["DovecotImap", imap],
    ] as const) {
        const keys = Object.keys(schema.COMPONENT_OUTPUTS[component]);
        assert.deepEqual(Object.keys(result.state), keys);
        for (const key of keys)
            assert.ok(pulumi.Output.isInstance(result.state[key]), `${component}.${key} is not an Output`);
        for (const [key, o] of Object.entries(schema.COMPONENT_OUTPUTS[component]))
            if (o.secret)
                assert.equal(await pulumi.isSecret(result.state[key] as any), true, `${component}.${key} is secret`);
    }
    assert.equal(await value(domain.state.domain as any), "outputs.test");
    assert.equal(await value(imap.state.containerName as any), "outputs-mx-dovecot");
});

test("a VirtualDomain reference reaches MailServer as the VirtualDomain this provider constructed", async () => {
    const domain = await construct("ref.test", "VirtualDomain", {
        domain: "ref.test",
        mailboxes: [{ address: "bob", password: pulumi.secret(PASSWORD) }],
    });
    const live = reference(domain.urn);
    assert.equal((live as any).spec.name, "ref.test");
    const mx = await construct("ref-mx", "MailServer", { hostname: "mail.ref.test", domains: [live] });
    await env.settle();
    // MailServer read the VirtualDomain's hashes: bob is in saslauthd's password file.
    const credentials = await value(mx.state.credentials as any);
    assert.deepEqual(
        (credentials as Array<{ address: string }>).map(c => c.address),
        ["bob@ref.test"],
    );
    assert.equal(env.byName("ref-mx", T.mailServer).parent, "");
});

test("a reference this provider did not construct, or to another class, fails naming the field", async () => {
    const foreign = "urn:pulumi:test::mailserver::mailserver:index:VirtualDomain::elsewhere.test";
    await assert.rejects(
        construct("foreign-mx", "MailServer", { hostname: "mail.foreign.test", domains: [reference(foreign)] }),
        (e: Error) => {
            assert.match(
                e.message,
                /MailServer foreign-mx: domains\[0\] = "urn:pulumi:test::mailserver::mailserver:index:VirtualDomain::elsewhere\.test" is not accepted; expected a VirtualDomain created by the same mailserver provider/,
            );
            return true;
        },
    );
    const relay = await construct("wrong-relay", "Relayhost", { host: "smtp.wrong.test" });
    await assert.rejects(
        construct("wrong-mx", "MailServer", { hostname: "mail.wrong.test", domains: [reference(relay.urn)] }),
        /MailServer wrong-mx: domains\[0\] = .* is not accepted; expected a VirtualDomain$/,
    );
    assert.equal(env.find("foreign-mx"), undefined, "nothing registered for a refused reference");
});

test("an input made secret as a whole (a password inside mailboxes) keeps plain data, the password a secret", async () => {
    // The SDK's provider server hoists a nested secret to the whole top-level input.
    const mailboxes = pulumi.secret([{ address: "carol", password: PASSWORD, aliases: ["c"] }]);
    const domain = await construct("hoisted.test", "VirtualDomain", { domain: "hoisted.test", mailboxes });
    assert.deepEqual(await value(domain.state.mailboxAddresses as any), ["carol@hoisted.test"]);
    const plain = (await prov.plainInput(
        "VirtualDomain hoisted.test",
        "mailboxes",
        (await import("../../components/options/virtualDomain")).VIRTUAL_DOMAIN_OPTIONS.mailboxes,
        mailboxes,
    )) as Array<Record<string, unknown>>;
    assert.equal(plain[0].address, "carol");
    assert.deepEqual(plain[0].aliases, ["c"]);
    assert.ok(pulumi.Output.isInstance(plain[0].password));
    assert.equal(await pulumi.isSecret(plain[0].password as any), true);
    assert.equal(await value(plain[0].password as any), PASSWORD);
});

test("a secret where the component takes plain data fails at construction, naming the field", async () => {
    await assert.rejects(
        construct("secret-host", "MailServer", { hostname: pulumi.secret("mail.secret.test") }),
        /MailServer secret-host: hostname = "\(a secret\)" is not accepted; expected plain data here/,
    );
});

test("bad input still fails with component, field, value and what is accepted", async () => {
    await assert.rejects(
        construct("bad", "VirtualDomain", { domain: "not a domain" }),
        /VirtualDomain bad: domain = "not a domain" is not accepted; expected a fully qualified domain name/,
    );
    await assert.rejects(construct("x", "Nothing", {}), /unknown component type mailserver:index:Nothing/);
});

test("the schema the provider serves is provider/schema.json with the package's version", async () => {
    const served = JSON.parse(await provider.getSchema());
    const file = JSON.parse(
        require("node:fs").readFileSync(
            require("node:path").join(__dirname, "..", "..", "provider", "schema.json"),
            "utf8",
        ),
    );
    assert.equal(served.version, "0.1.0");
    delete served.version;
    assert.deepEqual(served, file);
});
