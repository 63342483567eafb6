// The rules on a relay that validation, the renderers and the registered settings share.
import type { RelayhostSpec } from "./spec";

/** A relay's next hop as Postfix writes it: "[host]:port" (no MX lookup). */
export function relayNexthop(r: { host: string; port: number }): string {
    return `[${r.host}]:${r.port}`;
}

/** Implicit TLS unless said otherwise: on port 465 only. */
export function relayImplicitTls(r: { port: number; implicitTls?: boolean }): boolean {
    return r.implicitTls ?? r.port === 465;
}

/** A relay's SASL credentials as resolved from its (secret) inputs. */
export interface RelayCredentials {
    spec: RelayhostSpec;
    username?: string;
    password?: string;
}
