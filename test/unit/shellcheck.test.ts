// Every shell script of the project passes shellcheck: the scripts run on nodes and hosts as sh
// (components/), the project's own tools as bash (scripts/, services/scripts/, .ci/run).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { projectRoot } from "../helpers/pulumi";

function trackedScripts(): string[] {
    const listed = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.sh", ".ci/run"], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(listed.status, 0, listed.stderr);
    return listed.stdout.split("\n").filter(Boolean);
}

test("shellcheck passes on every shell script", () => {
    const version = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
    assert.equal(version.status, 0, "shellcheck is missing: apt-get install shellcheck");
    const scripts = trackedScripts();
    assert.ok(scripts.some((f) => f.startsWith("components/swarm/scripts/")), scripts.join(" "));
    const result = spawnSync("shellcheck", ["--external-sources", "--format=gcc", ...scripts], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(result.status, 0, result.stdout + result.stderr);
});
