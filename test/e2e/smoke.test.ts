// The toolchain works end to end: the real engine runs a program through the language host and
// a provider plugin, sees a config change as an update and runs the delete on destroy.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { projectRoot, pulumi, PulumiEnv, requireToolchain } from "../helpers/pulumi";

const program = path.join(projectRoot, "test", "fixtures", "smoke");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-smoke-"));
const traceDir = path.join(work, "trace");
const env: PulumiEnv = { backendDir: path.join(work, "state") };
const stack = "smoke";
const log = () => fs.readFileSync(path.join(traceDir, "log"), "utf8").trim().split("\n");

before(() => {
    requireToolchain();
    fs.mkdirSync(traceDir);
    fs.mkdirSync(env.backendDir);
    pulumi(["stack", "init", stack], program, env);
});

after(() => {
    pulumi(["destroy", "--yes", "--stack", stack], program, env, true);
    pulumi(["stack", "rm", "--yes", "--force", stack], program, env, true);
    fs.rmSync(work, { recursive: true, force: true });
});

test("pulumi up creates, a config change updates, destroy deletes", () => {
    pulumi(["config", "set", "traceDir", traceDir, "--stack", stack], program, env);
    pulumi(["config", "set", "message", "hello", "--stack", stack], program, env);

    pulumi(["up", "--yes", "--skip-preview", "--stack", stack], program, env);
    assert.equal(fs.readFileSync(path.join(traceDir, "current"), "utf8"), "hello");
    assert.equal(pulumi(["stack", "output", "stdout", "--stack", stack], program, env).stdout.trim(), "hello");

    const unchanged = pulumi(["preview", "--stack", stack, "--expect-no-changes"], program, env, true);
    assert.equal(unchanged.status, 0, `a second preview should see no changes:\n${unchanged.stdout}${unchanged.stderr}`);

    pulumi(["config", "set", "message", "world", "--stack", stack], program, env);
    const update = pulumi(["up", "--yes", "--skip-preview", "--stack", stack], program, env);
    assert.match(update.stdout, /1 updated/);
    assert.equal(fs.readFileSync(path.join(traceDir, "current"), "utf8"), "world");
    assert.equal(pulumi(["stack", "output", "stdout", "--stack", stack], program, env).stdout.trim(), "world");

    pulumi(["destroy", "--yes", "--skip-preview", "--stack", stack], program, env);
    assert.equal(fs.existsSync(path.join(traceDir, "current")), false);
    assert.deepEqual(log(), ["created", "updated", "deleted"]);
});

test("machine image pins: a new image replaces no machine; replacing one machine's pin makes that machine alone anew with it", () => {
    const pins = path.join(projectRoot, "test", "fixtures", "pins");
    const pinsStack = "pins";
    const made = () => fs.readFileSync(path.join(traceDir, "made"), "utf8").trim().split("\n");
    const images = () => JSON.parse(pulumi(["stack", "output", "machineImages", "--json", "--stack", pinsStack], pins, env).stdout) as Record<string, string>;
    pulumi(["stack", "init", pinsStack], pins, env);
    try {
        pulumi(["config", "set", "traceDir", traceDir, "--stack", pinsStack], pins, env);
        pulumi(["config", "set", "image", "ami-1", "--stack", pinsStack], pins, env);
        pulumi(["up", "--yes", "--skip-preview", "--stack", pinsStack], pins, env);
        assert.deepEqual(images(), { "machine-a": "ami-1", "machine-b": "ami-1" });

        pulumi(["config", "set", "image", "ami-2", "--stack", pinsStack], pins, env);
        const unchanged = pulumi(["preview", "--expect-no-changes", "--stack", pinsStack], pins, env, true);
        assert.equal(unchanged.status, 0, `a new image alone changes no machine:\n${unchanged.stdout}${unchanged.stderr}`);

        const urn = pulumi(["stack", "--show-urns", "--stack", pinsStack], pins, env).stdout.match(/urn:pulumi:\S+::machine-a-ami/)?.[0];
        assert.ok(urn, "the pin of machine-a is listed");
        pulumi(["up", "--yes", "--skip-preview", "--replace", urn, "--stack", pinsStack], pins, env);
        assert.deepEqual(images(), { "machine-a": "ami-2", "machine-b": "ami-1" });
        assert.deepEqual(made().sort(), ["machine-a ami-1", "machine-a ami-2", "machine-b ami-1"]);
    } finally {
        pulumi(["destroy", "--yes", "--skip-preview", "--stack", pinsStack], pins, env, true);
        pulumi(["stack", "rm", "--yes", "--force", pinsStack], pins, env, true);
    }
});
