// Benchmark: end-to-end events/s and ingest-to-profile latency (p50/p99) of the
// pipeline with 1 and with 2 categoriser processes, on real nats-server and
// redis-server processes and the built services (run `npm run build` first;
// `npm run bench` does). Not a test: it prints figures, each next to a floor
// measured in the same run: what nats-server and redis-server alone take for the
// stream and store work of the same events, driven directly from one process.
//
//   npm run bench -- [--events 60000] [--rate 2000] [--seconds 15] [--categorisers 1,2]
//
// Throughput: events are posted as fast as the collector takes them (batches of
// 100, 8 requests in flight); events/s = events / (last profile write - first post).
// Latency: a publisher posts at a fixed rate (batches of 20 every 10 ms); each
// event's latency = the profile writer's write time - the time the benchmark
// posted it (same clock).
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createClient } from "redis";
import { existsSync } from "node:fs";
import { loadLabelled, officialTaxonomyFile } from "../test/helpers/labelled.js";
import { requireBinaries, startNats, startRedis, startRole, stopAll } from "../test/helpers/procs.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const TOTAL = Number(opt("events", "60000"));
const RATE = Number(opt("rate", "2000"));
const SECONDS = Number(opt("seconds", "15"));
const POOLS = opt("categorisers", "1,2").split(",").map(Number);

const missing = requireBinaries();
if (missing) throw new Error(missing);
const taxonomyFile = existsSync(officialTaxonomyFile) ? officialTaxonomyFile : undefined;
const pages = loadLabelled();

let seq = 0;
function makeEvents(n: number, tag: string) {
  return Array.from({ length: n }, () => {
    const p = pages[seq % pages.length];
    const i = seq++;
    return { eventId: `${tag}-${i}`, userId: `user-${i % 10000}`, url: p.url, title: p.title };
  });
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

async function scenario(categorisers: number) {
  const [n, r] = await Promise.all([startNats(), startRedis()]);
  const env: Record<string, string> = { NATS_URL: n.url, REDIS_URL: r.url, MAX_IN_FLIGHT: "1000" };
  if (taxonomyFile) env.TAXONOMY_FILE = taxonomyFile;
  const collector = await startRole("collector", env);
  await startRole("profile-writer", env);
  for (let i = 0; i < categorisers; i++) await startRole("categoriser", env);

  const nc = await connect({ servers: n.url });
  const sent = new Map<string, number>();
  const written = new Map<string, number>();
  const sub = nc.subscribe("pipeline.written");
  void (async () => {
    for await (const m of sub) for (const [id, , at] of m.json<Array<[string, number, number]>>()) written.set(id, at);
  })();
  const post = async (batch: Array<{ eventId: string }>) => {
    const t = Date.now();
    for (const e of batch) sent.set(e.eventId, t);
    const res = await fetch(`${collector.url}/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch) });
    if (res.status !== 202) throw new Error(`collector answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  const waitAll = async (ids: string[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (ids.some((id) => !written.has(id))) {
      if (Date.now() > deadline) throw new Error(`only ${ids.filter((id) => written.has(id)).length}/${ids.length} events reached profiles`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  // Warm-up.
  const warm = makeEvents(2000, `warm${categorisers}`);
  for (let i = 0; i < warm.length; i += 100) await post(warm.slice(i, i + 100));
  await waitAll(warm.map((e) => e.eventId), 60_000);

  // Throughput.
  const events = makeEvents(TOTAL, `tp${categorisers}`);
  const batches: (typeof events)[] = [];
  for (let i = 0; i < events.length; i += 100) batches.push(events.slice(i, i + 100));
  const t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < batches.length) await post(batches[next++]);
  }));
  const ingestDone = Date.now();
  await waitAll(events.map((e) => e.eventId), 300_000);
  const lastWrite = Math.max(...events.map((e) => written.get(e.eventId)!));
  const throughput = TOTAL / ((lastWrite - t0) / 1000);
  const ingestRate = TOTAL / ((ingestDone - t0) / 1000);

  // Latency at a fixed rate.
  const perTick = Math.max(1, Math.round(RATE / 100));
  const lat = makeEvents(perTick * 100 * SECONDS, `lat${categorisers}`);
  const start = Date.now();
  const inflight: Promise<void>[] = [];
  for (let tick = 0; tick * perTick < lat.length; tick++) {
    const due = start + tick * 10;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    inflight.push(post(lat.slice(tick * perTick, (tick + 1) * perTick)));
  }
  await Promise.all(inflight);
  const achievedRate = lat.length / ((Date.now() - start) / 1000);
  await waitAll(lat.map((e) => e.eventId), 120_000);
  const l = lat.map((e) => written.get(e.eventId)! - sent.get(e.eventId)!).sort((a, b) => a - b);

  sub.unsubscribe();
  await nc.close();
  await stopAll();
  return { categorisers, throughput, ingestRate, rate: achievedRate, p50: pct(l, 0.5), p99: pct(l, 0.99), max: l[l.length - 1] };
}

/**
 * The floor: the stream and store work of `count` events with nothing else, from one process:
 * each event published with a message id (acks awaited, 1000 in flight) to a work-queue stream,
 * consumed and acked in batches, and one SET NX plus one HINCRBY per event in Redis (pipelined
 * per batch of 200). Events/s.
 */
async function floor(count: number): Promise<number> {
  const [n, r] = await Promise.all([startNats(), startRedis()]);
  // The roles' client options: no up-front stack traces per request.
  const nc = await connect({ servers: n.url, noAsyncTraces: true });
  const redis = createClient({ url: r.url });
  await redis.connect();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "FLOOR", subjects: ["floor"], retention: RetentionPolicy.Workqueue });
  await jsm.consumers.add("FLOOR", { durable_name: "floor", ack_policy: AckPolicy.Explicit, max_ack_pending: 4000 });
  const js = jetstream(nc);
  const body = JSON.stringify(makeEvents(1, "floor-body")[0]);
  const t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 1000 }, async () => {
    while (next < count) await js.publish("floor", body, { msgID: `floor-${next++}` });
  }));
  const consumer = await js.consumers.get("FLOOR", "floor");
  let done = 0;
  while (done < count) {
    const batch = await consumer.fetch({ max_messages: 200, expires: 2000 });
    const ids: string[] = [];
    for await (const m of batch) {
      m.json();
      ids.push(`${m.seq}`);
      m.ack();
    }
    const multi = redis.multi();
    for (const id of ids) multi.set(`floor:${id}`, "1", { NX: true }).hIncrBy("floor:stats", "written", 1);
    await multi.execAsPipeline();
    done += ids.length;
  }
  const rate = count / ((Date.now() - t0) / 1000);
  await nc.close();
  await redis.quit();
  await stopAll();
  return rate;
}

console.log(`benchmark: ${TOTAL} events for throughput; ${RATE} events/s for ${SECONDS} s for latency; taxonomy ${taxonomyFile ?? "(default)"}; ${(await import("node:os")).cpus().length} CPUs`);
const floorRate = await floor(TOTAL);
console.log(`floor: nats-server and redis-server alone, the same events' stream and store work: ${floorRate.toFixed(0)} events/s`);
for (const c of POOLS) {
  const res = await scenario(c);
  console.log(
    `categorisers=${res.categorisers}: end-to-end ${res.throughput.toFixed(0)} events/s (${(res.throughput / floorRate).toFixed(2)} of the floor; collector ingest ${res.ingestRate.toFixed(0)} events/s); ` +
      `at ${res.rate.toFixed(0)} events/s: p50 ${res.p50} ms, p99 ${res.p99} ms, max ${res.max} ms ingest-to-profile`,
  );
}
process.exit(0);
