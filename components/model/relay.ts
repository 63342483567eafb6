// The rules on a relay that validation, the renderers and the registered settings share.

/** A relay's next hop as Postfix writes it: "[host]:port" (no MX lookup). */
export function relayNexthop(r: { host: string; port: number }): string {
    return `[${r.host}]:${r.port}`;
}

/** Implicit TLS unless said otherwise: on port 465 only. */
export function relayImplicitTls(r: { port: number; implicitTls?: boolean }): boolean {
    return r.implicitTls ?? r.port === 465;
}
