// Backup and restore of the pipeline's data, run inside a pipeline task:
//   node dist/main.js backup > file    (gzip-compressed NDJSON on stdout)
//   node dist/main.js restore < file   (one JSON summary line on stdout)
//
// The file, one JSON object a line: a header (format, version, the backup's id, createdAt, the
// store key, the streams), the streams' messages, the users (each user's keys with their TTLs,
// and the user's place in the index), the stats keys, and an end line with the counts. It holds
// personal data (the events in the streams name their users and URLs) and the store key, under
// which the users' handles are made: a stack restored from it must use that key.
//
// Consistency while the pipeline runs: the streams are read first, EVENTS then CATEGORISED (the
// way an event moves), then the store. An event moves on only once the next stage has it (the
// categoriser acks an event once its result is stored, the writer once the store has it), so an
// event acknowledged to its client before the backup started is in a stream copy or, having
// moved on before it was read, in the store copy. An event in both counts once: the restored
// `seen` set of its user makes the writer drop it as a repeat.
//
// Restore reads the whole input before it writes anything: a file cut short, of another format,
// or under another store key changes nothing. It then puts the users back, then the stats, then
// re-publishes the messages, and notes each step in backup:restores (by the backup's id): a run
// that stopped part way goes on from its last step, and a backup restored already is not
// restored again (its users, put back, would lose the events applied since, while the streams'
// duplicate window would drop its messages).
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline as pipeStreams, Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StringDecoder } from "node:string_decoder";
import { createGunzip, createGzip } from "node:zlib";
import { errors, headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  type StoredMsg,
} from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { ConfigError, type Config } from "./config.js";
import { connectWithRetry } from "./role.js";
import { FORGET_LUA, keys, openStore, Script, type ProfileStore } from "./store.js";
import { closeNats, connectJetStream, natsConnectOptions } from "./stream.js";

export const FORMAT = "categorisation-backup";
export const VERSION = 1;

/** Keys a SCAN step asks for: its users are read in one MULTI/EXEC. */
const SCAN_COUNT = 1000;
/** Messages read from a stream at once. */
const READ_WINDOW = 64;
/** Users put back by one script run, at most, and the values they carry. */
const RESTORE_USERS = 100;
const RESTORE_VALUES = 10_000;
/** Script runs, and publishes, under way at once. */
const RESTORE_IN_FLIGHT = 4;
const PUBLISH_IN_FLIGHT = 64;
/** How often a command says how far it got, on stderr. */
const PROGRESS_MS = 5_000;
/** Fast compression: the file is written about as fast as the store is read. */
const GZIP_LEVEL = 1;

export interface Header {
  format: string;
  version: number;
  /** Names the backup in backup:restores. */
  id: string;
  createdAt: string;
  storeKey: string;
  streams: string[];
}

export interface MessageLine {
  kind: "msg";
  stream: string;
  seq: number;
  subject: string;
  headers: Record<string, string[]>;
  /** The payload, base64. */
  data: string;
}

/** A key's content and its remaining time to live (ms; -1: none). */
export interface Stored<T> {
  ttl: number;
  v: T;
}

/** A user's keys as they were (absent: no such key); hashes and sorted sets as Redis lists them (field, value / member, score). */
export interface UserLine {
  kind: "user";
  h: string;
  /** The user's score in stats:profiles-by-update. */
  index?: string;
  meta?: Stored<string[]>;
  scores?: Stored<string[]>;
  seen?: Stored<string[]>;
  erased?: Stored<string>;
}

export interface KeyLine {
  kind: "key";
  key: string;
  type: "hash" | "zset";
  ttl: number;
  value: string[];
}

export interface EndLine {
  kind: "end";
  users: number;
  messages: number;
}

export type BodyLine = MessageLine | UserLine | KeyLine;

/** The input is not a whole backup of this format and version: nothing was restored. */
export class BackupFileError extends Error {}

/** The backup's users are keyed under another store key than this stack's: nothing was restored. */
export class StoreKeyMismatch extends Error {}

/** The exit code of a command that failed with `e`. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof ConfigError) return 2;
  if (e instanceof StoreKeyMismatch) return 3;
  if (e instanceof BackupFileError) return 4;
  return 1;
}

/** An error as one stderr line: without URLs (they may carry credentials). */
export function safeMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S*/gi, "<url>").replace(/\s+/g, " ").trim();
}

/** The one stderr line of a command that failed. */
export function failureLine(command: string, e: unknown): string {
  if (e instanceof ConfigError) return `configuration error: ${safeMessage(e)}`;
  if (e instanceof StoreKeyMismatch || e instanceof BackupFileError) return `${command} refused: ${safeMessage(e)}`;
  return `${command} failed: ${safeMessage(e)}`;
}

export function makeHeader(storeKey: string, streams: string[], now = new Date(), id: string = randomUUID()): Header {
  return { format: FORMAT, version: VERSION, id, createdAt: now.toISOString(), storeKey, streams };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isStored = (v: unknown, pairs: boolean): boolean =>
  isRecord(v) && typeof v.ttl === "number" && (pairs ? isStrings(v.v) && v.v.length % 2 === 0 : typeof v.v === "string");

/** The header line, checked: this format and version. Never quotes the line. */
export function parseHeader(line: string | undefined): Header {
  if (line === undefined) throw new BackupFileError("the input is empty: not a backup");
  let h: unknown;
  try {
    h = JSON.parse(line);
  } catch {
    throw new BackupFileError("not a backup: its first line is not JSON");
  }
  if (!isRecord(h) || h.format !== FORMAT) throw new BackupFileError(`not a backup: its first line is not a ${FORMAT} header`);
  if (h.version !== VERSION) throw new BackupFileError(`a ${FORMAT} of version ${JSON.stringify(h.version)}: this version reads version ${VERSION} only`);
  if (typeof h.id !== "string" || typeof h.createdAt !== "string" || typeof h.storeKey !== "string" || !isStrings(h.streams)) {
    throw new BackupFileError("the header lacks a field (id, createdAt, storeKey, streams)");
  }
  return h as unknown as Header;
}

/** Refuses a backup made under another store key (never naming either key). */
export function checkStoreKey(header: Header, storeKey: string): void {
  if (header.storeKey !== storeKey) {
    throw new StoreKeyMismatch("the backup's profiles are keyed under another store key: restore it into a stack that uses the backup's key");
  }
}

/** A line after the header, checked. `n`: its line number, for the message; the line itself is never quoted (it holds personal data). */
export function parseLine(line: string, n: number): BodyLine | EndLine {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new BackupFileError(`line ${n}: not JSON`);
  }
  if (isRecord(v)) {
    const ok =
      (v.kind === "msg" && typeof v.stream === "string" && isCount(v.seq) && typeof v.subject === "string" && typeof v.data === "string" &&
        isRecord(v.headers) && Object.values(v.headers).every(isStrings)) ||
      (v.kind === "user" && typeof v.h === "string" && /^[^:\s]+$/.test(v.h) && (v.index === undefined || typeof v.index === "string") &&
        (["meta", "scores", "seen"] as const).every((k) => v[k] === undefined || isStored(v[k], true)) && (v.erased === undefined || isStored(v.erased, false))) ||
      (v.kind === "key" && typeof v.key === "string" && v.key.startsWith("stats:") && (v.type === "hash" || v.type === "zset") && typeof v.ttl === "number" &&
        isStrings(v.value) && v.value.length % 2 === 0) ||
      (v.kind === "end" && isCount(v.users) && isCount(v.messages));
    if (ok) return v as unknown as BodyLine | EndLine;
  }
  throw new BackupFileError(`line ${n}: not a user, key, message or end line`);
}

/** Reads a whole backup: its header and counts, or BackupFileError / StoreKeyMismatch. */
export async function verifyBackup(lines: AsyncIterable<string>, storeKey: string): Promise<{ header: Header; users: number; messages: number }> {
  let header: Header | undefined;
  let end: EndLine | undefined;
  let n = 0;
  const counts = { users: 0, messages: 0 };
  for await (const line of lines) {
    n++;
    if (!header) {
      header = parseHeader(line);
      checkStoreKey(header, storeKey);
      continue;
    }
    if (end) throw new BackupFileError(`line ${n}: after the end line`);
    const l = parseLine(line, n);
    if (l.kind === "end") end = l;
    else if (l.kind === "user") counts.users++;
    else if (l.kind === "msg") counts.messages++;
  }
  if (!header) throw new BackupFileError("the input is empty: not a backup");
  if (!end) throw new BackupFileError("the backup has no end line: it is truncated (the backup did not finish, or its copy was cut)");
  if (end.users !== counts.users || end.messages !== counts.messages) {
    throw new BackupFileError(`the end line counts ${end.users} users and ${end.messages} messages, the file holds ${counts.users} and ${counts.messages}`);
  }
  return { header, ...counts };
}

/** The lines of a text that comes in chunks, without their "\n"; a last line without one too. */
export async function* lines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  for await (const chunk of chunks) {
    rest += typeof chunk === "string" ? chunk : decoder.write(chunk);
    const parts = rest.split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  rest += decoder.end();
  if (rest !== "") yield rest;
}

/** A gzip error as what it says of the file. */
export function gzipError(e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "Z_BUF_ERROR") return new BackupFileError("the file ends early: it is truncated (the backup did not finish, or its copy was cut)");
  if (code === "Z_DATA_ERROR") return new BackupFileError("the input is not gzip data: not a backup");
  return e;
}

/** The lines of a gzip file. */
async function* fileLines(file: string): AsyncGenerator<string> {
  const text = pipeStreams(createReadStream(file), createGunzip(), () => undefined);
  try {
    yield* lines(text);
  } catch (e) {
    throw gzipError(e);
  }
}

/** A stored message as a line: subject, headers (Nats-Msg-Id among them) and payload. */
export function messageLine(stream: string, m: Pick<StoredMsg, "seq" | "subject" | "data"> & { header?: MsgHdrs }): MessageLine {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of m.header ?? []) headers[name] = values;
  return { kind: "msg", stream, seq: m.seq, subject: m.subject, headers, data: Buffer.from(m.data).toString("base64") };
}

/** The headers to publish a message again with; none when it had none. */
export function headersOf(line: MessageLine): MsgHdrs | undefined {
  const names = Object.keys(line.headers).filter((name) => !/^Nats-Expected-/i.test(name));
  if (names.length === 0) return undefined;
  const h = natsHeaders();
  // Expectations of the first publish (the stream's last sequence...) do not hold now: left out.
  for (const name of names) for (const value of line.headers[name]) h.append(name, value);
  return h;
}

const userKey = /^user:([^:]+):(meta|scores|seen|erased)$/;
/** A user's keys in the order the scripts take them: the first that exists is the one the user is read by. */
const userParts = ["meta", "scores", "seen", "erased"] as const;
const userKeys = (h: string) => userParts.map((part) => keys[part](h));

/** The users of keys a SCAN step found, each with the rank (1-4, in userParts' order) of its first key found. */
export function usersFound(found: string[]): Map<string, number> {
  const users = new Map<string, number>();
  for (const key of found) {
    const m = userKey.exec(key);
    if (!m) continue;
    const rank = userParts.indexOf(m[2] as (typeof userParts)[number]) + 1;
    if (rank < (users.get(m[1]) ?? Infinity)) users.set(m[1], rank);
  }
  return users;
}

/** The commands that read a user: its index score, then each key's PTTL (-2: no key) and content. */
const readCommands = (h: string): string[][] => {
  const [meta, scores, seen, erased] = userKeys(h);
  return [
    ["ZSCORE", keys.index, h],
    ["PTTL", meta], ["HGETALL", meta],
    ["PTTL", scores], ["ZRANGE", scores, "0", "-1", "WITHSCORES"],
    ["PTTL", seen], ["ZRANGE", seen, "0", "-1", "WITHSCORES"],
    ["PTTL", erased], ["GET", erased],
  ];
};

const READ_REPLIES = readCommands("").length;

/**
 * A user as readCommands' replies give it, found by its key of `rank`; undefined when the user is
 * read by another key (one ranked before it exists: the scan finds that one too, before or after,
 * so that each user is read once) or none of its keys is left.
 */
export function userFromReply(h: string, rank: number, reply: unknown[]): UserLine | undefined {
  const [index, ...parts] = reply;
  const line: UserLine = { kind: "user", h };
  if (index !== null && index !== "") line.index = String(index);
  for (const [i, part] of userParts.entries()) {
    const ttl = Number(parts[2 * i]);
    const v = parts[2 * i + 1];
    if (ttl === -2) continue;
    if (i + 1 < rank) return undefined;
    if (part === "erased") line.erased = { ttl, v: String(v) };
    else line[part] = { ttl, v: (v as unknown[]).map(String) };
  }
  return userParts.some((part) => line[part]) ? line : undefined;
}

/**
 * The users, a SCAN step's at a time: each one's keys read in one MULTI/EXEC (so that they agree
 * with each other), the step's users together. A user found by a key other than its first is
 * passed over when that one exists: it is read when the scan finds that one.
 */
async function* readUsers(store: ProfileStore): AsyncGenerator<UserLine[]> {
  let cursor = "0";
  do {
    const [next, found] = (await store.connection.send(["SCAN", cursor, "MATCH", "user:*", "COUNT", String(SCAN_COUNT)])) as [string, string[]];
    cursor = String(next);
    const all = [...usersFound(found)];
    const byOther = all.filter(([, rank]) => rank > 1);
    const others = await store.connection.sendTogether(byOther.map(([h, rank]) => ["EXISTS", ...userKeys(h).slice(0, rank - 1)]));
    const passed = new Set(byOther.filter((_, i) => Number(others[i]) > 0).map(([h]) => h));
    const users = all.filter(([h]) => !passed.has(h));
    if (users.length === 0) continue;
    const replies = await store.connection.sendTogether([["MULTI"], ...users.flatMap(([h]) => readCommands(h)), ["EXEC"]]);
    const read = replies.at(-1) as unknown[];
    yield users.flatMap(([h, rank], i) => userFromReply(h, rank, read.slice(i * READ_REPLIES, (i + 1) * READ_REPLIES)) ?? []);
  } while (cursor !== "0");
}

/** The items of `source`, each next one asked for while the one before is worked on (Redis reads while the file is written). */
async function* ahead<T>(source: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = source.next();
  for (;;) {
    const r = await next;
    if (r.done) return;
    next = source.next();
    // Its failure is thrown when it is awaited, not reported as unhandled meanwhile.
    next.catch(() => undefined);
    yield r.value;
  }
}

/** The stats keys a backup holds; stats:profiles-by-update goes with each user. */
const statsKeys = [keys.stats, keys.perSecond, keys.interests, keys.lag];

// KEYS: a key. Returns its type, PTTL and content (a hash's or a sorted set's).
const READ_KEY = new Script(`#!lua flags=no-writes
local t = redis.call('TYPE', KEYS[1])['ok']
local v = {}
if t == 'hash' then v = redis.call('HGETALL', KEYS[1])
elseif t == 'zset' then v = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES') end
return { t, redis.call('PTTL', KEYS[1]), v }
`);

async function readKey(store: ProfileStore, key: string): Promise<KeyLine | undefined> {
  const [type, ttl, value] = (await store.run(READ_KEY, [key], [])) as [string, number, string[]];
  if (type !== "hash" && type !== "zset") return undefined;
  return { kind: "key", key, type, ttl: Number(ttl), value: value.map(String) };
}

/** The messages stored in a stream, first to last, read by sequence: the consumers are not involved. */
export async function* streamMessages(jsm: JetStreamManager, stream: string): AsyncGenerator<StoredMsg[]> {
  let state;
  try {
    ({ state } = await jsm.streams.info(stream));
  } catch (e) {
    if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound) throw new Error(`the stream ${stream} does not exist`);
    throw e;
  }
  const last = state.last_seq;
  let seq = state.first_seq;
  while (state.messages > 0 && seq <= last) {
    const window = Array.from({ length: Math.min(READ_WINDOW, last - seq + 1) }, (_, i) => jsm.streams.getMessage(stream, { seq: seq + i }));
    const found = (await Promise.all(window)).filter((m): m is StoredMsg => m !== null);
    if (found.length > 0) yield found;
    seq += window.length;
    if (found.length === 0 && seq <= last) {
      // A run of messages acknowledged (gone): on to the next one stored. The client's type lacks
      // next_by_subj, which the server takes.
      const next = await jsm.streams.getMessage(stream, { seq, next_by_subj: ">" } as unknown as MsgRequest);
      if (!next || next.seq > last) return;
      seq = next.seq;
    }
  }
}

/** Writes "<what>: <counts>" on stderr every PROGRESS_MS until stopped. */
function progress(what: string, counts: () => string): () => void {
  const timer = setInterval(() => process.stderr.write(`${what}: ${counts()}\n`), PROGRESS_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** The backup's text: the header, the streams' messages, then the users and the stats keys, the end line. */
async function* backupText(store: ProfileStore, jsm: JetStreamManager, header: Header, counts: { users: number; messages: number }): AsyncGenerator<string> {
  yield JSON.stringify(header) + "\n";
  for (const stream of header.streams) {
    for await (const found of streamMessages(jsm, stream)) {
      counts.messages += found.length;
      yield found.map((m) => JSON.stringify(messageLine(stream, m)) + "\n").join("");
    }
  }
  for await (const users of ahead(readUsers(store))) {
    counts.users += users.length;
    if (users.length > 0) yield users.map((u) => JSON.stringify(u) + "\n").join("");
  }
  for (const key of statsKeys) {
    const line = await readKey(store, key);
    if (line) yield JSON.stringify(line) + "\n";
  }
  const end: EndLine = { kind: "end", ...counts };
  yield JSON.stringify(end) + "\n";
}

/** Runs `work` with the store and a connection to NATS (made by `connectNats`), and closes both after. */
async function withStores(cfg: Config, connectNats: () => Promise<NatsConnection>, work: (store: ProfileStore, nc: NatsConnection) => Promise<void>): Promise<void> {
  const store = await openStore(cfg);
  try {
    const nc = await connectNats();
    try {
      await work(store, nc);
    } finally {
      await closeNats(nc);
    }
  } finally {
    await store.connection.close().catch(() => undefined);
  }
}

/** `backup`: the streams' messages, then the store, gzip-compressed NDJSON on `output`. */
export async function runBackup(cfg: Config, output: Writable = process.stdout): Promise<void> {
  const connectNats = () => connectWithRetry("NATS", cfg.natsUrl, () => connect(natsConnectOptions(cfg.natsUrl, "backup", cfg)));
  await withStores(cfg, connectNats, async (store, nc) => {
    const jsm = await jetstreamManager(nc);
    const counts = { users: 0, messages: 0 };
    const stop = progress("backup", () => `${counts.messages} messages, ${counts.users} users`);
    try {
      const header = makeHeader(cfg.storeKey, [cfg.eventsStream, cfg.resultsStream]);
      await pipeline(Readable.from(backupText(store, jsm, header, counts)), createGzip({ level: GZIP_LEVEL }), output);
    } finally {
      stop();
    }
  });
}

// KEYS: stats:profiles-by-update, stats:interests, then meta, scores, seen and erased of each
// user. ARGV: the number of values that follow, that many (node, count: the users' `i:` counts
// summed, added to stats:interests), then for each user its handle, its index score ('' none), its
// erased key's value ('' none), the four keys' TTLs (ms; -1 none), the numbers of meta, scores and
// seen values, then those values (meta: field, value...; scores and seen: score, member...). Each
// user's keys are replaced by the backup's: a profile there is forgotten first (its index entry
// and its share of stats:interests with it), so that stats:interests stays the sum of the
// profiles' counts whatever the store held before.
const WRITE_USERS = new Script(`#!lua
${FORGET_LUA}
local function put(cmd, key, from, count)
  for i = from, from + count - 1, 1000 do
    redis.call(cmd, key, unpack(ARGV, i, math.min(i + 999, from + count - 1)))
  end
end
local index, interests = KEYS[1], KEYS[2]
local a = 2 + tonumber(ARGV[1])
for u = 1, (#KEYS - 2) / 4 do
  local m, z, s, e = KEYS[4 * u - 1], KEYS[4 * u], KEYS[4 * u + 1], KEYS[4 * u + 2]
  local handle, at, erased = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local ttls = { tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]) }
  local nm, nz, ns = tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8]), tonumber(ARGV[a + 9])
  a = a + 10
  if redis.call('EXISTS', m) == 1 then forget(index, interests, handle, z, m) else redis.call('ZREM', index, handle) end
  redis.call('DEL', z, s, e)
  if nm > 0 then put('HSET', m, a, nm) end
  a = a + nm
  if nz > 0 then put('ZADD', z, a, nz) end
  a = a + nz
  if ns > 0 then put('ZADD', s, a, ns) end
  a = a + ns
  if erased ~= '' then redis.call('SET', e, erased) end
  for j, key in ipairs({ m, z, s, e }) do
    if ttls[j] > 0 then redis.call('PEXPIRE', key, ttls[j]) end
  end
  if at ~= '' then redis.call('ZADD', index, at, handle) end
end
for i = 2, 1 + tonumber(ARGV[1]), 2 do
  redis.call('HINCRBY', interests, ARGV[i], ARGV[i + 1])
end
return (#KEYS - 2) / 4
`);

/** The `i:` counts of users' meta hashes, summed by node: what they add to stats:interests. */
export function interestCounts(users: UserLine[]): string[] {
  const sums = new Map<string, number>();
  for (const u of users) {
    const meta = u.meta?.v ?? [];
    for (let i = 0; i + 1 < meta.length; i += 2) {
      if (meta[i].startsWith("i:")) sums.set(meta[i].slice(2), (sums.get(meta[i].slice(2)) ?? 0) + Number(meta[i + 1]));
    }
  }
  return [...sums].flatMap(([node, count]) => [node, String(count)]);
}

/** A sorted set's [member, score, ...] as ZADD takes it: [score, member, ...]. */
const zaddOrder = (pairs: string[]): string[] => pairs.flatMap((_, i) => (i % 2 === 0 ? [pairs[i + 1], pairs[i]] : []));

/** A user's keys and arguments for WRITE_USERS. */
export function userArgs(u: UserLine): { keys: string[]; args: string[] } {
  const meta = u.meta?.v ?? [];
  const scores = zaddOrder(u.scores?.v ?? []);
  const seen = zaddOrder(u.seen?.v ?? []);
  const ttls = userParts.map((part) => String(u[part]?.ttl ?? -1));
  return {
    keys: userKeys(u.h),
    args: [u.h, u.index ?? "", u.erased?.v ?? "", ...ttls, String(meta.length), String(scores.length), String(seen.length), ...meta, ...scores, ...seen],
  };
}

// KEYS: backup:restores, then stats keys. ARGV: the backup's id, its restore's state from now
// on, 'replace' or 'add', then for each key its type, TTL (ms; -1 none) and content as a JSON
// array. replace: each key becomes the backup's; add: a hash's fields are added to (counters),
// a sorted set's members added (lag samples). One run, with the state: an interrupted restore
// never adds the counters twice.
const WRITE_STATS = new Script(`#!lua
local mode = ARGV[3]
for k = 2, #KEYS do
  local a = 4 + 3 * (k - 2)
  local t, ttl, v = ARGV[a], tonumber(ARGV[a + 1]), cjson.decode(ARGV[a + 2])
  if mode == 'replace' then redis.call('DEL', KEYS[k]) end
  for i = 1, #v, 2 do
    if t == 'zset' then redis.call('ZADD', KEYS[k], v[i + 1], v[i])
    elseif mode == 'replace' then redis.call('HSET', KEYS[k], v[i], v[i + 1])
    else redis.call('HINCRBY', KEYS[k], v[i], v[i + 1]) end
  end
  if mode == 'replace' and ttl > 0 then redis.call('PEXPIRE', KEYS[k], ttl) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
`);

/** How far a backup's restore into this store got (backup:restores). */
interface RestoreState {
  state: "started" | "stored" | "done";
  /** Stats keys replaced by the backup's (the store had no profiles when the restore started), else added to. */
  replace: boolean;
}

/** Runs tasks, at most `size` at once; the first failure is thrown by the next `add` or by `drain`. */
class Window {
  private readonly running = new Set<Promise<void>>();
  private failure: { e: unknown } | undefined;

  constructor(private readonly size: number) {}

  async add(task: () => Promise<void>): Promise<void> {
    this.check();
    const p: Promise<void> = task()
      .catch((e: unknown) => void (this.failure ??= { e }))
      .finally(() => this.running.delete(p));
    this.running.add(p);
    while (this.running.size >= this.size) await Promise.race(this.running);
    this.check();
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.check();
  }

  private check(): void {
    if (this.failure) throw this.failure.e;
  }
}

/** The summary line of a restore. */
export const summaryLine = (users: number, messages: number, startedAt: number, now = Date.now()): string =>
  JSON.stringify({ users, messages, seconds: Math.round((now - startedAt) / 100) / 10 });

/**
 * `restore`: reads the whole backup from `input` (into a private temporary file) and checks it,
 * then puts its users and stats into the store and publishes its messages again. Writes the
 * summary line on `output`.
 */
export async function runRestore(cfg: Config, input: Readable = process.stdin, output: Writable = process.stdout): Promise<void> {
  const startedAt = Date.now();
  // mkdtemp makes the directory 0700; the file is 0600 besides: it holds personal data.
  const dir = mkdtempSync(join(tmpdir(), "restore-"));
  try {
    const file = join(dir, "backup.ndjson.gz");
    await pipeline(input, createWriteStream(file, { mode: 0o600 }));
    const { header, users, messages } = await verifyBackup(fileLines(file), cfg.storeKey);
    await withStores(cfg, async () => (await connectJetStream(cfg, "restore")).nc, async (store, nc) => {
      const js = jetstream(nc, { timeout: 5_000 });
      const done = { users: 0, messages: 0 };
      const stop = progress("restore", () => `${done.users} of ${users} users, ${done.messages} of ${messages} messages`);
      try {
        const setState = (s: RestoreState) => store.connection.send(["HSET", keys.restores, header.id, JSON.stringify(s)]);
        const recorded = (await store.connection.send(["HGET", keys.restores, header.id])) as string | null;
        let state = recorded ? (JSON.parse(recorded) as RestoreState) : undefined;
        if (state?.state === "done") {
          process.stderr.write("restore: this backup was restored into this store already: nothing done\n");
          output.write(summaryLine(0, 0, startedAt) + "\n");
          return;
        }
        if (!state) {
          state = { state: "started", replace: Number(await store.connection.send(["ZCARD", keys.index])) === 0 };
          await setState(state);
        }
        if (state.state === "started") {
          await restoreStore(store, file, header.id, state.replace, done);
          state = { ...state, state: "stored" };
        }
        await republish(js, file, done);
        await setState({ ...state, state: "done" });
        output.write(summaryLine(done.users, done.messages, startedAt) + "\n");
      } finally {
        stop();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The backup's users, then its stats keys, into the store (the messages are skipped unread). */
async function restoreStore(store: ProfileStore, file: string, id: string, replace: boolean, done: { users: number }): Promise<void> {
  const window = new Window(RESTORE_IN_FLIGHT);
  const stats: KeyLine[] = [];
  let batch: UserLine[] = [];
  let values = 0;
  const flush = async () => {
    const users = batch;
    batch = [];
    values = 0;
    await window.add(async () => {
      const cmdKeys = [keys.index, keys.interests];
      const counts = interestCounts(users);
      const args = [String(counts.length), ...counts];
      for (const u of users) {
        const a = userArgs(u);
        cmdKeys.push(...a.keys);
        args.push(...a.args);
      }
      await store.run(WRITE_USERS, cmdKeys, args, true);
      done.users += users.length;
    });
  };
  for await (const line of fileLines(file)) {
    if (line.startsWith('{"kind":"msg"') || line.startsWith('{"format"')) continue;
    const l = JSON.parse(line) as BodyLine | EndLine;
    if (l.kind === "user") {
      batch.push(l);
      values += (l.meta?.v.length ?? 0) + (l.scores?.v.length ?? 0) + (l.seen?.v.length ?? 0);
      if (batch.length >= RESTORE_USERS || values >= RESTORE_VALUES) await flush();
    } else if (l.kind === "key" && l.key !== keys.interests) {
      // stats:interests is not taken as it was: the users' counts, as they are put back, make it.
      stats.push(l);
    }
  }
  if (batch.length > 0) await flush();
  await window.drain();
  const args = [id, JSON.stringify({ state: "stored", replace } satisfies RestoreState), replace ? "replace" : "add"];
  for (const k of stats) args.push(k.type, String(k.ttl), JSON.stringify(k.value));
  await store.run(WRITE_STATS, [keys.restores, ...stats.map((k) => k.key)], args, true);
}

/** Publishes the backup's messages again, to their subjects, with their headers. */
async function republish(js: JetStreamClient, file: string, done: { messages: number }): Promise<void> {
  const window = new Window(PUBLISH_IN_FLIGHT);
  for await (const line of fileLines(file)) {
    if (!line.startsWith('{"kind":"msg"')) continue;
    const m = JSON.parse(line) as MessageLine;
    await window.add(async () => {
      try {
        await js.publish(m.subject, Buffer.from(m.data, "base64"), { headers: headersOf(m), timeout: 10_000 });
      } catch (e) {
        if (e instanceof Error && e.cause instanceof errors.RequestError && e.cause.isNoResponders()) {
          throw new Error(`no stream takes the subject ${m.subject}: this stack's SUBJECT_PREFIX is not the backup's`);
        }
        throw e;
      }
      done.messages++;
    });
  }
  await window.drain();
}
