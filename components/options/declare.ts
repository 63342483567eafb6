// The kit every option is declared with: its type, default, one-line doc and check, stated once.
// From these declarations readOptions() checks arguments and applies defaults, and
// scripts/gen-options.ts writes the args interfaces (components/args.ts), the README option
// tables and Pulumi.yaml's config block. Pulumi-free, so validation is unit-tested without mocks.
import { Validator } from "../model/validator";

/** How a stack config key is typed in Pulumi.yaml (the CLI checks stack config against it). */
export type ConfigSchema =
    { type: "string" | "integer" | "boolean" | "object"; secret?: boolean } | { type: "array"; items: ConfigSchema };

export interface Option<T> {
    /** One line: what the option does. */
    doc: string;
    /** The argument's TypeScript type, as written in components/args.ts. */
    tsType: string;
    required: boolean;
    /** Applied (and checked) when the argument is undefined. */
    default?: unknown;
    /** The README's default column where the default is computed or not a plain value. */
    defaultText?: string;
    /** Its type as a stack config key. */
    config: ConfigSchema;
    /** Object options: their fields, each declared like an option. */
    fields?: Options;
    /** List options: the declaration of one item. */
    item?: Option<unknown>;
    /** Required options: the message when one is not given (default: the check's own). */
    missing?: string;
    /** Named types (enums, objects) are emitted once in components/args.ts. */
    typeName?: string;
    enumValues?: readonly string[];
    /** Turns a defined argument into the checked value, or fails naming field, value and what is accepted. */
    check(v: Validator, field: string, value: unknown): T;
}

export type Options = Record<string, Option<any>>;
export type Values<O extends Options> = { [K in keyof O]: O[K] extends Option<infer T> ? T : never };

/**
 * Compiles only when A and B are the same type: pins a model type (model/settings.ts) to the
 * values its declaration gives, e.g. `export type _Pinned = SameType<SpamFilterSettings, Values<...>>`.
 */
export type SameType<A, B> =
    (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : ["not the same type", A, B];
/** `Pinned<SameType<A, B>>`: a compile error unless A and B are the same type. */
export type Pinned<T extends true> = T;

// eslint-disable-next-line @typescript-eslint/no-unused-vars
interface Common<T> {
    doc: string;
    /** Checked like a given value, so an object's default may be {} (its fields have defaults). */
    default?: unknown;
    defaultText?: string;
    required?: true;
}
/** Options without a default (and not required) may be undefined. */
type Result<C, T> = C extends { default: unknown } | { required: true } ? T : T | undefined;

function option<C extends Common<T>, T>(
    c: C,
    o: Omit<Option<T>, "doc" | "required" | "default" | "defaultText">,
): Option<Result<C, T>> {
    return {
        doc: c.doc,
        required: c.required === true,
        default: c.default,
        defaultText: c.defaultText,
        ...o,
    } as Option<Result<C, T>>;
}

/** A string, optionally checked (and normalised) by `check`. */
export function text<C extends Common<string>>(
    c: C & { check?: (v: Validator, field: string, value: string) => string; accepted?: string },
) {
    return option<C, string>(c, {
        tsType: "string",
        config: { type: "string" },
        check: (v: Validator, field: string, value: unknown) => {
            if (typeof value !== "string") {
                // The check's own message says best what is accepted (Validator methods test the type).
                if (c.accepted === undefined && c.check) return c.check(v, field, value as string);
                v.fail(field, value, c.accepted ?? "expected a string");
            }
            return c.check ? c.check(v, field, value) : value;
        },
    });
}

/** One of fixed values: a string-literal union in TypeScript (an enum in other languages). */
export function oneOf<const E extends string, C extends Common<E>>(typeName: string, values: readonly E[], c: C) {
    return option<C, E>(c, {
        tsType: typeName,
        typeName,
        enumValues: values,
        config: { type: "string" },
        check: (v, field, value) => v.oneOf(field, value, values),
    });
}

export function integer<C extends Common<number>>(
    c: C & { check: (v: Validator, field: string, value: unknown) => number },
) {
    return option<C, number>(c, { tsType: "number", config: { type: "integer" }, check: c.check });
}

/** A whole number from min to max, refused otherwise with exactly that range in the message. */
export function wholeNumber(c: { doc: string; default: number; min: number; max: number }) {
    const { min, max, ...common } = c;
    return integer({
        ...common,
        check: (v, f, x) =>
            typeof x === "number" && Number.isInteger(x) && x >= min && x <= max
                ? x
                : v.fail(f, x, `expected a whole number from ${min} to ${max}`),
    });
}

export function boolean<C extends Common<boolean>>(c: C) {
    return option<C, boolean>(c, {
        tsType: "boolean",
        config: { type: "boolean" },
        check: (v: Validator, field: string, value: unknown) => {
            if (typeof value !== "boolean") v.fail(field, value, "expected true or false");
            return value;
        },
    });
}

/** A list; each item is checked as `item` declares, at field[i]. nonEmpty: the message when it is empty. */
export function list<T, C extends Common<T[]>>(item: Option<T>, c: C & { nonEmpty?: string }) {
    return option<C, Array<NonNullable<T>>>(c, {
        tsType: `${/[<|]/.test(item.tsType) ? `Array<${item.tsType}>` : `${item.tsType}[]`}`,
        config: { type: "array", items: item.config },
        item: item as Option<unknown>,
        check: (v: Validator, field: string, value: unknown) => {
            if (!Array.isArray(value)) v.fail(field, value, `expected a list (${item.tsType}[])`);
            if (c.nonEmpty !== undefined && value.length === 0) v.fail(field, value, c.nonEmpty);
            return value.map((x, i) => {
                if (x === undefined || x === null) v.fail(`${field}[${i}]`, x, `expected ${item.tsType}`);
                return item.check(v, `${field}[${i}]`, x) as NonNullable<T>;
            });
        },
    });
}

/** An object of named fields, each declared like an option: a named interface in components/args.ts. */
export function object<F extends Options, C extends Common<Values<F>>>(typeName: string, fields: F, c: C) {
    return option<C, Values<F>>(c, {
        tsType: typeName,
        typeName,
        config: { type: "object" },
        fields,
        check: (v, field, value) => readOptions(v, fields, value, `${field}.`),
    });
}

/**
 * A value passed through as is: a resource (VirtualDomain, MailServer), or a pulumi.Input that may
 * not be known at preview (secrets). Whatever can be checked is checked where it resolves.
 */
export function passthrough<T, C extends Common<T>>(tsType: string, config: ConfigSchema, c: C) {
    return option<C, T>(c, { tsType, config, check: (_v, _field, value) => value as T });
}

/** The same option, demanded; `missing` says what is expected when it is not given. */
export function required<T>(o: Option<T | undefined>, missing?: string): Option<T> {
    return { ...o, required: true, missing } as Option<T>;
}

/**
 * Reads arguments by their declarations: every known field checked (at `prefix` + name), defaults
 * applied, required fields demanded. Unknown fields are refused, so a misspelt option fails at
 * preview instead of silently doing nothing.
 */
export function readOptions<O extends Options>(v: Validator, decl: O, args: unknown, prefix = ""): Values<O> {
    const where = prefix === "" ? "args" : prefix.slice(0, -1);
    if (args === undefined || args === null) args = {};
    if (typeof args !== "object" || Array.isArray(args))
        v.fail(where, args, `expected an object with ${fieldList(decl)}`);
    const given = args as Record<string, unknown>;
    for (const key of Object.keys(given)) {
        if (!(key in decl) && given[key] !== undefined)
            v.fail(`${prefix}${key}`, given[key], `expected one of the known fields: ${fieldList(decl)}`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, o] of Object.entries(decl)) {
        const value = given[key];
        if (value === undefined || value === null) {
            if (o.required) {
                if (o.missing !== undefined) v.fail(`${prefix}${key}`, undefined, o.missing);
                o.check(v, `${prefix}${key}`, undefined);
                v.fail(`${prefix}${key}`, undefined, `expected ${o.doc[0].toLowerCase()}${o.doc.slice(1)}`);
            }
            out[key] = o.default === undefined ? undefined : o.check(v, `${prefix}${key}`, o.default);
        } else {
            out[key] = o.check(v, `${prefix}${key}`, value);
        }
    }
    return out as Values<O>;
}

function fieldList(decl: Options): string {
    return Object.keys(decl).join(", ");
}
