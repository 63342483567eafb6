// An independent DKIM verifier for the live tests: dkimpy (test/tools/dkim-verify.py, in the
// test/.venv that test/tools/setup-venv.sh installs), checking each DKIM-Signature of a message
// against the TXT records a stack outputs (dnsRecords) rather than against DNS.
import { spawnSync } from "child_process";
import * as path from "path";
import type { DnsRecord } from "../../components/model/dns";
import { ROOT } from "./stack";

export interface DkimResult {
    domain: string;
    selector: string;
    /** "rsa-sha256" or "ed25519-sha256". */
    algorithm: string;
    valid: boolean;
}

const PYTHON = path.join(ROOT, "test", ".venv", "bin", "python");
const VERIFIER = path.join(ROOT, "test", "tools", "dkim-verify.py");

/** Every DKIM-Signature of the message, top down, as dkimpy judges it with these records. */
export function dkimVerify(message: string, records: DnsRecord[]): DkimResult[] {
    const r = spawnSync(PYTHON, [VERIFIER], {
        input: JSON.stringify({ message, records }),
        encoding: "utf8",
        timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`dkim-verify failed (${r.status}): ${r.stderr}${r.error ?? ""}`);
    return JSON.parse(r.stdout) as DkimResult[];
}

/** "example.test/mail-rsa rsa-sha256 valid, ..." for reports and assertion messages. */
export const describeDkim = (results: DkimResult[]) =>
    results.length === 0
        ? "no DKIM-Signature"
        : results.map(r => `${r.domain}/${r.selector} ${r.algorithm} ${r.valid ? "valid" : "INVALID"}`).join(", ");
