// The pipeline's page, served by the profile API: GET /dashboard (a static page) and
// GET /dashboard/data (throughput and consumer lag over the last minutes, the replicas of each role
// that answer, the most visited interests). Lag is sampled every 2 s by each profile API task into
// the store, so every task shows the same history.
import { promises as dns } from "node:dns";
import { readFileSync } from "node:fs";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Config } from "./config.js";
import { sendJson, type Route } from "./http.js";
import { log } from "./log.js";
import type { LagSample, ProfileStore } from "./store.js";
import { natsConnectOptions } from "./stream.js";
import type { Taxonomy } from "./taxonomy.js";

/** The roles the page counts, by their swarm service names. */
export const pipelineRoles = ["collector", "categoriser", "profile-writer", "profile-api"];

export interface RoleProbe {
  /** Addresses of a service's tasks (swarm DNS: `tasks.<service>`). */
  resolve(service: string): Promise<string[]>;
  /** Whether the task at the address answers its health check. */
  healthy(address: string): Promise<boolean>;
}

/** The swarm's DNS and each task's own /healthz: the roles say themselves that they are alive. */
export const swarmRoleProbe = (port: number, timeoutMs = 1000): RoleProbe => ({
  resolve: (service) => dns.resolve4(`tasks.${service}`).catch(() => []),
  healthy: (address) =>
    fetch(`http://${address}:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) }).then((r) => r.ok, () => false),
});

/** How many tasks of each role answer their health check. */
export async function aliveRoles(roles: string[], probe: RoleProbe): Promise<Record<string, number>> {
  const counts = await Promise.all(roles.map(async (role) => {
    const answers = await Promise.all((await probe.resolve(role)).map((address) => probe.healthy(address)));
    return [role, answers.filter(Boolean).length] as const;
  }));
  return Object.fromEntries(counts);
}

/** The pipeline's consumers, as "stream/consumer". */
export const consumersOf = (cfg: Config) => [
  { stream: cfg.eventsStream, consumer: "categoriser" },
  { stream: cfg.resultsStream, consumer: "profile-writer" },
];

/** The lag of each consumer now; a consumer that cannot be read is left out. */
export async function sampleLag(jsm: JetStreamManager, consumers: Array<{ stream: string; consumer: string }>): Promise<LagSample> {
  const sample: LagSample = {};
  for (const { stream, consumer } of consumers) {
    const info = await jsm.consumers.info(stream, consumer).catch(() => undefined);
    if (info) sample[`${stream}/${consumer}`] = { pending: info.num_pending, unacked: info.num_ack_pending };
  }
  return sample;
}

/**
 * Samples the consumers' lag into the store every `everyMs` (the last sample: `latest`), and removes the profiles past their
 * retention (every profile API task sweeps: the store's sweep is atomic and idempotent). It
 * connects to NATS in the background: the profile API answers lookups, and sweeps, whether or not
 * NATS is there.
 */
export function startLagSampler(cfg: Config, store: ProfileStore, everyMs = 2000): { latest(): LagSample; stop(): Promise<void> } {
  let latest: LagSample = {};
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  let stopped = false;
  const connecting = connect({ ...natsConnectOptions(cfg.natsUrl, "profile-api", cfg), waitOnFirstConnect: true })
    .then(async (c) => {
      nc = c;
      jsm = await jetstreamManager(c);
    })
    .catch((e: unknown) => log("warn", "lag sampler: no NATS", { error: String(e) }));
  let sweeping: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (stopped) return;
    sweeping ??= store
      .sweep()
      .catch((e: unknown) => log("warn", "retention sweep failed", { error: String(e) }))
      .finally(() => (sweeping = undefined));
    if (!jsm) return;
    sampleLag(jsm, consumersOf(cfg))
      .then((sample) => {
        latest = sample;
        return Object.keys(sample).length > 0 ? store.recordLag(sample) : undefined;
      })
      .catch((e: unknown) => log("warn", "lag sample failed", { error: String(e) }));
  }, everyMs);
  timer.unref();
  return {
    latest: () => latest,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await sweeping;
      await connecting;
      await nc?.close().catch(() => undefined);
    },
  };
}

const page = (): string => readFileSync(new URL("../dashboard/index.html", import.meta.url), "utf8");

/** The routes of the page and its data. */
export function dashboardRoutes(store: ProfileStore, taxonomy: Taxonomy, probe: RoleProbe, roles = pipelineRoles): Route[] {
  const html = page();
  return [
    {
      name: "dashboard",
      method: "GET",
      path: /^\/dashboard\/?$/,
      handler: (_q, res) => {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" });
        res.end(html);
      },
    },
    {
      name: "dashboard-data",
      method: "GET",
      path: /^\/dashboard\/data$/,
      handler: async (_q, res) => {
        const [throughput, lag, interests, activity, alive] = await Promise.all([
          store.throughput(),
          store.lagHistory(),
          store.topInterests(10),
          store.activity(),
          aliveRoles(roles, probe),
        ]);
        sendJson(res, 200, {
          now: Date.now(),
          eventsPerSecond: activity.eventsPerSecond,
          profiles: activity.profiles,
          throughput,
          lag,
          roles: alive,
          topInterests: interests.map((i) => ({ ...i, name: taxonomy.get(i.nodeId)?.name ?? i.nodeId })),
        }, { "cache-control": "no-cache" });
      },
    },
  ];
}
