// Prints what one machine's loss costs the pipeline, on a local swarm of the given shape: a
// stream of 50 events/s for 90 s to the gateway of a machine that stays up (manager 1, or
// manager 0 when there is one manager), with at t = 20 s:
// - nothing (the floor: what the same stream costs without a fault, in the same run);
// - `docker kill` of the worker running the most pipeline tasks (a collector first);
// - `docker kill` of manager 0 (or `docker restart` with one manager: its loss stops the pipeline
//   until it is back, by design of the single-manager layout);
// - a change of the pipeline's code rolled out by `pulumi up` (with 3 managers).
// For each: requests sent, accepted, failed (and their share), the time from the fault to the
// last failed request, and accepted events against those counted in the profiles.
// Run: bash scripts/run.sh tsx bench/faults.ts [managers] [workers]   (default 3 2)
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { GatewayEndpoint } from "../components/gateway/client";
import { LoadSummary, outage, streamEvents } from "./load";
import { settledCounts } from "../test/helpers/load";
import { projectRoot, pulumiEnv } from "../test/helpers/pulumi";
import { editableCopy, TestStack, uniqueStackName } from "../test/helpers/stack";
import { busiestWorker } from "../test/helpers/swarm";

const managers = Number(process.argv[2] ?? 3);
const workers = Number(process.argv[3] ?? 2);
const rate = 50;
const seconds = 90;
const faultAt = 20_000;

interface Row {
    fault: string;
    summary: LoadSummary;
    lost: number;
    twice: number;
    counted: number;
}

/** Runs a command without blocking the stream; resolves with its exit code. */
function run(command: string, args: string[], cwd = projectRoot, env = process.env): Promise<number> {
    return new Promise((resolve) => spawn(command, args, { cwd, env, stdio: "ignore" }).on("exit", (code) => resolve(code ?? -1)));
}

/** The stream, with `inflict` started at `faultAt`; it goes on until 10 s after the fault is done. */
async function measure(fault: string, gateway: GatewayEndpoint, inflict: () => Promise<unknown>): Promise<Row> {
    let faultDoneAt = Infinity;
    const timer = setTimeout(() => void inflict().finally(() => (faultDoneAt = Date.now())), faultAt);
    const summary = await streamEvents(gateway, rate, (elapsed) => elapsed >= seconds * 1000 && Date.now() > faultDoneAt + 10_000);
    clearTimeout(timer);
    const counts = await settledCounts(gateway, summary);
    const counted = summary.accepted - counts.lost.length + counts.countedFailed;
    return { fault, summary, lost: counts.lost.length, twice: counts.twice.length, counted };
}

function print(rows: Row[]): void {
    console.log(`\n${managers} manager(s), ${workers} worker(s); ${rate} events/s for ${seconds} s, fault at t = ${faultAt / 1000} s\n`);
    console.log("| fault | sent | accepted | failed | failed % | x floor | failures by status | fault to last failure | accepted events lost | counted twice | counted |");
    console.log("|---|---|---|---|---|---|---|---|---|---|---|");
    const floor = rows[0].summary.failed / rows[0].summary.sent;
    for (const r of rows) {
        const share = r.summary.failed / r.summary.sent;
        const ratio = floor > 0 ? `${(share / floor).toFixed(1)}x` : share === 0 ? "1.0x" : "n/a (floor 0)";
        const { recoveredAfterMs } = outage(r.summary, faultAt);
        // Status 0: no answer within 30 s, or the connection failed.
        const byStatus = new Map<number, number>();
        for (const q of r.summary.requests) if (q.status !== 202) byStatus.set(q.status, (byStatus.get(q.status) ?? 0) + 1);
        const statuses = [...byStatus].map(([status, n]) => `${status}: ${n}`).join(", ") || "-";
        console.log(`| ${r.fault} | ${r.summary.sent} | ${r.summary.accepted} | ${r.summary.failed} | ${(share * 100).toFixed(2)}% | ${ratio} | ${statuses} | ${(recoveredAfterMs / 1000).toFixed(1)} s | ${r.lost} | ${r.twice} | ${r.counted} |`);
    }
}

async function main(): Promise<void> {
    // A copy of the project, so that the rollout can change the pipeline's code.
    const copy = editableCopy();
    const stack = new TestStack(uniqueStackName("bench-faults"), copy);
    const killed: string[] = [];
    try {
        stack.setConfig({ managers: String(managers), workers: String(workers), "local.subnet": "10.222.0.0/24", "local.sshPortBase": "2600", "local.registryPort": "5600" });
        stack.up();
        const gateway = stack.gateway(managers > 1 ? 1 : 0);
        const rows: Row[] = [await measure("none (floor)", gateway, async () => undefined)];

        if (managers >= 3) {
            fs.appendFileSync(path.join(copy, "services", "src", "log.ts"), "// a change that makes a new image\n");
            rows.push(await measure("code change rolled out", gateway, async () => {
                const code = await run(path.join(projectRoot, ".tools", "bin", "pulumi"), ["--non-interactive", "up", "--yes", "--skip-preview", "--stack", stack.name], copy, pulumiEnv(stack.env));
                if (code !== 0) throw new Error("the rollout's pulumi up failed");
            }));
        }

        const busiest = workers > 0 ? await busiestWorker(stack) : undefined;
        if (busiest) {
            killed.push(busiest.name);
            rows.push(await measure(`docker kill ${busiest.name}${busiest.collector ? " (runs a collector)" : ""}`, gateway, () => run("docker", ["kill", busiest.name])));
        }
        const manager0 = stack.output<{ name: string }[]>("managers")[0].name;
        if (managers > 1) killed.push(manager0);
        rows.push(await measure(managers > 1 ? `docker kill ${manager0}` : `docker restart ${manager0}`, gateway, () => run("docker", [managers > 1 ? "kill" : "restart", manager0])));
        print(rows);
    } finally {
        for (const name of killed) spawnSync("docker", ["start", name]);
        stack.cleanup();
        fs.rmSync(copy, { recursive: true, force: true });
    }
}

void main();
