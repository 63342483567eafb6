// Moving in from docker-mailserver: reads its configuration folder (the one it mounts at
// /tmp/docker-mailserver, usually ./docker-data/dms/config) and writes a stack of this package:
//   stacks/Pulumi.<stack>.yaml            hostname, adminAddress, domains (mailboxes, aliases, forwards,
//                                         catch-alls, quotas)
//   .local/<stack>-password-hashes.json   address -> SHA512-CRYPT hash as it was (0600): nobody resets a password
//   .local/<stack>-dkim-keys.json         domain -> DKIM keys (mode 0600): the records in DNS stay valid
// npm run stack reads both files as the secret config keys passwordHashes and dkimKeys.
//   npm run import-dms -- <dms-config-folder> <stack> --hostname mail.example.com [--force]
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { DmsFiles, importDms, stackConfig } from "./lib/dms-import";
import { secureLocal } from "./lib/local";

const ROOT = path.resolve(__dirname, "..");

function usage(message: string): never {
    console.error(
        `import-dms: ${message}\nusage: npm run import-dms -- <dms-config-folder> <stack> --hostname <fqdn> [--force]`,
    );
    process.exit(2);
}

/** Every file under `dir` (what docker-mailserver reads is small text), by path relative to it. */
export function readFolder(dir: string): DmsFiles {
    const files: DmsFiles = {};
    const walk = (sub: string) => {
        for (const e of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
            const rel = sub ? `${sub}/${e.name}` : e.name;
            if (e.isDirectory()) walk(rel);
            else if (e.isFile() && fs.statSync(path.join(dir, rel)).size < 1 << 20)
                files[rel] = fs.readFileSync(path.join(dir, rel), "utf8");
        }
    };
    walk("");
    return files;
}

function main() {
    const args = process.argv.slice(2);
    const force = args.includes("--force");
    const h = args.indexOf("--hostname");
    const hostname = h >= 0 ? args[h + 1] : undefined;
    const positional = args.filter((a, i) => !a.startsWith("--") && (h < 0 || i !== h + 1));
    const [folder, stack, ...rest] = positional;
    if (!folder || !stack) usage("which folder and which stack?");
    if (rest.length > 0) usage(`unexpected arguments: ${rest.join(" ")}`);
    if (!hostname) usage("--hostname <the server's fully qualified name> is needed");
    if (!fs.existsSync(path.join(folder, "postfix-accounts.cf")))
        usage(
            `${folder} has no postfix-accounts.cf: give docker-mailserver's config folder (mounted at /tmp/docker-mailserver)`,
        );

    const imported = importDms(readFolder(folder));
    const stackFile = path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`);
    const local = path.join(ROOT, ".local");
    const hashesFile = path.join(local, `${stack}-password-hashes.json`);
    const keysFile = path.join(local, `${stack}-dkim-keys.json`);
    const existing = [stackFile, hashesFile, keysFile].filter(f => fs.existsSync(f));
    if (existing.length > 0 && !force)
        usage(`${existing.map(f => path.relative(ROOT, f)).join(", ")} exist(s); --force overwrites`);

    fs.writeFileSync(
        stackFile,
        `# Imported from docker-mailserver (${path.resolve(folder)}) by npm run import-dms.\n` +
            yaml.dump({ config: stackConfig(imported, hostname) }, { lineWidth: 120 }),
    );
    secureLocal(local);
    fs.writeFileSync(hashesFile, JSON.stringify(imported.passwordHashes, null, 2) + "\n", { mode: 0o600 });
    fs.chmodSync(hashesFile, 0o600);
    fs.writeFileSync(keysFile, JSON.stringify(imported.dkimKeys, null, 2) + "\n", { mode: 0o600 });
    fs.chmodSync(keysFile, 0o600);

    const mailboxes = imported.domains.reduce((n, d) => n + d.mailboxes.length, 0);
    const keys = Object.values(imported.dkimKeys).reduce((n, l) => n + l.length, 0);
    console.log(
        [
            `import-dms: ${imported.domains.length} domain(s), ${mailboxes} mailbox(es), ` +
                `${Object.keys(imported.passwordHashes).length} password hash(es) kept, ${keys} DKIM key(s) kept`,
            `  ${path.relative(ROOT, stackFile)}`,
            `  ${path.relative(ROOT, hashesFile)} (0600)`,
            `  ${path.relative(ROOT, keysFile)} (0600)`,
            ...imported.warnings.map(w => `  warning: ${w}`),
            `Next: review the stack file (ports, networkMode, tls), then npm run stack -- preview ${stack}; ` +
                "the imported keys sign beside new ones whose records dnsRecords lists: publish them too.",
        ].join("\n"),
    );
}

if (require.main === module) main();
