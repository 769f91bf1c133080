// What the swarm of a test stack looks like, read over SSH on its manager 0, and the assertions
// the end-to-end tests share.
import assert from "node:assert/strict";
import { TestStack } from "./stack";

export interface NodeRow {
    id: string;
    hostname: string;
    status: string;
    availability: string;
    manager: string;
}

export interface NodeOutput {
    name: string;
    host: string;
    port: number;
    privateAddress: string;
}

/**
 * The stack's services and their replica counts as declared in stacks/categorisation.ts: two of
 * each stateless role, a gateway and an edge per manager, and the data tier of the layout.
 */
export function declaredReplicas(managers = 1, monitoring = false): Record<string, number> {
    const stateless = { collector: 2, categoriser: 2, "profile-writer": 2, "profile-api": 2, gateway: managers, edge: managers, ...(monitoring ? { prometheus: 1 } : {}) };
    if (managers < 3) return { nats: 1, redis: 1, ...stateless };
    const data = [1, 2, 3].flatMap((slot) => ["nats", "redis", "sentinel"].map((store) => [`${store}-${slot}`, 1]));
    return { ...Object.fromEntries(data), ...stateless };
}

export async function nodeList(stack: TestStack): Promise<NodeRow[]> {
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

/** Asserts the swarm is exactly the nodes of the outputs, all Ready and Active, one Leader. */
export async function assertSwarmMatchesOutputs(stack: TestStack, managers: number, workers: number): Promise<NodeRow[]> {
    const outManagers = stack.output<NodeOutput[]>("managers");
    const outWorkers = stack.output<NodeOutput[]>("workers");
    assert.equal(outManagers.length, managers);
    assert.equal(outWorkers.length, workers);
    const rows = await nodeList(stack);
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

export const idsByHost = (rows: NodeRow[]) => Object.fromEntries(rows.map((r) => [r.hostname, r.id]));

/** Service name (without the stack prefix) -> "running/desired", as `docker service ls` shows. */
export async function serviceReplicas(stack: TestStack, namespace = "categorisation"): Promise<Record<string, string>> {
    const out = await stack.onManager(`docker service ls --filter label=com.docker.stack.namespace=${namespace} --format '{{.Name}} {{.Replicas}} {{.ID}}'`);
    return Object.fromEntries(
        out.trim().split("\n").filter(Boolean).map((line) => {
            const [name, replicas] = line.split(" ");
            return [name.slice(namespace.length + 1), replicas];
        }),
    );
}

/** Each service of the stack with the version of its spec: a deploy that changed it shows. */
export async function serviceVersions(stack: TestStack, namespace = "categorisation"): Promise<string> {
    return (await stack.onManager(`for id in $(docker service ls --quiet --filter label=com.docker.stack.namespace=${namespace}); do docker service inspect --format '{{.Spec.Name}} {{.Version.Index}}' "$id"; done | sort`)).trim();
}

export function expectConverged(actual: Record<string, string>, expected: Record<string, number>): void {
    assert.deepEqual(actual, Object.fromEntries(Object.entries(expected).map(([name, n]) => [name, `${n}/${n}`])));
}

/** The services' replica counts once each runs as many tasks as it wants (polled for at most `seconds`). */
export function convergedReplicas(stack: TestStack, seconds: number): Promise<Record<string, string>> {
    return eventually(() => serviceReplicas(stack), (r) => Object.values(r).every((x) => x.split("/")[0] === x.split("/")[1]), "services converged", seconds);
}

/** Polls `read` until `check` passes, for at most `seconds`. */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string, seconds = 60): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    let last: T | undefined;
    while (Date.now() < deadline) {
        last = await read().catch(() => undefined as T);
        if (last !== undefined && check(last)) return last;
        await new Promise((r) => setTimeout(r, 1000));
    }
    assert.fail(`${what}: last seen ${JSON.stringify(last)}`);
}

/** The worker running the most pipeline tasks, one with a collector first. */
export async function busiestWorker(stack: TestStack): Promise<{ name: string; collector: boolean; tasks: number; listing: string }> {
    const listing = await stack.onManager("docker node ps --filter desired-state=running --format '{{.Node}} {{.Name}}' $(docker node ls -q) | sort -u");
    const [busiest] = stack.output<NodeOutput[]>("workers")
        .map((w) => ({ name: w.name, collector: listing.includes(`${w.name} categorisation_collector`), tasks: listing.split("\n").filter((l) => l.startsWith(`${w.name} `)).length, listing }))
        .sort((a, b) => Number(b.collector) - Number(a.collector) || b.tasks - a.tasks);
    return busiest;
}
