// collector: HTTP ingest of page-visit events. Validates, publishes to the
// stream, and answers only once the stream has stored every event.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { eventsPath } from "./auth.js";
import { subjects, type Config } from "./config.js";
import { BodyTooLarge, readBody, sendJson } from "./http.js";
import { log } from "./log.js";
import { Metrics } from "./metrics.js";
import { serveRole, type Running } from "./role.js";
import { closeNats, connectJetStream, GroupPublisher, isStreamFull, natsUp, publishWithin } from "./stream.js";
import { validateBody, type PageVisit } from "./validate.js";

/**
 * The stream's deduplication ID of an event: an event ID counts once per user (the same ID from
 * two users is two events), as in the profile store.
 */
export const streamMessageId = (userId: string, eventId: string): string => createHash("sha256").update(userId).update("\0").update(eventId).digest("base64url");

export async function startCollector(cfg: Config): Promise<Running> {
  const { nc, js } = await connectJetStream(cfg, "collector");
  const subject = subjects(cfg).raw;
  const metrics = new Metrics();
  // A stream whose leader is being elected (a NATS server died) has no responders for a few
  // seconds: each publish is tried again with backoff, within PUBLISH_TIMEOUT_MS.
  const publisher = new GroupPublisher<PageVisit>(
    (data, msgID) => publishWithin(js, subject, data, msgID, cfg.publishTimeoutMs),
    (ev) => streamMessageId(ev.userId, ev.eventId),
    cfg.maxBatch,
    cfg.publishConcurrency,
  );
  metrics.gauges.set("publishesInFlight", () => publisher.pending);

  const bad = (res: ServerResponse, reasons: string[]) => {
    metrics.inc("requestsRejected");
    sendJson(res, 400, { error: "bad request", reasons });
  };

  async function postEvents(req: IncomingMessage, res: ServerResponse): Promise<void> {
    metrics.inc("requests");
    const ct = String(req.headers["content-type"] ?? "application/json");
    if (!/json/i.test(ct)) {
      req.resume();
      return bad(res, [`content-type must be application/json, got ${ct}`]);
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, cfg.maxBodyBytes);
    } catch (e) {
      if (e instanceof BodyTooLarge) return bad(res, [e.message]);
      throw e;
    }
    if (raw.length === 0) return bad(res, ["body is empty: expected a JSON event or array of events"]);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      return bad(res, ["body is not valid JSON"]); // not the parser's message: it quotes the body
    }
    const v = validateBody(body, Date.now(), cfg.limits);
    if (!v.ok) {
      metrics.inc("eventsRejected");
      return bad(res, v.errors);
    }
    try {
      const repeats = await publisher.publish(v.value);
      const duplicates = repeats.filter(Boolean).length;
      metrics.inc("eventsAccepted", repeats.length - duplicates);
      metrics.inc("eventsDuplicate", duplicates);
      sendJson(res, 202, { accepted: repeats.length - duplicates, duplicates });
    } catch (e) {
      metrics.inc("publishErrors");
      const msg = String(e);
      log("warn", "publish failed", { error: msg });
      sendJson(
        res,
        503,
        { error: isStreamFull(e) ? "the stream is full; retry later" : "the stream is unavailable; retry later", detail: msg },
        { "retry-after": "1" },
      );
    }
  }

  const { http, port } = await serveRole(cfg, "collector", metrics, () => ({ nats: natsUp(nc) }), [
    { method: "POST", path: eventsPath, handler: postEvents },
  ]);
  return {
    port,
    async stop() {
      await http.close(cfg.shutdownTimeoutMs);
      await closeNats(nc);
    },
  };
}
