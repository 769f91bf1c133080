// Self-healing on a real local swarm (1 manager, 2 workers), through the real CLI: faults made
// behind Pulumi's back (a machine killed, a machine removed with its disk, a service scaled by
// hand, the stack removed by hand) show in `pulumi preview --refresh`, and `pulumi up --refresh`
// puts back exactly that; a dead machine does not stop its removal or `pulumi destroy`. The stack
// is made by the previous release and upgraded in place first: one `up`, nothing made anew.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { gatewayRequest } from "../../components/gateway/client";
import { projectRoot, pulumiEnv } from "../helpers/pulumi";
import { checkOut, editableCopy, labelledObjects, TestStack, uniqueStackName } from "../helpers/stack";
import { assertSwarmMatchesOutputs, convergedReplicas, declaredReplicas, eventually, expectConverged, idsByHost, nodeList, NodeOutput, serviceReplicas } from "../helpers/swarm";

/**
 * The release a stack is made with before it is upgraded to this one: the last one with the
 * built-in stack's own component (DockerStack) and the config in one module.
 */
const previousRelease = "103fbdc5555fdb749a84068292e7d765543b889f";
/**
 * Services whose spec or image changed since that release (the gateway's TLS and limits, the roles'
 * tokens, the stores' passwords: the images are new): their tasks are rolled, not kept.
 */
const updatedSinceRelease = ["gateway", "collector", "categoriser", "profile-writer", "profile-api", "nats", "redis"];
/** Services this version has that that release did not: the edge, which took the public port from the gateway. */
const newSinceRelease = ["edge"];
/** Resources this version has that that release did not: the gateway's certificate and tokens, the pipeline's credentials, their secrets, and the step that gives every machine work. */
const addedSinceRelease = ["gateway", "gateway-certificate", "stack-images-edge", "gateway-tokens", "pipeline", "pipeline-made", "stack-gateway-tls", "stack-auth-tokens", "stack-store-key", "stack-store-password", "stack-stream-password", "stack-rebalance"];
/** Images whose content changed since that release: a new image is a new build step (its tag is the content's hash). */
const rebuiltSinceRelease = ["stack-images-gateway", "stack-images-pipeline", "stack-images-nats", "stack-images-redis"];

let copy: string;
let stack: TestStack;
const worker = (i: number) => stack.output<NodeOutput[]>("workers")[i].name;

function docker(args: string[]): void {
    const result = spawnSync("docker", args, { encoding: "utf8" });
    assert.equal(result.status, 0, `docker ${args.join(" ")}: ${result.stderr}`);
}

/** Runs a pulumi command, printing how long it took (a figure for the closing note, not a test). */
function timed(what: string, args: string[], allowFailure = false) {
    const started = Date.now();
    const result = stack.run(args, allowFailure);
    console.log(`# ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result;
}

/** The preview of what a refresh found: the resources it would change, as `op name` lines. */
function refreshedPreview(): { text: string; steps: string[] } {
    const text = timed("preview --refresh", ["preview", "--refresh", "--diff"]).stdout;
    const json = JSON.parse(stack.run(["preview", "--refresh", "--json"]).stdout) as { steps?: { op: string; urn: string }[] };
    const steps = (json.steps ?? []).filter((s) => !["same", "refresh", "read"].includes(s.op)).map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    return { text, steps };
}

async function healed(): Promise<void> {
    const started = Date.now();
    timed("up --refresh", ["up", "--refresh", "--yes", "--skip-preview"]);
    await assertSwarmMatchesOutputs(stack, 1, 2);
    expectConverged(await convergedReplicas(stack, 120), declaredReplicas());
    console.log(`# recovered, until converged: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const again = stack.run(["preview", "--refresh", "--expect-no-changes"], true);
    assert.equal(again.status, 0, `nothing left to heal:\n${again.stdout}${again.stderr}`);
}

before(() => {
    copy = editableCopy(previousRelease);
    stack = new TestStack(uniqueStackName("healing"), copy);
    stack.setConfig({ provider: "local", managers: "1", workers: "2", "local.subnet": "10.218.0.0/24", "local.sshPortBase": "2400", "local.registryPort": "5400" });
    stack.up();
});

after(() => {
    stack?.cleanup();
    if (copy) fs.rmSync(copy, { recursive: true, force: true });
});

/** What must outlive an upgrade: the machines (containers), their swarm nodes, the services and the running tasks of those it did not change. */
async function identities(): Promise<{ containers: string; nodes: Record<string, string>; services: string; tasks: string }> {
    const containers = spawnSync("docker", ["ps", "--filter", `label=swarm.stack=${stack.name}`, "--format", "{{.Names}} {{.ID}}"], { encoding: "utf8" }).stdout.split("\n").sort().join("\n");
    const services = await stack.onManager("docker service ls --format '{{.Name}} {{.ID}}' | sort");
    const tasks = await stack.onManager("for id in $(docker service ls --quiet); do docker service ps --filter desired-state=running --format '{{.Name}} {{.ID}}' \"$id\"; done | sort");
    const of = (names: string[]) => (line: string) => names.some((service) => line.startsWith(`categorisation_${service}.`) || line.startsWith(`categorisation_${service} `));
    const kept = tasks.trim().split("\n").filter((line) => !of([...updatedSinceRelease, ...newSinceRelease])(line));
    const old = services.trim().split("\n").filter((line) => !of(newSinceRelease)(line));
    return { containers, nodes: idsByHost(await nodeList(stack)), services: old.join("\n"), tasks: kept.join("\n") };
}

test("a stack made by the previous release upgrades in place with one up: no machine, node, service or task made anew (but the updated services' tasks)", async () => {
    const made = await identities();
    checkOut(copy, undefined, previousRelease);
    const preview = JSON.parse(stack.run(["preview", "--json"]).stdout) as { steps?: { op: string; urn: string }[] };
    const steps = (preview.steps ?? []).filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn.split("::").slice(-2).join("::")}`);
    console.log(`# upgrade preview:\n${steps.join("\n")}`);
    const named = (op: string) => steps.filter((s) => s.startsWith(`${op} `)).map((s) => s.split("::").pop()).sort();
    assert.deepEqual(steps.filter((s) => !/^(update|create|replace) /.test(s)), [], "the upgrade deletes nothing");
    assert.deepEqual(named("create"), [...addedSinceRelease].sort(), "the upgrade makes only what is new");
    assert.deepEqual(named("replace"), [...rebuiltSinceRelease].sort(), "the upgrade replaces only the images whose content changed");
    timed("upgrade up", ["up", "--yes", "--skip-preview"]);
    await assertSwarmMatchesOutputs(stack, 1, 2);
    assert.deepEqual(await identities(), made);
    expectConverged(await serviceReplicas(stack), declaredReplicas());
    const again = stack.run(["preview", "--expect-no-changes"], true);
    assert.equal(again.status, 0, `a second up has nothing to do:\n${again.stdout}${again.stderr}`);
});

test("(a) a worker killed: the refreshed preview shows it; up starts it, and it is back in the swarm under its name", async () => {
    const ids = idsByHost(await nodeList(stack));
    docker(["kill", worker(1)]);
    await eventually(() => nodeList(stack), (rows) => rows.some((r) => r.hostname === worker(1) && r.status === "Down"), "the node shows Down");
    const preview = refreshedPreview();
    console.log(preview.text.split("\n").filter((l) => /^\s*[~+-]/.test(l)).join("\n"));
    assert.ok(preview.steps.includes("update local-worker-1"), preview.steps.join(", "));
    assert.ok(preview.steps.every((s) => /worker-1/.test(s)), `only the dead worker's resources change: ${preview.steps.join(", ")}`);
    await healed();
    assert.deepEqual(idsByHost(await nodeList(stack)), ids, "the same nodes, no Down entry");
});

test("(c) a service scaled by hand: the preview shows the stack's drift; up puts its replicas back", async () => {
    await stack.onManager("docker service scale --detach categorisation_categoriser=5 >/dev/null");
    const preview = refreshedPreview();
    assert.deepEqual(preview.steps, ["update stack-deploy"]);
    await healed();
});

test("(d) the stack removed by hand: up deploys it again, and its data volumes are kept", async () => {
    await stack.onManager("docker stack rm categorisation >/dev/null && while [ -n \"$(docker network ls -q --filter label=com.docker.stack.namespace=categorisation)\" ]; do sleep 1; done");
    const preview = refreshedPreview();
    assert.ok(preview.steps.includes("update stack-deploy"), preview.steps.join(", "));
    assert.ok(preview.steps.includes("create stack-taxonomy"), `the stack's config went with it: ${preview.steps.join(", ")}`);
    await healed();
    assert.match(await stack.onManager("docker volume ls --quiet --filter label=com.docker.stack.namespace=categorisation"), /nats-data/);
});

test("(b) a worker removed with its disk: up makes it anew under its name, it joins the same swarm, no Down entry stays", async () => {
    const before = idsByHost(await nodeList(stack));
    docker(["rm", "--force", "--volumes", worker(0)]);
    docker(["volume", "rm", `${worker(0)}-docker`]);
    const preview = refreshedPreview();
    assert.ok(preview.steps.includes("create local-worker-0"), preview.steps.join(", "));
    await healed();
    const after = idsByHost(await nodeList(stack));
    assert.notEqual(after[worker(0)], before[worker(0)], "a new node");
    assert.equal(after[worker(1)], before[worker(1)], "the other nodes are untouched");
});

test("the only manager removed with its disk: up says the swarm was lost, forms it again, the workers join it and the stack is deployed again", async () => {
    const manager0 = stack.output<NodeOutput[]>("managers")[0].name;
    const swarmBefore = (await stack.onManager("docker info --format '{{.Swarm.Cluster.ID}}'")).trim();
    const workerIds = idsByHost(await nodeList(stack));
    docker(["rm", "--force", manager0]);
    docker(["volume", "rm", `${manager0}-docker`]);
    const started = Date.now();
    const up = timed("up --refresh", ["up", "--refresh", "--yes", "--skip-preview"]);
    assert.match(up.stdout + up.stderr, /the swarm was lost with its managers' disks, and is formed again/);
    assert.notEqual((await stack.onManager("docker info --format '{{.Swarm.Cluster.ID}}'")).trim(), swarmBefore, "a new swarm");
    const rows = await assertSwarmMatchesOutputs(stack, 1, 2);
    for (const row of rows.filter((r) => r.hostname !== manager0)) assert.notEqual(row.id, workerIds[row.hostname], `${row.hostname} joined the new swarm`);
    expectConverged(await convergedReplicas(stack, 180), declaredReplicas());
    console.log(`# recovered, until converged: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const again = stack.run(["preview", "--refresh", "--expect-no-changes"], true);
    assert.equal(again.status, 0, `nothing left to heal:\n${again.stdout}${again.stderr}`);
});

/** `npm run <script> -- <args>` in the project copy, on this test's stack and state. */
function npmRun(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    return spawnSync("npm", ["run", "--silent", script, "--", ...args, "--stack", stack.name], { cwd: copy, encoding: "utf8", env: pulumiEnv(stack.env), maxBuffer: 16 * 1024 * 1024 });
}

const backupRun = Date.now().toString(36);
const backupUser = `backed-up-${backupRun}`;
let backupFile = "";
interface Profile {
    events: number;
    interests: { nodeId: string; score: number }[];
}
let profileBackedUp: Profile | undefined;
const profile = async () => {
    const answer = await gatewayRequest(stack.gateway(), `/profiles/${backupUser}`);
    return answer.status === 200 ? (JSON.parse(answer.body) as Profile) : undefined;
};
/** The same profile: its events, and its interests in the same order with the same scores (which decay: to 0.1%). */
function assertSameProfile(actual: Profile | undefined, expected: Profile): void {
    assert.equal(actual?.events, expected.events);
    assert.deepEqual(actual.interests.map((i) => i.nodeId), expected.interests.map((i) => i.nodeId));
    actual.interests.forEach((i, n) => assert.ok(Math.abs(i.score - expected.interests[n].score) <= 0.001 * expected.interests[n].score, `${i.nodeId}: ${i.score}`));
}

test("npm run backup writes the profiles and the streams to one file readable by its owner only, its path the last line", async () => {
    const events = [
        { eventId: `${backupRun}-1`, userId: backupUser, url: "https://www.espn.com/nba/story/_/id/1/lakers-beat-celtics", title: "Lakers beat Celtics in overtime" },
        { eventId: `${backupRun}-2`, userId: backupUser, url: "https://www.bbcgoodfood.com/recipes/easy-chocolate-cake", title: "Easy chocolate cake recipe" },
    ];
    const posted = await gatewayRequest(stack.gateway(), "/events", { body: JSON.stringify(events) });
    assert.equal(posted.status, 202, posted.body);
    profileBackedUp = await eventually(profile, (p) => p?.events === 2, "the profile of both events");
    const out = path.join(stack.work, "backup.gz");
    const backup = npmRun("backup", ["--out", out]);
    assert.equal(backup.status, 0, backup.stderr);
    backupFile = backup.stdout.trim().split("\n").pop()!;
    assert.equal(backupFile, out);
    assert.equal(fs.statSync(backupFile).mode & 0o777, 0o600);
    assert.ok(!fs.existsSync(`${out}.partial`));
    assert.doesNotMatch(backup.stdout + backup.stderr, new RegExp(backupUser), "no user ID in what it says");
});

test("(f) a dead worker is scaled away, and destroy finishes with another worker dead, leaving nothing", async () => {
    docker(["kill", worker(1)]);
    stack.setConfig({ workers: "1" });
    timed("up removing a dead worker", ["up", "--yes", "--skip-preview"]);
    const rows = await assertSwarmMatchesOutputs(stack, 1, 1);
    assert.ok(rows.every((r) => r.status !== "Down"), "no Down node stays");

    docker(["kill", worker(0)]);
    const dead = worker(0);
    const destroy = timed("destroy with a dead worker", ["destroy", "--yes", "--skip-preview"]);
    assert.match(destroy.stdout, /stack-deploy deleted/);
    assert.match(destroy.stdout + destroy.stderr, new RegExp(`skipped a step on a machine that is gone: cannot reach ${dead} \\(`), "the output names what was skipped and why");
    assert.deepEqual(labelledObjects(stack.name), []);
});

test("after destroy and up, npm run restore puts the profile back as it was: the new stack takes the backup's store key (a secret in its config) in one up", async () => {
    stack.setConfig({ workers: "1" });
    stack.up();
    assert.equal((await gatewayRequest(stack.gateway(), `/profiles/${backupUser}`)).status, 404, "a new stack, without the profile");
    const restore = npmRun("restore", [backupFile]);
    assert.equal(restore.status, 0, `${restore.stdout}\n${restore.stderr}`);
    assert.match(restore.stderr, /holds no profile: it takes the backup's store key/);
    const summary = JSON.parse(restore.stdout.trim().split("\n").pop()!) as { users: number };
    assert.ok(summary.users >= 1, restore.stdout);
    assertSameProfile(await profile(), profileBackedUp!);
    // The key is in the stack's config as a secret, never in plain text.
    const key = spawnSync("zcat", [backupFile], { encoding: "utf8" }).stdout.split("\n")[0];
    const storeKey = (JSON.parse(key) as { storeKey: string }).storeKey;
    assert.ok(!fs.readFileSync(path.join(copy, `Pulumi.${stack.name}.yaml`), "utf8").includes(storeKey));
    assert.ok(!stack.run(["stack", "export"]).stdout.includes(storeKey));
    // Restored twice: the same profile, each event counted once.
    assert.equal(npmRun("restore", [backupFile]).status, 0);
    assertSameProfile(await profile(), profileBackedUp!);
});

test("(g) a destroy killed (SIGKILL) after the swarm was dissolved finishes when run again, leaving nothing", async () => {
    // On the stack the restore above made again (1 manager, 1 worker).
    const manager = stack.output<NodeOutput[]>("managers")[0].name;
    const swarmState = () => spawnSync("docker", ["exec", manager, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}"], { encoding: "utf8" }).stdout.trim();
    assert.equal(swarmState(), "active");

    // Killed the moment the engine moves on from dissolving the swarm to manager 0's own steps:
    // the swarm is gone, the machines are not.
    const events = path.join(stack.work, "destroy-events.jsonl");
    const providerProcesses = () => spawnSync("pgrep", ["-f", "cmd/dynamic-provider/index.js|pulumi-language-nodejs"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    const providersBefore = providerProcesses();
    const destroy = spawn(path.join(projectRoot, ".tools", "bin", "pulumi"), ["--non-interactive", "destroy", "--yes", "--skip-preview", "--stack", stack.name, "--event-log", events], { cwd: stack.dir, env: { ...pulumiEnv(stack.env), PULUMI_DEBUG_COMMANDS: "true" }, stdio: "ignore" }); // the debug commands bring --event-log
    const exited = new Promise((resolve) => destroy.on("exit", resolve));
    const pastDissolve = () => fs.existsSync(events) && fs.readFileSync(events, "utf8").split("\n").some((line) => line.includes("resourcePreEvent") && line.includes("::swarm-manager-0-ready") && line.includes('"op":"delete"'));
    const deadline = Date.now() + 300_000;
    while (!pastDissolve() && destroy.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    destroy.kill("SIGKILL");
    await exited;
    // The plugins that destroy started (language host, dynamic providers: process groups of their own) die with it, as
    // when the machine running them goes: none is left running after the test.
    for (const pid of providerProcesses()) if (!providersBefore.includes(pid)) spawnSync("kill", ["-9", pid]);
    assert.ok(pastDissolve(), "the destroy got past the swarm's dissolution before it was killed");
    assert.equal(swarmState(), "inactive", "the swarm was dissolved");
    assert.ok(labelledObjects(stack.name).some((o) => o.startsWith("container")), "killed before the machines were removed");

    stack.run(["cancel", "--yes"], true); // the file backend may hold the interrupted update's lock
    timed("destroy again", ["destroy", "--yes", "--skip-preview"]);
    assert.deepEqual(labelledObjects(stack.name), []);
    const resources = JSON.parse(stack.run(["stack", "export"]).stdout).deployment.resources ?? [];
    assert.ok(resources.every((r: { type: string }) => r.type === "pulumi:pulumi:Stack"), "the state is clean");
});
