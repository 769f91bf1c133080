// The collector's real traffic through the gateway, on a local swarm (1 manager, 2 workers), with
// HTTPS and tokens on, loaded by autocannon (50 connections):
// - the floor: GET /healthz through the same gateway to the same collectors (the same HTTPS path,
//   token check included, without the pipeline's work);
// - single events: one POST /events a request, each with its own event ID;
// - batches: 20 events a request.
// Each events load runs between two floor loads and is given as a ratio of their mean (single
// events three times, and their median); after each load, the time until every accepted event is
// counted in the profiles (the pipeline's counters).
// Run: bash scripts/run.sh tsx bench/events.ts [seconds]
import autocannon from "autocannon";
import { gatewayRequest, GatewayEndpoint } from "../components/gateway/client";
import { TestStack, uniqueStackName } from "../test/helpers/stack";

const connections = 50;

interface Figures {
    requests: number;
    events: number;
    perSecond: number;
    p50: number;
    p99: number;
    failed: number;
}

/** Event counters of the pipeline: every event a profile writer has handled. */
async function handled(gateway: GatewayEndpoint): Promise<number> {
    const stats = JSON.parse((await gatewayRequest(gateway, "/stats")).body) as Record<string, number>;
    return ["written", "unmatched", "sensitive", "duplicates", "erased"].reduce((sum, key) => sum + (stats[key] ?? 0), 0);
}

async function load(gateway: GatewayEndpoint, seconds: number, shape: { path: string; token: string; eventsPerRequest?: number }): Promise<Figures> {
    const run = Date.now().toString(36);
    let n = 0;
    const perRequest = shape.eventsPerRequest ?? 0;
    const event = () => {
        const i = n++;
        return { eventId: `${run}-${i}`, userId: `bench-${i % 5000}`, url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket: who plays who" };
    };
    const result = await autocannon({
        url: `${gateway.url}${shape.path}`,
        connections,
        duration: seconds,
        headers: { authorization: `Bearer ${shape.token}`, ...(perRequest ? { "content-type": "application/json" } : {}) },
        ...(perRequest
            ? {
                method: "POST",
                // A body per request (autocannon's id replacement breaks bodies).
                requests: [{ setupRequest: (request: autocannon.Request) => ({ ...request, body: JSON.stringify(perRequest === 1 ? event() : Array.from({ length: perRequest }, event)) }) }],
            }
            : {}),
    } as autocannon.Options);
    const ok = result["2xx"];
    return {
        requests: ok,
        events: ok * Math.max(1, perRequest),
        perSecond: ok / seconds,
        p50: result.latency.p50,
        p99: result.latency.p99,
        failed: result.non2xx + result.errors + result.timeouts,
    };
}

/** Seconds from now until the pipeline has handled `count` more events than `from` (at most `limit`). */
async function settled(gateway: GatewayEndpoint, from: number, count: number, limit = 120): Promise<string> {
    const start = Date.now();
    for (;;) {
        const done = (await handled(gateway)) - from;
        if (done >= count) return `${((Date.now() - start) / 1000).toFixed(1)} s`;
        if (Date.now() - start > limit * 1000) return `not within ${limit} s (${done} of ${count})`;
        await new Promise((r) => setTimeout(r, 250));
    }
}

async function main(): Promise<void> {
    const seconds = Number(process.argv[2] ?? 20);
    const stack = new TestStack(uniqueStackName("bench-events"));
    try {
        stack.setConfig({ managers: "1", workers: "2", "local.subnet": "10.224.0.0/24", "local.sshPortBase": "2670", "local.registryPort": "5670", "gateway.rateLimit": "1000000" });
        stack.up();
        const gateway = stack.gateway();
        const show = (f: Figures) => `${f.perSecond.toFixed(0).padStart(6)} req/s ${String(f.events).padStart(7)} events p50 ${f.p50} p99 ${f.p99} ms${f.failed ? ` ${f.failed} failed` : ""}`;
        const floorLoad = async () => {
            const figures = await load(gateway, seconds, { path: "/healthz", token: gateway.adminToken! });
            console.log(`${"GET /healthz (floor)".padEnd(28)} ${show(figures)}`);
            return figures.perSecond;
        };
        const eventsLoad = async (label: string, perRequest: number) => {
            const before = await handled(gateway);
            const figures = await load(gateway, seconds, { path: "/events", token: gateway.ingestToken!, eventsPerRequest: perRequest });
            console.log(`${label.padEnd(28)} ${show(figures)} | all in profiles ${await settled(gateway, before, figures.events)} after the load`);
            return figures.perSecond;
        };
        // Warm the path (connections, JIT) before measuring.
        await load(gateway, 3, { path: "/events", token: gateway.ingestToken!, eventsPerRequest: 1 });
        // The machine's other work comes and goes: each events load sits between two floor loads
        // and is compared with their mean; single events three times, the median ratio the figure.
        let floorBefore = await floorLoad();
        const ratios: number[] = [];
        const compared = async (label: string, perRequest: number) => {
            const perSecond = await eventsLoad(label, perRequest);
            const floorAfter = await floorLoad();
            const ratio = perSecond / ((floorBefore + floorAfter) / 2);
            console.log(`  ${ratio.toFixed(2)} of the floor's requests around it`);
            floorBefore = floorAfter;
            return ratio;
        };
        for (let round = 1; round <= 3; round++) ratios.push(await compared(`POST /events, 1 event (${round})`, 1));
        const sorted = [...ratios].sort((a, b) => a - b);
        console.log(`single events: median ${sorted[1].toFixed(2)} of the floor (${ratios.map((r) => r.toFixed(2)).join(", ")})`);
        await compared("POST /events, 20 events", 20);
    } finally {
        stack.cleanup();
    }
}

main().catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
});
