// What the live tests read from the engine's events: one step per resource (a replacement's several
// steps folded into one, with the properties forcing it), and the upgrade rule that no data volume
// and no key is ever replaced or deleted.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { dataOrKeysLost, ResourceStep, StepRecorder } from "../../scripts/lib/steps";

const URN = "urn:pulumi:s::p::mailserver:index:MailServer$";
const event = (op: string, type: string, name: string, extra: Record<string, unknown> = {}): EngineEvent =>
    ({
        sequence: 0,
        timestamp: 0,
        resourcePreEvent: { metadata: { op, urn: `${URN}${type}::${name}`, type, provider: "", ...extra } },
    }) as unknown as EngineEvent;

describe("StepRecorder", () => {
    test("folds a replacement's steps into one, with the keys forcing it; tells updates, creates, deletes and sames apart", () => {
        const r = new StepRecorder();
        const container = "docker:index/container:Container";
        for (const op of ["create-replacement", "replace", "delete-replaced"])
            r.onEvent(event(op, container, "p-postfix", { keys: ["image"], diffs: ["image"] }));
        r.onEvent(event("update", container, "p-dovecot", { diffs: ["restart"] }));
        r.onEvent(event("same", container, "p-saslauthd"));
        r.onEvent(event("create", "docker:index/volume:Volume", "p-new"));
        r.onEvent(event("delete", "docker:index/volume:Volume", "p-old"));
        r.onEvent({ sequence: 1, timestamp: 0, diagnosticEvent: { message: "x" } } as unknown as EngineEvent);
        const byName = Object.fromEntries(r.steps().map(s => [s.name, s]));
        assert.deepEqual(Object.keys(byName).sort(), ["p-dovecot", "p-new", "p-old", "p-postfix", "p-saslauthd"]);
        assert.deepEqual(
            {
                change: byName["p-postfix"].change,
                keys: byName["p-postfix"].replaceKeys,
                type: byName["p-postfix"].type,
            },
            { change: "replace", keys: ["image"], type: container },
        );
        assert.equal(byName["p-dovecot"].change, "update");
        assert.deepEqual(byName["p-dovecot"].diffs, ["restart"]);
        assert.equal(byName["p-saslauthd"].change, "same");
        assert.equal(byName["p-new"].change, "create");
        assert.equal(byName["p-old"].change, "delete");
    });
});

describe("dataOrKeysLost", () => {
    const step = (type: string, name: string, change: ResourceStep["change"]): ResourceStep => ({
        urn: `${URN}${type}::${name}`,
        type,
        name,
        change,
        replaceKeys: [],
        diffs: [],
    });
    test("reports a replaced or deleted data volume or key, never a container, a config volume or an update", () => {
        const steps = [
            step("docker:index/volume:Volume", "p-mail", "replace"),
            step("docker:index/volume:Volume", "p-queue", "delete"),
            step("docker:index/volume:Volume", "p-postfix-config", "replace"),
            step("docker:index/volume:Volume", "p-rspamd-data", "update"),
            step("tls:index/privateKey:PrivateKey", "example.com-dkim-mail-rsa", "replace"),
            step("tls:index/privateKey:PrivateKey", "p-tls-key", "delete"),
            step("tls:index/privateKey:PrivateKey", "p-other-key", "same"),
            step("docker:index/container:Container", "p-postfix", "replace"),
        ];
        assert.deepEqual(
            dataOrKeysLost(steps, ["p-mail", "p-queue", "p-rspamd-data"]).map(s => s.name),
            ["p-mail", "p-queue", "example.com-dkim-mail-rsa", "p-tls-key"],
        );
    });
});
