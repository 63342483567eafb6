// The stack command's private files under .local/: the generated mailbox passwords, the relay
// passwords, and per stack the passphrase, the state and the workspace (which holds the
// encrypted config). Their modes are enforced on every run, also when the files existed before
// with looser ones, and the passwords file has one writer at a time.
import * as fs from "fs";
import * as path from "path";
import * as lockfile from "proper-lockfile";
import { randomPassword } from "./passwords";

/** Files of .local/ itself that hold secrets. */
const SECRET_FILE = /-(relay-)?passwords\.json$/;

/**
 * .local/ and every stack folder under it 0700, the secret files 0600: the password files, and
 * everything in a stack's folder (passphrase, state, workspace). The Pulumi home and certificates
 * (public) keep their modes; nobody else can reach them through a 0700 .local/ anyway.
 */
export function secureLocal(local: string): void {
    fs.mkdirSync(local, { recursive: true, mode: 0o700 });
    fs.chmodSync(local, 0o700);
    for (const entry of fs.readdirSync(local, { withFileTypes: true }))
        if (entry.isFile() && SECRET_FILE.test(entry.name)) fs.chmodSync(path.join(local, entry.name), 0o600);
    const stacks = path.join(local, "stacks");
    if (fs.existsSync(stacks)) privateTree(stacks);
}

/** Folders 0700 and files 0600, all the way down (symbolic links are left alone). */
function privateTree(dir: string): void {
    fs.chmodSync(dir, 0o700);
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) privateTree(p);
        else if (entry.isFile()) fs.chmodSync(p, 0o600);
    }
}

/**
 * Runs `fn` while holding the lock of `file` (proper-lockfile: an atomic mkdir of `<file>.lock`,
 * refreshed while held and taken over when stale, so a killed run does not block the next one).
 * Another holder is waited for up to `waitSeconds`.
 */
export async function withFileLock<T>(file: string, fn: () => T | Promise<T>, waitSeconds = 120): Promise<T> {
    const release = await lockfile.lock(file, {
        realpath: false,
        stale: 10_000,
        update: 2_000,
        retries: { retries: waitSeconds * 4, factor: 1, minTimeout: 250, maxTimeout: 250 },
    });
    try {
        return await fn();
    } finally {
        await release();
    }
}

/**
 * The passwords file with an entry for every address: existing ones kept, missing ones generated.
 * Read and written under the file's lock, and rewritten (atomically, 0600) only when an address
 * was missing: two stack commands started at once agree on every password.
 */
export async function ensurePasswords(file: string, addresses: string[]): Promise<Record<string, string>> {
    return withFileLock(file, () => {
        const passwords: Record<string, string> = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
        const missing = addresses.filter(a => passwords[a] === undefined);
        for (const a of missing) passwords[a] = randomPassword();
        if (missing.length > 0 || !fs.existsSync(file)) {
            const temporary = `${file}.${process.pid}.tmp`;
            fs.writeFileSync(temporary, JSON.stringify(passwords, null, 2) + "\n", { mode: 0o600 });
            fs.renameSync(temporary, file);
        }
        fs.chmodSync(file, 0o600);
        return passwords;
    });
}
