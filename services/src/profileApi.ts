// profile API: GET /profiles/:userId -> {userId, interests: [{nodeId, name, score}]}, highest first;
// DELETE /profiles/:userId erases the user's data (204, for a known and an unknown user alike);
// GET /stats (the pipeline's counters), GET /activity (events/s over the last minute, profiles),
// the pipeline's page: GET /dashboard and GET /dashboard/data (see dashboard.ts), and the stack's
// Prometheus API under /prometheus/ when it runs one.
import type { ServerResponse } from "node:http";
import type { Gauge } from "prom-client";
import type { Config } from "./config.js";
import { dashboardRoutes, startLagSampler, swarmRoleProbe } from "./dashboard.js";
import { proxyTo, sendJson } from "./http.js";
import { RoleMetrics } from "./metrics.js";
import { serveRole, type Running } from "./role.js";
import { AofRewriter, openStore } from "./store.js";
import { loadTaxonomy } from "./taxonomy.js";

export async function startProfileApi(cfg: Config): Promise<Running> {
  const taxonomy = loadTaxonomy(cfg.taxonomyFile);
  const store = await openStore(cfg);
  const metrics = new RoleMetrics("profile-api");
  const lookups = metrics.counter("profile_lookups_total", "Profile lookups, by whether the user had a profile", ["found"]);
  const erasures = metrics.counter("erasures_total", "Users erased (DELETE /profiles/...)");
  const health = async () => ({ redis: await store.ping() });
  const lagSampler = startLagSampler(cfg, store);
  // The pipeline's consumers and store as this task last saw them (each profile API task says the same).
  const lag = (field: "pending" | "unacked") => async (gauge: Gauge<"stream" | "consumer">) => {
    gauge.reset();
    for (const [name, consumer] of Object.entries(lagSampler.latest())) {
      const [stream, durable] = name.split("/");
      gauge.set({ stream, consumer: durable }, consumer[field]);
    }
  };
  metrics.labelledGauge("consumer_pending_messages", "Messages of a stream its consumer has not been given yet (its backlog)", ["stream", "consumer"], lag("pending"));
  metrics.labelledGauge("consumer_unacknowledged_messages", "Messages a consumer was given and has not acknowledged yet", ["stream", "consumer"], lag("unacked"));
  // Both gauges of one scrape share one INFO read.
  let memoryRead: { at: number; value: Promise<{ used: number; max: number }> } | undefined;
  const memory = () => {
    if (!memoryRead || Date.now() - memoryRead.at > 1_000) memoryRead = { at: Date.now(), value: store.memory().catch(() => ({ used: NaN, max: NaN })) };
    return memoryRead.value;
  };
  metrics.gauge("redis_used_memory_bytes", "Memory the profile store's primary uses", async () => (await memory()).used);
  metrics.gauge("redis_max_memory_bytes", "The profile store's memory limit (maxmemory; 0: none)", async () => (await memory()).max);
  // An erased profile leaves the append-only file at the next rewrite (see AofRewriter).
  const rewriter = new AofRewriter(store);
  const profilePath = /^\/profiles\/([^/]+)\/?$/;
  /** False (answered 400) for a user ID no event can carry. */
  const validUserId = (res: ServerResponse, userId: string): boolean => {
    if (userId && userId.length <= 128) return true;
    sendJson(res, 400, { error: "bad request", reasons: ["userId: 1 to 128 characters"] });
    return false;
  };
  const prometheus = proxyTo(cfg.prometheusUrl, "this stack runs no Prometheus: set `monitoring: true` in its config");
  const { http, port } = await serveRole(cfg, "profile-api", metrics, health, [
    {
      name: "profiles",
      method: "GET",
      path: profilePath,
      handler: async (_q, res, [userId]) => {
        if (!validUserId(res, userId)) return;
        const p = await store.profile(userId);
        lookups.inc({ found: String(p !== null) });
        if (!p) return sendJson(res, 404, { error: "unknown user" });
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
      name: "profiles",
      method: "DELETE",
      path: profilePath,
      handler: async (_q, res, [userId]) => {
        if (!validUserId(res, userId)) return;
        erasures.inc();
        await store.erase(userId);
        rewriter.request();
        res.writeHead(204);
        res.end();
      },
    },
    { name: "stats", method: "GET", path: /^\/stats$/, handler: async (_q, res) => sendJson(res, 200, await store.stats()) },
    // The events applied per second over the last minute and the number of profiles, for `npm run status`.
    { name: "activity", method: "GET", path: /^\/activity$/, handler: async (_q, res) => sendJson(res, 200, await store.activity()) },
    ...dashboardRoutes(store, taxonomy, swarmRoleProbe(cfg.port)),
    // The stack's Prometheus HTTP API, behind the same admin token as the rest.
    ...["GET", "POST"].map((method) => ({ name: "prometheus", method, path: /^\/prometheus(\/.*)?$/, handler: prometheus })),
  ]);
  return {
    port,
    async stop() {
      await http.close(cfg.shutdownTimeoutMs, cfg.stopDrainMs);
      await lagSampler.stop();
      rewriter.stop();
      await store.connection.close().catch(() => undefined);
    },
  };
}
