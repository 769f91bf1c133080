// profile writer: a competing consumer of categorised events; credits the
// user's interest profile (never with sensitive nodes), idempotently per event.
import type { JsMsg } from "@nats-io/jetstream";
import type { Categorised } from "./categoriser.js";
import type { Config } from "./config.js";
import { log } from "./log.js";
import { Metrics } from "./metrics.js";
import { serveRole, type Running } from "./role.js";
import { creditsFor, type Credit } from "./scoring.js";
import { openStore, type Outcome } from "./store.js";
import { connectJetStream, natsUp, runWorker } from "./stream.js";
import { loadTaxonomy } from "./taxonomy.js";

export async function startProfileWriter(cfg: Config): Promise<Running> {
  const taxonomy = loadTaxonomy(cfg.taxonomyFile);
  const store = await openStore(cfg);
  const { nc, js } = await connectJetStream(cfg, "profile-writer");
  const metrics = new Metrics();
  const latencies: number[] = [];

  // Notifications of written events ([eventId, receivedAt, writtenAt]), batched, for benchmarks and monitors.
  let pending: Array<[string, number, number]> = [];
  const flush = () => {
    if (pending.length && cfg.notifySubject && !nc.isClosed()) nc.publish(cfg.notifySubject, JSON.stringify(pending));
    pending = [];
  };
  const flusher = setInterval(flush, 50);

  const handle = async (m: JsMsg) => {
    let r: Categorised;
    try {
      r = m.json<Categorised>();
      if (!r || typeof r.eventId !== "string" || typeof r.userId !== "string") throw new Error("not a categorised event");
    } catch (e) {
      metrics.inc("poison");
      log("warn", "dropping undecodable message", { seq: m.seq, error: String(e) });
      m.term();
      return;
    }
    let outcome: Outcome = "unmatched";
    let credits: Credit[] = [];
    if (r.nodeId !== null) {
      if (!taxonomy.get(r.nodeId)) metrics.inc("unknownNode");
      credits = creditsFor(taxonomy, r.nodeId, r.confidence, cfg.scoring);
      outcome = credits.length ? "written" : taxonomy.get(r.nodeId) ? "sensitive" : "unmatched";
    }
    const fresh = await store.apply(r.eventId, r.userId, r.timestamp, outcome, credits);
    m.ack();
    if (!fresh) {
      metrics.inc("duplicates");
      return;
    }
    metrics.inc(outcome);
    const now = Date.now();
    latencies.push(now - r.receivedAt);
    if (latencies.length > 5000) latencies.splice(0, latencies.length - 5000);
    if (cfg.notifySubject) pending.push([r.eventId, r.receivedAt, now]);
  };

  const worker = await runWorker(js, cfg.resultsStream, "profile-writer", cfg.maxInFlight, handle);
  metrics.gauges.set("inFlight", () => worker.inFlight());
  const pct = (p: number) => {
    if (!latencies.length) return 0;
    const s = [...latencies].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))];
  };
  metrics.gauges.set("ingestToProfileMsP50", () => pct(0.5));
  metrics.gauges.set("ingestToProfileMsP99", () => pct(0.99));
  const { http, port } = await serveRole(cfg, "profile-writer", metrics, () => ({ nats: natsUp(nc), redis: store.connection.isReady() }));
  return {
    port,
    async stop() {
      await worker.stop();
      clearInterval(flusher);
      flush();
      await http.close(1000);
      await nc.drain();
      await store.connection.close().catch(() => undefined);
    },
  };
}
