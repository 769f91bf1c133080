// The offline base image is made once even when two builds ask for it at the same moment (the
// node and registry images of a first `pulumi up` did, and both ran apt): the second run waits
// for the first and then finds the image.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as path from "node:path";
import { after, test } from "node:test";
import { projectRoot } from "../helpers/pulumi";

const script = path.join(projectRoot, "scripts", "build-base-image.sh");
// A tag no registry has, so each run would build it offline if the lock let it.
const tag = `swarm-test-base:${crypto.randomBytes(4).toString("hex")}`;

function run(): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
        const child = spawn("bash", [script, tag], { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        child.on("close", (code) => resolve({ code, output }));
    });
}

after(() => {
    spawnSync("docker", ["image", "rm", "--force", tag], { stdio: "ignore" });
});

test("two base image builds started at once make the image once", { timeout: 900_000 }, async () => {
    assert.equal(spawnSync("docker", ["info"], { stdio: "ignore" }).status, 0, "the Docker engine must run (npm run setup starts it)");
    const [first, second] = await Promise.all([run(), run()]);
    assert.equal(first.code, 0, first.output);
    assert.equal(second.code, 0, second.output);
    const built = [first, second].filter((r) => /built .* offline with debootstrap|pulled /.test(r.output));
    const waited = [first, second].filter((r) => /made by another run meanwhile/.test(r.output));
    assert.equal(built.length, 1, `exactly one run makes the image:\n${first.output}\n---\n${second.output}`);
    assert.equal(waited.length, 1, `the other run waits and finds it:\n${first.output}\n---\n${second.output}`);
    assert.equal(spawnSync("docker", ["image", "inspect", tag], { stdio: "ignore" }).status, 0);
    // The image is a working Debian: it can run apt, as the project's Dockerfiles do.
    const check = spawnSync("docker", ["run", "--rm", tag, "sh", "-c", "command -v apt-get && . /etc/os-release && echo $VERSION_CODENAME"], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /bookworm/);
});
