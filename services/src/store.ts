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
import { createClient, ErrorReply } from "redis";
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

/** Connect (retrying while Redis starts) and load the script. */
export async function openStore(cfg: Config): Promise<ProfileStore> {
  const client = createClient({
    url: cfg.redisUrl,
    socket: { reconnectStrategy: (retries: number) => Math.min(retries * 200, 2000) },
  });
  client.on("error", (e: unknown) => log("warn", "redis client error", { error: String(e) }));
  await connectWithRetry("Redis", cfg.redisUrl, () => client.connect());
  const store = new ProfileStore(client, cfg.scoring, cfg.seenTtlSeconds);
  await store.init();
  return store;
}

const keys = {
  seen: (eventId: string) => `seen:${eventId}`,
  scores: (userId: string) => `profile:${userId}:scores`,
  meta: (userId: string) => `profile:${userId}:meta`,
  stats: "stats:pipeline",
};

export class ProfileStore {
  constructor(readonly client: RedisClient, readonly scoring: ScoringSettings, readonly seenTtlSeconds: number) {}

  async init(): Promise<void> {
    await this.client.sendCommand(["SCRIPT", "LOAD", APPLY_LUA]);
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
    let r: unknown;
    try {
      r = await this.client.sendCommand(["EVALSHA", APPLY_SHA, String(cmdKeys.length), ...cmdKeys, ...args]);
    } catch (e) {
      if (!(e instanceof ErrorReply && e.message.startsWith("NOSCRIPT"))) throw e;
      r = await this.client.sendCommand(["EVAL", APPLY_LUA, String(cmdKeys.length), ...cmdKeys, ...args]);
    }
    return Number(r) === 1;
  }

  /** Current interests of a user, highest first; null for an unknown user. */
  async profile(userId: string, now = Date.now()): Promise<{ events: number; interests: Credit[] } | null> {
    const [meta, stored] = await Promise.all([
      this.client.hGetAll(keys.meta(userId)),
      this.client.sendCommand(["ZRANGE", keys.scores(userId), "0", "-1", "WITHSCORES"]) as Promise<string[]>,
    ]);
    if (!meta || meta.epoch === undefined) return null;
    const pairs: Array<[string, number]> = [];
    for (let i = 0; i + 1 < stored.length; i += 2) pairs.push([stored[i], Number(stored[i + 1])]);
    return { events: Number(meta.events ?? 0), interests: currentScores(Number(meta.epoch), pairs, now, this.scoring) };
  }

  async stats(): Promise<Record<string, number>> {
    const h = await this.client.hGetAll(keys.stats);
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(h ?? {})) out[k] = Number(v);
    return out;
  }
}
