// Releases: releases.json (every release's version, tag and commit, and how the upgrade test deploys
// it), the CHANGELOG's sections, and what `npm run release` changes. Pure functions plus git reads;
// scripts/release.ts does the writing, test/live/upgrade.test.ts reads the previous release here.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";

export const RELEASES_FILE = "releases.json";

export interface Release {
    version: string;
    tag: string;
    /** The release's commit: the upgrade test uses it where the clone has no tags. */
    commit: string;
    date: string;
    /**
     * How the upgrade test deploys this release as the previous one: "tarball", its packed npm package
     * (every release from 0.2.0 on); "source", its own source tree (0.1.0, whose tarball has no code).
     */
    deploy: "tarball" | "source";
}

export interface ReleasesFile {
    "//"?: string;
    releases: Release[];
}

export function readReleases(root: string): ReleasesFile {
    return JSON.parse(fs.readFileSync(path.join(root, RELEASES_FILE), "utf8"));
}

/** The newest release (by version), or undefined before the first. */
export function latestRelease(file: ReleasesFile): Release | undefined {
    return [...file.releases].sort((a, b) => semver.compare(b.version, a.version))[0];
}

function git(root: string, args: string[]): { ok: boolean; out: string } {
    const r = spawnSync("git", args, { cwd: root, encoding: "utf8" });
    return { ok: r.status === 0, out: r.stdout.trim() };
}

/**
 * The commit of a release: its tag's when the clone has the tag (which must agree with
 * releases.json), else the recorded one. Throws when the clone lacks the commit itself.
 */
export function releaseCommit(root: string, release: Release): string {
    const tagged = git(root, ["rev-parse", "--verify", "--quiet", `refs/tags/${release.tag}^{commit}`]);
    if (tagged.ok && tagged.out !== release.commit)
        throw new Error(
            `tag ${release.tag} is commit ${tagged.out}, but ${RELEASES_FILE} records ${release.commit} for it`,
        );
    if (!git(root, ["cat-file", "-e", `${release.commit}^{commit}`]).ok)
        throw new Error(
            `this clone lacks commit ${release.commit} of release ${release.version} (a shallow clone?): ` +
                `run \`git fetch --unshallow --tags\``,
        );
    return release.commit;
}

/** The heading of the CHANGELOG section a version is developed under, before its release. */
export const unreleasedHeading = (version: string) => `## [${version}] - Unreleased`;

/** Whether the CHANGELOG has a section for this version, released or not. */
export function changelogHasVersion(changelog: string, version: string): boolean {
    return new RegExp(`^## \\[${version.replace(/\./g, "\\.")}\\] - `, "m").test(changelog);
}

/** The CHANGELOG with the version's "Unreleased" section dated; throws when there is none. */
export function datedChangelog(changelog: string, version: string, date: string): string {
    const heading = unreleasedHeading(version);
    if (!changelog.split("\n").includes(heading))
        throw new Error(`CHANGELOG.md has no "${heading}" section: write the release notes there first`);
    return changelog.replace(heading, `## [${version}] - ${date}`);
}

/**
 * Why `version` cannot be released after `releases` (or undefined): it must be a plain x.y.z
 * version newer than every release.
 */
export function versionProblem(version: string, file: ReleasesFile): string | undefined {
    if (!/^\d+\.\d+\.\d+$/.test(version) || !semver.valid(version)) return `"${version}" is not a version x.y.z`;
    const latest = latestRelease(file);
    if (latest && !semver.gt(version, latest.version))
        return `${version} is not newer than the latest release, ${latest.version}`;
    return undefined;
}

/** The files whose version fields a release sets, with the new content. */
export function versionedFiles(root: string, version: string): Record<string, string> {
    const edit = (file: string, change: (json: any) => void) => {
        const json = JSON.parse(fs.readFileSync(path.join(root, file), "utf8"));
        change(json);
        return JSON.stringify(json, null, 2) + "\n";
    };
    return {
        "package.json": edit("package.json", p => (p.version = version)),
        "package-lock.json": edit("package-lock.json", l => {
            l.version = version;
            l.packages[""].version = version;
        }),
        // The PolicyPack reports this version; it is the package's.
        "policy/package.json": edit("policy/package.json", p => (p.version = version)),
    };
}
