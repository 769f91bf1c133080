// profile writer: a competing consumer of categorised events (a message holds
// one, or an array of them); credits the user's interest profile (never with
// sensitive nodes), idempotently per event, a batch per round trip to the store.
// At start it moves the profiles of the previous version under keyed handles (store.ts).
import type { JsMsg } from "@nats-io/jetstream";
import type { Categorised } from "./categoriser.js";
import type { Config } from "./config.js";
import { log } from "./log.js";
import { RoleMetrics } from "./metrics.js";
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
  const metrics = new RoleMetrics("profile-writer");
  const applied = metrics.counter("events_applied_total", "Events applied to the profiles, by outcome: written (credited), sensitive or unmatched (credit nothing)", ["outcome"]);
  const skipped = metrics.counter("events_skipped_total", "Events not applied: a duplicate (the same event ID for the user), or for a user erased meanwhile", ["reason"]);
  const unknownNodes = metrics.counter("unknown_nodes_total", "Events categorised under a node this taxonomy does not have");
  const poison = metrics.counter("poison_messages_total", "Messages that were not categorised events, dropped");
  const storeFullRefusals = metrics.counter("store_full_refusals_total", "Batches the store refused at its memory limit (tried again)");
  const ingestToProfile = metrics.histogram("ingest_to_profile_seconds", "Time from an event's arrival at a collector to its profile's write", [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);

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
      if (!taxonomy.get(r.nodeId)) unknownNodes.inc();
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
      poison.inc();
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
  metrics.gauge("store_full", "1 while the store refuses writes at its memory limit", () => Number(storeFull));
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
        storeFullRefusals.inc();
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
    const results = await applyWhenRoom(visits, taken);
    if (!results) return;
    for (const m of taken) m.ack();
    const now = Date.now();
    visits.forEach((visit, i) => {
      if (results[i] !== "applied") {
        skipped.inc({ reason: results[i] === "erased" ? "erased" : "duplicate" });
        return;
      }
      applied.inc({ outcome: visit.outcome });
      ingestToProfile.observe((now - visit.receivedAt) / 1000);
      if (cfg.notifySubject) pending.push([visit.eventId, visit.receivedAt, now]);
    });
  };

  const worker = await runWorker(js, cfg.resultsStream, "profile-writer", cfg, handle);
  metrics.gauge("messages_in_flight", "Messages taken from the stream and not yet acknowledged", () => worker.inFlight());
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
