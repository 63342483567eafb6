// MailServer's namePrefix guard under mocks: the previous deployment's prefix is accepted again,
// another one only with allowNamePrefixChange (the refusal itself is bad-input row bad-117).
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { installMocks, MockEnv } from "./mocks";

let env: MockEnv;
let c: typeof import("../../components");

before(async () => {
    env = await installMocks();
    c = await import("../../components");
});

const domain = (name: string) =>
    new c.VirtualDomain(name, {
        domain: "example.com",
        mailboxes: [{ address: "alice", password: env.pulumi.secret("alice-Valid-Password-1") }],
    });

test("the deployed prefix is accepted; another one with allowNamePrefixChange makes volumes under the new prefix", async () => {
    new c.MailServer("np-same", {
        hostname: "mail.example.com",
        domains: [domain("np-same-example.com")],
        namePrefix: "np-same",
        previousNamePrefix: "np-same",
    });
    const moved = new c.MailServer("np-moved", {
        hostname: "mail.example.com",
        domains: [domain("np-moved-example.com")],
        namePrefix: "np-new",
        previousNamePrefix: "np-old",
        allowNamePrefixChange: true,
    });
    await env.settle();
    assert.equal(await new Promise(r => moved.namePrefix.apply(r)), "np-new");
    const volumes = env.records.filter(r => r.type === "docker:index/volume:Volume").map(r => r.inputs.name);
    assert.ok(volumes.includes("np-new-queue") && volumes.includes("np-same-queue"), volumes.join(", "));
    assert.ok(!volumes.some(n => n.startsWith("np-old")), volumes.join(", "));
});

test("the refusal names exactly the data volumes the deployment has: the backup repository only when it is a volume", () => {
    const refusal = (name: string, backup?: Record<string, unknown>) => {
        try {
            new c.MailServer(name, {
                hostname: "mail.example.com",
                domains: [domain(`${name}-example.com`)],
                namePrefix: `${name}-new`,
                previousNamePrefix: "old",
                ...(backup
                    ? { backup: { enabled: true, password: env.pulumi.secret("Repository-Pass-1"), ...backup } }
                    : {}),
            });
        } catch (e) {
            return String(e);
        }
        return assert.fail("a namePrefix change was accepted");
    };
    const volumes = (message: string) => /its data volumes \(([^)]*)\)/.exec(message)?.[1];
    assert.equal(
        volumes(refusal("np-plain")),
        "old-queue, old-rspamd-data, old-valkey-data, old-mtasts-cache, old-mail",
    );
    assert.equal(
        volumes(refusal("np-vol", { repository: "volume" })),
        "old-queue, old-rspamd-data, old-valkey-data, old-mtasts-cache, old-mail, old-backup-repository",
    );
    assert.equal(
        volumes(
            refusal("np-s3", {
                repository: "s3:https://s3.example.net/b/p",
                s3AccessKeyId: "k",
                s3SecretAccessKey: "s",
            }),
        ),
        "old-queue, old-rspamd-data, old-valkey-data, old-mtasts-cache, old-mail",
    );
});
