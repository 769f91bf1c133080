// What every role shares: connecting to a dependency that may start after it,
// and the HTTP server with GET /healthz and GET /metrics beside the role's own
// routes.
import { access, type AccessPolicy } from "./auth.js";
import type { Config } from "./config.js";
import { HttpService, sendJson, type Route } from "./http.js";
import { log } from "./log.js";
import type { RoleMetrics } from "./metrics.js";

export interface Running {
  port: number;
  stop(): Promise<void>;
}

/** Call `connect` until it succeeds, once a second for up to a minute. */
export async function connectWithRetry<T>(what: string, url: string, connect: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const c = await connect();
      log("info", `connected to ${what}`, { url });
      return c;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      log("warn", `${what} not reachable yet, retrying`, { url, error: String(e) });
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Named connection checks for /healthz: 200 when all pass, else 503. */
export type Health = () => Record<string, boolean> | Promise<Record<string, boolean>>;

/**
 * Listen on cfg.host:cfg.port with the role's routes plus /healthz and /metrics, behind the
 * checks of auth.ts: tokens for requests through the gateway, CORS for the collector's intake.
 */
export async function serveRole(
  cfg: Config,
  role: string,
  metrics: RoleMetrics,
  health: Health,
  routes: Route[] = [],
): Promise<{ http: HttpService; port: number }> {
  const policy: AccessPolicy = { tokens: cfg.authTokens, allowedOrigins: cfg.allowedOrigins };
  const http = new HttpService(
    [
      ...routes,
      {
        name: "healthz",
        method: "GET",
        path: /^\/healthz$/,
        handler: async (_q, res) => {
          if (http.stopping) return sendJson(res, 503, { status: "stopping" });
          const checks = await health();
          const ok = Object.values(checks).every(Boolean);
          sendJson(res, ok ? 200 : 503, { status: ok ? "ok" : "unavailable", ...checks });
        },
      },
      {
        name: "metrics",
        method: "GET",
        path: /^\/metrics$/,
        handler: async (_q, res) => {
          const text = await metrics.text();
          res.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(text) });
          res.end(text);
        },
      },
    ],
    (e) => log("error", "request failed", { error: String(e) }),
    (req, path) => {
      const checked = access(policy, role, req.method ?? "GET", path, req.headers);
      if (!checked.pass && checked.status === 401) metrics.refuse("unauthorized");
      if (!checked.pass && checked.status === 403) metrics.refuse("forbidden");
      return checked;
    },
    (route, method, status, seconds) => metrics.observeRequest(route, method, status, seconds),
  );
  const port = await http.listen(cfg.port, cfg.host);
  log("info", `${role} listening`, {
    port,
    auth: policy.tokens ? "on" : "off (AUTH_TOKENS_FILE unset)",
    ingestTokens: policy.tokens?.ingest.length ?? 0,
    adminTokens: policy.tokens?.admin.length ?? 0,
    allowedOrigins: policy.allowedOrigins,
  });
  return { http, port };
}
