// Makes a release from a clean tree whose CHANGELOG has a "## [<version>] - Unreleased" section:
//   npm run release -- <version> [--date YYYY-MM-DD]
// Sets the version (package.json, package-lock.json, policy/package.json), dates the CHANGELOG
// section, commits "Release <version>", tags it v<version> (annotated), then records the tag's
// commit in releases.json in a second commit (the upgrade test reads it where a clone has no tags).
// Publishing stays a separate, deliberate step: it prints the commands.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { datedChangelog, readReleases, Release, RELEASES_FILE, versionedFiles, versionProblem } from "./lib/releases";

function git(root: string, args: string[]): string {
    const r = spawnSync("git", args, { cwd: root, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout.trim();
}

/** Releases `version` in the git tree at `root`; returns the release as recorded. */
export function release(root: string, version: string, date: string): Release {
    const releases = readReleases(root);
    const problem = versionProblem(version, releases);
    if (problem) throw new Error(problem);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`"${date}" is not a date YYYY-MM-DD`);
    const dirty = git(root, ["status", "--porcelain"]);
    if (dirty) throw new Error(`the tree has uncommitted changes; commit or stash them first:\n${dirty}`);
    const tag = `v${version}`;
    if (git(root, ["tag", "--list", tag])) throw new Error(`tag ${tag} exists already`);

    const files = {
        ...versionedFiles(root, version),
        "CHANGELOG.md": datedChangelog(fs.readFileSync(path.join(root, "CHANGELOG.md"), "utf8"), version, date),
    };
    for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(root, file), content);
    git(root, ["add", ...Object.keys(files)]);
    git(root, ["commit", "-q", "-m", `Release ${version}`]);
    git(root, ["tag", "-a", tag, "-m", `${tag}: see CHANGELOG.md`]);
    const commit = git(root, ["rev-parse", `${tag}^{commit}`]);

    const recorded: Release = { version, tag, commit, date, deploy: "tarball" };
    releases.releases.push(recorded);
    fs.writeFileSync(path.join(root, RELEASES_FILE), JSON.stringify(releases, null, 2) + "\n");
    git(root, ["add", RELEASES_FILE]);
    git(root, ["commit", "-q", "-m", `${RELEASES_FILE}: ${tag} is ${commit.slice(0, 12)}`]);
    return recorded;
}

function main() {
    const args = process.argv.slice(2);
    const dateAt = args.indexOf("--date");
    const date = dateAt >= 0 ? args.splice(dateAt, 2)[1] : new Date().toISOString().slice(0, 10);
    if (args.length !== 1) {
        console.error("usage: npm run release -- <version> [--date YYYY-MM-DD]");
        process.exit(2);
    }
    const root = path.resolve(__dirname, "..");
    const made = release(root, args[0], date);
    console.log(`released ${made.version}: tag ${made.tag} at ${made.commit}, recorded in ${RELEASES_FILE}.`);
    console.log(`Publish: git push origin HEAD ${made.tag} && git checkout ${made.tag} && npm publish`);
}

if (require.main === module) {
    try {
        main();
    } catch (e) {
        console.error(`release: ${e instanceof Error ? e.message : e}`);
        process.exit(1);
    }
}
