// The profile store on Redis. One Lua script applies a batch of categorised visits,
// each atomically, so a redelivered event never counts twice: the event-id check
// (SET NX with a TTL; a repeat only counts in `duplicates`), the outcome
// counter, and for a visit with credits: each credit times
// 2^((ts - epoch) / halfLife) added to the user's sorted set (the epoch is the
// time of the user's first credited visit, moved forward by a rebase), top-N
// trimming (lowest values go) and the user's event count. A visit without
// credits (unmatched, or sensitive with no creditable ancestor) creates no
// profile.
//
// Keys: seen:<eventId> (string with TTL), profile:<userId>:scores (sorted set
// nodeId -> value relative to the user's epoch), profile:<userId>:meta (hash:
// epoch, events, updated), stats:pipeline (hash of counters), stats:per-second (visits applied per
// second), stats:profiles (the number of profiles), stats:interests (visits per most specific
// interest credited), stats:lag (the consumers' lag, sampled by the profile API).
import { createHash } from "node:crypto";
import { createClient, ErrorReply } from "redis";
import type { Config } from "./config.js";
import { log } from "./log.js";
import { connectWithRetry } from "./role.js";
import { currentScores, type Credit, type ScoringSettings } from "./scoring.js";

/** Stored values are rebased (scaled down, epoch moved to the visit) when they would grow past 2^REBASE_EXP. */
const REBASE_EXP = 64;

/** Seconds of per-second counts (`stats:per-second`) and lag samples (`stats:lag`) the store keeps: the dashboard's charts. */
export const RATE_SECONDS = 600;

// KEYS: stats:pipeline, stats:per-second, stats:profiles, stats:interests, then seen, scores and
// meta of each visit. ARGV: halfLife, topN, ttl, the current second, then for each visit: ts,
// outcome, the number of credits, and that many nodeId, credit pairs (the most specific first).
// Returns 1 (applied) or 0 (seen before) per visit, in order. The visits applied are also counted
// per second (RATE_SECONDS kept), the profiles as they are created, and each visit's most specific
// interest.
const APPLY_LUA = `
local skey = KEYS[1]
local rkey = KEYS[2]
local pkey = KEYS[3]
local ikey = KEYS[4]
local halfLife = tonumber(ARGV[1])
local topN = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local function apply(seen, zkey, mkey, ts, outcome, first, credits)
  if not redis.call('SET', seen, '1', 'NX', 'EX', ttl) then
    redis.call('HINCRBY', skey, 'duplicates', 1)
    return 0
  end
  redis.call('HINCRBY', skey, outcome, 1)
  if credits == 0 then return 1 end
  local epoch = tonumber(redis.call('HGET', mkey, 'epoch'))
  if not epoch then
    redis.call('INCR', pkey)
    epoch = ts
    redis.call('HSET', mkey, 'epoch', epoch)
  end
  local e = (ts - epoch) / halfLife
  if e > ${REBASE_EXP} then
    local f = 2 ^ (-e)
    local all = redis.call('ZRANGE', zkey, 0, -1, 'WITHSCORES')
    for i = 1, #all, 2 do
      redis.call('ZADD', zkey, tonumber(all[i + 1]) * f, all[i])
    end
    epoch = ts
    redis.call('HSET', mkey, 'epoch', epoch)
    e = 0
  end
  redis.call('HINCRBY', ikey, ARGV[first], 1)
  local mult = 2 ^ e
  for i = first, first + 2 * credits - 1, 2 do
    redis.call('ZINCRBY', zkey, tonumber(ARGV[i + 1]) * mult, ARGV[i])
  end
  local n = redis.call('ZCARD', zkey)
  if n > topN then
    redis.call('ZREMRANGEBYRANK', zkey, 0, n - topN - 1)
  end
  redis.call('HINCRBY', mkey, 'events', 1)
  redis.call('HSET', mkey, 'updated', ts)
  return 1
end
local results = {}
local applied = 0
local a = 5
for v = 1, (#KEYS - 4) / 3 do
  local k = 3 * v + 2
  local credits = tonumber(ARGV[a + 2])
  results[v] = apply(KEYS[k], KEYS[k + 1], KEYS[k + 2], tonumber(ARGV[a]), ARGV[a + 1], a + 3, credits)
  applied = applied + results[v]
  a = a + 3 + 2 * credits
end
if applied > 0 then
  redis.call('HINCRBY', rkey, now, applied)
  if redis.call('HLEN', rkey) > ${RATE_SECONDS * 2} then
    for _, second in ipairs(redis.call('HKEYS', rkey)) do
      if tonumber(second) <= now - ${RATE_SECONDS} then redis.call('HDEL', rkey, second) end
    end
  end
end
return results
`;

const APPLY_SHA = createHash("sha1").update(APPLY_LUA).digest("hex");

export type Outcome = "written" | "unmatched" | "sensitive";

/** One categorised visit, as the profile writer applies it. */
export interface Visit {
  eventId: string;
  userId: string;
  ts: number;
  outcome: Outcome;
  credits: Credit[];
}

export type RedisClient = ReturnType<typeof createClient>;
type Send = (args: string[]) => Promise<unknown>;

/** A connection to the profile store: one Redis server, or the primary that Sentinel names. */
export interface StoreConnection {
  send: Send;
  /** Sends the commands back to back on one connection (WAIT then counts the writes before it). */
  sendTogether(commands: string[][]): Promise<unknown[]>;
  isReady(): boolean;
  close(): Promise<void>;
}

const reconnectStrategy = (retries: number) => Math.min(retries * 200, 2000);

/** One Redis server, one connection. */
export function plainConnection(client: RedisClient): StoreConnection {
  return {
    send: (args) => client.sendCommand(args),
    sendTogether: (commands) => Promise.all(commands.map((c) => client.sendCommand(c))),
    isReady: () => client.isReady,
    close: () => client.close(),
  };
}

/**
 * The primary of a replicated set, asked of the Sentinels (`host:port` each) by name. A
 * connection that fails, or a server that turns out not to be the primary (after a failover),
 * is dropped and the primary asked for again on the next command. Commands are never queued
 * across connections: a WAIT always follows its write on the same connection.
 */
export function sentinelConnection(sentinels: string[], name: string, answerMs = 5000): StoreConnection {
  let current: Promise<RedisClient> | undefined;
  let connected: RedisClient | undefined;
  let closed = false;

  async function askSentinels(): Promise<{ host: string; port: number }> {
    const reasons: string[] = [];
    for (const address of sentinels) {
      const [host, port] = address.split(":");
      const client = createClient({ socket: { host, port: Number(port || 26379), connectTimeout: 1000, reconnectStrategy: false } });
      client.on("error", () => undefined);
      try {
        await client.connect();
        const reply = (await client.sendCommand(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name])) as string[] | null;
        if (reply?.[0]) return { host: reply[0], port: Number(reply[1]) };
        reasons.push(`${address}: knows no primary named ${name}`);
      } catch (e) {
        reasons.push(`${address}: ${String(e)}`);
      } finally {
        if (client.isOpen) client.destroy();
      }
    }
    throw new Error(`no Sentinel named the primary: ${reasons.join("; ")}`);
  }

  async function connectPrimary(): Promise<RedisClient> {
    const address = await askSentinels();
    const client = createClient({ socket: { ...address, connectTimeout: 2000, reconnectStrategy: false }, disableOfflineQueue: true });
    client.on("error", (e: unknown) => log("warn", "redis primary connection error", { primary: `${address.host}:${address.port}`, error: String(e) }));
    client.on("end", () => drop(client));
    await client.connect();
    const role = (await client.sendCommand(["ROLE"])) as unknown[];
    if (role[0] !== "master") {
      client.destroy();
      throw new Error(`${address.host}:${address.port} is not the primary (yet): ${String(role[0])}`);
    }
    log("info", "connected to the Redis primary", { primary: `${address.host}:${address.port}` });
    connected = client;
    return client;
  }

  const primary = (): Promise<RedisClient> => {
    if (closed) return Promise.reject(new Error("store connection closed"));
    current ??= connectPrimary().catch((e: unknown) => {
      current = undefined;
      throw e;
    });
    return current;
  };
  function drop(client: RedisClient): void {
    if (connected === client) {
      connected = undefined;
      current = undefined;
    }
    if (client.isOpen) client.destroy();
  }
  /**
   * Runs `fn` on the primary. A connection error, a read-only reply or no answer within
   * `answerMs` (a primary whose machine died sends nothing, not even a reset) drops the connection.
   */
  async function onPrimary<T>(fn: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = await primary();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(client),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the Redis primary did not answer within ${answerMs} ms`)), answerMs);
        }),
      ]);
    } catch (e) {
      const readOnly = e instanceof ErrorReply && e.message.startsWith("READONLY");
      if (!client.isReady || readOnly || !(e instanceof ErrorReply)) drop(client);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
  return {
    send: (args) => onPrimary((c) => c.sendCommand(args)),
    sendTogether: (commands) => onPrimary((c) => Promise.all(commands.map((command) => c.sendCommand(command)))),
    isReady: () => {
      // Asked by the health check: with no primary, look for one now rather than at the next write.
      if (!connected) void primary().catch(() => undefined);
      return connected?.isReady ?? false;
    },
    close: async () => {
      closed = true;
      if (connected?.isOpen) await connected.close();
    },
  };
}

/** Connect (retrying while Redis starts) and load the script. */
export async function openStore(cfg: Config): Promise<ProfileStore> {
  let connection: StoreConnection;
  if (cfg.redisSentinels.length > 0) {
    connection = sentinelConnection(cfg.redisSentinels, cfg.redisMasterName);
    await connectWithRetry("the Redis primary via Sentinel", cfg.redisSentinels.join(","), () => connection.send(["PING"]));
  } else {
    const client = createClient({ url: cfg.redisUrl, socket: { reconnectStrategy } });
    client.on("error", (e: unknown) => log("warn", "redis client error", { error: String(e) }));
    await connectWithRetry("Redis", cfg.redisUrl, () => client.connect());
    connection = plainConnection(client);
  }
  const store = new ProfileStore(connection, cfg.scoring, cfg.seenTtlSeconds, cfg.redisMinReplicasAck);
  await store.init();
  return store;
}

const keys = {
  seen: (eventId: string) => `seen:${eventId}`,
  scores: (userId: string) => `profile:${userId}:scores`,
  meta: (userId: string) => `profile:${userId}:meta`,
  stats: "stats:pipeline",
  perSecond: "stats:per-second",
  profiles: "stats:profiles",
  interests: "stats:interests",
  lag: "stats:lag",
};

/** What a consumer has yet to do: messages not delivered yet, and delivered but not acknowledged. */
export interface ConsumerLag {
  pending: number;
  unacked: number;
}

/** Consumer lags of one moment, by "stream/consumer". */
export type LagSample = Record<string, ConsumerLag>;

/** HGETALL's flat reply as a record. */
function pairs(reply: unknown): Record<string, string> {
  const flat = (reply ?? []) as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

/** A profile update that did not reach enough replicas in time: not acknowledged, so redelivered. */
export class NotReplicated extends Error {}

export class ProfileStore {
  /**
   * `minReplicasAck` > 0: an update counts as done only once that many replicas have it (WAIT),
   * so a failover to a replica loses no acknowledged update.
   */
  constructor(
    readonly connection: StoreConnection,
    readonly scoring: ScoringSettings,
    readonly seenTtlSeconds: number,
    readonly minReplicasAck = 0,
    readonly replicaAckTimeoutMs = 2000,
  ) {}

  async init(): Promise<void> {
    await this.connection.send(["SCRIPT", "LOAD", APPLY_LUA]);
  }

  async ping(): Promise<boolean> {
    return this.connection.send(["PING"]).then((r) => r === "PONG", () => false);
  }

  /** Apply one visit. Returns false when the event id was seen before (nothing changes then). */
  async apply(eventId: string, userId: string, ts: number, outcome: Outcome, credits: Credit[]): Promise<boolean> {
    return (await this.applyAll([{ eventId, userId, ts, outcome, credits }]))[0];
  }

  /**
   * Apply visits in one script run (one round trip, and one WAIT when replicas must have them).
   * Returns, per visit, false when its event id was seen before.
   */
  async applyAll(visits: Visit[], now = Date.now()): Promise<boolean[]> {
    const cmdKeys = [keys.stats, keys.perSecond, keys.profiles, keys.interests];
    const args = [String(this.scoring.halfLifeMs), String(this.scoring.topN), String(this.seenTtlSeconds), String(Math.floor(now / 1000))];
    for (const v of visits) {
      cmdKeys.push(keys.seen(v.eventId), keys.scores(v.userId), keys.meta(v.userId));
      args.push(String(v.ts), v.outcome, String(v.credits.length));
      for (const c of v.credits) args.push(c.nodeId, String(c.credit));
    }
    const wait = ["WAIT", String(this.minReplicasAck), String(this.replicaAckTimeoutMs)];
    const applied = (reply: unknown) => (reply as number[]).map((r) => Number(r) === 1);
    // The script, and when replicas must have it, WAIT right behind it on the same connection.
    const write = async (script: string[]): Promise<boolean[]> => {
      if (this.minReplicasAck === 0) return applied(await this.connection.send(script));
      const [r, acked] = await this.connection.sendTogether([script, wait]);
      if (Number(acked) < this.minReplicasAck) {
        throw new NotReplicated(`profile updates of ${visits.length} event(s) reached ${String(acked)} of ${this.minReplicasAck} replica(s) within ${this.replicaAckTimeoutMs} ms`);
      }
      return applied(r);
    };
    try {
      return await write(["EVALSHA", APPLY_SHA, String(cmdKeys.length), ...cmdKeys, ...args]);
    } catch (e) {
      // A server that has not loaded the script (a new primary after a failover).
      if (!(e instanceof ErrorReply && e.message.startsWith("NOSCRIPT"))) throw e;
      return write(["EVAL", APPLY_LUA, String(cmdKeys.length), ...cmdKeys, ...args]);
    }
  }

  /** Current interests of a user, highest first; null for an unknown user. */
  async profile(userId: string, now = Date.now()): Promise<{ events: number; interests: Credit[] } | null> {
    const [meta, stored] = await Promise.all([
      this.connection.send(["HGETALL", keys.meta(userId)]).then(pairs),
      this.connection.send(["ZRANGE", keys.scores(userId), "0", "-1", "WITHSCORES"]) as Promise<string[]>,
    ]);
    if (meta.epoch === undefined) return null;
    const scored: Array<[string, number]> = [];
    for (let i = 0; i + 1 < stored.length; i += 2) scored.push([stored[i], Number(stored[i + 1])]);
    return { events: Number(meta.events ?? 0), interests: currentScores(Number(meta.epoch), scored, now, this.scoring) };
  }

  /** Visits applied per second over the last `seconds` (whole seconds before now), and the number of profiles. */
  async activity(seconds = 60, now = Date.now()): Promise<{ eventsPerSecond: number; profiles: number }> {
    const [perSecond, profiles] = await Promise.all([this.connection.send(["HGETALL", keys.perSecond]).then(pairs), this.connection.send(["GET", keys.profiles])]);
    const current = Math.floor(now / 1000);
    let applied = 0;
    for (const [second, count] of Object.entries(perSecond)) {
      const at = Number(second);
      if (at < current && at >= current - seconds) applied += Number(count);
    }
    return { eventsPerSecond: applied / seconds, profiles: Number(profiles ?? 0) };
  }

  /** Visits applied in each of the last `seconds` whole seconds, oldest first. */
  async throughput(seconds = RATE_SECONDS, now = Date.now()): Promise<Array<{ t: number; applied: number }>> {
    const perSecond = pairs(await this.connection.send(["HGETALL", keys.perSecond]));
    const current = Math.floor(now / 1000);
    return Array.from({ length: seconds }, (_, i) => {
      const t = current - seconds + i;
      return { t, applied: Number(perSecond[t] ?? 0) };
    });
  }

  /** The `n` interests most visited (each visit counts its most specific interest), most first. */
  async topInterests(n = 10): Promise<Array<{ nodeId: string; visits: number }>> {
    const counts = pairs(await this.connection.send(["HGETALL", keys.interests]));
    return Object.entries(counts)
      .map(([nodeId, visits]) => ({ nodeId, visits: Number(visits) }))
      .sort((a, b) => b.visits - a.visits || a.nodeId.localeCompare(b.nodeId))
      .slice(0, n);
  }

  /** Keeps a lag sample under its second; samples older than RATE_SECONDS go. */
  async recordLag(sample: LagSample, now = Date.now()): Promise<void> {
    const second = Math.floor(now / 1000);
    await this.connection.send(["ZADD", keys.lag, String(second), JSON.stringify({ t: second, lag: sample })]);
    await this.connection.send(["ZREMRANGEBYSCORE", keys.lag, "-inf", `(${second - RATE_SECONDS}`]);
  }

  /** The lag samples of the last `seconds`, oldest first. */
  async lagHistory(seconds = RATE_SECONDS, now = Date.now()): Promise<Array<{ t: number; lag: LagSample }>> {
    const from = Math.floor(now / 1000) - seconds;
    const members = (await this.connection.send(["ZRANGE", keys.lag, String(from), "+inf", "BYSCORE"])) as string[];
    return members.map((m) => JSON.parse(m) as { t: number; lag: LagSample });
  }

  async stats(): Promise<Record<string, number>> {
    const h = pairs(await this.connection.send(["HGETALL", keys.stats]));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }
}
