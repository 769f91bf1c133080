// categoriser: a competing consumer of the raw events; places each event in a
// taxonomy node and publishes the results of a batch of events as one message
// (unmatched events too, with a null node, so that they are counted downstream
// rather than dropped).
import type { JsMsg } from "@nats-io/jetstream";
import { Categoriser, loadKnowledge } from "./categorise.js";
import { subjects, type Config } from "./config.js";
import { log } from "./log.js";
import { RoleMetrics } from "./metrics.js";
import { serveRole, type Running } from "./role.js";
import { closeNats, connectJetStream, jsonChunks, natsUp, runWorker } from "./stream.js";
import { loadTaxonomy } from "./taxonomy.js";
import type { PageVisit } from "./validate.js";

export interface Categorised {
  eventId: string;
  userId: string;
  timestamp: number;
  receivedAt: number;
  nodeId: string | null;
  confidence: number;
  stage: string | null;
  categorisedAt: number;
}

export async function startCategoriser(cfg: Config): Promise<Running> {
  const taxonomy = loadTaxonomy(cfg.taxonomyFile);
  const cat = new Categoriser(taxonomy, loadKnowledge(cfg.knowledgeDir));
  log("info", "taxonomy loaded", { file: cfg.taxonomyFile, nodes: taxonomy.size, unresolvedKnowledgeKeys: cat.unresolvedKeys.length });
  const { nc, js } = await connectJetStream(cfg, "categoriser");
  const out = subjects(cfg).categorised;
  const metrics = new RoleMetrics("categoriser");
  const categorised = metrics.counter("events_categorised_total", "Events categorised, by result and by the stage that matched (none when unmatched)", ["result", "stage"]);
  const redelivered = metrics.counter("redeliveries_total", "Events delivered again (a task died or a batch failed before its acknowledgement)");
  const poison = metrics.counter("poison_messages_total", "Messages that were not events, dropped");

  /** The result for one event. */
  const categorise = (ev: PageVisit, again: boolean): Categorised => {
    if (again) redelivered.inc();
    const match = cat.categorise(ev);
    categorised.inc({ result: match ? "matched" : "unmatched", stage: match?.stage ?? "none" });
    return {
      eventId: ev.eventId,
      userId: ev.userId,
      timestamp: ev.timestamp,
      receivedAt: ev.receivedAt,
      nodeId: match?.nodeId ?? null,
      confidence: match?.confidence ?? 0,
      stage: match?.stage ?? null,
      categorisedAt: Date.now(),
    };
  };

  /** The events a message carries (one, or an array of a collector's group); none for a message that is not that (termed). */
  const eventsOf = (m: JsMsg): PageVisit[] => {
    try {
      const body = m.json<PageVisit | PageVisit[]>();
      const events = Array.isArray(body) ? body : [body];
      if (!events.every((ev) => ev && typeof ev.eventId === "string" && typeof ev.url === "string")) throw new Error("not page visits");
      return events;
    } catch (e) {
      poison.inc();
      log("warn", "dropping undecodable message", { seq: m.seq, reason: (e as Error).name }); // not its message: it quotes the message (user ID, URL)
      m.term();
      return [];
    }
  };

  // The results of a batch go out as one message (a JSON array; more when they outgrow one), and each event is acked once
  // the stream has stored it. A batch redelivered after a crash may be published twice: the
  // profile writer counts each event id once.
  const handle = async (batch: JsMsg[]) => {
    const taken: JsMsg[] = [];
    const results: Categorised[] = [];
    for (const m of batch) {
      const events = eventsOf(m);
      if (events.length === 0) continue;
      taken.push(m);
      for (const ev of events) results.push(categorise(ev, m.redelivered));
    }
    if (results.length === 0) return;
    // A batch's results can outgrow a message (up to WORK_BATCH messages of up to WORK_BATCH events).
    await Promise.all(jsonChunks(results).map((chunk) => js.publish(out, chunk)));
    for (const m of taken) m.ack();
  };

  const worker = await runWorker(js, cfg.eventsStream, "categoriser", cfg, handle);
  metrics.gauge("messages_in_flight", "Messages taken from the stream and not yet acknowledged", () => worker.inFlight());
  const { http, port } = await serveRole(cfg, "categoriser", metrics, () => ({ nats: natsUp(nc) }));
  return {
    port,
    async stop() {
      await worker.stop();
      await http.close(1000);
      await closeNats(nc);
    },
  };
}
