// The files of a config job travel as two uploads, each a bundle images/common/apply-config
// unpacks into /staging: the rendered files, and the files made of resource outputs (keys, hashes,
// the certificate; configJob.ts). One upload per file made the docker
// provider (through go-cty's set ordering of `uploads`) serialise every file's content at every
// comparison of every preview: 2,000 DKIM key files in one job took minutes (docs/performance.md).
// Pure: no Pulumi here.

export const BUNDLE_MAGIC = "mailserver-bundle 1\n";

export interface BundledFile {
    /** Relative to the staging folder, e.g. "main.cf" or "dkim/example.com.mail-rsa.key". */
    path: string;
    content: string;
}

/** "mailserver-bundle 1\n", then per file "<bytes> <path>\n" and exactly that many bytes of content. */
export function renderBundle(files: BundledFile[]): string {
    for (const f of files)
        if (!/^[A-Za-z0-9._+@-][A-Za-z0-9._+@/-]*$/.test(f.path) || f.path.split("/").includes(".."))
            throw new Error(`config bundle: unsafe file path ${JSON.stringify(f.path)}`);
    return BUNDLE_MAGIC + files.map(f => `${Buffer.byteLength(f.content, "utf8")} ${f.path}\n${f.content}`).join("");
}

/** The files of a bundle, in order (the tests read uploads back with it). */
export function parseBundle(bundle: string): BundledFile[] {
    const bytes = Buffer.from(bundle, "utf8");
    if (!bytes.subarray(0, BUNDLE_MAGIC.length).equals(Buffer.from(BUNDLE_MAGIC)))
        throw new Error("not a config bundle");
    const files: BundledFile[] = [];
    for (let at = BUNDLE_MAGIC.length; at < bytes.length;) {
        const eol = bytes.indexOf(10, at);
        const header = /^(\d+) (.+)$/.exec(bytes.subarray(at, eol).toString("utf8"));
        if (eol < 0 || !header) throw new Error(`config bundle: bad header at byte ${at}`);
        const length = Number(header[1]);
        const start = eol + 1;
        if (start + length > bytes.length) throw new Error(`config bundle: ${header[2]} is truncated`);
        files.push({ path: header[2], content: bytes.subarray(start, start + length).toString("utf8") });
        at = start + length;
    }
    return files;
}
