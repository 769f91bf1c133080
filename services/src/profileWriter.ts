// profile writer: a competing consumer of categorised events (a message holds
// one, or an array of them); credits the user's interest profile (never with
// sensitive nodes), idempotently per event, a batch per round trip to the store.
// At start it moves the profiles of the previous version under keyed handles (store.ts).
import type { JsMsg } from "@nats-io/jetstream";
import type { Categorised } from "./categoriser.js";
import type { Config } from "./config.js";
import { log } from "./log.js";
import { Metrics } from "./metrics.js";
import { serveRole, type Running } from "./role.js";
import { creditsFor, type Credit } from "./scoring.js";
import { AofRewriter, isStoreFull, openStore, type Applied, type Outcome, type Visit } from "./store.js";
import { closeNats, connectJetStream, natsUp, runWorker } from "./stream.js";
import { loadTaxonomy } from "./taxonomy.js";

/** How often a batch that a full store refused is tried again, at most. */
const storeFullRetryMs = 2000;

export async function startProfileWriter(cfg: Config): Promise<Running> {
  const taxonomy = loadTaxonomy(cfg.taxonomyFile, cfg.sensitiveNodes);
  const store = await openStore(cfg);
  const rewriter = new AofRewriter(store);
  const migrated = await store.migrate();
  if (migrated > 0) {
    log("info", "moved the previous version's profiles under keyed handles", { profiles: migrated });
    // The user IDs in their old keys leave the append-only file.
    rewriter.request();
  }
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

  /** The visit of one categorised event. */
  const visitOf = (r: Categorised): Visit & { receivedAt: number } => {
    let outcome: Outcome = "unmatched";
    let credits: Credit[] = [];
    if (r.nodeId !== null) {
      if (!taxonomy.get(r.nodeId)) metrics.inc("unknownNode");
      credits = creditsFor(taxonomy, r.nodeId, r.confidence, cfg.scoring);
      outcome = credits.length ? "written" : taxonomy.get(r.nodeId) ? "sensitive" : "unmatched";
    }
    return { eventId: r.eventId, userId: r.userId, ts: r.timestamp, outcome, credits, receivedAt: r.receivedAt };
  };

  /** The categorised events a message carries (an array, or one); none for a message that is not that (termed). */
  const resultsOf = (m: JsMsg): Categorised[] => {
    try {
      const body = m.json<Categorised | Categorised[]>();
      const results = Array.isArray(body) ? body : [body];
      if (!results.every((r) => r && typeof r.eventId === "string" && typeof r.userId === "string")) throw new Error("not categorised events");
      return results;
    } catch (e) {
      metrics.inc("poison");
      // A parse error quotes the message, which names its user: not logged.
      log("warn", "dropping undecodable message", { seq: m.seq, error: e instanceof SyntaxError ? "not JSON" : String(e) });
      m.term();
      return [];
    }
  };

  // At Redis's maxmemory (noeviction) the store refuses a batch whole: it is held, not
  // acknowledged (each retry tells the stream it is still being worked on, so it is not delivered
  // again meanwhile), and tried again until there is room; the batches held take the worker's
  // slots, so it takes no more messages meanwhile. One line when the store is full, one when it
  // has room again. Returns undefined when the writer stops meanwhile (the messages are returned).
  const retryMs = Math.min(storeFullRetryMs, cfg.ackWaitMs / 2);
  let storeFull = false;
  let stopping = false;
  metrics.gauges.set("storeFull", () => Number(storeFull));
  const applyWhenRoom = async (visits: Visit[], taken: JsMsg[]): Promise<Applied[] | undefined> => {
    for (;;) {
      try {
        const applied = await store.applyAll(visits);
        if (storeFull) {
          storeFull = false;
          log("info", "the store has room again: applying the events held");
        }
        return applied;
      } catch (e) {
        if (!isStoreFull(e)) throw e;
        metrics.inc("storeFull");
        if (!storeFull) {
          storeFull = true;
          log("error", "the store is full (Redis maxmemory): events are held, unacknowledged, and tried again", { retryMs, error: String(e) });
        }
        if (stopping) {
          for (const m of taken) m.nak();
          return undefined;
        }
        await new Promise((r) => setTimeout(r, retryMs));
        for (const m of taken) m.working();
      }
    }
  };

  // The events of a batch of messages are one script run on the store, then each message is acked.
  const handle = async (batch: JsMsg[]) => {
    const taken: JsMsg[] = [];
    const visits: Array<Visit & { receivedAt: number }> = [];
    for (const m of batch) {
      const results = resultsOf(m);
      if (results.length === 0) continue;
      taken.push(m);
      for (const r of results) visits.push(visitOf(r));
    }
    if (visits.length === 0) return;
    const applied = await applyWhenRoom(visits, taken);
    if (!applied) return;
    for (const m of taken) m.ack();
    const now = Date.now();
    visits.forEach((visit, i) => {
      if (applied[i] !== "applied") {
        metrics.inc(applied[i] === "erased" ? "erased" : "duplicates");
        return;
      }
      metrics.inc(visit.outcome);
      latencies.push(now - visit.receivedAt);
      if (cfg.notifySubject) pending.push([visit.eventId, visit.receivedAt, now]);
    });
    if (latencies.length > 5000) latencies.splice(0, latencies.length - 5000);
  };

  const worker = await runWorker(js, cfg.resultsStream, "profile-writer", cfg, handle);
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
      stopping = true;
      await worker.stop();
      rewriter.stop();
      clearInterval(flusher);
      flush();
      await http.close(1000);
      await closeNats(nc);
      await store.connection.close().catch(() => undefined);
    },
  };
}
