// The profile store's Lua script against a real redis-server: what a visit
// writes to the user's sorted set and meta hash, the event-id check, the
// counters, decay relative to the epoch, rebasing and top-N trimming.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { creditsFor, defaultScoring, type Credit, type ScoringSettings } from "../../src/scoring.js";
import { plainConnection, ProfileStore, RATE_SECONDS, type Outcome } from "../../src/store.js";
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
  const store = (s: Partial<ScoringSettings> = {}) => new ProfileStore(plainConnection(client), { ...defaultScoring, ...s }, ttl);
  const scores = async (user: string) => {
    const flat = (await client.sendCommand(["ZRANGE", `profile:${user}:scores`, "0", "-1", "WITHSCORES"])) as string[];
    const out: Record<string, number> = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = Number(flat[i + 1]);
    return out;
  };
  const meta = async (user: string) => ({ ...(await client.hGetAll(`profile:${user}:meta`)) });
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
    assert.deepEqual(await meta("u"), { epoch: "5000", events: "1", updated: "5000" });
    assert.equal(await visit(s, "e2", "u", 5000, "2", 0.5), true);
    assert.deepEqual(await scores("u"), { "3": 1, "2": 1, "1": 0.5 });
    assert.deepEqual(await meta("u"), { epoch: "5000", events: "2", updated: "5000" });
    assert.deepEqual(await stats(), { written: "2" });
    const left = await client.ttl("seen:e1");
    assert.ok(left > ttl - 10 && left <= ttl, `seen:e1 expires in ${left} s`);
  });

  test("a low confidence still earns the least credit", async () => {
    await visit(store(), "e1", "u", 0, "2", 0.01);
    assert.deepEqual(await scores("u"), { "2": defaultScoring.minCredit, "1": defaultScoring.minCredit / 2 });
  });

  test("SCD nodes and nodes below them are never written; their ancestors are", async () => {
    const s = store();
    await visit(s, "e1", "u", 0, "5");
    await visit(s, "e2", "u", 0, "6");
    assert.deepEqual(await scores("u"), { "4": 0.75 });
    assert.equal((await meta("u")).events, "2");
    assert.deepEqual(await stats(), { written: "2" });
  });

  test("a visit with no credits counts its outcome once and creates no profile", async () => {
    const s = store();
    assert.equal(await visit(s, "e1", "u", 1000, null), true);
    assert.equal(await visit(s, "e2", "u", 2000, "7"), true);
    assert.equal(await visit(s, "e3", "u", 3000, "unknown-node"), true);
    assert.equal(await visit(s, "e1", "u", 1000, null), false);
    assert.deepEqual(await stats(), { unmatched: "2", sensitive: "1", duplicates: "1" });
    assert.equal(await client.exists(["seen:e1", "seen:e2", "seen:e3"]), 3);
    assert.equal(await client.exists(["profile:u:scores", "profile:u:meta"]), 0);
    assert.equal(await s.profile("u"), null);
    // The profile (and its epoch) starts with the first credited visit.
    await visit(s, "e4", "u", 4000, "1");
    assert.deepEqual(await meta("u"), { epoch: "4000", events: "1", updated: "4000" });
  });

  test("a visit counts once per event id, whatever the repeat carries", async () => {
    const s = store();
    assert.equal(await visit(s, "e1", "u", 1000, "2"), true);
    assert.equal(await visit(s, "e1", "u", 1000, "2"), false);
    assert.equal(await visit(s, "e1", "u", 9000, "3"), false);
    assert.equal(await visit(s, "e1", "other", 1000, "2"), false);
    assert.deepEqual(await scores("u"), { "2": 1, "1": 0.5 });
    assert.deepEqual(await meta("u"), { epoch: "1000", events: "1", updated: "1000" });
    assert.equal(await client.exists(["profile:other:scores", "profile:other:meta"]), 0);
    assert.deepEqual(await stats(), { written: "1", duplicates: "3" });
  });

  test("newer visits weigh more: values are stored relative to the epoch and decay from it", async () => {
    const s = store({ halfLifeMs: 1000 });
    await s.apply("a", "u", 0, "written", [{ nodeId: "old", credit: 1 }]);
    await s.apply("b", "u", 2000, "written", [{ nodeId: "new", credit: 1 }]);
    assert.deepEqual(await scores("u"), { old: 1, new: 4 });
    assert.deepEqual(await meta("u"), { epoch: "0", events: "2", updated: "2000" });
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
    assert.deepEqual(applied, [true, true, false, true]);
    assert.deepEqual(await scores("u"), { "3": 1, "2": 1.5, "1": 0.75 });
    assert.deepEqual(await meta("u"), { epoch: "5000", events: "2", updated: "5000" });
    assert.deepEqual(await meta("v"), {});
    assert.deepEqual(await stats(), { written: "2", unmatched: "1", duplicates: "1" });
    assert.deepEqual(await s.applyAll([{ eventId: "b2", userId: "v", ts: 6000, outcome: "unmatched", credits: [] }]), [false]);
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
});
