// collector: HTTP ingest of page-visit events. Validates, publishes to the
// stream, and answers only once the stream has stored every event.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { subjects, type Config } from "./config.js";
import { BodyTooLarge, HttpService, readBody, sendJson } from "./http.js";
import { log } from "./log.js";
import { Metrics } from "./metrics.js";
import { connectNats, ensureTopology } from "./stream.js";
import { validateBody } from "./validate.js";

export interface Running {
  port: number;
  stop(): Promise<void>;
}

export async function startCollector(cfg: Config): Promise<Running> {
  const nc: NatsConnection = await connectNats(cfg, "collector");
  await ensureTopology(nc, cfg);
  const js = jetstream(nc, { timeout: 10_000 });
  const subject = subjects(cfg).raw;
  const metrics = new Metrics();
  let publishing = 0;
  metrics.gauges.set("publishesInFlight", () => publishing);

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
    } catch (e) {
      return bad(res, [`body is not valid JSON: ${(e as Error).message}`]);
    }
    const v = validateBody(body, Date.now(), cfg.limits);
    if (!v.ok) {
      metrics.inc("eventsRejected");
      return bad(res, v.errors);
    }
    publishing += v.value.length;
    try {
      const acks = await Promise.all(
        v.value.map((ev) => js.publish(subject, JSON.stringify(ev), { msgID: ev.eventId })),
      );
      const duplicates = acks.filter((a) => a.duplicate).length;
      metrics.inc("eventsAccepted", acks.length - duplicates);
      metrics.inc("eventsDuplicate", duplicates);
      sendJson(res, 202, { accepted: acks.length - duplicates, duplicates });
    } catch (e) {
      metrics.inc("publishErrors");
      const msg = String(e);
      log("warn", "publish failed", { error: msg });
      const full = /maximum|exceeded|insufficient/i.test(msg);
      sendJson(
        res,
        503,
        { error: full ? "the stream is full; retry later" : "the stream is unavailable; retry later", detail: msg },
        { "retry-after": "1" },
      );
    } finally {
      publishing -= v.value.length;
    }
  }

  const http = new HttpService(
    [
      { method: "POST", path: /^\/events\/?$/, handler: postEvents },
      {
        method: "GET",
        path: /^\/healthz$/,
        handler: (_q, res) => {
          const ok = !nc.isClosed() && !nc.isDraining();
          sendJson(res, ok ? 200 : 503, { status: ok ? "ok" : "unavailable", nats: ok });
        },
      },
      { method: "GET", path: /^\/metrics$/, handler: (_q, res) => sendJson(res, 200, { role: "collector", ...metrics.toJSON() }) },
    ],
    (e) => log("error", "request failed", { error: String(e) }),
  );
  const port = await http.listen(cfg.port, cfg.host);
  log("info", "collector listening", { port });
  return {
    port,
    async stop() {
      await http.close(cfg.shutdownTimeoutMs);
      await nc.drain();
    },
  };
}
