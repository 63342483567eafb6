// Releases: the records agree with each other (package.json, the policy pack, CHANGELOG.md,
// releases.json and, where the clone has them, the tags), and `npm run release` does what it says
// in a scratch git repository.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";
import {
    changelogHasVersion,
    datedChangelog,
    latestRelease,
    readReleases,
    releaseCommit,
    unreleasedHeading,
    versionProblem,
} from "../../scripts/lib/releases";
import { release } from "../../scripts/release";
import { ROOT, scratchDir } from "../pack";

const read = (file: string, root = ROOT) => fs.readFileSync(path.join(root, file), "utf8");
const pkg = JSON.parse(read("package.json"));

function git(cwd: string, args: string[]): string {
    const r = spawnSync("git", args, { cwd, encoding: "utf8" });
    assert.equal(r.status, 0, `git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
}

describe("release records", () => {
    test("package.json, the policy pack and CHANGELOG.md name the same version", () => {
        assert.ok(semver.valid(pkg.version), pkg.version);
        assert.equal(JSON.parse(read("policy/package.json")).version, pkg.version);
        assert.equal(JSON.parse(read("package-lock.json")).version, pkg.version);
        assert.ok(changelogHasVersion(read("CHANGELOG.md"), pkg.version), `CHANGELOG.md has no ${pkg.version} section`);
    });

    test("every recorded release has its CHANGELOG section, its commit in this clone, and its tag agrees", () => {
        const releases = readReleases(ROOT);
        assert.ok(releases.releases.length > 0);
        for (const r of releases.releases) {
            assert.equal(r.tag, `v${r.version}`);
            assert.ok(changelogHasVersion(read("CHANGELOG.md"), r.version), `CHANGELOG.md has no ${r.version} section`);
            assert.match(r.commit, /^[0-9a-f]{40}$/);
            assert.equal(releaseCommit(ROOT, r), r.commit);
        }
        // The version under development is the latest release or newer.
        assert.ok(semver.gte(pkg.version, latestRelease(releases)!.version));
    });

    test("the baseline 0.1.0 is fe075a6 and is deployed from source (its tarball holds no code)", () => {
        const baseline = readReleases(ROOT).releases.find(r => r.version === "0.1.0")!;
        assert.equal(baseline.commit.slice(0, 7), "fe075a6");
        assert.equal(baseline.deploy, "source");
    });
});

describe("npm run release", () => {
    test("refuses versions that are not newer x.y.z, and a CHANGELOG without the version's section", () => {
        const file = {
            releases: [{ version: "0.2.0", tag: "v0.2.0", commit: "", date: "", deploy: "tarball" as const }],
        };
        assert.match(versionProblem("0.2.0", file)!, /not newer than the latest release, 0\.2\.0/);
        assert.match(versionProblem("0.1.9", file)!, /not newer/);
        assert.match(versionProblem("v0.3.0", file)!, /not a version/);
        assert.match(versionProblem("0.3.0-rc.1", file)!, /not a version/);
        assert.equal(versionProblem("0.3.0", file), undefined);
        assert.throws(
            () => datedChangelog("# Changelog\n\n## [0.2.0] - 2026-12-08\n", "0.3.0", "2026-12-09"),
            /no "## \[0\.3\.0\] - Unreleased" section/,
        );
        assert.equal(
            datedChangelog(
                `# Changelog\n\n${unreleasedHeading("0.3.0")}\n\n- x\n\n## [0.2.0] - 2026-12-08\n`,
                "0.3.0",
                "2027-01-02",
            ),
            "# Changelog\n\n## [0.3.0] - 2027-01-02\n\n- x\n\n## [0.2.0] - 2026-12-08\n",
        );
    });

    test("in a git repository: bumps the versions, dates the CHANGELOG, commits, tags, records the tag's commit", () => {
        const repo = scratchDir("release-test");
        try {
            for (const f of [
                "package.json",
                "package-lock.json",
                "policy/package.json",
                "CHANGELOG.md",
                "releases.json",
            ]) {
                fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
                fs.copyFileSync(path.join(ROOT, f), path.join(repo, f));
            }
            git(repo, ["init", "-q"]);
            git(repo, ["add", "."]);
            git(repo, ["-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-q", "-m", "base"]);
            git(repo, ["config", "user.name", "t"]);
            git(repo, ["config", "user.email", "t@example.test"]);
            const next = semver.inc(pkg.version, "minor")!;
            fs.writeFileSync(
                path.join(repo, "CHANGELOG.md"),
                read("CHANGELOG.md").replace("# Changelog\n", `# Changelog\n\n${unreleasedHeading(next)}\n\n- next\n`),
            );
            assert.throws(() => release(repo, next, "2027-01-02"), /uncommitted changes/);
            git(repo, ["commit", "-q", "-am", "notes"]);

            const made = release(repo, next, "2027-01-02");
            assert.equal(made.tag, `v${next}`);
            assert.equal(made.commit, git(repo, ["rev-parse", `v${next}^{commit}`]));
            assert.equal(git(repo, ["log", "-1", "--format=%s", made.commit]), `Release ${next}`);
            for (const f of ["package.json", "package-lock.json", "policy/package.json"])
                assert.equal(JSON.parse(git(repo, ["show", `${made.commit}:${f}`])).version, next, f);
            assert.ok(git(repo, ["show", `${made.commit}:CHANGELOG.md`]).includes(`## [${next}] - 2027-01-02`));
            const recorded = readReleases(repo);
            assert.deepEqual(latestRelease(recorded), {
                version: next,
                tag: `v${next}`,
                commit: made.commit,
                date: "2027-01-02",
                deploy: "tarball",
            });
            assert.equal(releaseCommit(repo, made), made.commit);
            assert.equal(git(repo, ["status", "--porcelain"]), "");
            assert.throws(() => release(repo, next, "2027-01-03"), /not newer/);
        } finally {
            fs.rmSync(repo, { recursive: true, force: true });
        }
    });
});
