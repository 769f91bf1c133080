// Backup and restore (node dist/main.js backup|restore) against real nats-server and
// redis-server processes and the built services: a backup of a pipeline with events left in both
// streams, restored into an empty stack, gives every profile back with the pending events counted
// once each; a file cut short, a backup under another store key and a second restore change nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { streamMessages } from "../../src/backup.js";
import { createClient } from "redis";
import { defaultScoring } from "../../src/scoring.js";
import { plainConnection, ProfileStore } from "../../src/store.js";
import { requireBinaries, runMain, startNats, startRedis, startRole, stopAll, tempDir, waitFor, type Proc } from "../helpers/procs.js";

const skip = requireBinaries();

type Role = Proc & { port: number; url: string };

describe("backup and restore", { skip: skip ?? false }, () => {
  const storeKey = "backup-test-store-key";
  const tag = `${process.pid}`;
  const users = Array.from({ length: 5 }, (_, i) => `backup-u${i}-${tag}`);
  /** Only unmatched visits: the user has seen event ids, no profile. */
  const unmatchedUser = `backup-unmatched-${tag}`;
  /** Erased: a tombstone, no profile. */
  const erasedUser = `backup-erased-${tag}`;
  const urls = ["https://www.espn.com/nba/story/_/id/1/lakers-beat-celtics", "https://www.allrecipes.com/recipe/1/x/", "https://techcrunch.com/2024/01/01/ai-model/", "https://www.lonelyplanet.com/italy", "https://www.golfdigest.com/story/putting-tips"];
  const now = 1_800_000_000_000;
  let seq = 0;
  const event = (userId: string, url = urls[seq % urls.length]) => ({ eventId: `e${++seq}-${tag}`, userId, url, timestamp: 1_700_000_000_000 + seq * 60_000 });
  const eventsOf = (perUser: number) => users.flatMap((u) => Array.from({ length: perUser }, () => event(u)));

  let env: Record<string, string>;
  const roles: Record<string, Role> = {};
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let redis: ReturnType<typeof createClient>;
  let store: ProfileStore;
  /** The backup taken of the running pipeline, and what its stack came to with the pending events applied. */
  let backup: Buffer;
  let expected: { profiles: unknown[]; stats: Record<string, number>; interests: Record<string, string> };

  const start = async (...names: string[]) => {
    for (const name of names) roles[name] = await startRole(name, env);
  };
  const stop = async (...names: string[]) => {
    for (const name of names) roles[name].child.kill("SIGTERM");
    assert.deepEqual(await Promise.all(names.map((name) => roles[name].exited)), names.map(() => 0));
  };
  const post = async (events: unknown[]) => {
    const r = await fetch(`${roles.collector.url}/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) });
    assert.equal(r.status, 202, await r.text());
  };
  const processed = (s: Record<string, number>) => (s.written ?? 0) + (s.unmatched ?? 0) + (s.sensitive ?? 0);
  const messagesIn = async (stream: string) => (await jsm.streams.info(stream)).state.messages;
  /** What the store answers of every user, at a fixed time (scores decay with time). */
  const profiles = () => Promise.all([...users, unmatchedUser, erasedUser].map((u) => store.profile(u, now)));
  const interests = async () => ({ ...(await redis.hGetAll("stats:interests")) });
  /** Every key and its content (the order of a hash's fields aside), and whether it expires; the lag and per-second samples aside (the profile API writes them as time goes by). */
  const snapshot = async () => {
    const out: Record<string, unknown> = {};
    for await (const found of redis.scanIterator({ COUNT: 1000 })) {
      for (const key of found) {
        if (key === "stats:lag" || key === "stats:per-second") continue;
        const type = await redis.type(key);
        const content =
          type === "hash" ? Object.entries(await redis.hGetAll(key)).sort()
          : type === "zset" ? await redis.sendCommand(["ZRANGE", key, "0", "-1", "WITHSCORES"])
          : type === "string" ? await redis.get(key)
          : type;
        out[key] = [content, (await redis.pTTL(key)) > 0];
      }
    }
    return { keys: out, streams: await Promise.all(["EVENTS", "CATEGORISED"].map((s) => messagesIn(s).catch(() => "none"))) };
  };
  const restore = (input: Buffer, extraEnv: Record<string, string> = {}) => runMain(["restore"], { ...env, ...extraEnv }, input);
  /** Nothing in a command's stderr names a user, the store key, or an address. */
  const assertDiscreet = (stderr: string) => {
    for (const secret of [storeKey, ...users, unmatchedUser, erasedUser, env.NATS_URL, env.REDIS_URL]) assert.ok(!stderr.includes(secret), `stderr names ${secret}: ${stderr}`);
    assert.doesNotMatch(stderr, /:\/\//);
  };
  const backupLines = (file: Buffer) => gunzipSync(file).toString().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    const [n, r] = await Promise.all([startNats(), startRedis()]);
    const keyFile = join(tempDir("backup-key-"), "store-key");
    writeFileSync(keyFile, `${storeKey}\n`, { mode: 0o600 });
    env = { NATS_URL: n.url, REDIS_URL: r.url, STORE_KEY_FILE: keyFile, ACK_WAIT_MS: "2000", MAX_IN_FLIGHT: "200" };
    await start("collector", "categoriser", "profile-writer", "profile-api");
    nc = await connect({ servers: n.url });
    jsm = await jetstreamManager(nc);
    redis = createClient({ url: r.url });
    await redis.connect();
    store = new ProfileStore(plainConnection(redis), defaultScoring, 172_800, { storeKey });
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await redis?.quit().catch(() => undefined);
    await stopAll();
  });

  test("a backup of a running pipeline, with events in both streams, restored into an empty stack: every profile back, each pending event counted once", async () => {
    // Applied before the backup: 8 visits of each user, unmatched visits, an erased user.
    const applied = [...eventsOf(8), event(unmatchedUser, "https://example.org/"), event(unmatchedUser, "https://example.org/x"), event(erasedUser), event(erasedUser)];
    await post(applied);
    await waitFor("the first events applied", async () => processed(await store.stats()) === applied.length, 20_000);
    assert.equal((await fetch(`${roles["profile-api"].url}/profiles/${erasedUser}`, { method: "DELETE" })).status, 204);

    // Categorised but not applied: the writer is stopped, so the results stay in CATEGORISED.
    await stop("profile-writer");
    const categorised = eventsOf(4);
    await post(categorised);
    await waitFor("the results in CATEGORISED", async () => (await messagesIn("EVENTS")) === 0 && (await messagesIn("CATEGORISED")) > 0, 20_000);
    // Not categorised: the categoriser is stopped too, so the events stay in EVENTS.
    await stop("categoriser");
    const raw = eventsOf(4);
    await post(raw);
    // An event in a stream and in the store: applied before, published again raw (as a collector
    // retry past the duplicate window would).
    const again = { ...applied[0], receivedAt: Date.now() };
    await jetstream(nc).publish("events.raw", JSON.stringify(again), { msgID: `again-${tag}` });
    const pending = { EVENTS: await messagesIn("EVENTS"), CATEGORISED: await messagesIn("CATEGORISED") };
    assert.ok(pending.EVENTS >= 2 && pending.CATEGORISED >= 1, JSON.stringify(pending));

    const b = await runMain(["backup"], env);
    assert.equal(b.code, 0, b.stderr);
    assertDiscreet(b.stderr);
    backup = b.stdout;
    const lines = backupLines(backup);
    const [header, end] = [lines[0], lines.at(-1)!];
    assert.deepEqual(Object.keys(header), ["format", "version", "id", "createdAt", "storeKey", "streams"]);
    assert.equal(header.format, "categorisation-backup");
    assert.equal(header.version, 1);
    assert.equal(header.storeKey, storeKey);
    assert.deepEqual(header.streams, ["EVENTS", "CATEGORISED"]);
    assert.ok(Math.abs(Date.parse(String(header.createdAt)) - Date.now()) < 60_000);
    const kinds = (kind: string) => lines.filter((l) => l.kind === kind);
    assert.deepEqual(end, { kind: "end", users: users.length + 2, messages: pending.EVENTS + pending.CATEGORISED });
    assert.equal(kinds("user").length, users.length + 2, "each user once: the profiles, the unmatched one's seen ids, the erased one's tombstone");
    assert.deepEqual(kinds("msg").map((m) => m.stream), [...Array(pending.EVENTS).fill("EVENTS"), ...Array(pending.CATEGORISED).fill("CATEGORISED")]);
    assert.ok(kinds("msg").some((m) => (m.headers as Record<string, string[]>)["Nats-Msg-Id"]?.[0] === `again-${tag}`), "the messages' ids are kept");
    // The stats keys (stats:lag when the profile API has sampled by then); the index goes with each user.
    const statsKeys = kinds("key").map((k) => String(k.key));
    assert.ok(["stats:interests", "stats:per-second", "stats:pipeline"].every((k) => statsKeys.includes(k)), statsKeys.join());
    assert.ok(statsKeys.every((k) => ["stats:interests", "stats:per-second", "stats:pipeline", "stats:lag"].includes(k)), statsKeys.join());
    // The backup disturbed nothing: the messages are still there for the consumers.
    assert.deepEqual({ EVENTS: await messagesIn("EVENTS"), CATEGORISED: await messagesIn("CATEGORISED") }, pending);

    // What the stack comes to: the pending events applied, the repeat dropped.
    await start("categoriser", "profile-writer");
    const total = applied.length + categorised.length + raw.length;
    await waitFor("the pending events applied", async () => processed(await store.stats()) === total && (await store.stats()).duplicates === 1, 20_000);
    expected = { profiles: await profiles(), stats: await store.stats(), interests: await interests() };
    for (const [i, p] of expected.profiles.slice(0, users.length).entries()) assert.equal((p as { events: number }).events, 16, `user ${i}: every visit counted once`);
    assert.deepEqual(expected.profiles.slice(users.length), [null, null]);

    // A new, empty stack: the store emptied, the streams made anew.
    await stop("collector", "categoriser", "profile-writer", "profile-api");
    await redis.flushAll();
    for (const s of ["EVENTS", "CATEGORISED"]) await jsm.streams.delete(s);

    const r = await restore(backup);
    assert.equal(r.code, 0, r.stderr);
    assertDiscreet(r.stderr);
    const summary = JSON.parse(r.stdout.toString().trim()) as { users: number; messages: number; seconds: number };
    assert.deepEqual({ ...summary, seconds: typeof summary.seconds }, { users: users.length + 2, messages: pending.EVENTS + pending.CATEGORISED, seconds: "number" });
    // Before the roles run: the profiles as they were at the backup, the messages back in their streams.
    assert.deepEqual((await profiles()).slice(0, users.length).map((p) => p?.events), users.map(() => 8));
    assert.deepEqual({ EVENTS: await messagesIn("EVENTS"), CATEGORISED: await messagesIn("CATEGORISED") }, pending);
    assert.equal(await redis.exists(`user:${store.handle(erasedUser)}:erased`), 1, "the tombstone is back");

    await start("categoriser", "profile-writer", "profile-api", "collector");
    await waitFor("the pending events applied again", async () => processed(await store.stats()) === total && (await store.stats()).duplicates === 1, 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await store.stats(), expected.stats);
    assert.deepEqual(await interests(), expected.interests);
    const restored = await profiles();
    for (const [i, p] of restored.entries()) {
      const want = expected.profiles[i] as typeof p;
      assert.equal(p?.events, want?.events);
      assert.deepEqual(p?.interests.map((x) => x.nodeId), want?.interests.map((x) => x.nodeId));
      p?.interests.forEach((x, j) => assert.ok(Math.abs(x.credit - want!.interests[j].credit) <= 1e-9 * want!.interests[j].credit, `user ${i}, ${x.nodeId}`));
    }
    // Through the profile API too.
    const answer = (await (await fetch(`${roles["profile-api"].url}/profiles/${users[0]}`)).json()) as { events: number };
    assert.equal(answer.events, 16);
  });

  test("restoring the same file twice changes nothing the second time", async () => {
    assert.ok(backup, "the first test made a backup");
    const before = await snapshot();
    const r = await restore(backup);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.toString()) as { users: number; messages: number };
    assert.deepEqual([summary.users, summary.messages], [0, 0]);
    assert.match(r.stderr, /restored into this store already/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await snapshot(), before);
    assert.deepEqual(await store.stats(), expected.stats);
  });

  test("a file cut short, or not a backup of this format and version, is refused (exit 4) and changes nothing", async () => {
    assert.ok(backup, "the first test made a backup");
    const before = await snapshot();
    const text = gunzipSync(backup).toString().split("\n").filter(Boolean);
    const header = JSON.parse(text[0]) as Record<string, unknown>;
    const cases: Array<[string, Buffer, RegExp]> = [
      ["cut in half", backup.subarray(0, Math.floor(backup.length / 2)), /refused: the file ends early: it is truncated/],
      ["without its end line", gzipSync(text.slice(0, -1).join("\n") + "\n"), /refused: the backup has no end line: it is truncated/],
      ["of another version", gzipSync([JSON.stringify({ ...header, version: 2 }), ...text.slice(1)].join("\n") + "\n"), /refused: a categorisation-backup of version 2: this version reads version 1 only/],
      ["not gzip", Buffer.from("not a backup\n"), /refused: the input is not gzip data/],
      ["empty", Buffer.alloc(0), /refused: (the input is empty|the file ends early)/],
    ];
    for (const [name, input, message] of cases) {
      const r = await restore(input);
      assert.equal(r.code, 4, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${name}: one line`);
      assert.equal(r.stdout.length, 0, name);
      assertDiscreet(r.stderr);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test("a backup under another store key is refused (exit 3), naming neither key, and changes nothing", async () => {
    assert.ok(backup, "the first test made a backup");
    const before = await snapshot();
    const otherKey = "another-store-key";
    const keyFile = join(tempDir("backup-other-key-"), "store-key");
    writeFileSync(keyFile, `${otherKey}\n`, { mode: 0o600 });
    const r = await restore(backup, { STORE_KEY_FILE: keyFile });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr, "restore refused: the backup's profiles are keyed under another store key: restore it into a stack that uses the backup's key\n");
    assert.ok(!r.stderr.includes(otherKey));
    assertDiscreet(r.stderr);
    assert.deepEqual(await snapshot(), before);
  });

  test("restored into a store that has profiles: the backup's users replaced, the others kept, the counters added to, stats:interests the sum of the profiles' counts", async () => {
    const b = await runMain(["backup"], env);
    assert.equal(b.code, 0, b.stderr);
    const lines = backupLines(b.stdout);
    const counters = Object.fromEntries(
      ((lines.find((l) => l.key === "stats:pipeline")!.value as string[]).flatMap((v, i, all) => (i % 2 === 0 ? [[v, Number(all[i + 1])]] : []))),
    ) as Record<string, number>;
    const atBackup = await profiles();
    // After the backup: a visit of a user in it, and a user who is not in it.
    const credits = [{ nodeId: "PV2303", credit: 1 }, { nodeId: "PV23", credit: 0.5 }];
    const extra = `backup-extra-${tag}`;
    await store.applyAll([
      { eventId: `late-${tag}`, userId: users[0], ts: 1_700_100_000_000, outcome: "written", credits },
      { eventId: `extra-${tag}`, userId: extra, ts: 1_700_100_000_000, outcome: "written", credits },
    ]);
    assert.equal((await store.profile(users[0], now))?.events, 17);
    const extraProfile = await store.profile(extra, now);
    const before = await store.stats();

    const r = await restore(b.stdout);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout.toString()) as { users: number }).users, users.length + 2);
    assert.deepEqual(await profiles(), atBackup, "the backup's users as they were in it");
    assert.deepEqual(await store.profile(extra, now), extraProfile, "a user the backup does not hold is kept");
    const after = await store.stats();
    for (const [field, n] of Object.entries(counters)) assert.equal(after[field], (before[field] ?? 0) + n, field);
    // stats:interests: the sum of the profiles' counts, the replaced profile's share taken off.
    const sums: Record<string, number> = {};
    for await (const found of redis.scanIterator({ MATCH: "user:*:meta", COUNT: 1000 })) {
      for (const key of found) {
        for (const [field, n] of Object.entries(await redis.hGetAll(key))) if (field.startsWith("i:")) sums[field.slice(2)] = (sums[field.slice(2)] ?? 0) + Number(n);
      }
    }
    assert.deepEqual(Object.fromEntries(Object.entries(await interests()).map(([k, v]) => [k, Number(v)])), sums);
    assert.equal((await redis.zRange("stats:profiles-by-update", 0, -1)).length, users.length + 1);
  });

  test("a stream's messages are read by sequence, past a run of acknowledged ones, without disturbing its consumer", async () => {
    await jsm.streams.add({ name: "HOLES", subjects: ["holes.>"], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add("HOLES", { durable_name: "worker", ack_policy: AckPolicy.Explicit });
    const js = jetstream(nc);
    for (let i = 1; i <= 300; i++) await js.publish(`holes.${i % 3}`, `m${i}`, { msgID: `h${i}` });
    // Gone (as acknowledged): a run longer than the reads made at once.
    for (let seq = 11; seq <= 250; seq++) await jsm.streams.deleteMessage("HOLES", seq, false);
    const read: Array<[number, string, string, string]> = [];
    for await (const found of streamMessages(jsm, "HOLES")) {
      for (const m of found) read.push([m.seq, m.subject, new TextDecoder().decode(m.data), m.header.get("Nats-Msg-Id")]);
    }
    const kept = [...Array.from({ length: 10 }, (_, i) => i + 1), ...Array.from({ length: 50 }, (_, i) => i + 251)];
    assert.deepEqual(read, kept.map((i) => [i, `holes.${i % 3}`, `m${i}`, `h${i}`]));
    const consumer = await jsm.consumers.info("HOLES", "worker");
    assert.deepEqual([consumer.num_pending, consumer.delivered.stream_seq, consumer.num_ack_pending], [60, 0, 0]);
    await jsm.streams.delete("HOLES");
  });
});
