// Reads a docker-mailserver configuration folder (what it mounts at /tmp/docker-mailserver) into
// this package's stack config: mailboxes with their password hashes kept, aliases, forwards and
// catch-alls, quotas, and the DKIM keys whose records the domains already publish. Pure: file texts
// in, config out (scripts/import-dms.ts reads the folder and writes the files).
//
// The formats, as docker-mailserver's scripts read and write them:
//   postfix-accounts.cf  address|{SCHEME}hash[|dovecot userdb extra fields]   (addmailuser: doveadm pw -s SHA512-CRYPT)
//   postfix-virtual.cf   alias target[,target...]      (Postfix virtual(5); "@domain target" is a catch-all)
//   postfix-aliases.cf   name: target[, target...]     (aliases(5), appended to /etc/aliases)
//   dovecot-quotas.cf    address:size                  (setquota: 0 = none, else a number + B, k, M, G or T)
//   opendkim/keys/<domain>/<selector>.private + <selector>.txt       (opendkim-genkey)
//   rspamd/dkim/rsa-<bits>-<selector>-<domain>.private.txt, ed25519-<selector>-<domain>.private.txt,
//     each with .public.txt (zone text) or .public.dns.txt (the record's value)   (setup config dkim)
// Lines are trimmed, CRLF is accepted, blank lines and # comments are skipped, as docker-mailserver does.
import * as crypto from "crypto";
import { weakHashReason } from "../../components/model/password";

/** File texts by path relative to the configuration folder ("postfix-accounts.cf", "opendkim/keys/..."). */
export type DmsFiles = Record<string, string>;

export interface ImportedMailbox {
    address: string;
    quota?: string;
    aliases?: string[];
}
export interface ImportedDomain {
    domain: string;
    mailboxes: ImportedMailbox[];
    aliases: Array<{ address: string; targets: string[] }>;
    forwards: Array<{ address: string; targets: string[]; keepCopy: boolean }>;
    catchAll?: string;
}
export interface ImportedDkimKey {
    selector: string;
    algorithm: "rsa" | "ed25519";
    privateKeyPem: string;
}

export interface DmsImport {
    domains: ImportedDomain[];
    /** address -> crypt(3) hash, for the secret config key passwordHashes. */
    passwordHashes: Record<string, string>;
    /** domain -> keys, for the secret config key dkimKeys. */
    dkimKeys: Record<string, ImportedDkimKey[]>;
    /** root's or postmaster's single target in postfix-aliases.cf. */
    adminAddress?: string;
    /** What was not imported, and why; never a hash or a key. */
    warnings: string[];
}

/** Meaningful lines: CR dropped, trimmed, no blanks, no # comments. */
export function lines(text: string | undefined): string[] {
    return (text ?? "")
        .split("\n")
        .map(l => l.replace(/\r$/, "").trim())
        .filter(l => l !== "" && !l.startsWith("#"));
}

const ADDRESS = /^[^@\s]+@[a-z0-9.-]+\.[a-z]{2,}$/i;

export interface Account {
    address: string;
    /** The hash without Dovecot's {SCHEME} prefix. */
    hash: string;
    scheme: string;
    extra?: string;
}

/** postfix-accounts.cf: `address|{SCHEME}hash[|extra]`. */
export function parseAccounts(text: string | undefined, warnings: string[]): Account[] {
    const accounts: Account[] = [];
    lines(text).forEach((line, i) => {
        const [address, password = "", ...rest] = line.split("|");
        if (!ADDRESS.test(address)) {
            warnings.push(`postfix-accounts.cf line ${i + 1}: "${address}" is not an address; skipped`);
            return;
        }
        const m = /^\{([A-Z0-9.-]+)\}(.*)$/.exec(password);
        accounts.push({
            address: address.toLowerCase(),
            scheme: m ? m[1] : "CRYPT",
            hash: m ? m[2] : password,
            ...(rest.length > 0 && rest.join("|") !== "" ? { extra: rest.join("|") } : {}),
        });
    });
    return accounts;
}

/** postfix-virtual.cf: `from target[,target...]` (targets split on commas and blanks). */
export function parseVirtual(text: string | undefined): Array<{ from: string; targets: string[] }> {
    return lines(text).map(line => {
        const [from, ...rest] = line.split(/\s+/);
        const targets = rest
            .join(" ")
            .split(/[,\s]+/)
            .filter(t => t !== "")
            .map(t => t.toLowerCase());
        return { from: from.toLowerCase(), targets };
    });
}

/** postfix-aliases.cf (aliases(5)): `name: target[, target...]`. */
export function parseLocalAliases(text: string | undefined): Array<{ name: string; targets: string[] }> {
    return lines(text).flatMap(line => {
        const m = /^([^:\s]+)\s*:\s*(.*)$/.exec(line);
        if (!m) return [];
        return [{ name: m[1].toLowerCase(), targets: m[2].split(/[,\s]+/).filter(t => t !== "") }];
    });
}

/** dovecot-quotas.cf `address:size` as this package's quota ("10M", "2G"); 0 (no quota) gives undefined. */
export function parseQuotas(text: string | undefined, warnings: string[]): Map<string, string> {
    const quotas = new Map<string, string>();
    for (const line of lines(text)) {
        const at = line.lastIndexOf(":");
        const address = line.slice(0, at).toLowerCase();
        const size = line.slice(at + 1);
        const m = /^(\d+)([BkKMGT]?)$/.exec(size);
        if (at < 0 || !m) {
            warnings.push(`dovecot-quotas.cf: "${line}" is not "address:size"; skipped`);
            continue;
        }
        if (Number(m[1]) === 0) continue;
        // Bytes have no unit here; docker-mailserver writes kilobytes with a lower-case k.
        quotas.set(address, `${m[1]}${m[2] === "B" ? "" : m[2].toUpperCase()}`);
    }
    return quotas;
}

/** The value of a DKIM TXT record from zone text (quoted strings joined) or from the bare value. */
export function dkimRecordValue(text: string): string {
    const quoted = [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(m => m[1]);
    return (quoted.length > 0 ? quoted.join("") : text).replace(/\s+/g, " ").trim();
}

/** The p= of a DKIM record, without blanks. */
function recordPublicKey(record: string): string | undefined {
    const m = /(?:^|;)\s*p=([^;]*)/.exec(record);
    return m ? m[1].replace(/\s+/g, "") : undefined;
}

/** The p= value a key publishes: RSA's SubjectPublicKeyInfo (RFC 6376), Ed25519's raw key (RFC 8463). */
function publishedKey(key: crypto.KeyObject): string {
    const spki = crypto.createPublicKey(key).export({ format: "der", type: "spki" });
    return (key.asymmetricKeyType === "ed25519" ? spki.subarray(spki.length - 32) : spki).toString("base64");
}

/** PKCS#8 DER of an Ed25519 key before its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * A DKIM private key file as a KeyObject: PEM (opendkim, rspamd RSA), or rspamd's Ed25519 form, the
 * base64 of the seed (32 bytes) or of seed + public key (64 bytes).
 */
export function readDkimPrivateKey(text: string): crypto.KeyObject | undefined {
    try {
        if (text.includes("PRIVATE KEY-----")) return crypto.createPrivateKey(text);
        const raw = Buffer.from(text.trim(), "base64");
        if (raw.length !== 32 && raw.length !== 64) return undefined;
        const der = Buffer.concat([ED25519_PKCS8_PREFIX, raw.subarray(0, 32)]);
        return crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" });
    } catch {
        return undefined;
    }
}

interface FoundKey {
    domain: string;
    selector: string;
    file: string;
    privateText: string;
    /** The record as published (zone text or bare value), when its file is there. */
    recordText?: string;
    recordFile?: string;
}

/** DKIM key files under opendkim/keys and rspamd/dkim; rspamd's names are split by the known domains. */
export function findDkimKeys(files: DmsFiles, domains: string[], warnings: string[]): FoundKey[] {
    const found: FoundKey[] = [];
    for (const [file, text] of Object.entries(files)) {
        const od = /^opendkim\/keys\/([^/]+)\/([^/]+)\.private$/.exec(file);
        if (od) {
            const txt = `opendkim/keys/${od[1]}/${od[2]}.txt`;
            found.push({
                domain: od[1].toLowerCase(),
                selector: od[2],
                file,
                privateText: text,
                recordText: files[txt],
                recordFile: files[txt] !== undefined ? txt : undefined,
            });
            continue;
        }
        const rs = /^rspamd\/dkim\/(?:rsa-\d+|ed25519)-(.+)\.private\.txt$/.exec(file);
        if (rs) {
            // "<selector>-<domain>": the selector may hold hyphens too, so the domain is found by its name.
            const domain = domains.filter(d => rs[1].endsWith(`-${d}`)).sort((a, b) => b.length - a.length)[0];
            if (!domain) {
                warnings.push(`${file}: no domain of the accounts or aliases ends its name; skipped`);
                continue;
            }
            const base = file.replace(/\.private\.txt$/, "");
            const recordFile = [`${base}.public.dns.txt`, `${base}.public.txt`].find(f => files[f] !== undefined);
            found.push({
                domain,
                selector: rs[1].slice(0, -domain.length - 1),
                file,
                privateText: text,
                recordText: recordFile ? files[recordFile] : undefined,
                recordFile,
            });
        }
    }
    return found.sort((a, b) => (a.file < b.file ? -1 : 1));
}

const SELECTOR = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * A found key as dkimKeys takes it, checked: readable, RSA of 1024+ bits or Ed25519, a selector the
 * package accepts, and the same public key as its published record (when the record file is there).
 */
export function checkDkimKey(k: FoundKey, warnings: string[]): ImportedDkimKey | undefined {
    const skip = (why: string) => {
        warnings.push(`${k.file}: ${why}; not imported (the domain gets new keys: publish their records)`);
        return undefined;
    };
    const key = readDkimPrivateKey(k.privateText);
    if (!key) return skip("not a readable private key");
    const algorithm = key.asymmetricKeyType;
    if (algorithm !== "rsa" && algorithm !== "ed25519")
        return skip(`a ${algorithm} key (DKIM signs with rsa or ed25519)`);
    if (algorithm === "rsa" && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024)
        return skip(`an RSA key of ${key.asymmetricKeyDetails?.modulusLength} bits (at least 1024)`);
    const selector = k.selector.toLowerCase();
    if (!SELECTOR.test(selector) || selector.length > 63)
        return skip(`selector "${k.selector}" is not one DNS label of letters, digits and inner hyphens`);
    if (k.recordText !== undefined) {
        const published = recordPublicKey(dkimRecordValue(k.recordText));
        if (published !== publishedKey(key)) return skip(`its public key is not the one ${k.recordFile} publishes`);
    } else {
        warnings.push(`${k.file}: no record file beside it; imported without comparing it to the published record`);
    }
    const privateKeyPem = key.export({ format: "pem", type: algorithm === "rsa" ? "pkcs1" : "pkcs8" }).toString();
    return { selector, algorithm, privateKeyPem };
}

/** The files importDms reads; every other one is named in a warning, so nothing is left behind unsaid. */
const READ = [
    "postfix-accounts.cf",
    "postfix-virtual.cf",
    "postfix-aliases.cf",
    "postfix-regexp.cf",
    "dovecot-quotas.cf",
];
const RELAY_FILES = ["postfix-relaymap.cf", "postfix-sasl-password.cf"];

export function notImported(files: DmsFiles): string[] {
    return Object.keys(files)
        .filter(f => !READ.includes(f) && !f.startsWith("opendkim/") && !f.startsWith("rspamd/dkim/"))
        .sort()
        .map(f =>
            f.endsWith(".dovecot.sieve")
                ? `${f}: a user's Sieve script is not imported; upload it after the move with ManageSieve (e.g. sieve-connect --upload --activate)`
                : RELAY_FILES.includes(f)
                  ? `${f}: relay settings are not imported; give them as a Relayhost (relayhosts in the stack config)`
                  : `${f}: not imported (this package has no equivalent of it)`,
        );
}

/** The whole import: every domain with its mailboxes, aliases, forwards and catch-all, hashes and keys. */
export function importDms(files: DmsFiles): DmsImport {
    const warnings: string[] = [];
    const accounts = parseAccounts(files["postfix-accounts.cf"], warnings);
    const quotas = parseQuotas(files["dovecot-quotas.cf"], warnings);
    const virtual = parseVirtual(files["postfix-virtual.cf"]);
    const domainOf = (address: string) => address.slice(address.lastIndexOf("@") + 1);
    const domains = new Map<string, ImportedDomain>();
    const domain = (name: string) => {
        if (!domains.has(name)) domains.set(name, { domain: name, mailboxes: [], aliases: [], forwards: [] });
        return domains.get(name)!;
    };

    const passwordHashes: Record<string, string> = {};
    const mailboxes = new Map<string, ImportedMailbox>();
    for (const a of accounts) {
        if (mailboxes.has(a.address)) {
            warnings.push(`postfix-accounts.cf: ${a.address} is listed twice; the first entry is kept`);
            continue;
        }
        const mailbox: ImportedMailbox = {
            address: a.address,
            ...(quotas.has(a.address) ? { quota: quotas.get(a.address) } : {}),
        };
        mailboxes.set(a.address, mailbox);
        domain(domainOf(a.address)).mailboxes.push(mailbox);
        if (a.extra !== undefined)
            warnings.push(`postfix-accounts.cf: ${a.address}: its extra userdb fields are not imported`);
        const weak = ["SHA512-CRYPT", "BLF-CRYPT", "CRYPT"].includes(a.scheme) ? weakHashReason(a.hash) : "unsupported";
        if (weak === undefined) passwordHashes[a.address] = a.hash;
        else
            warnings.push(
                `postfix-accounts.cf: ${a.address}: its {${a.scheme}} hash is not accepted here` +
                    (weak === "unsupported" ? "" : ` (${weak.split(";")[0]})`) +
                    "; it gets a new password (npm run stack writes it to .local/<stack>-passwords.json)",
            );
    }
    for (const [address] of quotas)
        if (!mailboxes.has(address)) warnings.push(`dovecot-quotas.cf: ${address} is no account; skipped`);

    for (const { from, targets } of virtual) {
        if (targets.length === 0) {
            warnings.push(`postfix-virtual.cf: ${from} has no target; skipped`);
            continue;
        }
        if (from.startsWith("@")) {
            const d = domain(from.slice(1));
            if (targets.length === 1 && d.catchAll === undefined) d.catchAll = targets[0];
            else
                warnings.push(
                    `postfix-virtual.cf: catch-all ${from} -> ${targets.join(",")}: one target only; skipped`,
                );
            continue;
        }
        if (!ADDRESS.test(from)) {
            warnings.push(
                `postfix-virtual.cf: "${from}" is not an address (regular expressions belong in postfix-regexp.cf); skipped`,
            );
            continue;
        }
        const d = domain(domainOf(from));
        const own = mailboxes.get(from);
        if (own) {
            // Postfix's virtual alias replaces the mailbox as recipient: a copy stays only if it lists itself.
            const others = targets.filter(t => t !== from);
            if (others.length > 0)
                d.forwards.push({ address: from, targets: others, keepCopy: others.length < targets.length });
            continue;
        }
        const target = mailboxes.get(targets[0]);
        const attached = [...mailboxes.values()].find(m => m.aliases?.includes(from));
        if (targets.length === 1 && target && domainOf(targets[0]) === d.domain && !attached) {
            target.aliases = [...(target.aliases ?? []), from];
            continue;
        }
        if (attached) {
            // A second line for the same alias (Postfix would use the first): one alias with every target.
            attached.aliases = attached.aliases!.filter(a => a !== from);
            d.aliases.push({ address: from, targets: [attached.address] });
        }
        const existing = d.aliases.find(a => a.address === from);
        if (existing) existing.targets.push(...targets.filter(t => !existing.targets.includes(t)));
        else d.aliases.push({ address: from, targets });
    }

    let adminAddress: string | undefined;
    for (const { name, targets } of parseLocalAliases(files["postfix-aliases.cf"])) {
        if ((name === "root" || name === "postmaster") && targets.length === 1 && ADDRESS.test(targets[0])) {
            adminAddress ??= targets[0].toLowerCase();
            continue;
        }
        warnings.push(
            `postfix-aliases.cf: local alias "${name}" is not imported (local aliases other than root and postmaster have no equivalent)`,
        );
    }
    if (lines(files["postfix-regexp.cf"]).length > 0)
        warnings.push("postfix-regexp.cf: regular-expression aliases are not imported; add them as aliases by hand");
    warnings.push(...notImported(files));

    const dkimKeys: Record<string, ImportedDkimKey[]> = {};
    for (const found of findDkimKeys(files, [...domains.keys()], warnings)) {
        if (!domains.has(found.domain)) {
            warnings.push(`${found.file}: domain ${found.domain} has no accounts or aliases; not imported`);
            continue;
        }
        const key = checkDkimKey(found, warnings);
        if (!key) continue;
        const list = (dkimKeys[found.domain] ??= []);
        if (list.some(k => k.selector === key.selector))
            warnings.push(`${found.file}: a second key for selector ${key.selector} of ${found.domain}; not imported`);
        else list.push(key);
    }

    const sorted = [...domains.values()].sort((a, b) => (a.domain < b.domain ? -1 : 1));
    return { domains: sorted, passwordHashes, dkimKeys, ...(adminAddress ? { adminAddress } : {}), warnings };
}

/** The stack config (stacks/Pulumi.<stack>.yaml's `config:`) for an import; secrets are not in it. */
export function stackConfig(imported: DmsImport, hostname: string): Record<string, unknown> {
    const clean = <T extends object>(o: T) =>
        Object.fromEntries(
            Object.entries(o).filter(([, x]) => x !== undefined && !(Array.isArray(x) && x.length === 0)),
        );
    return {
        "mailserver:hostname": hostname,
        ...(imported.adminAddress ? { "mailserver:adminAddress": imported.adminAddress } : {}),
        "mailserver:domains": imported.domains.map(d =>
            clean({
                domain: d.domain,
                mailboxes: d.mailboxes.map(m => clean({ address: m.address, quota: m.quota, aliases: m.aliases })),
                aliases: d.aliases,
                forwards: d.forwards,
                catchAll: d.catchAll,
            }),
        ),
    };
}
