// The local provider through the real engine: containers become a Docker Swarm over SSH, which
// grows and shrinks with the config and goes away on destroy.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { labelledObjects, TestStack, uniqueStackName } from "../helpers/stack";

interface NodeRow {
    id: string;
    hostname: string;
    status: string;
    availability: string;
    manager: string;
}

interface NodeOutput {
    name: string;
    host: string;
    port: number;
    privateAddress: string;
}

let stack: TestStack;

async function nodeList(): Promise<NodeRow[]> {
    const out = await stack.onManager("docker node ls --format '{{.ID}}|{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}'");
    return out
        .trim()
        .split("\n")
        .map((line) => {
            const [id, hostname, status, availability, manager] = line.split("|");
            return { id, hostname, status, availability, manager };
        })
        .sort((a, b) => a.hostname.localeCompare(b.hostname));
}

/** Asserts the swarm is exactly the nodes of the outputs, all Ready and Active. */
async function assertSwarmMatchesOutputs(managers: number, workers: number): Promise<NodeRow[]> {
    const outManagers = stack.output<NodeOutput[]>("managers");
    const outWorkers = stack.output<NodeOutput[]>("workers");
    assert.equal(outManagers.length, managers);
    assert.equal(outWorkers.length, workers);
    const rows = await nodeList();
    assert.deepEqual(rows.map((r) => r.hostname), [...outManagers, ...outWorkers].map((n) => n.name).sort());
    for (const row of rows) {
        assert.equal(row.status, "Ready", JSON.stringify(row));
        assert.equal(row.availability, "Active", JSON.stringify(row));
    }
    const managerRows = rows.filter((r) => r.manager !== "");
    assert.deepEqual(managerRows.map((r) => r.hostname).sort(), outManagers.map((n) => n.name).sort());
    assert.equal(managerRows.filter((r) => r.manager === "Leader").length, 1);
    assert.ok(managerRows.every((r) => r.manager === "Leader" || r.manager === "Reachable"), JSON.stringify(managerRows));
    return rows;
}

const idsByHost = (rows: NodeRow[]) => Object.fromEntries(rows.map((r) => [r.hostname, r.id]));

before(() => {
    stack = new TestStack(uniqueStackName("local"));
    stack.setConfig({ provider: "local", managers: "1", workers: "2", "local.subnet": "10.214.0.0/24", "local.sshPortBase": "2300" });
});

after(() => stack?.cleanup());

test("pulumi up forms a swarm of 1 leader and 2 workers with the hostnames of the outputs", async () => {
    stack.up();
    await assertSwarmMatchesOutputs(1, 2);
    assert.match(stack.output<string>("dockerHost"), /^ssh:\/\/root@127\.0\.0\.1:2300$/);
});

test("a second pulumi up with nothing changed changes nothing", () => {
    const preview = stack.run(["preview", "--expect-no-changes"], true);
    assert.equal(preview.status, 0, preview.stdout + preview.stderr);
    const up = stack.up();
    assert.doesNotMatch(up.stdout, /created|updated|deleted|replaced/);
});

test("workers 2 -> 3 -> 1: the new node joins, two leave cleanly, the others keep their IDs", async () => {
    const before = idsByHost(await nodeList());
    stack.setConfig({ workers: "3" });
    stack.up();
    const grown = idsByHost(await assertSwarmMatchesOutputs(1, 3));
    for (const [host, id] of Object.entries(before)) assert.equal(grown[host], id, `${host} kept its node ID`);

    stack.setConfig({ workers: "1" });
    stack.up();
    const shrunk = await assertSwarmMatchesOutputs(1, 1);
    assert.ok(shrunk.every((r) => r.status !== "Down"), "no Down node stays behind");
    for (const row of shrunk) assert.equal(row.id, before[row.hostname], `${row.hostname} kept its node ID`);
    assert.equal(labelledObjects(stack.name).filter((o) => o.startsWith("container")).length, 2, "removed nodes' containers are gone");
});

test("managers 1 -> 3 -> 1: all reachable with one leader, then demoted and removed cleanly", async () => {
    stack.setConfig({ managers: "3" });
    stack.up();
    const three = await assertSwarmMatchesOutputs(3, 1);
    assert.equal(three.filter((r) => r.manager === "Reachable").length, 2);

    stack.setConfig({ managers: "1" });
    stack.up();
    const one = await assertSwarmMatchesOutputs(1, 1);
    assert.ok(one.every((r) => r.status !== "Down"));
});

test("the state holds neither the private key nor a join token in plaintext", async () => {
    const exported = stack.run(["stack", "export"]).stdout;
    const token = (await stack.onManager("docker swarm join-token -q worker")).trim();
    assert.match(token, /^SWMTKN-/);
    assert.ok(!exported.includes(token), "worker join token in the state");
    assert.doesNotMatch(exported, /SWMTKN-/);
    assert.doesNotMatch(exported, /PRIVATE KEY/);
    const key = stack.output<string>("sshPrivateKey");
    assert.ok(!exported.includes(key.split("\n")[1]), "private key in the state");
});

test("pulumi destroy leaves no container, network or volume labelled with the stack", () => {
    stack.run(["destroy", "--yes", "--skip-preview"]);
    assert.deepEqual(labelledObjects(stack.name), []);
});

test("an invalid config fails preview with the reason and creates nothing", () => {
    const bad = new TestStack(uniqueStackName("bad"));
    try {
        bad.setConfig({ managers: "2" });
        const preview = bad.run(["preview"], true);
        assert.notEqual(preview.status, 0);
        assert.match(preview.stdout + preview.stderr, /managers: 2 is not an odd number from 1 to 7/);
        const up = bad.run(["up", "--yes", "--skip-preview"], true);
        assert.notEqual(up.status, 0);
        const resources = JSON.parse(bad.run(["stack", "export"]).stdout).deployment.resources ?? [];
        assert.ok(resources.every((r: { type: string }) => r.type === "pulumi:pulumi:Stack"), JSON.stringify(resources.map((r: { type: string }) => r.type)));
        assert.deepEqual(labelledObjects(bad.name), []);
    } finally {
        bad.cleanup();
    }
});
