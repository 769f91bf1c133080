// The profile store's Lua scripts against a real redis-server: what a visit
// writes to the user's sorted set and meta hash (under the user's handle), the
// event-id check per user, the counters, decay relative to the epoch, rebasing
// and top-N trimming; erasure, retention and the move of the previous
// version's keys.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { creditsFor, defaultScoring, type Credit, type ScoringSettings } from "../../src/scoring.js";
import { plainConnection, ProfileStore, RATE_SECONDS, userHandle, type Outcome, type StoreOptions } from "../../src/store.js";
import { parseTaxonomy } from "../../src/taxonomy.js";
import { smallTaxonomyRows } from "../helpers/taxonomy.js";
import { requireBinaries, startRedis, stopAll } from "../helpers/procs.js";

const skip = requireBinaries(["redis-server"]);

const tax = parseTaxonomy([
  ...smallTaxonomyRows,
  "7\t\tReligion\tReligion\t\t\t\tSCD",
].join("\n"));

describe("profile store (Lua script in Redis)", { skip: skip ?? false }, () => {
  let client: ReturnType<typeof createClient>;
  const ttl = 3600;
  const storeKey = "store-test-key";
  const store = (s: Partial<ScoringSettings> = {}, options: StoreOptions = {}) =>
    new ProfileStore(plainConnection(client), { ...defaultScoring, ...s }, ttl, { storeKey, ...options });
  /** A user's key: under the user's handle. */
  const key = (user: string, part: "scores" | "meta" | "seen" | "erased") => `user:${userHandle(storeKey, user)}:${part}`;
  const scores = async (user: string) => {
    const flat = (await client.sendCommand(["ZRANGE", key(user, "scores"), "0", "-1", "WITHSCORES"])) as string[];
    const out: Record<string, number> = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = Number(flat[i + 1]);
    return out;
  };
  const meta = async (user: string) => ({ ...(await client.hGetAll(key(user, "meta"))) });
  const seen = async (user: string) => (await client.zRange(key(user, "seen"), 0, -1)).sort();
  const interests = async () => ({ ...(await client.hGetAll("stats:interests")) });
  const indexed = async () => (await client.zRange("stats:profiles-by-update", 0, -1)).sort();
  const stats = async () => ({ ...(await client.hGetAll("stats:pipeline")) });
  /** A visit as the profile writer makes it: credits and outcome from the node. */
  const visit = (st: ProfileStore, eventId: string, user: string, ts: number, nodeId: string | null, confidence = 1) => {
    const credits: Credit[] = nodeId === null ? [] : creditsFor(tax, nodeId, confidence, st.scoring);
    const outcome: Outcome = credits.length ? "written" : nodeId !== null && tax.get(nodeId) ? "sensitive" : "unmatched";
    return st.apply(eventId, user, ts, outcome, credits);
  };

  before(async () => {
    const redis = await startRedis();
    client = createClient({ url: redis.url });
    await client.connect();
  });
  after(async () => {
    await client?.quit().catch(() => undefined);
    await stopAll();
  });
  beforeEach(async () => {
    await client.flushDb();
  });

  test("a visit credits its node and each ancestor with half of the one below; visits add up", async () => {
    const s = store();
    await s.init();
    assert.equal(await visit(s, "e1", "u", 5000, "3"), true);
    assert.deepEqual(await scores("u"), { "3": 1, "2": 0.5, "1": 0.25 });
    assert.deepEqual(await meta("u"), { epoch: "5000", events: "1", updated: "5000", "i:3": "1" });
    assert.equal(await visit(s, "e2", "u", 5000, "2", 0.5), true);
    assert.deepEqual(await scores("u"), { "3": 1, "2": 1, "1": 0.5 });
    assert.deepEqual(await meta("u"), { epoch: "5000", events: "2", updated: "5000", "i:3": "1", "i:2": "1" });
    assert.deepEqual(await stats(), { written: "2" });
    assert.deepEqual(await seen("u"), ["e1", "e2"]);
    const left = await client.ttl(key("u", "seen"));
    assert.ok(left > ttl - 10 && left <= ttl, `the seen event ids expire in ${left} s`);
    // The profile's keys expire a day after its retention, should no sweep remove them.
    for (const part of ["scores", "meta"] as const) {
      const expiry = await client.ttl(key("u", part));
      assert.ok(expiry > 400 * 86_400 && expiry <= 401 * 86_400, `${part} expires in ${expiry} s`);
    }
    // No key names the user.
    assert.deepEqual((await client.keys("*u*")).filter((k) => k.split(":").includes("u")), []);
  });

  test("a low confidence still earns the least credit", async () => {
    await visit(store(), "e1", "u", 0, "2", 0.01);
    assert.deepEqual(await scores("u"), { "2": defaultScoring.minCredit, "1": defaultScoring.minCredit / 2 });
  });

  test("SCD nodes and nodes below them are never written, nor their ancestors: no profile", async () => {
    const s = store();
    await visit(s, "e1", "u", 0, "5");
    await visit(s, "e2", "u", 0, "6");
    assert.deepEqual(await scores("u"), {});
    assert.deepEqual(await meta("u"), {});
    assert.deepEqual(await interests(), {});
    assert.deepEqual(await stats(), { sensitive: "2" });
  });

  test("a visit with no credits counts its outcome once and creates no profile", async () => {
    const s = store();
    assert.equal(await visit(s, "e1", "u", 1000, null), true);
    assert.equal(await visit(s, "e2", "u", 2000, "7"), true);
    assert.equal(await visit(s, "e3", "u", 3000, "unknown-node"), true);
    assert.equal(await visit(s, "e1", "u", 1000, null), false);
    assert.deepEqual(await stats(), { unmatched: "2", sensitive: "1", duplicates: "1" });
    assert.deepEqual(await seen("u"), ["e1", "e2", "e3"]);
    assert.equal(await client.exists([key("u", "scores"), key("u", "meta")]), 0);
    assert.equal(await s.profile("u"), null);
    assert.deepEqual(await indexed(), []);
    assert.equal((await s.activity()).profiles, 0);
    // The profile (and its epoch) starts with the first credited visit.
    await visit(s, "e4", "u", 4000, "1");
    assert.deepEqual(await meta("u"), { epoch: "4000", events: "1", updated: "4000", "i:1": "1" });
    assert.deepEqual(await indexed(), [userHandle(storeKey, "u")]);
  });

  test("a visit counts once per user and event id, whatever the repeat carries; the same id from another user counts for both", async () => {
    const s = store();
    assert.equal(await visit(s, "e1", "u", 1000, "2"), true);
    assert.equal(await visit(s, "e1", "u", 1000, "2"), false);
    assert.equal(await visit(s, "e1", "u", 9000, "3"), false);
    assert.equal(await visit(s, "e1", "other", 1000, "2"), true);
    assert.equal(await visit(s, "e1", "other", 1000, "2"), false);
    assert.deepEqual(await scores("u"), { "2": 1, "1": 0.5 });
    assert.deepEqual(await meta("u"), { epoch: "1000", events: "1", updated: "1000", "i:2": "1" });
    assert.deepEqual(await scores("other"), { "2": 1, "1": 0.5 });
    assert.deepEqual(await stats(), { written: "2", duplicates: "3" });
    assert.deepEqual(await interests(), { "2": "2" });
    assert.equal((await s.activity()).profiles, 2);
  });

  test("seen event ids are kept for the dedup window: older ones are trimmed as visits are applied", async () => {
    const s = store();
    const t0 = 1_700_000_000_000;
    const unmatched = (eventId: string, at: number) => s.applyAll([{ eventId, userId: "u", ts: at, outcome: "unmatched", credits: [] }], at);
    assert.deepEqual(await unmatched("old", t0), ["applied"]);
    assert.deepEqual(await unmatched("old", t0 + ttl * 1000 - 1), ["duplicate"]);
    assert.deepEqual(await unmatched("new", t0 + ttl * 1000 + 1), ["applied"]);
    assert.deepEqual(await seen("u"), ["new"], "the id older than the window is gone");
    assert.deepEqual(await unmatched("old", t0 + ttl * 1000 + 2), ["applied"], "and counts again, as the global key's expiry did");
  });

  test("newer visits weigh more: values are stored relative to the epoch and decay from it", async () => {
    const s = store({ halfLifeMs: 1000 });
    await s.apply("a", "u", 0, "written", [{ nodeId: "old", credit: 1 }]);
    await s.apply("b", "u", 2000, "written", [{ nodeId: "new", credit: 1 }]);
    assert.deepEqual(await scores("u"), { old: 1, new: 4 });
    assert.deepEqual(await meta("u"), { epoch: "0", events: "2", updated: "2000", "i:old": "1", "i:new": "1" });
    assert.deepEqual(await s.profile("u", 2000), { events: 2, interests: [{ nodeId: "new", credit: 1 }, { nodeId: "old", credit: 0.25 }] });
    assert.deepEqual(await s.profile("u", 3000), { events: 2, interests: [{ nodeId: "new", credit: 0.5 }, { nodeId: "old", credit: 0.125 }] });
  });

  test("rebases the epoch long after it without changing current scores", async () => {
    const s = store({ halfLifeMs: 1 });
    await s.apply("a", "u", 0, "written", [{ nodeId: "x", credit: 1 }]);
    await s.apply("b", "u", 64, "written", [{ nodeId: "y", credit: 1 }]);
    assert.deepEqual(await scores("u"), { x: 1, y: 2 ** 64 }, "no rebase up to 2^64");
    assert.equal((await meta("u")).epoch, "0");
    await s.apply("c", "u", 100, "written", [{ nodeId: "z", credit: 1 }]);
    assert.deepEqual(await scores("u"), { x: 2 ** -100, y: 2 ** -36, z: 1 });
    assert.equal((await meta("u")).epoch, "100");
    assert.deepEqual(await s.profile("u", 100), {
      events: 3,
      interests: [{ nodeId: "z", credit: 1 }, { nodeId: "y", credit: 2 ** -36 }, { nodeId: "x", credit: 2 ** -100 }],
    });
  });

  test("keeps the top N by value", async () => {
    const s = store({ topN: 2 });
    await s.apply("a", "u", 0, "written", [{ nodeId: "x", credit: 3 }, { nodeId: "y", credit: 2 }, { nodeId: "z", credit: 1 }]);
    assert.deepEqual(await scores("u"), { x: 3, y: 2 });
    await s.apply("b", "u", 0, "written", [{ nodeId: "z", credit: 5 }]);
    assert.deepEqual(await scores("u"), { x: 3, z: 5 });
  });

  test("works when Redis has not cached the script (EVAL after NOSCRIPT)", async () => {
    await client.sendCommand(["SCRIPT", "FLUSH"]);
    const s = store();
    assert.equal(await visit(s, "e1", "u", 0, "2"), true);
    assert.equal(await visit(s, "e1", "u", 0, "2"), false);
    assert.deepEqual(await scores("u"), { "2": 1, "1": 0.5 });
  });

  test("a batch applies each visit in order, as one visit at a time would, repeats included", async () => {
    const s = store();
    await s.init();
    const credits = (nodeId: string) => creditsFor(tax, nodeId, 1, s.scoring);
    const applied = await s.applyAll([
      { eventId: "b1", userId: "u", ts: 5000, outcome: "written", credits: credits("3") },
      { eventId: "b2", userId: "v", ts: 5000, outcome: "unmatched", credits: [] },
      { eventId: "b1", userId: "u", ts: 5000, outcome: "written", credits: credits("3") },
      { eventId: "b3", userId: "u", ts: 5000, outcome: "written", credits: credits("2") },
    ]);
    assert.deepEqual(applied, ["applied", "applied", "duplicate", "applied"]);
    assert.deepEqual(await scores("u"), { "3": 1, "2": 1.5, "1": 0.75 });
    assert.deepEqual(await meta("u"), { epoch: "5000", events: "2", updated: "5000", "i:3": "1", "i:2": "1" });
    assert.deepEqual(await meta("v"), {});
    assert.deepEqual(await stats(), { written: "2", unmatched: "1", duplicates: "1" });
    assert.deepEqual(await s.applyAll([{ eventId: "b2", userId: "v", ts: 6000, outcome: "unmatched", credits: [] }]), ["duplicate"]);
  });

  test("activity: visits applied per second over the last minute, and the number of profiles", async () => {
    const s = store();
    await s.init();
    const credits = creditsFor(tax, "3", 1, s.scoring);
    const at = (second: number) => second * 1000 + 500;
    const visit = (eventId: string, userId: string) => ({ eventId, userId, ts: 5000, outcome: "written" as const, credits });
    await s.applyAll([visit("a1", "u1"), visit("a2", "u2")], at(1000));
    await s.applyAll([visit("a3", "u1"), visit("a1", "u1")], at(1030));
    await s.applyAll([{ eventId: "a4", userId: "u3", ts: 5000, outcome: "unmatched", credits: [] }], at(1059));
    // At second 1060: 4 applied in the 60 s before (the repeat of a1 not counted); u3 has no profile.
    assert.deepEqual(await s.activity(60, at(1060)), { eventsPerSecond: 4 / 60, profiles: 2 });
    // A minute later the first second has left the window.
    assert.deepEqual(await s.activity(60, at(1061)), { eventsPerSecond: 2 / 60, profiles: 2 });
  });

  test("dashboard data: per-second throughput, the most visited interests, lag samples kept for RATE_SECONDS", async () => {
    const s = store();
    await s.init();
    const at = (second: number) => second * 1000 + 500;
    const visit = (eventId: string, nodeId: string) => ({ eventId, userId: "d1", ts: 5000, outcome: "written" as const, credits: creditsFor(tax, nodeId, 1, s.scoring) });
    await s.applyAll([visit("d1", "3"), visit("d2", "3"), visit("d3", "2")], at(2000));
    await s.applyAll([visit("d4", "3"), visit("d1", "3")], at(2002));
    assert.deepEqual(await s.throughput(4, at(2003)), [{ t: 1999, applied: 0 }, { t: 2000, applied: 3 }, { t: 2001, applied: 0 }, { t: 2002, applied: 1 }]);
    // Each visit counts its most specific interest once (not its ancestors); the repeat of d1 not at all.
    assert.deepEqual(await s.topInterests(), [{ nodeId: "3", visits: 3 }, { nodeId: "2", visits: 1 }]);
    await s.recordLag({ "EVENTS/categoriser": { pending: 5, unacked: 1 } }, at(3000));
    await s.recordLag({ "EVENTS/categoriser": { pending: 0, unacked: 0 } }, at(3000 + RATE_SECONDS));
    assert.deepEqual(await s.lagHistory(RATE_SECONDS, at(3000 + RATE_SECONDS)), [
      { t: 3000, lag: { "EVENTS/categoriser": { pending: 5, unacked: 1 } } },
      { t: 3000 + RATE_SECONDS, lag: { "EVENTS/categoriser": { pending: 0, unacked: 0 } } },
    ]);
    // A sample older than RATE_SECONDS goes when the next is recorded.
    await s.recordLag({}, at(3001 + RATE_SECONDS));
    assert.equal((await s.lagHistory(2 * RATE_SECONDS, at(3001 + RATE_SECONDS))).length, 2);
  });

  /** A credited visit of node `nodeId`, received (by the collector) at `receivedAt`, of a much older ts. */
  const credited = (st: ProfileStore, eventId: string, userId: string, nodeId: string, receivedAt: number) =>
    ({ eventId, userId, ts: 5000, receivedAt, outcome: "written" as const, credits: creditsFor(tax, nodeId, 1, st.scoring) });

  test("erasure: the user's profile, seen ids and share of the stats go; visits received before it that arrive later are dropped", async () => {
    const s = store();
    const t0 = 1_700_000_000_000;
    await s.applyAll([credited(s, "e1", "u", "3", t0), credited(s, "e2", "u", "2", t0), credited(s, "e3", "w", "3", t0)], t0);
    assert.deepEqual(await interests(), { "3": "2", "2": "1" });
    assert.equal((await s.activity(60, t0)).profiles, 2);

    assert.equal(await s.erase("u", t0 + 1000), true);
    assert.equal(await s.profile("u"), null);
    assert.deepEqual(await interests(), { "3": "1" }, "u's visits subtracted, a count at 0 dropped");
    assert.equal((await s.activity(60, t0)).profiles, 1);
    assert.deepEqual(await indexed(), [userHandle(storeKey, "w")]);
    assert.equal(await client.exists([key("u", "scores"), key("u", "meta"), key("u", "seen")]), 0);
    assert.equal(await client.get(key("u", "erased")), String(t0 + 1000));
    const tombstone = await client.ttl(key("u", "erased"));
    assert.ok(tombstone > 2 * ttl - 10 && tombstone <= 2 * ttl, `the tombstone lasts ${tombstone} s`);
    assert.deepEqual(await scores("w"), { "3": 1, "2": 0.5, "1": 0.25 }, "another user untouched");

    // In flight at the erasure: received before it (a redelivery of e1 too), they arrive after it.
    // A visit received after it counts, whatever its own (older) timestamp.
    const late = await s.applyAll([credited(s, "e4", "u", "3", t0 + 1000), credited(s, "e1", "u", "3", t0), credited(s, "e5", "u", "1", t0 + 1001)], t0 + 2000);
    assert.deepEqual(late, ["erased", "erased", "applied"]);
    assert.deepEqual(await scores("u"), { "1": 1 });
    assert.deepEqual(await meta("u"), { epoch: "5000", events: "1", updated: "5000", "i:1": "1" });
    assert.deepEqual(await interests(), { "3": "1", "1": "1" });
    assert.deepEqual(await stats(), { written: "4", erased: "2", erasures: "1" });

    // An unknown user: nothing to remove, the same tombstone.
    assert.equal(await s.erase("nobody", t0), false);
    assert.equal(await client.get(key("nobody", "erased")), String(t0));
    assert.equal((await s.stats()).erasures, 2);
  });

  test("retention: a sweep removes the profiles last applied more than retentionSeconds ago, whatever their visits' timestamps", async () => {
    const s = store({}, { retentionSeconds: 2 });
    const t0 = 1_700_000_000_000;
    await s.applyAll([credited(s, "r1", "old", "3", t0), credited(s, "r2", "old", "2", t0)], t0);
    await s.applyAll([credited(s, "r3", "recent", "3", t0 + 2000)], t0 + 2000);
    assert.equal(await s.sweep(t0 + 2999), 0, "not yet more than 2 s after its last visit");
    assert.equal(await s.sweep(t0 + 3000), 1);
    assert.equal(await s.profile("old"), null);
    assert.equal(await client.exists([key("old", "scores"), key("old", "meta")]), 0);
    assert.notEqual(await s.profile("recent"), null);
    assert.deepEqual(await interests(), { "3": "1" });
    assert.deepEqual(await indexed(), [userHandle(storeKey, "recent")]);
    assert.equal((await s.activity(60, t0 + 3000)).profiles, 1);
    assert.equal((await s.stats()).expired, 1);
    // Its seen event ids stay for the dedup window: a redelivery does not bring it back.
    assert.deepEqual(await s.applyAll([credited(s, "r1", "old", "3", t0)], t0 + 3000), ["duplicate"]);
    assert.equal(await s.sweep(t0 + 3000), 0, "a second sweep finds nothing");
  });

  test("retention: sweeps in batches, and sweeps run at once (several profile APIs) remove each profile once", async () => {
    const s = store({}, { retentionSeconds: 60 });
    const t0 = 1_700_000_000_000;
    const users = Array.from({ length: 25 }, (_, i) => `user-${i}`);
    await s.applyAll(users.map((u, i) => credited(s, `s${i}`, u, i % 2 ? "3" : "2", t0)), t0);
    assert.equal((await s.activity(60, t0)).profiles, 25);
    const removed = await Promise.all([s.sweep(t0 + 61_000, 2), s.sweep(t0 + 61_000, 3), s.sweep(t0 + 61_000, 100)]);
    assert.equal(removed.reduce((a, b) => a + b, 0), 25);
    assert.deepEqual(await interests(), {});
    assert.deepEqual(await indexed(), []);
    assert.equal((await s.stats()).expired, 25);
  });

  test("migration: the previous version's profiles move under their handles, indexed by their last update and expiring; run twice or at once, once", async () => {
    const now = Date.now();
    // As the previous version wrote them: keys named by user IDs (one with a colon), a counter, seen:<eventId>.
    await client.zAdd("profile:alice:scores", [{ score: 1, value: "3" }, { score: 0.5, value: "2" }]);
    await client.hSet("profile:alice:meta", { epoch: "1000", events: "3", updated: String(now - 10_000) });
    await client.zAdd("profile:bob:x:scores", [{ score: 2, value: "1" }]);
    await client.hSet("profile:bob:x:meta", { epoch: "2000", events: "1", updated: String(now + 3_600_000) });
    await client.set("stats:profiles", "2");
    await client.set("seen:e1", "1", { EX: 100 });
    const s = store();
    const moved = await Promise.all([s.migrate(now), s.migrate(now)]);
    assert.equal(moved[0] + moved[1], 2);
    assert.equal(await s.migrate(now), 0);
    assert.deepEqual(await client.keys("profile:*"), []);
    assert.equal(await client.exists("stats:profiles"), 0);
    assert.equal(await client.exists("seen:e1"), 1, "left to expire");
    assert.deepEqual(await scores("alice"), { "3": 1, "2": 0.5 });
    assert.deepEqual(await meta("alice"), { epoch: "1000", events: "3", updated: String(now - 10_000) });
    assert.deepEqual(await scores("bob:x"), { "1": 2 });
    assert.equal((await s.profile("bob:x"))?.events, 1);
    assert.equal((await s.activity(60, now)).profiles, 2);
    const at = Math.floor(now / 1000);
    assert.equal(await client.zScore("stats:profiles-by-update", userHandle(storeKey, "alice")), at - 10, "indexed by its last update");
    assert.equal(await client.zScore("stats:profiles-by-update", userHandle(storeKey, "bob:x")), at, "an update in the future counts as now");
    const expiry = await client.expireTime(key("alice", "meta"));
    assert.equal(expiry, at - 10 + s.retentionSeconds + 86_400);
    assert.equal(await client.expireTime(key("alice", "scores")), expiry);
  });

  test("migration merges a profile that this version wrote already for the same user: values move to the later epoch", async () => {
    const s = store({ halfLifeMs: 1000 });
    await client.zAdd("profile:alice:scores", [{ score: 1, value: "x" }]);
    await client.hSet("profile:alice:meta", { epoch: "0", events: "1", updated: "0" });
    await s.apply("n1", "alice", 2000, "written", [{ nodeId: "y", credit: 1 }]);
    assert.equal(await s.migrate(), 1);
    assert.deepEqual(await scores("alice"), { y: 1, x: 0.25 });
    assert.deepEqual(await meta("alice"), { epoch: "2000", events: "2", updated: "2000", "i:y": "1" });
    assert.deepEqual(await s.profile("alice", 2000), { events: 2, interests: [{ nodeId: "y", credit: 1 }, { nodeId: "x", credit: 0.25 }] });
    assert.deepEqual(await client.keys("profile:*"), []);
  });
});
