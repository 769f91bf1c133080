// Prints, for a local swarm (1 manager, 2 workers) running the categorisation stack:
// - the time of a replica change, from `pulumi up` after the config edit to every service converged;
// - end-to-end events/s through the swarm (POST to collectorUrl until the profile writer has
//   applied every event, read from /stats) with the categoriser at 1 and at 3 replicas.
// Run: bash scripts/run.sh tsx bench/stack.ts [events]
import { TestStack, uniqueStackName } from "../test/helpers/stack";

const events = Number(process.argv[2] ?? 20000);
const batch = 200;
const concurrency = 8;
const urls = [
    ["https://www.espn.com/nba/story/_/id/1/lakers-beat-celtics", "Lakers beat Celtics in overtime"],
    ["https://www.bbcgoodfood.com/recipes/easy-chocolate-cake", "Easy chocolate cake recipe"],
    ["https://www.lonelyplanet.com/italy/rome", "Rome travel guide"],
    ["https://www.caranddriver.com/reviews/a1/2025-toyota-camry-review", "2025 Toyota Camry review"],
    ["https://www.imdb.com/title/tt0111161/", "The Shawshank Redemption (1994)"],
    ["https://www.investopedia.com/terms/i/indexfund.asp", "What is an index fund?"],
];

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/** fetch, tried again a few times when a kept-alive connection was closed under it. */
async function fetchRetrying(url: string, init?: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await fetch(url, init);
        } catch (err) {
            if (attempt >= 3) throw err;
        }
    }
}

async function applied(statsUrl: string): Promise<number> {
    const stats = (await (await fetchRetrying(statsUrl)).json()) as Record<string, number>;
    return Object.entries(stats).filter(([k]) => k !== "duplicates").reduce((sum, [, v]) => sum + v, 0);
}

async function throughput(collectorUrl: string, statsUrl: string, run: string): Promise<number> {
    const before = await applied(statsUrl);
    const start = process.hrtime.bigint();
    let next = 0;
    const sender = async () => {
        while (next < events) {
            const first = next;
            next += batch;
            const body = Array.from({ length: Math.min(batch, events - first) }, (_, i) => {
                const n = first + i;
                const [url, title] = urls[n % urls.length];
                return { eventId: `${run}-${n}`, userId: `user-${n % 500}`, url, title };
            });
            const response = await fetchRetrying(collectorUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
            if (!response.ok) throw new Error(`collector answered ${response.status}: ${await response.text()}`);
        }
    };
    await Promise.all(Array.from({ length: concurrency }, sender));
    const deadline = Date.now() + 600_000;
    while ((await applied(statsUrl)) - before < events) {
        if (Date.now() > deadline) throw new Error("events not applied within 10 minutes");
        await new Promise((r) => setTimeout(r, 250));
    }
    return events / seconds(start);
}

async function main(): Promise<void> {
    const stack = new TestStack(uniqueStackName("bench-stack"));
    try {
        stack.setConfig({ managers: "1", workers: "2", "local.subnet": "10.219.0.0/24", "local.sshPortBase": "2700", "local.registryPort": "5700", "replicas.categoriser": "1" });
        let start = process.hrtime.bigint();
        stack.up();
        console.log(`pulumi up from nothing (swarm + images + stack): ${seconds(start).toFixed(1)} s`);
        const collectorUrl = stack.output<string>("collectorUrl");
        const statsUrl = collectorUrl.replace(/\/events$/, "/stats");

        console.log(`categoriser x1: ${(await throughput(collectorUrl, statsUrl, `r1-${Date.now()}`)).toFixed(0)} events/s end to end (${events} events)`);
        for (const replicas of ["3", "1", "3"]) {
            stack.setConfig({ "replicas.categoriser": replicas });
            start = process.hrtime.bigint();
            stack.up();
            console.log(`replica change categoriser -> ${replicas}: ${seconds(start).toFixed(1)} s from pulumi up to converged`);
        }
        console.log(`categoriser x3: ${(await throughput(collectorUrl, statsUrl, `r3-${Date.now()}`)).toFixed(0)} events/s end to end (${events} events)`);
    } finally {
        stack.cleanup();
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
