// profile API: GET /profiles/:userId -> {userId, interests: [{nodeId, name, score}]}, highest first.
import type { Running } from "./collector.js";
import type { Config } from "./config.js";
import { HttpService, sendJson } from "./http.js";
import { log } from "./log.js";
import { Metrics } from "./metrics.js";
import { connectRedis, ProfileStore } from "./store.js";
import { loadTaxonomy } from "./taxonomy.js";

export async function startProfileApi(cfg: Config): Promise<Running> {
  const taxonomy = loadTaxonomy(cfg.taxonomyFile);
  const redis = await connectRedis(cfg.redisUrl);
  const store = new ProfileStore(redis, cfg.scoring, cfg.seenTtlSeconds);
  const metrics = new Metrics();
  const http = new HttpService(
    [
      {
        method: "GET",
        path: /^\/profiles\/([^/]+)\/?$/,
        handler: async (_q, res, [userId]) => {
          metrics.inc("requests");
          if (!userId || userId.length > 128) return sendJson(res, 400, { error: "bad request", reasons: ["userId: 1 to 128 characters"] });
          const p = await store.profile(userId);
          if (!p) {
            metrics.inc("notFound");
            return sendJson(res, 404, { error: `unknown user ${userId}` });
          }
          sendJson(res, 200, {
            userId,
            events: p.events,
            interests: p.interests.map((i) => ({
              nodeId: i.nodeId,
              name: taxonomy.get(i.nodeId)?.name ?? i.nodeId,
              score: Number(i.credit.toPrecision(6)),
            })),
          });
        },
      },
      { method: "GET", path: /^\/stats$/, handler: async (_q, res) => sendJson(res, 200, await store.stats()) },
      {
        method: "GET",
        path: /^\/healthz$/,
        handler: async (_q, res) => {
          let ok = false;
          try {
            ok = (await redis.ping()) === "PONG";
          } catch {
            ok = false;
          }
          sendJson(res, ok ? 200 : 503, { status: ok ? "ok" : "unavailable", redis: ok });
        },
      },
      { method: "GET", path: /^\/metrics$/, handler: (_q, res) => sendJson(res, 200, { role: "profile-api", ...metrics.toJSON() }) },
    ],
    (e) => log("error", "request failed", { error: String(e) }),
  );
  const port = await http.listen(cfg.port, cfg.host);
  log("info", "profile API listening", { port });
  return {
    port,
    async stop() {
      await http.close(cfg.shutdownTimeoutMs);
      await redis.quit().catch(() => undefined);
    },
  };
}
