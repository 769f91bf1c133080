// The event stream of bench/load.ts as a child process (pulumi and docker calls block this one),
// and the checks of what a stream left in the profiles.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { countProfiles, LoadSummary } from "../../bench/load";
import type { GatewayEndpoint } from "../../components/gateway/client";
import { projectRoot } from "./pulumi";

export interface RunningLoad {
    /** Ends the stream (once its minimum duration has passed). */
    stop(): void;
    done: Promise<LoadSummary>;
}

/** Streams `rate` events a second to `gateway` for `seconds` (with `untilStopped`: at least that, until stopped). */
export function startLoad(gateway: GatewayEndpoint, rate: number, seconds: number, untilStopped = false): RunningLoad {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-load-"));
    const out = path.join(dir, "summary.json");
    const stopFile = path.join(dir, "stop");
    const child = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "bench", "load.ts"), String(rate), String(seconds), out, ...(untilStopped ? [stopFile] : [])], {
        cwd: projectRoot,
        env: { ...process.env, SWARM_GATEWAY: JSON.stringify(gateway) },
        stdio: ["ignore", "ignore", "inherit"],
    });
    const done = new Promise<LoadSummary>((resolve, reject) =>
        child.on("exit", (code) => {
            try {
                if (code !== 0) throw new Error(`load generator exited with ${code}`);
                resolve(JSON.parse(fs.readFileSync(out, "utf8")) as LoadSummary);
            } catch (e) {
                reject(e as Error);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        }),
    );
    return { stop: () => fs.writeFileSync(stopFile, ""), done };
}

/**
 * Waits until every accepted event of the stream is in the profiles (redeliveries after a fault
 * take up to the consumers' ack wait), then returns what the profiles say.
 */
export async function settledCounts(gateway: GatewayEndpoint, summary: LoadSummary, seconds = 120): Promise<Awaited<ReturnType<typeof countProfiles>>> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        const counts = await countProfiles(gateway, summary).catch(() => undefined);
        if (counts && (counts.lost.length === 0 || Date.now() > deadline)) return counts;
        if (!counts && Date.now() > deadline) throw new Error(`profiles at ${gateway.url} did not answer within ${seconds}s`);
        await new Promise((r) => setTimeout(r, 3000));
    }
}

/**
 * Every accepted event of a stream of `rate` events/s counted once in the profiles, and its last
 * seconds all accepted (the stream is accepted again after a fault).
 */
export async function assertNothingLost(gateway: GatewayEndpoint, summary: LoadSummary, rate: number, what: string): Promise<void> {
    assert.ok(summary.sent > rate * 20, `${what}: ${summary.sent} requests sent`);
    const counts = await settledCounts(gateway, summary);
    assert.deepEqual(counts.lost, [], `${what}: accepted events missing from the profiles`);
    assert.deepEqual(counts.twice, [], `${what}: events counted twice`);
    const lastSeconds = summary.requests.filter((r) => r.at > summary.requests.at(-1)!.at - 5000);
    assert.ok(lastSeconds.every((r) => r.status === 202), `${what}: requests still failing at the end: ${JSON.stringify(lastSeconds.filter((r) => r.status !== 202).slice(0, 3))}`);
}
