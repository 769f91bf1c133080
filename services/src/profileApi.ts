// profile API: GET /profiles/:userId -> {userId, interests: [{nodeId, name, score}]}, highest first;
// DELETE /profiles/:userId erases the user's data (204, for a known and an unknown user alike);
// GET /stats (the pipeline's counters), GET /activity (events/s over the last minute, profiles),
// and the pipeline's page: GET /dashboard and GET /dashboard/data (see dashboard.ts).
import type { ServerResponse } from "node:http";
import type { Config } from "./config.js";
import { dashboardRoutes, startLagSampler, swarmRoleProbe } from "./dashboard.js";
import { sendJson } from "./http.js";
import { Metrics } from "./metrics.js";
import { serveRole, type Running } from "./role.js";
import { AofRewriter, openStore } from "./store.js";
import { loadTaxonomy } from "./taxonomy.js";

export async function startProfileApi(cfg: Config): Promise<Running> {
  const taxonomy = loadTaxonomy(cfg.taxonomyFile);
  const store = await openStore(cfg);
  const metrics = new Metrics();
  const health = async () => ({ redis: await store.ping() });
  const lagSampler = startLagSampler(cfg, store);
  // An erased profile leaves the append-only file at the next rewrite (see AofRewriter).
  const rewriter = new AofRewriter(store);
  const profilePath = /^\/profiles\/([^/]+)\/?$/;
  /** False (answered 400) for a user ID no event can carry. */
  const validUserId = (res: ServerResponse, userId: string): boolean => {
    if (userId && userId.length <= 128) return true;
    sendJson(res, 400, { error: "bad request", reasons: ["userId: 1 to 128 characters"] });
    return false;
  };
  const { http, port } = await serveRole(cfg, "profile-api", metrics, health, [
    {
      method: "GET",
      path: profilePath,
      handler: async (_q, res, [userId]) => {
        metrics.inc("requests");
        if (!validUserId(res, userId)) return;
        const p = await store.profile(userId);
        if (!p) {
          metrics.inc("notFound");
          return sendJson(res, 404, { error: "unknown user" });
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
    {
      method: "DELETE",
      path: profilePath,
      handler: async (_q, res, [userId]) => {
        metrics.inc("erasures");
        if (!validUserId(res, userId)) return;
        await store.erase(userId);
        rewriter.request();
        res.writeHead(204);
        res.end();
      },
    },
    { method: "GET", path: /^\/stats$/, handler: async (_q, res) => sendJson(res, 200, await store.stats()) },
    // The events applied per second over the last minute and the number of profiles, for `npm run status`.
    { method: "GET", path: /^\/activity$/, handler: async (_q, res) => sendJson(res, 200, await store.activity()) },
    ...dashboardRoutes(store, taxonomy, swarmRoleProbe(cfg.port)),
  ]);
  return {
    port,
    async stop() {
      await http.close(cfg.shutdownTimeoutMs);
      await lagSampler.stop();
      rewriter.stop();
      await store.connection.close().catch(() => undefined);
    },
  };
}
