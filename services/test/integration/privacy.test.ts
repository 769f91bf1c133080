// Personal data in the store, against real processes: no user ID in Redis's files on disk (the
// append-only file before and after a rewrite; the previous version's keys once moved), erasure
// through the profile API (DELETE /profiles/<userId>) with events in flight, a full store
// (maxmemory, noeviction) that the profile writer waits out without losing or doubling an event,
// and Redis's password on every connection of the store (a server, a Sentinel and its primary).
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { createClient } from "redis";
import { loadConfig } from "../../src/config.js";
import { defaultScoring } from "../../src/scoring.js";
import { AofRewriter, isStoreFull, openStore, plainConnection, ProfileStore, userHandle, type Visit } from "../../src/store.js";
import { smallTaxonomyRows } from "../helpers/taxonomy.js";
import { freePort, requireBinaries, startNats, startProcess, startRole, stopAll, tempDir, waitFor, type Proc } from "../helpers/procs.js";
import { metric } from "../helpers/metrics.js";

const skip = requireBinaries();

type Client = ReturnType<typeof createClient>;

/** A redis-server with the lines of `conf` besides the usual ones (in a config file, not on its command line). */
async function startRedisWith(conf: string[] = [], sentinel = false): Promise<{ port: number; dir: string; url: string; proc: Proc }> {
  const port = await freePort();
  const dir = tempDir("redis-privacy-");
  const file = join(dir, "redis.conf");
  writeFileSync(file, [`port ${port}`, "bind 127.0.0.1", `dir ${dir}`, ...(sentinel ? [] : ['save ""']), ...conf, ""].join("\n"), { mode: 0o600 });
  const proc = startProcess("redis-server", sentinel ? [file, "--sentinel"] : [file]);
  await waitFor("redis-server", async () => {
    if (proc.child.exitCode !== null) throw new Error(`redis-server exited: ${proc.output()}`);
    return (sentinel ? /Sentinel ID is/ : /Ready to accept connections/).test(proc.output());
  });
  return { port, dir, url: `redis://127.0.0.1:${port}`, proc };
}

/** Append-only persistence written at once, its RDB preamble uncompressed: what the files hold can be searched. */
const aofConf = ["appendonly yes", "appendfsync always", "rdbcompression no"];

/** The content of the server's append-only files. */
const aofText = (dir: string): string =>
  readdirSync(join(dir, "appendonlydir")).map((f) => readFileSync(join(dir, "appendonlydir", f), "latin1")).join("\n");

/** Until no AOF rewrite is under way or scheduled. */
const rewritesDone = (client: Client) =>
  waitFor("the AOF rewrite", async () => {
    const info = await client.info("persistence");
    return info.includes("aof_rewrite_in_progress:0") && info.includes("aof_rewrite_scheduled:0");
  });

const usedMemory = async (client: Client) => Number(/used_memory:(\d+)/.exec(await client.info("memory"))![1]);

/**
 * Fills the server up to a maxmemory a little above what it used, then lowers maxmemory below what
 * it uses now (a write's own buffers count: one refused frees them, and the next would fit).
 * Returns the filler keys, whose removal makes room again.
 */
async function fill(client: Client): Promise<string[]> {
  await client.configSet("maxmemory", String((await usedMemory(client)) + 300_000));
  const fillers: string[] = [];
  await assert.rejects(async () => {
    for (;;) {
      const key = `filler:${fillers.length}`;
      fillers.push(key);
      await client.set(key, "x".repeat(10_000));
    }
  }, /OOM/);
  await client.configSet("maxmemory", String((await usedMemory(client)) - 50_000));
  return fillers;
}

const credit = (eventId: string, userId: string, receivedAt: number, nodeId = "1"): Visit =>
  ({ eventId, userId, ts: receivedAt - 60_000, receivedAt, outcome: "written", credits: [{ nodeId, credit: 1 }] });

describe("the store's files and a full store", { skip: skip ?? false }, () => {
  let redis: Awaited<ReturnType<typeof startRedisWith>>;
  let client: Client;
  let store: ProfileStore;
  const storeKey = "privacy-test-key";

  before(async () => {
    redis = await startRedisWith(aofConf);
    client = createClient({ url: redis.url });
    await client.connect();
  });
  beforeEach(async () => {
    await client.flushAll();
    store = new ProfileStore(plainConnection(client), defaultScoring, 3600, { storeKey, retentionSeconds: 60 });
    await store.init();
  });
  after(async () => {
    await client?.quit().catch(() => undefined);
    await stopAll();
  });

  test("a user ID never reaches the append-only file, before or after a rewrite", async () => {
    const raw = "raw-user-4711";
    const now = Date.now();
    await store.applyAll([credit("a1", raw, now), { ...credit("a2", raw, now), outcome: "unmatched", credits: [] }], now);
    await store.erase("erased-user-4712");
    const h = userHandle(storeKey, raw);
    let text = aofText(redis.dir);
    assert.ok(text.includes(`user:${h}:scores`), "the files hold the profile, under its handle");
    for (const id of [raw, "erased-user-4712"]) assert.ok(!text.includes(id), `${id} in the append-only file`);
    assert.equal(await store.rewriteAof(), true);
    await rewritesDone(client);
    text = aofText(redis.dir);
    assert.ok(text.includes(`user:${h}:scores`), "the rewritten files hold the profile");
    for (const id of [raw, "erased-user-4712"]) assert.ok(!text.includes(id), `${id} in the rewritten append-only file`);
  });

  test("the previous version's user IDs leave the files once its profiles are moved and the AOF rewritten, after a rewrite under way", async () => {
    const raw = "legacy-user-0815";
    await client.zAdd(`profile:${raw}:scores`, [{ score: 1, value: "1" }]);
    await client.hSet(`profile:${raw}:meta`, { epoch: "1000", events: "1", updated: String(Date.now()) });
    assert.ok(aofText(redis.dir).includes(raw), "the old keys are in the files");
    // A slow rewrite under way (a delay per key), which forked before the move: the rewriter's
    // request is refused, and made again until one runs after the move.
    await client.configSet("rdb-key-save-delay", "300000");
    try {
      assert.equal(await store.rewriteAof(), true);
      assert.equal(await store.rewriteAof(), false, "refused while one is under way");
      assert.equal(await store.migrate(), 1);
      const rewriter = new AofRewriter(store, 200);
      rewriter.request();
      await waitFor("the user ID out of the files", async () => !aofText(redis.dir).includes(raw), 30_000, 200);
      rewriter.stop();
    } finally {
      await client.configSet("rdb-key-save-delay", "0");
    }
    assert.deepEqual((await store.profile(raw))?.events, 1);
    await rewritesDone(client);
  });

  test("at maxmemory a batch is refused whole (isStoreFull); erasure and the retention sweep still run", async () => {
    const now = Date.now();
    await store.applyAll([credit("f1", "kept", now)], now);
    await store.applyAll([credit("f2", "stale", now - 120_000)], now - 120_000);
    const fillers = await fill(client);
    try {
      const before = await store.stats();
      await assert.rejects(store.applyAll([credit("f3", "kept", now), credit("f4", "new", now)], now), (e) => isStoreFull(e));
      assert.deepEqual(await store.stats(), before, "nothing of the batch was applied");
      assert.equal((await store.profile("kept"))?.events, 1);
      assert.equal(await store.profile("new"), null);
      assert.equal(await store.erase("kept", now), true);
      assert.equal(await store.sweep(now), 1, "the stale profile");
      assert.equal((await store.activity(60, now)).profiles, 0);
      await client.del(fillers);
      assert.deepEqual(await store.applyAll([credit("f3", "kept", now + 1), credit("f4", "new", now)], now + 1), ["applied", "applied"]);
    } finally {
      await client.configSet("maxmemory", "0");
    }
  });
});

describe("the profile writer and the profile API", { skip: skip ?? false }, () => {
  let redis: Awaited<ReturnType<typeof startRedisWith>>;
  let client: Client;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let writer: Proc & { url: string };
  let api: string;
  const storeKey = "pipeline-store-key";

  /** Categorised events as the categoriser publishes them (a message of several). */
  const publish = async (events: Array<{ eventId: string; userId: string; nodeId: string; receivedAt: number }>) => {
    const results = events.map((e) => ({ ...e, timestamp: e.receivedAt - 60_000, confidence: 1, stage: "text", categorisedAt: Date.now() }));
    await jetstream(nc).publish("events.categorised", JSON.stringify(results));
  };
  const stats = async () => (await (await fetch(`${api}/stats`)).json()) as Record<string, number>;
  const activity = async () => (await (await fetch(`${api}/activity`)).json()) as { profiles: number };
  const profile = async (userId: string) => {
    const r = await fetch(`${api}/profiles/${encodeURIComponent(userId)}`);
    return { status: r.status, body: (await r.json()) as { events: number; interests: Array<{ nodeId: string }>; error?: string } };
  };
  const interests = async () => ({ ...(await client.hGetAll("stats:interests")) });

  before(async () => {
    const [nats, r] = await Promise.all([startNats(), startRedisWith(aofConf)]);
    redis = r;
    const dir = tempDir("privacy-roles-");
    writeFileSync(join(dir, "taxonomy.tsv"), smallTaxonomyRows.join("\n") + "\n");
    writeFileSync(join(dir, "store-key"), `${storeKey}\n`, { mode: 0o600 });
    const env = {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      TAXONOMY_FILE: join(dir, "taxonomy.tsv"),
      STORE_KEY_FILE: join(dir, "store-key"),
      ACK_WAIT_MS: "2000",
    };
    const [w, a] = await Promise.all([startRole("profile-writer", env), startRole("profile-api", env)]);
    writer = w;
    api = a.url;
    client = createClient({ url: redis.url });
    await client.connect();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await nc?.close().catch(() => undefined);
    await client?.quit().catch(() => undefined);
    await stopAll();
  });

  test("DELETE /profiles/<userId>: 204 known or not; the profile, its share of the stats and its files go; events received before it are dropped", async () => {
    const t = Date.now();
    await publish([
      { eventId: "x1", userId: "erase-me", nodeId: "3", receivedAt: t },
      { eventId: "x2", userId: "erase-me", nodeId: "2", receivedAt: t },
      { eventId: "x3", userId: "keep-me", nodeId: "3", receivedAt: t },
    ]);
    await waitFor("the visits applied", async () => (await stats()).written === 3);
    assert.equal((await profile("erase-me")).status, 200);
    assert.equal((await activity()).profiles, 2);
    assert.deepEqual(await interests(), { "3": "2", "2": "1" });
    const h = userHandle(storeKey, "erase-me");
    assert.ok(aofText(redis.dir).includes(`user:${h}:scores`));

    const erased = await fetch(`${api}/profiles/erase-me`, { method: "DELETE" });
    assert.equal(erased.status, 204);
    assert.equal(await erased.text(), "");
    const gone = await profile("erase-me");
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, { error: "unknown user" }, "the answer does not repeat the user ID");
    const unknown = await fetch(`${api}/profiles/nobody-at-all`, { method: "DELETE" });
    assert.equal(unknown.status, 204);
    assert.equal(await unknown.text(), "");
    assert.equal((await activity()).profiles, 1);
    assert.deepEqual(await interests(), { "3": "1" });
    assert.equal((await profile("keep-me")).status, 200);
    // The profile API has Redis rewrite its append-only file: the erased profile leaves the files.
    await waitFor("the erased profile out of the files", async () => {
      const text = aofText(redis.dir);
      return !text.includes(`user:${h}:scores`) && !text.includes(`user:${h}:meta`);
    }, 30_000, 200);

    // In flight at the erasure (received before it; x1 a redelivery), then one received after it.
    await publish([{ eventId: "x4", userId: "erase-me", nodeId: "3", receivedAt: t }, { eventId: "x1", userId: "erase-me", nodeId: "3", receivedAt: t }]);
    await waitFor("the visits in flight dropped", async () => (await stats()).erased === 2);
    assert.equal((await profile("erase-me")).status, 404);
    await publish([{ eventId: "x5", userId: "erase-me", nodeId: "1", receivedAt: Date.now() + 1 }]);
    await waitFor("the later visit applied", async () => (await stats()).written === 4);
    const back = await profile("erase-me");
    assert.equal(back.body.events, 1);
    assert.deepEqual(back.body.interests.map((i) => i.nodeId), ["1"]);
    assert.equal(await metric(writer.url, "categorisation_events_skipped_total", { reason: "erased" }), 2);
  });

  test("a full store: the writer holds the events, unacknowledged, logs it once, and applies each once when there is room", async () => {
    const before = await stats();
    const fillers = await fill(client);
    const users = ["full-a", "full-b", "full-c"];
    try {
      for (let m = 0; m < 3; m++) {
        await publish(Array.from({ length: 10 }, (_, i) => ({ eventId: `full-${m}-${i}`, userId: users[i % 3], nodeId: "3", receivedAt: Date.now() })));
      }
      // Several retries' worth (every second: ACK_WAIT_MS / 2).
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal((await stats()).written, before.written, "nothing applied");
      assert.equal((await jsm.streams.info("CATEGORISED")).state.messages, 3, "the stream keeps the events");
      const consumer = await jsm.consumers.info("CATEGORISED", "profile-writer");
      assert.equal(consumer.num_ack_pending + consumer.num_pending, 3, "none acknowledged");
      assert.equal(consumer.num_redelivered, 0, "held, not redelivered");
      const lines = writer.output().split("\n").filter((l) => l.includes("the store is full"));
      assert.equal(lines.length, 1, "one line for the whole time");
      await client.del(fillers);
    } finally {
      await client.configSet("maxmemory", "0");
    }
    await waitFor("the events applied", async () => (await stats()).written === before.written + 30, 20_000);
    await waitFor("the stream emptied", async () => (await jsm.streams.info("CATEGORISED")).state.messages === 0);
    let events = 0;
    for (const u of users) events += (await profile(u)).body.events;
    assert.equal(events, 30, "each applied once");
    assert.equal((await stats()).duplicates ?? 0, before.duplicates ?? 0);
    assert.match(writer.output(), /the store has room again/);
    // No user ID of these tests in the files, before or after a rewrite.
    for (const rewrite of [false, true]) {
      if (rewrite) {
        await client.sendCommand(["BGREWRITEAOF"]).catch(() => undefined);
        await rewritesDone(client);
      }
      const text = aofText(redis.dir);
      for (const id of ["erase-me", "keep-me", ...users]) assert.ok(!text.includes(id), `${id} in the files`);
    }
  });
});

describe("Redis's password on every connection of the store", { skip: skip ?? false }, () => {
  const password = "store-password-7f3a9c";
  let passwordFile: string;
  let server: Awaited<ReturnType<typeof startRedisWith>>;

  before(async () => {
    passwordFile = join(tempDir("redis-password-"), "password");
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    server = await startRedisWith([`requirepass ${password}`]);
  });
  after(stopAll);

  /** Whether a client without the password is refused. */
  const refusesAnonymous = async (port: number, command: string[]) => {
    const anonymous = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
    anonymous.on("error", () => undefined);
    await anonymous.connect();
    try {
      await assert.rejects(anonymous.sendCommand(command), /NOAUTH/);
    } finally {
      anonymous.destroy();
    }
  };
  const works = async (store: ProfileStore) => {
    try {
      assert.equal(await store.ping(), true);
      assert.equal(await store.apply(`pw-${Math.random()}`, "pw-user", Date.now(), "written", [{ nodeId: "1", credit: 1 }]), true);
    } finally {
      await store.connection.close();
    }
  };

  test("one server: the store connects with REDIS_PASSWORD_FILE's password", async () => {
    await refusesAnonymous(server.port, ["PING"]);
    await works(await openStore(loadConfig({ REDIS_URL: server.url, REDIS_PASSWORD_FILE: passwordFile })));
  });

  test("Sentinel: the store asks the Sentinel, and connects to the primary it names, with the password", async () => {
    const sentinel = await startRedisWith([
      `requirepass ${password}`,
      `sentinel monitor profiles 127.0.0.1 ${server.port} 1`,
      `sentinel auth-pass profiles ${password}`,
    ], true);
    await refusesAnonymous(sentinel.port, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "profiles"]);
    await works(await openStore(loadConfig({
      REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`,
      REDIS_MASTER_NAME: "profiles",
      REDIS_PASSWORD_FILE: passwordFile,
    })));
  });
});
