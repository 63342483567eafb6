// TEMPORARY until the parsers branch lands.
export function isIPv4(value: string): boolean {
    const parts = value.split(".");
    return parts.length === 4 && parts.every(p => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

export function isIP(value: string): boolean {
    return require("net").isIP(value) !== 0;
}
