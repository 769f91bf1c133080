// scripts/lib/apt-install.sh lets one apt run go at a time: two started at once never overlap.
// apt-get, dpkg-query and id are stand-ins that log when apt "runs", so this checks the lock
// without installing anything.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { projectRoot } from "../helpers/pulumi";

const script = path.join(projectRoot, "scripts", "lib", "apt-install.sh");

function stub(dir: string, name: string, body: string): void {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

test("two apt installs started at once run one after the other", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apt-install-"));
    try {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        const log = path.join(dir, "log");
        stub(bin, "id", "echo 0");
        stub(bin, "dpkg-query", "exit 1"); // nothing is installed
        stub(bin, "apt-get", `echo "start $$" >>'${log}'; sleep 0.5; echo "end $$" >>'${log}'`);
        const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SWARM_APT_LOCK: path.join(dir, "lock") };
        const run = () =>
            new Promise<number | null>((resolve) => spawn("bash", [script, "some-package"], { env, stdio: "inherit" }).on("close", resolve));
        assert.deepEqual(await Promise.all([run(), run()]), [0, 0]);
        const events = fs.readFileSync(log, "utf8").trim().split("\n").map((line) => line.split(" ")[0]);
        assert.deepEqual(events, ["start", "end", "start", "end"], "the second apt run starts only after the first ended");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("packages already installed need no apt and no root", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apt-install-"));
    try {
        stub(dir, "id", "echo 1000");
        stub(dir, "dpkg-query", "printf 'install ok installed'");
        stub(dir, "apt-get", "exit 99");
        const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, SWARM_APT_LOCK: path.join(dir, "lock") };
        const code = await new Promise<number | null>((resolve) => spawn("bash", [script, "bash"], { env, stdio: "inherit" }).on("close", resolve));
        assert.equal(code, 0);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
