// categoriser: a competing consumer of the raw events; places each event in a
// taxonomy node and publishes the result (unmatched events too, with a null
// node, so that they are counted downstream rather than dropped).
import type { JsMsg } from "@nats-io/jetstream";
import { Categoriser, loadKnowledge } from "./categorise.js";
import { subjects, type Config } from "./config.js";
import { log } from "./log.js";
import { Metrics } from "./metrics.js";
import { serveRole, type Running } from "./role.js";
import { connectJetStream, natsUp, runWorker } from "./stream.js";
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
  const metrics = new Metrics();

  /** Categorises the event a message carries and publishes the result; terms a message that is not one. */
  const categorise = (m: JsMsg): Promise<unknown> | undefined => {
    let ev: PageVisit;
    try {
      ev = m.json<PageVisit>();
      if (!ev || typeof ev.eventId !== "string" || typeof ev.url !== "string") throw new Error("not a page visit");
    } catch (e) {
      metrics.inc("poison");
      log("warn", "dropping undecodable message", { seq: m.seq, error: String(e) });
      m.term();
      return undefined;
    }
    if (m.redelivered) metrics.inc("redelivered");
    const match = cat.categorise(ev);
    const result: Categorised = {
      eventId: ev.eventId,
      userId: ev.userId,
      timestamp: ev.timestamp,
      receivedAt: ev.receivedAt,
      nodeId: match?.nodeId ?? null,
      confidence: match?.confidence ?? 0,
      stage: match?.stage ?? null,
      categorisedAt: Date.now(),
    };
    metrics.inc(match ? "matched" : "unmatched");
    if (match) metrics.inc(`stage.${match.stage}`);
    // The message id lets the stream drop a second copy if this event is redelivered after a crash.
    return js.publish(out, JSON.stringify(result), { msgID: ev.eventId }).then(() => {
      m.ack();
      metrics.inc("processed");
    });
  };

  // The results of a batch are published together (their acks awaited together), each event
  // acked once its result is stored.
  const handle = async (batch: JsMsg[]) => {
    await Promise.all(batch.map(categorise));
  };

  const worker = await runWorker(js, cfg.eventsStream, "categoriser", cfg, handle);
  metrics.gauges.set("inFlight", () => worker.inFlight());
  const { http, port } = await serveRole(cfg, "categoriser", metrics, () => ({ nats: natsUp(nc) }));
  return {
    port,
    async stop() {
      await worker.stop();
      await http.close(1000);
      await nc.drain();
    },
  };
}
