// The toolchain works end to end: the real engine runs a program through the language host and
// a provider plugin, sees a config change as an update and runs the delete on destroy.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { projectRoot, pulumi, PulumiEnv, requireToolchain } from "../helpers/pulumi";
import { PulumiRunner, roll } from "../../scripts/roll";

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

test("machine pins: a new image, type or user data changes no machine; npm run roll makes the machines anew one per up, workers first, manager 0 last, and stops at the first failure", () => {
    const pins = path.join(projectRoot, "test", "fixtures", "pins");
    const pinsStack = "pins";
    const run: PulumiRunner = (args) => pulumi(args, pins, env, true);
    const made = () => fs.readFileSync(path.join(traceDir, "made"), "utf8").trim().split("\n");
    const images = () => JSON.parse(pulumi(["stack", "output", "machineImages", "--json", "--stack", pinsStack], pins, env).stdout) as Record<string, string>;
    const said: string[] = [];
    pulumi(["stack", "init", pinsStack], pins, env);
    try {
        pulumi(["config", "set", "traceDir", traceDir, "--stack", pinsStack], pins, env);
        pulumi(["config", "set", "image", "ami-1", "--stack", pinsStack], pins, env);
        pulumi(["up", "--yes", "--skip-preview", "--stack", pinsStack], pins, env);
        assert.equal(made().length, 4);

        // New values for machines made from now on: no machine changes, and preview says which keep what.
        pulumi(["config", "set", "image", "ami-2", "--stack", pinsStack], pins, env);
        pulumi(["config", "set", "type", "t3.large", "--stack", pinsStack], pins, env);
        pulumi(["config", "set", "userData", "#cloud-config\npackages: [jq]\n", "--stack", pinsStack], pins, env); // 29 bytes
        const unchanged = pulumi(["preview", "--expect-no-changes", "--stack", pinsStack], pins, env, true);
        assert.equal(unchanged.status, 0, `new values alone change no machine:\n${unchanged.stdout}${unchanged.stderr}`);
        assert.match(unchanged.stdout, /pins-worker-0 keeps type t3\.medium; machines made from now on get t3\.large/);
        assert.match(unchanged.stdout, /pins-manager-0 keeps the user data it was made with/);

        // The roll stops at the machine whose up fails, after the worker and manager 2; manager 0 is untouched.
        fs.writeFileSync(path.join(traceDir, "fail-pins-manager-1"), "");
        assert.throws(() => roll(run, { stack: pinsStack, say: (line) => said.push(line) }), /the up that rolls pins-manager-1 failed .*not rolled: pins-manager-0/);
        assert.deepEqual(made().slice(4), ["pins-worker-0 ami-2 t3.large 29", "pins-manager-2 ami-2 t3.large 29"]);
        assert.ok(said.includes("rolling 4 machine(s), one per up: pins-worker-0, pins-manager-2, pins-manager-1, pins-manager-0"), said.join("\n"));
        // A roll starts only on a converged stack: the failed machine is made by the next up.
        fs.rmSync(path.join(traceDir, "fail-pins-manager-1"));
        assert.throws(() => roll(run, { stack: pinsStack }), /has changes pending \(replace pins-manager-1/);
        pulumi(["up", "--yes", "--skip-preview", "--stack", pinsStack], pins, env);
        assert.deepEqual(roll(run, { stack: pinsStack, say: (line) => said.push(line) }), ["pins-manager-0"]);
        assert.deepEqual(made().slice(6), ["pins-manager-1 ami-2 t3.large 29", "pins-manager-0 ami-2 t3.large 29"]);
        assert.deepEqual(new Set(Object.values(images())), new Set(["ami-2"]));
    } finally {
        pulumi(["destroy", "--yes", "--skip-preview", "--stack", pinsStack], pins, env, true);
        pulumi(["stack", "rm", "--yes", "--force", pinsStack], pins, env, true);
    }
});
