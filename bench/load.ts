// A steady stream of page-visit events posted to a gateway, one event per request, each for a
// user of its own: afterwards a profile lookup per event tells whether it was counted (events 1),
// lost (no profile) or counted twice (events 2). The fault test and benchmark run it as a child
// process (pulumi and docker block theirs) and read the JSON summary it writes.
//
// Run: SWARM_GATEWAY='{"url":...,"ca":...,"ingestToken":...,"adminToken":...}' \
//   bash scripts/run.sh tsx bench/load.ts <events per second> <seconds> <summary.json> [stop-file]
// (the gateway as gatewayEndpoint() reads it from the stack's outputs). With a stop file, the
// stream goes on after <seconds> until that file exists.
import * as fs from "node:fs";
import { closeGatewayConnections, GatewayEndpoint, gatewayRequest } from "../components/gateway/client";

export interface LoadSummary {
    gateway: string;
    run: string;
    started: number;
    sent: number;
    accepted: number;
    failed: number;
    /**
     * Every request: event id, when it was sent (ms after start) and the HTTP status (0: no answer);
     * a refusal keeps the start of its body (whether haproxy or a collector answered) and a request
     * with no answer its error.
     */
    requests: Array<{ eventId: string; userId: string; at: number; status: number; answer?: string; error?: string }>;
}

/** Posts `rate` events a second to `gateway` until `until()` says stop. */
export async function streamEvents(gateway: GatewayEndpoint, rate: number, until: (elapsedMs: number) => boolean): Promise<LoadSummary> {
    const run = `load-${Date.now().toString(36)}`;
    const started = Date.now();
    const requests: LoadSummary["requests"] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; !until(Date.now() - started); i++) {
        const due = started + (i * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const record: LoadSummary["requests"][number] = { eventId: `${run}-${i}`, userId: `${run}-u${i}`, at: Date.now() - started, status: 0 };
        requests.push(record);
        pending.push(
            gatewayRequest(gateway, "/events", {
                body: JSON.stringify([{ eventId: record.eventId, userId: record.userId, url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket: who plays who" }]),
            }).then(
                (response) => {
                    record.status = response.status;
                    if (response.status !== 202) record.answer = `${response.body.replace(/\s+/g, " ").slice(0, 120)} after ${Date.now() - started - record.at} ms`;
                },
                (error: Error) => {
                    record.error = `${error.message} after ${Date.now() - started - record.at} ms`;
                },
            ),
        );
    }
    await Promise.all(pending);
    const accepted = requests.filter((r) => r.status === 202).length;
    return { gateway: gateway.url, run, started, sent: requests.length, accepted, failed: requests.length - accepted, requests };
}

/** What the profiles say about each event of a stream: counted once, lost, or counted twice. */
export async function countProfiles(gateway: GatewayEndpoint, summary: LoadSummary): Promise<{ lost: string[]; twice: string[]; countedFailed: number }> {
    const lost: string[] = [];
    const twice: string[] = [];
    let countedFailed = 0;
    const lookups = summary.requests.map((r) => async () => {
        const response = await gatewayRequest(gateway, `/profiles/${r.userId}`, { timeoutMs: 10_000 });
        const events = response.status === 200 ? (JSON.parse(response.body) as { events: number }).events : 0;
        if (response.status !== 200 && response.status !== 404) throw new Error(`profile lookup answered ${response.status}`);
        if (events > 1) twice.push(r.eventId);
        if (r.status === 202 && events === 0) lost.push(r.eventId);
        if (r.status !== 202 && events === 1) countedFailed++;
    });
    // A few lookups at a time.
    for (let i = 0; i < lookups.length; i += 20) await Promise.all(lookups.slice(i, i + 20).map((f) => f()));
    return { lost, twice, countedFailed };
}

/** From the first failed request after `faultAt` (ms) to the last: how long requests failed. */
export function outage(summary: LoadSummary, faultAt: number): { failedAfterFault: number; recoveredAfterMs: number } {
    const failed = summary.requests.filter((r) => r.status !== 202 && r.at >= faultAt);
    const last = failed.at(-1);
    return { failedAfterFault: failed.length, recoveredAfterMs: last ? last.at - faultAt : 0 };
}

if (require.main === module) {
    const [rate, seconds, out, stopFile] = process.argv.slice(2);
    const gateway = process.env.SWARM_GATEWAY;
    if (!gateway || !rate || !seconds || !out) {
        console.error("usage: SWARM_GATEWAY=<gateway JSON> tsx bench/load.ts <events per second> <seconds> <summary.json> [stop-file]");
        process.exit(2);
    }
    void streamEvents(JSON.parse(gateway) as GatewayEndpoint, Number(rate), (elapsed) => elapsed >= Number(seconds) * 1000 && (!stopFile || fs.existsSync(stopFile))).then((summary) => {
        fs.writeFileSync(out, JSON.stringify(summary));
        closeGatewayConnections();
        console.log(`sent ${summary.sent}, accepted ${summary.accepted}, failed ${summary.failed}`);
    });
}
