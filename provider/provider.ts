// The component provider: serves VirtualDomain, MailServer, Relayhost and DovecotImap to programs in
// every Pulumi language (YAML, Python, Go, C#, Java) through Construct, creating the same
// TypeScript components a TypeScript program creates.
//
// Resource references. A component passed to another (a VirtualDomain in MailServer's domains, a
// MailServer to DovecotImap) reaches the provider as a reference: its URN. MailServer needs the
// VirtualDomain itself (its validated spec for checks at preview, its password hashes and DKIM
// keys as secret Outputs), which no URN carries. The engine starts one provider process per
// provider instance and deployment, and the program's VirtualDomain was constructed earlier in this
// very process: so the provider keeps each component it constructs, by URN, and turns a reference
// back into that live object. A reference it did not construct (another provider instance, or a
// component from outside this package) is refused at preview, naming the field.
import * as pulumi from "@pulumi/pulumi";
import * as provider from "@pulumi/pulumi/provider";
import { DovecotImap, MailServer, Relayhost, VirtualDomain } from "../components";
import { Option, Options } from "../components/options/declare";
import { MailConfigError } from "../components/model/validator";
import { COMPONENTS, COMPONENT_OUTPUTS, ComponentName, packageSchema, PACKAGE } from "./schema";

const CLASSES: Record<ComponentName, new (name: string, args: any, opts?: pulumi.ComponentResourceOptions) => any> = {
    VirtualDomain,
    MailServer,
    Relayhost,
    DovecotImap,
};

/** A reference to a component this process did not construct. */
class ForeignReference extends pulumi.DependencyResource {
    constructor(readonly referenceUrn: string) {
        super(referenceUrn);
    }
}

export class MailServerProvider implements provider.Provider {
    /** Every component this process constructed, by URN. */
    private readonly constructed = new Map<string, pulumi.ComponentResource>();

    constructor(readonly version: string) {
        // Deserialised references to this package's components become the live objects (or a
        // ForeignReference, refused by construct with the field's name).
        pulumi.runtime.registerResourceModule(PACKAGE, "index", {
            version,
            construct: (_name, _type, urn) => this.constructed.get(urn) ?? new ForeignReference(urn),
        });
    }

    async getSchema(): Promise<string> {
        return JSON.stringify(packageSchema(this.version));
    }

    async construct(
        name: string,
        type: string,
        inputs: pulumi.Inputs,
        options: pulumi.ComponentResourceOptions,
    ): Promise<provider.ConstructResult> {
        const component = COMPONENTS.find(c => `${PACKAGE}:index:${c.name}` === type);
        if (!component) throw new Error(`${PACKAGE} provider: unknown component type ${type}`);
        const label = `${component.name} ${name}`;
        const args: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(inputs)) {
            args[key] = await plainInput(label, key, component.options[key], value);
        }
        checkReferences(label, args);
        const instance = new CLASSES[component.name](name, args, options);
        const urn = await new Promise<string>(resolve => instance.urn.apply((u: string) => resolve(u)));
        this.constructed.set(urn, instance);
        const state: pulumi.Inputs = {};
        for (const key of Object.keys(COMPONENT_OUTPUTS[component.name])) state[key] = instance[key];
        return { urn: instance.urn, state };
    }
}

/** OutputImpl's isKnown, isSecret and promise are internal to @pulumi/pulumi (pinned at 3.248.0). */
interface OutputInternals {
    isKnown: Promise<boolean>;
    isSecret: Promise<boolean>;
    promise(withUnknowns?: boolean): Promise<unknown>;
}

/**
 * An input as the TypeScript component takes it. The SDK's provider server wraps a whole top-level
 * input in an Output when it has dependencies (a list of VirtualDomains depends on them) or holds
 * a secret anywhere inside (a mailbox's password makes `mailboxes` secret as a whole). The
 * components take plain data, checked at preview, with pulumi.Input<T> only where declared
 * (passwords, hash caches, DNS credentials): so a known value is unwrapped, and the declared
 * secret fields in it become secrets again.
 */
export async function plainInput(label: string, key: string, option: Option<unknown> | undefined, value: unknown) {
    if (!pulumi.Output.isInstance(value) || option === undefined || isInput(option)) return value;
    const output = value as unknown as OutputInternals;
    const [known, secret] = await Promise.all([output.isKnown, output.isSecret]);
    if (!known) return value; // the component's check names the field and what it expects
    const plain = await output.promise();
    if (!secret) return plain;
    if (!hasSecretField(option))
        throw new MailConfigError(
            label,
            key,
            "(a secret)",
            "expected plain data here; only passwords, password hashes, hash caches and DNS credentials may be secrets",
        );
    return resecret(option, plain);
}

const isInput = (o: Option<unknown>) => o.tsType.startsWith("pulumi.Input<");
const isSecretOption = (o: Option<unknown>) => "secret" in o.config && o.config.secret === true;

function hasSecretField(o: Option<unknown>): boolean {
    if (isSecretOption(o)) return true;
    if (o.item) return hasSecretField(o.item);
    return o.fields !== undefined && Object.values(o.fields as Options).some(hasSecretField);
}

/** `value` with each field the declaration marks secret made a Pulumi secret. */
function resecret(o: Option<unknown>, value: unknown): unknown {
    if (value === undefined || value === null) return value;
    if (isSecretOption(o)) {
        // A map of secret values (dnsCredentials) stays a plain map: its names are checked at preview.
        if (o.tsType === "Record<string, pulumi.Input<string>>" && typeof value === "object")
            return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, pulumi.secret(v)]));
        return pulumi.secret(value);
    }
    if (o.item && Array.isArray(value)) return value.map(v => resecret(o.item!, v));
    if (o.fields && typeof value === "object")
        return Object.fromEntries(
            Object.entries(value).map(([k, v]) => [k, o.fields![k] ? resecret(o.fields![k], v) : v]),
        );
    return value;
}

/** Each component argument must be a component this process constructed, of the class the field takes. */
function checkReferences(label: string, args: Record<string, unknown>): void {
    const expect = (field: string, value: unknown, cls: new (...a: any[]) => unknown, what: string) => {
        if (value instanceof cls) return;
        const given = value instanceof ForeignReference ? value.referenceUrn : value;
        throw new MailConfigError(
            label,
            field,
            given,
            value instanceof ForeignReference
                ? `expected a ${what} created by the same ${PACKAGE} provider in this program (this provider process did not create it)`
                : `expected a ${what}`,
        );
    };
    const list = (field: string, cls: new (...a: any[]) => unknown, what: string) => {
        const value = args[field];
        if (Array.isArray(value)) value.forEach((v, i) => expect(`${field}[${i}]`, v, cls, what));
    };
    list("domains", VirtualDomain, "VirtualDomain");
    list("relayhosts", Relayhost, "Relayhost");
    if (args.mailServer !== undefined) expect("mailServer", args.mailServer, MailServer, "MailServer");
}
