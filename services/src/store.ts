// The profile store on Redis. One Lua script applies a categorised visit
// atomically, so a redelivered event never counts twice: the event-id check
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
// epoch, events, updated), stats:pipeline (hash of counters).
import { createHash } from "node:crypto";
import { createClient, createSentinel, ErrorReply } from "redis";
import type { Config } from "./config.js";
import { log } from "./log.js";
import { connectWithRetry } from "./role.js";
import { currentScores, type Credit, type ScoringSettings } from "./scoring.js";

/** Stored values are rebased (scaled down, epoch moved to the visit) when they would grow past 2^REBASE_EXP. */
const REBASE_EXP = 64;

const APPLY_LUA = `
local seen, zkey, mkey, skey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ts = tonumber(ARGV[1])
local halfLife = tonumber(ARGV[2])
local topN = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local outcome = ARGV[5]
if not redis.call('SET', seen, '1', 'NX', 'EX', ttl) then
  redis.call('HINCRBY', skey, 'duplicates', 1)
  return 0
end
redis.call('HINCRBY', skey, outcome, 1)
if #ARGV <= 5 then return 1 end
local epoch = tonumber(redis.call('HGET', mkey, 'epoch'))
if not epoch then
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
local mult = 2 ^ e
for i = 6, #ARGV, 2 do
  redis.call('ZINCRBY', zkey, tonumber(ARGV[i + 1]) * mult, ARGV[i])
end
local n = redis.call('ZCARD', zkey)
if n > topN then
  redis.call('ZREMRANGEBYRANK', zkey, 0, n - topN - 1)
end
redis.call('HINCRBY', mkey, 'events', 1)
redis.call('HSET', mkey, 'updated', ts)
return 1
`;

const APPLY_SHA = createHash("sha1").update(APPLY_LUA).digest("hex");

export type Outcome = "written" | "unmatched" | "sensitive";

export type RedisClient = ReturnType<typeof createClient>;
type Send = (args: string[]) => Promise<unknown>;

/** A connection to the profile store: one Redis server, or the primary that Sentinel names. */
export interface StoreConnection {
  send: Send;
  /** Runs `fn` alone on one connection to the primary: WAIT then counts exactly its writes. */
  exclusive<T>(fn: (send: Send) => Promise<T>): Promise<T>;
  isReady(): boolean;
  close(): Promise<void>;
}

const reconnectStrategy = (retries: number) => Math.min(retries * 200, 2000);

/** One Redis server, one connection. */
export function plainConnection(client: RedisClient): StoreConnection {
  const send: Send = (args) => client.sendCommand(args);
  return { send, exclusive: (fn) => fn(send), isReady: () => client.isReady, close: () => client.close() };
}

/** The primary of a replicated set, as Sentinel names it; a failover moves every connection to the new one. */
async function sentinelConnection(cfg: Config): Promise<StoreConnection> {
  const sentinels = cfg.redisSentinels.map((s) => {
    const [host, port] = s.split(":");
    return { host, port: Number(port || 26379) };
  });
  const sentinel = createSentinel({
    name: cfg.redisMasterName,
    sentinelRootNodes: sentinels,
    // Leases for the writers' exclusive write-then-WAIT, beside the shared connection.
    masterPoolSize: 16,
    nodeClientOptions: { socket: { reconnectStrategy } },
    sentinelClientOptions: { socket: { reconnectStrategy } },
    scanInterval: 2000,
  });
  sentinel.on("error", (e: unknown) => log("warn", "redis sentinel error", { error: String(e) }));
  await connectWithRetry("Redis via Sentinel", cfg.redisSentinels.join(","), () => sentinel.connect());
  return {
    send: (args) => sentinel.sendCommand(false, args),
    exclusive: (fn) => sentinel.use((client) => fn((args) => client.sendCommand(false, args))),
    isReady: () => sentinel.isReady,
    close: () => sentinel.close(),
  };
}

/** Connect (retrying while Redis starts) and load the script. */
export async function openStore(cfg: Config): Promise<ProfileStore> {
  let connection: StoreConnection;
  if (cfg.redisSentinels.length > 0) {
    connection = await sentinelConnection(cfg);
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
};

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
    const args = [
      String(ts),
      String(this.scoring.halfLifeMs),
      String(this.scoring.topN),
      String(this.seenTtlSeconds),
      outcome,
    ];
    for (const c of credits) args.push(c.nodeId, String(c.credit));
    const cmdKeys = [keys.seen(eventId), keys.scores(userId), keys.meta(userId), keys.stats];
    const write = async (send: Send): Promise<boolean> => {
      let r: unknown;
      try {
        r = await send(["EVALSHA", APPLY_SHA, String(cmdKeys.length), ...cmdKeys, ...args]);
      } catch (e) {
        if (!(e instanceof ErrorReply && e.message.startsWith("NOSCRIPT"))) throw e;
        r = await send(["EVAL", APPLY_LUA, String(cmdKeys.length), ...cmdKeys, ...args]);
      }
      if (this.minReplicasAck > 0) {
        const acked = Number(await send(["WAIT", String(this.minReplicasAck), String(this.replicaAckTimeoutMs)]));
        if (acked < this.minReplicasAck) {
          throw new NotReplicated(`profile update of event ${eventId} reached ${acked} of ${this.minReplicasAck} replica(s) within ${this.replicaAckTimeoutMs} ms`);
        }
      }
      return Number(r) === 1;
    };
    return this.minReplicasAck > 0 ? this.connection.exclusive(write) : write(this.connection.send);
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

  async stats(): Promise<Record<string, number>> {
    const h = pairs(await this.connection.send(["HGETALL", keys.stats]));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }
}
