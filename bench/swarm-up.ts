// Prints the wall time of `pulumi up` from nothing (warm images) for a local swarm of 1 manager
// with 2 and with 5 workers: when the swarm was formed (the last node admitted) and when the
// stack on it converged; then the time of `pulumi destroy`. Worker joins run in parallel, so the
// swarm should form in about the same time for both.
// Run: npx tsx bench/swarm-up.ts
import * as fs from "node:fs";
import * as path from "node:path";
import { TestStack, uniqueStackName } from "../test/helpers/stack";

interface EngineEvent {
    timestamp: number;
    resOutputsEvent?: { metadata: { urn: string } };
}

/** Seconds from the first engine event to the last output of a resource whose name matches. */
function finishedAt(eventLog: string, name: RegExp): number {
    const events = fs.readFileSync(eventLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as EngineEvent);
    const start = events[0].timestamp;
    const ends = events.filter((e) => e.resOutputsEvent && name.test(e.resOutputsEvent.metadata.urn.split("::").pop() ?? "")).map((e) => e.timestamp);
    return Math.max(...ends) - start;
}

function timed<T>(action: () => T): [T, number] {
    const start = process.hrtime.bigint();
    const result = action();
    return [result, Number(process.hrtime.bigint() - start) / 1e9];
}

for (const workers of [2, 5]) {
    const stack = new TestStack(uniqueStackName(`bench-${workers}`));
    try {
        stack.setConfig({ managers: "1", workers: String(workers), "local.subnet": "10.217.0.0/24", "local.sshPortBase": "2500", "local.registryPort": "5500" });
        const eventLog = path.join(stack.work, "events.jsonl");
        const [, up] = timed(() => stack.run(["up", "--yes", "--skip-preview", "--event-log", eventLog]));
        const formed = finishedAt(eventLog, /^swarm-(manager|worker)-\d+-admit$/);
        const [, destroy] = timed(() => stack.run(["destroy", "--yes", "--skip-preview"]));
        console.log(`1 manager + ${workers} workers: swarm formed after ${formed} s, pulumi up done (stack converged) after ${up.toFixed(1)} s; pulumi destroy ${destroy.toFixed(1)} s`);
    } finally {
        stack.cleanup();
    }
}
