// What a preview or update does to every resource, from the engine's events: one entry per URN,
// with the properties that force a replacement. Self-contained (it only reads event types), so a
// consumer project outside this repository can compile it too (test/live/consumer.test.ts).
import type { EngineEvent } from "@pulumi/pulumi/automation";

/** What happened to one resource, the strongest of its steps ("replace" beats "update" beats "same"). */
export type ResourceChange = "replace" | "delete" | "create" | "update" | "same";

export interface ResourceStep {
    urn: string;
    /** The resource's type token, e.g. "docker:index/volume:Volume". */
    type: string;
    /** The resource's name (the last part of its URN). */
    name: string;
    change: ResourceChange;
    /** The properties whose change forces the replacement (the engine's "keys"), sorted. */
    replaceKeys: string[];
    /** The properties that differ, sorted. */
    diffs: string[];
}

/** The engine's step ops that are part of a replacement (create-before-delete or delete-before-replace). */
const REPLACE_OPS = new Set(["replace", "create-replacement", "delete-replaced", "discard-replaced"]);
const DELETE_OPS = new Set(["delete", "discard"]);
const CREATE_OPS = new Set(["create", "import"]);
const UPDATE_OPS = new Set(["update", "import-replacement"]);

function changeOf(ops: Set<string>): ResourceChange {
    if ([...ops].some(op => REPLACE_OPS.has(op))) return "replace";
    if ([...ops].some(op => DELETE_OPS.has(op))) return "delete";
    if ([...ops].some(op => CREATE_OPS.has(op))) return "create";
    if ([...ops].some(op => UPDATE_OPS.has(op))) return "update";
    return "same";
}

/** Records every resource step of one operation; pass `onEvent` to preview/up/destroy. */
export class StepRecorder {
    private readonly seen = new Map<
        string,
        { type: string; ops: Set<string>; keys: Set<string>; diffs: Set<string> }
    >();

    readonly onEvent = (e: EngineEvent): void => {
        const m = e.resourcePreEvent?.metadata;
        if (!m) return;
        const entry = this.seen.get(m.urn) ?? { type: m.type, ops: new Set(), keys: new Set(), diffs: new Set() };
        entry.ops.add(m.op);
        for (const k of m.keys ?? []) entry.keys.add(k);
        for (const d of m.diffs ?? []) entry.diffs.add(d);
        this.seen.set(m.urn, entry);
    };

    /** Every resource the operation touched (or found unchanged), sorted by URN. */
    steps(): ResourceStep[] {
        return [...this.seen]
            .map(([urn, e]) => ({
                urn,
                type: e.type,
                name: urn.split("::").pop()!,
                change: changeOf(e.ops),
                replaceKeys: [...e.keys].sort(),
                diffs: [...e.diffs].sort(),
            }))
            .sort((a, b) => a.urn.localeCompare(b.urn));
    }
}

/** The key resources: a replaced or deleted one invalidates published DNS records (DKIM) or clients' trust (TLS). */
export const KEY_TYPES = ["tls:index/privateKey:PrivateKey"];
const VOLUME_TYPE = "docker:index/volume:Volume";

/** The steps that replace or delete a key, or one of the named data volumes (an upgrade must never). */
export function dataOrKeysLost(steps: ResourceStep[], dataVolumes: string[]): ResourceStep[] {
    return steps.filter(
        s =>
            (s.change === "replace" || s.change === "delete") &&
            (KEY_TYPES.includes(s.type) || (s.type === VOLUME_TYPE && dataVolumes.includes(s.name))),
    );
}
