// collector: HTTP ingest of page-visit events. Validates, publishes to the
// stream, and answers only once the stream has stored every event.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { eventsPath } from "./auth.js";
import { subjects, type Config } from "./config.js";
import { BodyTooLarge, readBody, sendJson } from "./http.js";
import { log } from "./log.js";
import { RoleMetrics, type RefusalReason } from "./metrics.js";
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
  const metrics = new RoleMetrics("collector");
  const accepted = metrics.counter("events_accepted_total", "Events the stream stored, each once");
  const duplicates = metrics.counter("events_duplicate_total", "Events the stream already held (the same event ID from the same user, sent again)");
  // A stream whose leader is being elected (a NATS server died) has no responders for a few
  // seconds: each publish is tried again with backoff, within PUBLISH_TIMEOUT_MS.
  const publisher = new GroupPublisher<PageVisit>(
    (data, msgID) => publishWithin(js, subject, data, msgID, cfg.publishTimeoutMs),
    (ev) => streamMessageId(ev.userId, ev.eventId),
    cfg.maxBatch,
    cfg.publishConcurrency,
  );
  metrics.gauge("publishes_in_flight", "Events waiting for the stream's acknowledgement", () => publisher.pending);

  const bad = (res: ServerResponse, reasons: string[], reason: RefusalReason = "invalid") => {
    metrics.refuse(reason);
    sendJson(res, 400, { error: "bad request", reasons });
  };

  async function postEvents(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ct = String(req.headers["content-type"] ?? "application/json");
    if (!/json/i.test(ct)) {
      req.resume();
      return bad(res, [`content-type must be application/json, got ${ct}`]);
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, cfg.maxBodyBytes);
    } catch (e) {
      if (e instanceof BodyTooLarge) return bad(res, [e.message], "too_large");
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
    if (!v.ok) return bad(res, v.errors);
    try {
      const repeats = await publisher.publish(v.value);
      const repeated = repeats.filter(Boolean).length;
      accepted.inc(repeats.length - repeated);
      duplicates.inc(repeated);
      sendJson(res, 202, { accepted: repeats.length - repeated, duplicates: repeated });
    } catch (e) {
      metrics.refuse(isStreamFull(e) ? "stream_full" : "stream_unavailable");
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
    { name: "events", method: "POST", path: eventsPath, handler: postEvents },
  ]);
  return {
    port,
    async stop() {
      await http.close(cfg.shutdownTimeoutMs, cfg.stopDrainMs);
      await closeNats(nc);
    },
  };
}
