// Benchmark: backup and restore (node dist/main.js backup|restore; run `npm run build` first,
// `npm run bench:backup` does) of N profiles shaped like the profile writer's in a local
// redis-server, each timed beside a floor measured in the same run on the same data:
// - backup: Redis's own snapshot transfer (`redis-cli --rdb`);
// - restore: a redis-server loading that snapshot (the load time it logs), and `redis-cli --pipe`
//   of the commands that wrote the data (which is how the data is written here).
//
//   BACKUP_BENCH_PROFILES=200000 npm run bench:backup
//
// A profile: 10-20 scores (a node and its ancestors, values relative to the user's epoch), a meta
// hash (epoch, events, updated and 3-8 `i:` counts), 3-5 seen event ids, the keys' expiry, and
// its index entry; the stats keys besides. The streams are empty.
import { spawn } from "node:child_process";
import { closeSync, openSync, statSync, writeFileSync, writeSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { loadConfig } from "../src/config.js";
import { setLogSink } from "../src/log.js";
import { userHandle } from "../src/store.js";
import { closeNats, connectJetStream } from "../src/stream.js";
import { loadTaxonomy } from "../src/taxonomy.js";
import { servicesDir } from "../test/helpers/labelled.js";
import { freePort, requireBinaries, startNats, startProcess, startRedis, stopAll, tempDir, waitFor } from "../test/helpers/procs.js";

const PROFILES = Number(process.env.BACKUP_BENCH_PROFILES ?? 200_000);
const missing = requireBinaries(["nats-server", "redis-server", "redis-cli"]);
if (missing) throw new Error(missing);

const dir = tempDir("backup-bench-");
const storeKey = "bench-store-key";
const keyFile = join(dir, "store-key");
writeFileSync(keyFile, storeKey, { mode: 0o600 });

/** A repeatable sequence of numbers in [0, 1). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One command in Redis's protocol. */
function resp(args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

/** Writes the commands that make the profiles into `file` (Redis's protocol, for redis-cli --pipe). */
function writeProfiles(file: string): void {
  const nodes = [...loadTaxonomy(join(servicesDir, "taxonomy", "default-taxonomy.tsv")).nodes.keys()];
  const rnd = random(42);
  const pick = () => nodes[Math.floor(rnd() * nodes.length)];
  const now = Date.now();
  const keep = String(400 * 86_400 + 86_400);
  const interests = new Map<string, number>();
  const fd = openSync(file, "w");
  let chunk = "";
  for (let i = 0; i < PROFILES; i++) {
    const h = userHandle(storeKey, `bench-user-${i}`);
    const epoch = now - Math.floor(rnd() * 300 * 86_400_000);
    const scores: string[] = [];
    for (let n = 10 + Math.floor(rnd() * 11); n > 0; n--) scores.push(String(rnd() * 2 ** (rnd() * 20)), pick());
    const counts: string[] = [];
    let events = 0;
    for (let n = 3 + Math.floor(rnd() * 6); n > 0; n--) {
      const node = pick();
      const c = 1 + Math.floor(rnd() * 30);
      events += c;
      counts.push(`i:${node}`, String(c));
      interests.set(node, (interests.get(node) ?? 0) + c);
    }
    const seen: string[] = [];
    for (let n = 3 + Math.floor(rnd() * 3); n > 0; n--) seen.push(String(now - Math.floor(rnd() * 86_400_000)), `${Math.floor(rnd() * 2 ** 52).toString(16)}-${i}-${n}`);
    chunk +=
      resp(["ZADD", `user:${h}:scores`, ...scores]) +
      resp(["HSET", `user:${h}:meta`, "epoch", String(epoch), "events", String(events), "updated", String(now - Math.floor(rnd() * 86_400_000)), ...counts]) +
      resp(["ZADD", `user:${h}:seen`, ...seen]) +
      resp(["EXPIRE", `user:${h}:scores`, keep]) +
      resp(["EXPIRE", `user:${h}:meta`, keep]) +
      resp(["EXPIRE", `user:${h}:seen`, "172800"]) +
      resp(["ZADD", "stats:profiles-by-update", String(Math.floor(now / 1000) - Math.floor(rnd() * 86_400)), h]);
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = "";
    }
  }
  chunk += resp(["HSET", "stats:interests", ...[...interests].flatMap(([node, c]) => [node, String(c)])]);
  chunk += resp(["HSET", "stats:pipeline", "written", String(PROFILES * 20), "unmatched", String(PROFILES), "duplicates", "12"]);
  writeSync(fd, chunk);
  closeSync(fd);
}

/** Runs a command, its stdin and stdout from and to files (or a pipe); resolves with its seconds and output. */
function run(cmd: string, args: string[], io: { stdin?: string; stdout?: string; env?: Record<string, string> } = {}): Promise<{ seconds: number; out: string; err: string }> {
  const stdin = io.stdin ? openSync(io.stdin, "r") : "ignore";
  const stdout = io.stdout ? openSync(io.stdout, "w") : "pipe";
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { cwd: servicesDir, env: { ...process.env, ...io.env }, stdio: [stdin, stdout, "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (typeof stdin === "number") closeSync(stdin);
      if (typeof stdout === "number") closeSync(stdout);
      if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err}`));
      else resolve({ seconds, out, err });
    }),
  );
}

const mb = (file: string) => statSync(file).size / 1e6;
const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A user's keys as one comparable text (content and whether each expires). */
async function userState(client: ReturnType<typeof createClient>, h: string): Promise<string> {
  const parts = await Promise.all([
    client.hGetAll(`user:${h}:meta`).then((m) => Object.entries(m).sort()),
    client.sendCommand(["ZRANGE", `user:${h}:scores`, "0", "-1", "WITHSCORES"]),
    client.sendCommand(["ZRANGE", `user:${h}:seen`, "0", "-1", "WITHSCORES"]),
    client.zScore("stats:profiles-by-update", h),
    ...["meta", "scores", "seen"].map((k) => client.pTTL(`user:${h}:${k}`).then((t) => t > 0)),
  ]);
  return JSON.stringify(parts);
}

console.log(`backup and restore benchmark: ${PROFILES} profiles; ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)} at start`);
const commands = join(dir, "profiles.resp");
writeProfiles(commands);
const [nats, source] = await Promise.all([startNats(), startRedis()]);
const env = { NATS_URL: nats.url, REDIS_URL: source.url, STORE_KEY_FILE: keyFile };
{
  // The streams and consumers, as a role makes them at start (its log lines aside).
  setLogSink(() => undefined);
  const { nc } = await connectJetStream(loadConfig(env), "bench");
  await closeNats(nc);
  setLogSink(undefined);
}

// The data, written with redis-cli --pipe: also the floor of the restore's writes.
const pipeFill = await run("redis-cli", ["-p", String(source.port), "--pipe"], { stdin: commands });
if (!/errors: 0,/.test(pipeFill.out)) throw new Error(`redis-cli --pipe: ${pipeFill.out}`);
const src = createClient({ url: source.url });
await src.connect();
const keys = await src.dbSize();
console.log(`data: ${keys} keys, ${fmt(Number(/used_memory:(\d+)/.exec(await src.info("memory"))![1]) / 1e6)} MB in Redis`);

// Backup, and its floor: Redis's snapshot of the same data, sent to a client.
const rdb = join(dir, "dump.rdb");
// Redis waits 5 s by default for more replicas before it sends a snapshot: not part of the work.
await src.configSet("repl-diskless-sync-delay", "0");
const rdbSave = await run("redis-cli", ["-p", String(source.port), "--rdb", rdb]);
const file = join(dir, "backup.ndjson.gz");
const backup = await run(process.execPath, ["dist/main.js", "backup"], { stdout: file, env });

// Restore into an empty server, and its floors: that server loading the snapshot, and the data's commands through redis-cli --pipe.
const target = await startRedis();
const restore = await run(process.execPath, ["dist/main.js", "restore"], { stdin: file, env: { ...env, REDIS_URL: target.url } });
const summary = JSON.parse(restore.out.trim()) as { users: number; messages: number; seconds: number };
const dst = createClient({ url: target.url });
await dst.connect();
// The restored data: as many keys (and the restore's note), the same users.
const handles = Array.from({ length: 500 }, (_, i) => userHandle(storeKey, `bench-user-${Math.floor((i * PROFILES) / 500)}`));
const same = await Promise.all(handles.map(async (h) => (await userState(src, h)) === (await userState(dst, h))));
if (summary.users !== PROFILES || (await dst.dbSize()) !== keys + 1 || same.includes(false)) {
  throw new Error(`restored data differs: ${JSON.stringify(summary)}, ${await dst.dbSize()} keys, ${same.filter((s) => !s).length} users differ`);
}
await dst.flushAll();
const pipeAgain = await run("redis-cli", ["-p", String(target.port), "--pipe"], { stdin: commands });
await Promise.all([src.quit(), dst.quit()]);

const loader = startProcess("redis-server", ["--port", String(await freePort()), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no"]);
const loaded = await waitFor("the snapshot loaded", async () => {
  if (loader.child.exitCode !== null) throw new Error(`redis-server exited: ${loader.output()}`);
  return /DB loaded from disk: ([\d.]+) seconds/.exec(loader.output())?.[1];
}, 600_000, 50);
const rdbLoad = Number(loaded);
const sizes = { file: mb(file), rdb: mb(rdb) };
await stopAll();

const perMillion = (seconds: number) => (seconds * 1e6) / PROFILES;
const line = (what: string, seconds: number) => `${what}: ${fmt(seconds, 2)} s, ${fmt(PROFILES / seconds, 0)} profiles/s, ${fmt(perMillion(seconds), 0)} s per million profiles`;
console.log(line("backup", backup.seconds) + `; file ${fmt(sizes.file)} MB`);
console.log(`  floor, redis-cli --rdb: ${fmt(rdbSave.seconds, 2)} s (${fmt(perMillion(rdbSave.seconds), 0)} s per million; snapshot ${fmt(sizes.rdb)} MB): backup / floor ${fmt(backup.seconds / rdbSave.seconds)}`);
console.log(line("restore", restore.seconds) + ` (its own count: ${summary.seconds} s)`);
console.log(`  floor, a redis-server loading the snapshot: ${fmt(rdbLoad, 2)} s (${fmt(perMillion(rdbLoad), 0)} s per million): restore / floor ${fmt(restore.seconds / rdbLoad)}`);
console.log(`  floor, redis-cli --pipe of the data's commands: ${fmt(pipeAgain.seconds, 2)} s (${fmt(perMillion(pipeAgain.seconds), 0)} s per million; first fill ${fmt(pipeFill.seconds, 2)} s): restore / floor ${fmt(restore.seconds / pipeAgain.seconds)}`);
console.log(`load average ${loadavg()[0].toFixed(1)} at the end`);
process.exit(0);
