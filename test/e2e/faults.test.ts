// No single point of failure, on a real local swarm of 3 managers and 2 workers, through the real
// CLI: a stream of events goes to the gateway on manager 1 while (1) a change of the pipeline's
// code rolls out, (2) a worker running pipeline tasks is killed (`docker kill`), (3) manager 0 is
// killed, with the stream's leaders, the Redis primary and a Sentinel on it. Each time: no accepted
// event is lost, none is counted twice, and the stream is accepted again at the end. The share of
// failed requests and the recovery times are figures for bench/faults.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { LoadSummary, outage } from "../../bench/load";
import type { GatewayEndpoint } from "../../components/gateway/client";
import { settledCounts, startLoad } from "../helpers/load";
import { editableCopy, TestStack, uniqueStackName } from "../helpers/stack";
import { busiestWorker, convergedReplicas, declaredReplicas, eventually, expectConverged, NodeOutput, serviceReplicas } from "../helpers/swarm";

const rate = 50;
let copy: string;
let stack: TestStack;
let gateway: GatewayEndpoint;
const killed: string[] = [];

/** Every accepted event counted once; the last seconds of the stream all accepted. */
async function assertNothingLost(summary: LoadSummary, what: string): Promise<void> {
    assert.ok(summary.sent > rate * 20, `${what}: ${summary.sent} requests sent`);
    const counts = await settledCounts(gateway, summary);
    assert.deepEqual(counts.lost, [], `${what}: accepted events missing from the profiles`);
    assert.deepEqual(counts.twice, [], `${what}: events counted twice`);
    const lastSeconds = summary.requests.filter((r) => r.at > summary.requests.at(-1)!.at - 5000);
    assert.ok(lastSeconds.every((r) => r.status === 202), `${what}: requests still failing at the end: ${JSON.stringify(lastSeconds.filter((r) => r.status !== 202).slice(0, 3))}`);
}

const sleep = (seconds: number) => new Promise((r) => setTimeout(r, seconds * 1000));

before(() => {
    copy = editableCopy();
    stack = new TestStack(uniqueStackName("faults"), copy);
    stack.setConfig({ provider: "local", managers: "3", workers: "2", "local.subnet": "10.221.0.0/24", "local.sshPortBase": "2550", "local.registryPort": "5550" });
    stack.up();
    gateway = stack.gateway(1);
});

after(() => {
    // Killed machines are started again so that destroy reaches them (destroy with dead machines
    // has tests of its own).
    for (const name of killed) spawnSync("docker", ["start", name], { stdio: "ignore" });
    stack?.cleanup();
    if (copy) fs.rmSync(copy, { recursive: true, force: true });
});

test("3 managers: the replicated layout runs, a gateway answers on every manager", async () => {
    expectConverged(await serviceReplicas(stack), declaredReplicas(3));
    const managers = stack.output<NodeOutput[]>("managers");
    assert.deepEqual(stack.output<string[]>("gatewayUrls"), managers.map((m) => `https://${m.privateAddress}:8080`));
});

test("a change of the pipeline's code rolls out during the stream: nothing lost", async () => {
    const before = stack.output<Record<string, { image: string }>>("services").collector.image;
    fs.appendFileSync(path.join(copy, "services", "src", "log.ts"), "// a change that makes a new image\n");
    const load = startLoad(gateway, rate, 20, true);
    await sleep(5);
    stack.up();
    await sleep(5);
    load.stop();
    const summary = await load.done;
    const after = stack.output<Record<string, { image: string }>>("services").collector.image;
    assert.notEqual(after, before, "a new pipeline image was deployed");
    await assertNothingLost(summary, "rolling update");
});

test("docker kill of a worker running pipeline tasks during the stream: nothing lost, its tasks run elsewhere", async () => {
    const busiest = await busiestWorker(stack);
    assert.ok(busiest.tasks > 0, `a worker runs pipeline tasks:\n${busiest.listing}`);
    const load = startLoad(gateway, rate, 45);
    await sleep(15);
    spawnSync("docker", ["kill", busiest.name], { stdio: "inherit" });
    killed.push(busiest.name);
    const summary = await load.done;
    console.log(`worker ${busiest.name} killed: ${summary.sent} sent, ${summary.failed} failed, ${JSON.stringify(outage(summary, 15_000))}`);
    await assertNothingLost(summary, "worker killed");
    // Tasks on a dead node still count as running in `docker service ls` (the node cannot say
    // otherwise): count the tasks the swarm wants running that are running.
    const stateless = ["collector", "categoriser", "profile-writer", "profile-api"].map((s) => `categorisation_${s}`);
    const running = async () => {
        const out = await stack.onManager(`docker service ps --filter desired-state=running --format '{{.Name}} {{.CurrentState}}' ${stateless.join(" ")}`);
        return out.split("\n").filter((l) => / Running /.test(l)).map((l) => l.split(".")[0]);
    };
    await eventually(running, (names) => stateless.every((s) => names.filter((n) => n === s).length === 2), "the stateless roles back at 2 running replicas", 90);
});

test("docker kill of manager 0 during the stream: nothing lost, ingestion goes on", async () => {
    const manager0 = stack.output<NodeOutput[]>("managers")[0].name;
    const load = startLoad(gateway, rate, 45);
    await sleep(15);
    spawnSync("docker", ["kill", manager0], { stdio: "inherit" });
    killed.push(manager0);
    const summary = await load.done;
    console.log(`manager 0 killed: ${summary.sent} sent, ${summary.failed} failed, ${JSON.stringify(outage(summary, 15_000))}`);
    await assertNothingLost(summary, "manager 0 killed");
});

test("manager 0 lost with its disk (container and volume removed): up --refresh brings it back as a manager of the same swarm", async () => {
    const managers = stack.output<NodeOutput[]>("managers");
    const manager0 = managers[0].name;
    const onManager1 = (script: string) => stack.onManager(script, 1);
    const swarmBefore = (await onManager1("docker info --format '{{.Swarm.Cluster.ID}}'")).trim();
    spawnSync("docker", ["rm", "--force", manager0], { stdio: "inherit" });
    killed.splice(killed.indexOf(manager0), 1);
    const volume = spawnSync("docker", ["volume", "rm", `${manager0}-docker`], { encoding: "utf8" });
    assert.equal(volume.status, 0, volume.stderr);

    const started = Date.now();
    const up = stack.run(["up", "--refresh", "--yes", "--skip-preview"]);
    console.log(`# manager 0 made anew, up --refresh: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.doesNotMatch(up.stdout + up.stderr, /formed again/);
    // The same swarm, never a second one; manager 0 is one of its managers again, and no Down entry stays.
    assert.equal((await stack.onManager("docker info --format '{{.Swarm.Cluster.ID}}'")).trim(), swarmBefore);
    const nodes = (await onManager1("docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")).trim().split("\n").sort();
    assert.equal(nodes.length, 5, nodes.join("\n"));
    assert.ok(nodes.every((line) => / Ready/.test(line)), nodes.join("\n"));
    assert.equal(nodes.filter((line) => /(Leader|Reachable)$/.test(line)).length, 3, nodes.join("\n"));
    assert.match(nodes.find((line) => line.startsWith(`${manager0} `)) ?? "", / Ready (Leader|Reachable)$/);
    expectConverged(await convergedReplicas(stack, 180), declaredReplicas(3));
    console.log(`# recovered, until converged: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const again = stack.run(["preview", "--refresh", "--expect-no-changes"], true);
    assert.equal(again.status, 0, `nothing left to heal:\n${again.stdout}${again.stderr}`);
});
