// The profile store on Redis. User IDs are never written to it: a user's keys carry the user's
// handle, a keyed hash of the ID (STORE_KEY_FILE's key), so that neither the store nor its files
// on disk name anyone.
//
// One Lua script applies a batch of categorised visits, each atomically, so a redelivered event
// never counts twice: the user's seen event ids (a repeat only counts in `duplicates`), the
// outcome counter, and for a visit with credits: each credit times 2^((ts - epoch) / halfLife)
// added to the user's sorted set (the epoch is the time of the user's first credited visit, moved
// forward by a rebase), top-N trimming (lowest values go), the user's event count, and the
// profile's place in the index by the time it was last applied. A visit without credits
// (unmatched, or sensitive with no creditable ancestor) creates no profile. A visit of a user who
// was erased, received before the erasure, is dropped (`erased`).
//
// Keys, <h> the user's handle:
// - user:<h>:scores: sorted set nodeId -> value relative to the user's epoch;
// - user:<h>:meta: hash of epoch, events, updated (the last visit's ts) and i:<nodeId> (the
//   user's visits counted in stats:interests, subtracted when the profile goes);
// - user:<h>:seen: sorted set eventId -> when it was applied (ms), for SEEN_TTL_SECONDS;
// - user:<h>:erased: when the user's data was erased (ms), for twice SEEN_TTL_SECONDS;
// - stats:profiles-by-update: sorted set handle -> when the profile was last applied (s): the
//   profiles, in the order retention removes them;
// - stats:pipeline (hash of counters), stats:per-second (visits applied per second),
//   stats:interests (visits per most specific interest credited), stats:lag (the consumers' lag,
//   sampled by the profile API);
// - backup:restores: hash of backup id -> how far its restore got (backup.ts).
// A profile's keys also expire one day after its retention, should no sweep remove them.
import { createHash, createHmac } from "node:crypto";
import { createClient, ErrorReply } from "redis";
import type { Config } from "./config.js";
import { log } from "./log.js";
import { connectWithRetry } from "./role.js";
import { currentScores, type Credit, type ScoringSettings } from "./scoring.js";

/** Stored values are rebased (scaled down, epoch moved to the visit) when they would grow past 2^REBASE_EXP. */
const REBASE_EXP = 64;

/** Seconds of per-second counts (`stats:per-second`) and lag samples (`stats:lag`) the store keeps: the dashboard's charts. */
export const RATE_SECONDS = 600;

/** How long after its retention a profile's keys expire, should no sweep have removed them. */
const BACKSTOP_SECONDS = 86_400;

/** A user's handle: HMAC-SHA256 of the user ID under the store's key, its first 32 hex digits. */
export const userHandle = (storeKey: string, userId: string): string => createHmac("sha256", storeKey).update(userId).digest("hex").slice(0, 32);

export const keys = {
  scores: (handle: string) => `user:${handle}:scores`,
  meta: (handle: string) => `user:${handle}:meta`,
  seen: (handle: string) => `user:${handle}:seen`,
  erased: (handle: string) => `user:${handle}:erased`,
  index: "stats:profiles-by-update",
  stats: "stats:pipeline",
  perSecond: "stats:per-second",
  interests: "stats:interests",
  lag: "stats:lag",
  restores: "backup:restores",
};

/** The keys of the previous version, which named users by their IDs: moved by `migrate`. */
const legacy = {
  profileKey: /^profile:(.*):(?:scores|meta)$/,
  scores: (userId: string) => `profile:${userId}:scores`,
  meta: (userId: string) => `profile:${userId}:meta`,
  profiles: "stats:profiles",
};

/** A Lua script, run by its SHA1 (EVALSHA) and sent whole to a server that lacks it. */
export class Script {
  readonly sha: string;
  constructor(readonly text: string) {
    this.sha = createHash("sha1").update(text).digest("hex");
  }
}

// Lua shared by the scripts. scale: each value of sorted set `from` times f, into `to` (ZADD
// replaces, ZINCRBY adds). trim: the lowest values go beyond topN. forget: a profile's keys and
// index entry, and its visits in stats:interests (a count that reaches 0 goes).
const SCORES_LUA = `
local function scale(from, to, f, cmd)
  local all = redis.call('ZRANGE', from, 0, -1, 'WITHSCORES')
  for i = 1, #all, 2 do
    redis.call(cmd, to, tonumber(all[i + 1]) * f, all[i])
  end
end
local function trim(zkey, topN)
  local n = redis.call('ZCARD', zkey)
  if n > topN then
    redis.call('ZREMRANGEBYRANK', zkey, 0, n - topN - 1)
  end
end
`;
export const FORGET_LUA = `
local function forget(index, interests, handle, zkey, mkey)
  local meta = redis.call('HGETALL', mkey)
  for i = 1, #meta, 2 do
    if string.sub(meta[i], 1, 2) == 'i:' then
      local node = string.sub(meta[i], 3)
      if redis.call('HINCRBY', interests, node, -tonumber(meta[i + 1])) <= 0 then
        redis.call('HDEL', interests, node)
      end
    end
  end
  redis.call('DEL', zkey, mkey)
  return redis.call('ZREM', index, handle)
end
`;

// KEYS: stats:pipeline, stats:per-second, stats:interests, stats:profiles-by-update, then seen,
// scores, meta and erased of each visit. ARGV: halfLife, topN, seenTtl (s), now (ms), keep (s:
// the retention and its backstop), then for each visit: eventId, handle, ts, receivedAt, outcome,
// the number of credits, and that many nodeId, credit pairs (the most specific first).
// Returns per visit, in order: 1 applied, 0 seen before, 2 dropped (its user was erased after the
// visit was received). The visits applied are also counted per second (RATE_SECONDS kept), and
// each visit's most specific interest, in all and in the user's meta.
// `#!lua` (no allow-oom): at Redis's maxmemory the script is refused before it runs, so a batch
// is applied whole or not at all.
const APPLY = new Script(`#!lua
local skey = KEYS[1]
local rkey = KEYS[2]
local ikey = KEYS[3]
local xkey = KEYS[4]
local halfLife = tonumber(ARGV[1])
local topN = tonumber(ARGV[2])
local seenTtl = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local keep = tonumber(ARGV[5])
${SCORES_LUA}
local function apply(seen, zkey, mkey, erased, eventId, handle, ts, receivedAt, outcome, first, credits)
  local erasedAt = tonumber(redis.call('GET', erased))
  if erasedAt and receivedAt <= erasedAt then
    redis.call('HINCRBY', skey, 'erased', 1)
    return 2
  end
  redis.call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. (now - seenTtl * 1000))
  if redis.call('ZADD', seen, 'NX', now, eventId) == 0 then
    redis.call('HINCRBY', skey, 'duplicates', 1)
    return 0
  end
  redis.call('EXPIRE', seen, seenTtl)
  redis.call('HINCRBY', skey, outcome, 1)
  if credits == 0 then return 1 end
  local epoch = tonumber(redis.call('HGET', mkey, 'epoch'))
  if not epoch then
    epoch = ts
    redis.call('HSET', mkey, 'epoch', epoch)
  end
  local e = (ts - epoch) / halfLife
  if e > ${REBASE_EXP} then
    scale(zkey, zkey, 2 ^ (-e), 'ZADD')
    epoch = ts
    redis.call('HSET', mkey, 'epoch', epoch)
    e = 0
  end
  redis.call('HINCRBY', ikey, ARGV[first], 1)
  redis.call('HINCRBY', mkey, 'i:' .. ARGV[first], 1)
  local mult = 2 ^ e
  for i = first, first + 2 * credits - 1, 2 do
    redis.call('ZINCRBY', zkey, tonumber(ARGV[i + 1]) * mult, ARGV[i])
  end
  trim(zkey, topN)
  redis.call('HINCRBY', mkey, 'events', 1)
  redis.call('HSET', mkey, 'updated', ts)
  redis.call('ZADD', xkey, 'GT', math.floor(now / 1000), handle)
  redis.call('EXPIRE', zkey, keep)
  redis.call('EXPIRE', mkey, keep)
  return 1
end
local results = {}
local applied = 0
local a = 6
for v = 1, (#KEYS - 4) / 4 do
  local k = 4 * v + 1
  local credits = tonumber(ARGV[a + 5])
  results[v] = apply(KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), ARGV[a + 4], a + 6, credits)
  if results[v] == 1 then applied = applied + 1 end
  a = a + 6 + 2 * credits
end
if applied > 0 then
  local second = math.floor(now / 1000)
  redis.call('HINCRBY', rkey, second, applied)
  if redis.call('HLEN', rkey) > ${RATE_SECONDS * 2} then
    for _, s in ipairs(redis.call('HKEYS', rkey)) do
      if tonumber(s) <= second - ${RATE_SECONDS} then redis.call('HDEL', rkey, s) end
    end
  end
end
return results
`);

// The scripts that remove data run at Redis's maxmemory too (allow-oom): a full store can always be
// emptied. A script that declares flags may name keys it was not given (the sweep's) as long as
// the server is not a cluster one.

// KEYS: stats:profiles-by-update, stats:interests, stats:pipeline, then the user's scores, meta,
// seen and erased. ARGV: handle, now (ms), how long the tombstone lasts (s). The tombstone (the
// latest erasure's time) drops the user's visits received before it that arrive later.
// Returns 1 when there was a profile, else 0.
const ERASE = new Script(`#!lua flags=allow-oom
${FORGET_LUA}
local removed = forget(KEYS[1], KEYS[2], ARGV[1], KEYS[4], KEYS[5])
redis.call('DEL', KEYS[6])
local at = math.max(tonumber(redis.call('GET', KEYS[7])) or 0, tonumber(ARGV[2]))
redis.call('SET', KEYS[7], at, 'EX', ARGV[3])
redis.call('HINCRBY', KEYS[3], 'erasures', 1)
return removed
`);

// KEYS: stats:profiles-by-update, stats:interests, stats:pipeline. ARGV: cutoff (s), limit.
// Removes up to `limit` profiles last applied before the cutoff (their seen event ids stay until
// they expire: a redelivery must still count as a repeat). Returns how many it removed.
const SWEEP = new Script(`#!lua flags=allow-oom
${FORGET_LUA}
local handles = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, h in ipairs(handles) do
  forget(KEYS[1], KEYS[2], h, 'user:' .. h .. ':scores', 'user:' .. h .. ':meta')
end
if #handles > 0 then redis.call('HINCRBY', KEYS[3], 'expired', #handles) end
return #handles
`);

// KEYS: the previous version's scores and meta of a user, the user's scores and meta, and
// stats:profiles-by-update. ARGV: handle, now (s), keep (s), halfLife, topN.
// Moves the profile under the handle (merged into one there already, which a writer of this
// version made while one of the previous version still wrote: values move to the later epoch),
// indexed by its last update (its `updated`, the last visit's ts, at most now), expiring with it.
// Returns 0 when there was nothing left to move (another writer moved it), else more.
const MIGRATE = new Script(`#!lua
local oldZ, oldM, zkey, mkey, index = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local handle, now, keep, halfLife, topN = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
${SCORES_LUA}
local oldEpoch = tonumber(redis.call('HGET', oldM, 'epoch'))
if not oldEpoch then return redis.call('DEL', oldZ, oldM) end
local epoch = tonumber(redis.call('HGET', mkey, 'epoch'))
if not epoch then
  if redis.call('EXISTS', oldZ) == 1 then redis.call('RENAME', oldZ, zkey) end
  redis.call('RENAME', oldM, mkey)
else
  local base = math.max(epoch, oldEpoch)
  scale(zkey, zkey, 2 ^ ((epoch - base) / halfLife), 'ZADD')
  scale(oldZ, zkey, 2 ^ ((oldEpoch - base) / halfLife), 'ZINCRBY')
  trim(zkey, topN)
  local old = redis.call('HMGET', oldM, 'events', 'updated')
  redis.call('HSET', mkey, 'epoch', base)
  redis.call('HINCRBY', mkey, 'events', tonumber(old[1]) or 0)
  redis.call('HSET', mkey, 'updated', math.max(tonumber(old[2]) or 0, tonumber(redis.call('HGET', mkey, 'updated')) or 0))
  redis.call('DEL', oldZ, oldM)
end
local updated = tonumber(redis.call('HGET', mkey, 'updated'))
local at = now
if updated then at = math.min(now, math.floor(updated / 1000)) end
redis.call('ZADD', index, 'GT', at, handle)
local last = tonumber(redis.call('ZSCORE', index, handle))
redis.call('EXPIREAT', zkey, last + keep)
redis.call('EXPIREAT', mkey, last + keep)
return 1
`);

export type Outcome = "written" | "unmatched" | "sensitive";

/** One categorised visit, as the profile writer applies it. */
export interface Visit {
  eventId: string;
  userId: string;
  ts: number;
  /** When the collector accepted the event (ms): an erasure drops the visits received before it. `ts` when absent. */
  receivedAt?: number;
  outcome: Outcome;
  credits: Credit[];
}

/** What became of a visit: applied, a repeat of one applied before, or dropped as its user was erased since. */
export type Applied = "applied" | "duplicate" | "erased";
const appliedOf: Record<number, Applied> = { 1: "applied", 0: "duplicate", 2: "erased" };

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
 * The primary of a replicated set, asked of the Sentinels (`host:port` each) by name; `password`
 * (undefined: none) for the Sentinels and the servers alike. A connection that fails, or a server
 * that turns out not to be the primary (after a failover), is dropped and the primary asked for
 * again on the next command. Commands are never queued across connections: a WAIT always follows
 * its write on the same connection.
 */
export function sentinelConnection(sentinels: string[], name: string, password?: string, answerMs = 5000): StoreConnection {
  let current: Promise<RedisClient> | undefined;
  let connected: RedisClient | undefined;
  let closed = false;

  async function askSentinels(): Promise<{ host: string; port: number }> {
    const reasons: string[] = [];
    for (const address of sentinels) {
      const [host, port] = address.split(":");
      const client = createClient({ password, socket: { host, port: Number(port || 26379), connectTimeout: 1000, reconnectStrategy: false } });
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
    const client = createClient({ password, socket: { ...address, connectTimeout: 2000, reconnectStrategy: false }, disableOfflineQueue: true });
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

/** Connect (retrying while Redis starts) and load the scripts. */
export async function openStore(cfg: Config): Promise<ProfileStore> {
  let connection: StoreConnection;
  if (cfg.redisSentinels.length > 0) {
    connection = sentinelConnection(cfg.redisSentinels, cfg.redisMasterName, cfg.redisPassword);
    await connectWithRetry("the Redis primary via Sentinel", cfg.redisSentinels.join(","), () => connection.send(["PING"]));
  } else {
    const client = createClient({ url: cfg.redisUrl, password: cfg.redisPassword, socket: { reconnectStrategy } });
    client.on("error", (e: unknown) => log("warn", "redis client error", { error: String(e) }));
    await connectWithRetry("Redis", cfg.redisUrl, () => client.connect());
    connection = plainConnection(client);
  }
  if (cfg.storeKey === "") log("warn", "STORE_KEY_FILE unset: user IDs are kept as unkeyed hashes, which a guess of an ID can be checked against");
  const store = new ProfileStore(connection, cfg.scoring, cfg.seenTtlSeconds, {
    minReplicasAck: cfg.redisMinReplicasAck,
    retentionSeconds: cfg.retentionSeconds,
    storeKey: cfg.storeKey,
  });
  await store.init();
  return store;
}

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

/** Redis refused a write because it is at its maxmemory (noeviction): nothing of it was applied. */
export const isStoreFull = (e: unknown): boolean => e instanceof ErrorReply && e.message.startsWith("OOM ");

export interface StoreOptions {
  /**
   * > 0: an update (or an erasure) counts as done only once that many replicas have it (WAIT), so
   * a failover to a replica loses no acknowledged one.
   */
  minReplicasAck?: number;
  replicaAckTimeoutMs?: number;
  /** A profile is removed this long after its last visit was applied (RETENTION_SECONDS). */
  retentionSeconds?: number;
  /** The key of the users' handles (STORE_KEY_FILE). */
  storeKey?: string;
}

export class ProfileStore {
  readonly minReplicasAck: number;
  readonly replicaAckTimeoutMs: number;
  readonly retentionSeconds: number;
  private readonly storeKey: string;

  constructor(
    readonly connection: StoreConnection,
    readonly scoring: ScoringSettings,
    readonly seenTtlSeconds: number,
    options: StoreOptions = {},
  ) {
    this.minReplicasAck = options.minReplicasAck ?? 0;
    this.replicaAckTimeoutMs = options.replicaAckTimeoutMs ?? 2000;
    this.retentionSeconds = options.retentionSeconds ?? 400 * 86_400;
    this.storeKey = options.storeKey ?? "";
  }

  async init(): Promise<void> {
    for (const script of [APPLY, ERASE, SWEEP, MIGRATE]) await this.connection.send(["SCRIPT", "LOAD", script.text]);
  }

  async ping(): Promise<boolean> {
    return this.connection.send(["PING"]).then((r) => r === "PONG", () => false);
  }

  /** The key under which the store keeps the user. */
  handle(userId: string): string {
    return userHandle(this.storeKey, userId);
  }

  /**
   * Runs a script; `replicated`: with WAIT right behind it on the same connection when replicas
   * must have its writes.
   */
  async run(script: Script, cmdKeys: string[], args: string[], replicated = false): Promise<unknown> {
    const wait = ["WAIT", String(this.minReplicasAck), String(this.replicaAckTimeoutMs)];
    const send = async (command: string[]): Promise<unknown> => {
      if (!replicated || this.minReplicasAck === 0) return this.connection.send(command);
      const [reply, acked] = await this.connection.sendTogether([command, wait]);
      if (Number(acked) < this.minReplicasAck) {
        throw new NotReplicated(`a store update reached ${String(acked)} of ${this.minReplicasAck} replica(s) within ${this.replicaAckTimeoutMs} ms`);
      }
      return reply;
    };
    try {
      return await send(["EVALSHA", script.sha, String(cmdKeys.length), ...cmdKeys, ...args]);
    } catch (e) {
      // A server that has not loaded the script (a new primary after a failover).
      if (!(e instanceof ErrorReply && e.message.startsWith("NOSCRIPT"))) throw e;
      return send(["EVAL", script.text, String(cmdKeys.length), ...cmdKeys, ...args]);
    }
  }

  /** Apply one visit. Returns false when it was not applied (seen before, or its user erased since). */
  async apply(eventId: string, userId: string, ts: number, outcome: Outcome, credits: Credit[]): Promise<boolean> {
    return (await this.applyAll([{ eventId, userId, ts, outcome, credits }]))[0] === "applied";
  }

  /**
   * Apply visits in one script run (one round trip, and one WAIT when replicas must have them).
   * Returns what became of each visit. At Redis's maxmemory it throws (isStoreFull) and applies none.
   */
  async applyAll(visits: Visit[], now = Date.now()): Promise<Applied[]> {
    const cmdKeys = [keys.stats, keys.perSecond, keys.interests, keys.index];
    const keep = this.retentionSeconds + BACKSTOP_SECONDS;
    const args = [String(this.scoring.halfLifeMs), String(this.scoring.topN), String(this.seenTtlSeconds), String(now), String(keep)];
    for (const v of visits) {
      const h = this.handle(v.userId);
      cmdKeys.push(keys.seen(h), keys.scores(h), keys.meta(h), keys.erased(h));
      args.push(v.eventId, h, String(v.ts), String(v.receivedAt ?? v.ts), v.outcome, String(v.credits.length));
      for (const c of v.credits) args.push(c.nodeId, String(c.credit));
    }
    const reply = (await this.run(APPLY, cmdKeys, args, true)) as number[];
    return reply.map((r) => appliedOf[Number(r)]);
  }

  /**
   * Erases a user's data: the profile (its share of stats:interests with it) and seen event ids.
   * Visits of the user received up to `now` that arrive later are dropped, for twice the dedup
   * window (events in flight are at most about that old). Returns whether there was a profile.
   */
  async erase(userId: string, now = Date.now()): Promise<boolean> {
    const h = this.handle(userId);
    const cmdKeys = [keys.index, keys.interests, keys.stats, keys.scores(h), keys.meta(h), keys.seen(h), keys.erased(h)];
    return Number(await this.run(ERASE, cmdKeys, [h, String(now), String(2 * this.seenTtlSeconds)], true)) === 1;
  }

  /** Removes the profiles last applied more than retentionSeconds before `now`, `batch` a script run. Returns how many. */
  async sweep(now = Date.now(), batch = 100): Promise<number> {
    const cutoff = String(Math.floor(now / 1000) - this.retentionSeconds);
    let removed = 0;
    for (;;) {
      const n = Number(await this.run(SWEEP, [keys.index, keys.interests, keys.stats], [cutoff, String(batch)]));
      removed += n;
      if (n < batch) return removed;
    }
  }

  /**
   * Moves the profiles of the previous version (keys named by user IDs) under their handles, and
   * drops its profile counter (the index counts them now). Its seen:<eventId> keys expire on their
   * own. Safe to run by several writers at once, and again. Returns the number of profiles moved.
   */
  async migrate(now = Date.now()): Promise<number> {
    const keep = String(this.retentionSeconds + BACKSTOP_SECONDS);
    let cursor = "0";
    let moved = 0;
    do {
      const [next, found] = (await this.connection.send(["SCAN", cursor, "MATCH", "profile:*", "COUNT", "1000"])) as [string, string[]];
      cursor = String(next);
      const users = new Set(found.flatMap((k) => legacy.profileKey.exec(k)?.[1] ?? []));
      const results = await Promise.all([...users].map((userId) => {
        const h = this.handle(userId);
        return this.run(MIGRATE, [legacy.scores(userId), legacy.meta(userId), keys.scores(h), keys.meta(h), keys.index], [
          h, String(Math.floor(now / 1000)), keep, String(this.scoring.halfLifeMs), String(this.scoring.topN),
        ]);
      }));
      moved += results.filter((r) => Number(r) > 0).length;
    } while (cursor !== "0");
    await this.connection.send(["DEL", legacy.profiles]);
    return moved;
  }

  /** Asks Redis to rewrite its append-only file. False when a rewrite is under way already. */
  async rewriteAof(): Promise<boolean> {
    try {
      await this.connection.send(["BGREWRITEAOF"]);
      return true;
    } catch (e) {
      if (e instanceof ErrorReply && /already in progress/i.test(e.message)) return false;
      throw e;
    }
  }

  /** Current interests of a user, highest first; null for an unknown user. */
  async profile(userId: string, now = Date.now()): Promise<{ events: number; interests: Credit[] } | null> {
    const h = this.handle(userId);
    const [[epoch, events], stored] = await Promise.all([
      this.connection.send(["HMGET", keys.meta(h), "epoch", "events"]) as Promise<Array<string | null>>,
      this.connection.send(["ZRANGE", keys.scores(h), "0", "-1", "WITHSCORES"]) as Promise<string[]>,
    ]);
    if (epoch === null) return null;
    const scored: Array<[string, number]> = [];
    for (let i = 0; i + 1 < stored.length; i += 2) scored.push([stored[i], Number(stored[i + 1])]);
    return { events: Number(events ?? 0), interests: currentScores(Number(epoch), scored, now, this.scoring) };
  }

  /** Visits applied per second over the last `seconds` (whole seconds before now), and the number of profiles. */
  async activity(seconds = 60, now = Date.now()): Promise<{ eventsPerSecond: number; profiles: number }> {
    const [perSecond, profiles] = await Promise.all([this.connection.send(["HGETALL", keys.perSecond]).then(pairs), this.connection.send(["ZCARD", keys.index])]);
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

  /** The server's memory in use and its limit (0: none), in bytes. */
  async memory(): Promise<{ used: number; max: number }> {
    const info = String(await this.connection.send(["INFO", "memory"]));
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(info)?.[1] ?? 0);
    return { used: field("used_memory"), max: field("maxmemory") };
  }

  async stats(): Promise<Record<string, number>> {
    const h = pairs(await this.connection.send(["HGETALL", keys.stats]));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }
}

/**
 * Asks Redis to rewrite its append-only file after data was removed, so that it also leaves the
 * files on disk (the AOF holds the commands that wrote it until a rewrite): at most once per
 * `everyMs`; a request meanwhile is served at the end of the interval, as is one Redis refused
 * because a rewrite was under way (which may have started before the removal). With the default
 * 10 s, removed data leaves the primary's files within about 10 s plus the time a rewrite takes
 * (about a second per few hundred MB of data); replicas rewrite their own files on their own.
 */
export class AofRewriter {
  private last = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: ProfileStore, private readonly everyMs = 10_000) {}

  request(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.rewrite(), Math.max(0, this.last + this.everyMs - Date.now()));
    this.timer.unref();
  }

  private async rewrite(): Promise<void> {
    // Removals from now on need the next rewrite: this one may fork before them.
    this.timer = undefined;
    this.last = Date.now();
    try {
      if (!(await this.store.rewriteAof())) this.request();
    } catch (e) {
      log("warn", "could not ask Redis to rewrite its append-only file", { error: String(e) });
      // A connection that failed: tried again; a refusal (the command renamed away): not.
      if (!(e instanceof ErrorReply)) this.request();
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
