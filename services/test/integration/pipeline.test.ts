// End to end against real nats-server and redis-server processes and the
// built services (npm run build first): collector -> categorisers ->
// profile writer -> Redis <- profile API.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { createClient } from "redis";
import { loadTaxonomy, type Taxonomy } from "../../src/taxonomy.js";
import { loadLabelled, officialTaxonomyFile, score } from "../helpers/labelled.js";
import { requireBinaries, startNats, startRedis, startRole, stopAll, waitFor, type Proc } from "../helpers/procs.js";
import { metric, sampleSum, scrape } from "../helpers/metrics.js";

const skip = requireBinaries() ?? (!existsSync(officialTaxonomyFile) && process.env.CI !== "true" ? "official taxonomy file not present" : null);

type Role = Proc & { port: number; url: string };

describe("pipeline", { skip: skip ?? false }, () => {
  let env: Record<string, string>;
  let collector: Role;
  let api: Role;
  let writer: Role;
  const categorisers: Role[] = [];
  let nc: NatsConnection;
  let redis: ReturnType<typeof createClient>;
  let tax: Taxonomy;
  let run = 0;
  const uid = (s: string) => `${s}-${process.pid}-${++run}`;

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${collector.url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const stats = async () => (await (await fetch(`${api.url}/stats`)).json()) as Record<string, number>;
  const processed = (s: Record<string, number>) => (s.written ?? 0) + (s.unmatched ?? 0) + (s.sensitive ?? 0);
  const profile = async (u: string) => {
    const r = await fetch(`${api.url}/profiles/${encodeURIComponent(u)}`);
    return { status: r.status, body: (await r.json()) as { userId: string; events: number; interests: Array<{ nodeId: string; name: string; score: number }> } };
  };

  before(async () => {
    tax = loadTaxonomy(officialTaxonomyFile);
    const [n, r] = await Promise.all([startNats(), startRedis()]);
    env = { NATS_URL: n.url, REDIS_URL: r.url, TAXONOMY_FILE: officialTaxonomyFile, ACK_WAIT_MS: "2000", MAX_IN_FLIGHT: "200" };
    collector = await startRole("collector", env);
    [writer, api] = await Promise.all([startRole("profile-writer", env), startRole("profile-api", env)]);
    categorisers.push(...(await Promise.all([startRole("categoriser", env), startRole("categoriser", env)])));
    nc = await connect({ servers: n.url });
    redis = createClient({ url: r.url });
    await redis.connect();
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await redis?.quit().catch(() => undefined);
    await stopAll();
  });

  test("labelled URLs posted to the collector reach the right profiles (tier-1 >= 80%)", async () => {
    const items = loadLabelled();
    const users = items.map((_, i) => uid(`acc${i}`));
    const decisions = new Map<string, string | null>();
    const sub = nc.subscribe("events.categorised");
    void (async () => {
      // A categoriser publishes the results of a batch as one message.
      for await (const m of sub) for (const r of m.json<Array<{ eventId: string; nodeId: string | null }>>()) decisions.set(r.eventId, r.nodeId);
    })();
    const before = processed(await stats());
    const events = items.map((it, i) => ({ eventId: uid(`acc-e${i}`), userId: users[i], url: it.url, title: it.title, keywords: it.keywords }));
    const res = await post(events);
    assert.equal(res.status, 202, await res.clone().text());
    assert.deepEqual(await res.json(), { accepted: items.length, duplicates: 0 });
    await waitFor("all labelled events processed", async () => processed(await stats()) - before >= items.length, 30_000);
    await waitFor("all decisions seen", async () => decisions.size >= items.length, 5000);
    sub.unsubscribe();

    const fromStream = events.map((e) => decisions.get(e.eventId) ?? null);
    const fromProfiles: Array<string | null> = [];
    for (let i = 0; i < items.length; i++) {
      const decided = fromStream[i];
      const p = await profile(users[i]);
      const node = decided ? tax.get(decided) : undefined;
      if (!node || node.sensitive) {
        // Unmatched or sensitive: nothing, or only non-sensitive ancestors, in the profile.
        if (p.status === 200) for (const x of p.body.interests) assert.equal(tax.get(x.nodeId)?.sensitive, false);
        fromProfiles.push(decided);
        continue;
      }
      assert.equal(p.status, 200, `profile of ${users[i]}`);
      assert.equal(p.body.userId, users[i]);
      assert.equal(p.body.interests[0].nodeId, decided, `top node of ${items[i].url}`);
      const scores = p.body.interests.map((x) => x.score);
      assert.deepEqual(scores, [...scores].sort((a, b) => b - a), "highest score first");
      fromProfiles.push(p.body.interests[0].nodeId);
    }
    const s = score(tax, items, fromProfiles);
    console.log(`end to end on ${s.total} labelled URLs (IAB 3.1): tier-1 accuracy ${(100 * s.tier1Accuracy).toFixed(1)}% (${s.tier1Correct}/${s.total}), tier-2 accuracy ${(100 * s.tier2Accuracy).toFixed(1)}% (${s.tier2Correct}/${s.tier2Total})`);
    if (s.misses.length) console.log("misses:\n  " + s.misses.join("\n  "));
    assert.ok(s.tier1Accuracy >= 0.8, `tier-1 accuracy ${s.tier1Accuracy}`);
  });

  test("the dashboard: its page, and data that counts the events posted, their interests and the consumers' lag", async () => {
    const page = await fetch(`${api.url}/dashboard`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await page.text(), /<title>Categorisation pipeline<\/title>/);
    type Data = { throughput: Array<{ t: number; applied: number }>; lag: Array<{ t: number; lag: Record<string, { pending: number; unacked: number }> }>; roles: Record<string, number>; topInterests: Array<{ nodeId: string; name: string; visits: number }>; profiles: number };
    const data = async () => (await (await fetch(`${api.url}/dashboard/data`)).json()) as Data;
    const before = await data();
    const user = uid("dash");
    const events = Array.from({ length: 5 }, (_, i) => ({ eventId: uid(`dash-e${i}`), userId: user, url: "https://www.espn.com/nba/story/_/id/1/lakers-beat-celtics", title: "Lakers beat Celtics in overtime" }));
    assert.equal((await post(events)).status, 202);
    // Events of the tests before may still be on their way: wait for these five themselves.
    const basketball = (d: Data) => d.topInterests.find((i) => i.name === "Basketball")?.visits ?? 0;
    const applied = (d: Data) => d.throughput.reduce((sum, s) => sum + s.applied, 0);
    let after = before;
    await waitFor("the events in the dashboard's throughput and interests", async () => {
      after = await data();
      return applied(after) - applied(before) >= 5 && basketball(after) - basketball(before) >= 5;
    }, 15_000).catch((e: Error) => assert.fail(`${e.message}: Basketball among ${JSON.stringify(after.topInterests)}`));
    // The profile API samples the consumers every 2 s.
    await waitFor("lag samples", async () => (await data()).lag.length > 0, 10_000);
    assert.deepEqual(Object.keys((await data()).lag.at(-1)!.lag).sort(), ["CATEGORISED/profile-writer", "EVENTS/categoriser"]);
    // No swarm DNS here: no task of any role is found.
    assert.deepEqual(after.roles, { collector: 0, categoriser: 0, "profile-writer": 0, "profile-api": 0 });
  });

  test("every role's /metrics is Prometheus text: events through each stage, the ingest-to-profile histogram, the consumers' lag and the store's memory", async () => {
    const user = uid("prom");
    const events = Array.from({ length: 3 }, (_, i) => ({ eventId: uid(`prom-e${i}`), userId: user, url: "https://www.espn.com/nba/story/_/id/1/lakers-beat-celtics", title: "Lakers beat Celtics" }));
    // The stages idle first (events of the tests before may still be on their way), so that what
    // is counted from here is these three.
    const matchedNow = async () => (await Promise.all(categorisers.map((c) => metric(c.url, "categorisation_events_categorised_total", { result: "matched" })))).reduce((a, b) => a + b, 0);
    let last = -1;
    await waitFor("the categorisers idle", async () => {
      const now = await matchedNow();
      const idle = now === last;
      last = now;
      return idle;
    }, 15_000, 500);
    const [accepted, categorised, written] = await Promise.all([
      metric(collector.url, "categorisation_events_accepted_total"),
      Promise.all(categorisers.map((c) => metric(c.url, "categorisation_events_categorised_total", { result: "matched" }))),
      metric(writer.url, "categorisation_ingest_to_profile_seconds_count"),
    ]);
    assert.equal((await post(events)).status, 202);
    assert.equal(await metric(collector.url, "categorisation_events_accepted_total"), accepted + 3);
    await waitFor("the events written", async () => (await metric(writer.url, "categorisation_ingest_to_profile_seconds_count")) >= written + 3, 15_000);
    const matched = await Promise.all(categorisers.map((c) => metric(c.url, "categorisation_events_categorised_total", { result: "matched" })));
    assert.equal(matched.reduce((a, b) => a + b, 0) - categorised.reduce((a, b) => a + b, 0), 3);
    assert.ok((await metric(writer.url, "categorisation_events_applied_total", { outcome: "written", role: "profile-writer" })) >= 3);
    await waitFor("a lag sample", async () => (await scrape(api.url)).includes('consumer="categoriser"'), 10_000);
    const apiText = await scrape(api.url);
    assert.match(apiText, /^categorisation_consumer_pending_messages\{stream="EVENTS",consumer="categoriser",role="profile-api"\} \d+$/m);
    assert.match(apiText, /^categorisation_consumer_unacknowledged_messages\{stream="CATEGORISED",consumer="profile-writer",role="profile-api"\} \d+$/m);
    assert.ok(sampleSum(apiText, "categorisation_redis_used_memory_bytes") > 0);
    assert.match(apiText, /^categorisation_redis_max_memory_bytes\{role="profile-api"\} \d+$/m);
    for (const role of [collector, writer, api, ...categorisers]) assert.doesNotMatch(await scrape(role.url), new RegExp(user));
  });

  test("a categoriser killed mid-stream (SIGKILL) loses nothing: events in = events reflected", async () => {
    const n = 3000;
    const users = Array.from({ length: 25 }, (_, i) => uid(`kill-u${i}`));
    const urls = ["https://www.espn.com/nba/story/1", "https://www.allrecipes.com/recipe/1/x/", "https://techcrunch.com/2024/01/01/ai-model/", "https://www.lonelyplanet.com/italy"];
    const before = await stats();
    const batches: Array<Array<Record<string, string>>> = [];
    for (let b = 0; b < n / 100; b++) {
      batches.push(Array.from({ length: 100 }, (_, j) => {
        const i = b * 100 + j;
        return { eventId: uid(`kill-e${i}`), userId: users[i % users.length], url: urls[i % urls.length] };
      }));
    }
    let killed = false;
    for (let b = 0; b < batches.length; b++) {
      const r = await post(batches[b]);
      assert.equal(r.status, 202);
      if (b === 10 && !killed) {
        categorisers[0].child.kill("SIGKILL");
        killed = true;
        await categorisers[0].exited;
        categorisers[0] = await startRole("categoriser", env);
      }
    }
    await waitFor("every event reflected", async () => processed(await stats()) - processed(before) >= n, 60_000, 200);
    await new Promise((r) => setTimeout(r, 500));
    const after = await stats();
    assert.equal(processed(after) - processed(before), n, "processed exactly once each");
    let reflected = 0;
    for (const u of users) reflected += (await profile(u)).body.events;
    assert.equal(reflected, n, "sum of profile event counts = events posted");
  });

  test("single events from concurrent clients go out in groups; a profile writer killed (SIGKILL) with groups half done loses nothing and counts nothing twice", async () => {
    const n = 3000;
    const users = Array.from({ length: 25 }, (_, i) => uid(`group-u${i}`));
    const jsm = await jetstreamManager(nc);
    const messagesBefore = (await jsm.streams.info("EVENTS")).state.last_seq;
    const before = await stats();
    let sent = 0;
    let killed = false;
    // 50 clients, one event a request, as browsers and tag servers send them.
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (sent < n) {
        const i = sent++;
        const r = await post({ eventId: uid(`group-e${i}`), userId: users[i % users.length], url: "https://www.espn.com/nba/story/1" });
        assert.equal(r.status, 202);
        if (i === 1000 && !killed) {
          killed = true;
          writer.child.kill("SIGKILL");
          await writer.exited;
          writer = await startRole("profile-writer", env);
        }
      }
    }));
    const messages = (await jsm.streams.info("EVENTS")).state.last_seq - messagesBefore;
    assert.ok(messages < n, `${messages} stream messages for ${n} events: no groups`);
    await waitFor("every event reflected", async () => processed(await stats()) - processed(before) >= n, 60_000, 200);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(processed(await stats()) - processed(before), n, "processed exactly once each");
    let reflected = 0;
    for (const u of users) reflected += (await profile(u)).body.events;
    assert.equal(reflected, n, "sum of profile event counts = events posted");
  });

  test("redelivered events are not counted twice", async () => {
    const u = uid("dup-u");
    const ev = { eventId: uid("dup-e"), userId: u, url: "https://www.golfdigest.com/story/putting-tips", title: "Putting tips" };
    assert.equal((await post(ev)).status, 202);
    // The same event again: the stream drops it within its duplicate window.
    const again = await post(ev);
    assert.deepEqual(await again.json(), { accepted: 0, duplicates: 1 });
    // The same event ID from another user is another event, in the stream and in the store.
    const other = uid("dup-other");
    assert.deepEqual(await (await post({ ...ev, userId: other })).json(), { accepted: 1, duplicates: 0 });
    await waitFor("the other user's event written", async () => (await profile(other)).status === 200);
    await waitFor("first event written", async () => (await profile(u)).status === 200);
    const first = await profile(u);
    // A redelivery past the stream's de-duplication (e.g. after a crash between write and ack):
    // publish the categorised result again under a new message id.
    const js = jetstream(nc);
    const before = await stats();
    const cat = { eventId: ev.eventId, userId: u, timestamp: Date.now(), receivedAt: Date.now(), nodeId: first.body.interests[0].nodeId, confidence: 1, stage: "text", categorisedAt: Date.now() };
    await js.publish("events.categorised", JSON.stringify(cat), { msgID: uid("redeliver") });
    await waitFor("duplicate seen by the writer", async () => ((await stats()).duplicates ?? 0) > (before.duplicates ?? 0), 10_000);
    const second = await profile(u);
    assert.equal(second.body.events, 1);
    assert.deepEqual(second.body.interests.map((i) => i.nodeId), first.body.interests.map((i) => i.nodeId));
    assert.ok(Math.abs(second.body.interests[0].score - first.body.interests[0].score) < 1e-3);
  });

  test("SCD nodes never reach a profile", async () => {
    const u = uid("scd-u");
    const sensitiveVisits = [
      { url: "https://www.mayoclinic.org/diseases-conditions/asthma/symptoms-causes/syc-1", title: "Asthma symptoms and causes" },
      { url: "https://www.biblegateway.com/passage/?search=Psalm+23", title: "Psalm 23" },
      { url: "https://www.astrology.com/horoscope/daily/leo.html", title: "Leo daily horoscope" },
      { url: "https://www.example.org/health/cancer-treatment-options", title: "Cancer treatment options" },
    ];
    const events = sensitiveVisits.map((v, i) => ({ eventId: uid(`scd-e${i}`), userId: u, ...v }));
    events.push({ eventId: uid("scd-ok"), userId: u, url: "https://www.nba.com/news/finals-preview", title: "NBA Finals preview" });
    const before = await stats();
    assert.equal((await post(events)).status, 202);
    await waitFor("processed", async () => processed(await stats()) - processed(before) >= events.length, 15_000);
    assert.ok((await stats()).sensitive > (before.sensitive ?? 0), "some visits were placed at sensitive nodes");
    const p = await profile(u);
    assert.equal(p.status, 200);
    for (const i of p.body.interests) assert.equal(tax.get(i.nodeId)?.sensitive, false, `${i.name} is sensitive`);
    // And nowhere in the store.
    for await (const keys of redis.scanIterator({ MATCH: "user:*:scores", COUNT: 500 })) {
      for (const k of keys) {
        const members = await redis.zRange(k, 0, -1);
        for (const m of members) assert.notEqual(tax.get(m)?.sensitive, true, `${k} holds sensitive node ${m}`);
      }
    }
  });

  test("bad requests get 400s with reasons, and the service keeps serving", async () => {
    const cases: Array<[string, Promise<Response>, RegExp]> = [
      ["malformed JSON", post("{not json"), /not valid JSON/],
      ["empty body", post(""), /empty/],
      ["missing fields", post({ url: "https://x.org/" }), /eventId: required/],
      ["wrong types", post({ eventId: 1, userId: "u", url: "https://x.org/" }), /eventId: must be a string/],
      ["bad url", post({ eventId: "e", userId: "u", url: "javascript:alert(1)" }), /url: must use http or https/],
      ["bad timestamp", post({ eventId: "e", userId: "u", url: "https://x.org/", timestamp: "soon" }), /timestamp/],
      ["oversize body", post(JSON.stringify({ eventId: "e", userId: "u", url: "https://x.org/", title: "x".repeat(2 * 1024 * 1024) })), /exceeds the limit/],
      ["oversize field", post({ eventId: "e", userId: "u", url: "https://x.org/" + "a".repeat(5000) }), /url: longer than/],
      ["batch with one bad event", post([{ eventId: "e1", userId: "u", url: "https://x.org/" }, { eventId: "e2", userId: "u" }]), /events\[1\]\.url: required/],
      ["not an object", post("42"), /must be an event object/],
      ["wrong content type", post("a=b", { "content-type": "application/x-www-form-urlencoded" }), /content-type/],
    ];
    for (const [name, p, reason] of cases) {
      const r = await p;
      assert.equal(r.status, 400, name);
      const body = (await r.json()) as { reasons: string[] };
      assert.match(body.reasons.join("\n"), reason, name);
    }
    assert.equal((await fetch(`${collector.url}/events`)).status, 405);
    assert.equal((await fetch(`${collector.url}/nope`)).status, 404);
    assert.equal((await fetch(`${api.url}/profiles/${uid("nobody")}`)).status, 404);
    assert.equal((await fetch(`${collector.url}/healthz`)).status, 200);
    const ok = await post({ eventId: uid("after-bad"), userId: uid("after-bad-u"), url: "https://www.espn.com/nfl/" });
    assert.equal(ok.status, 202);
    assert.ok((await metric(collector.url, "categorisation_refusals_total")) >= cases.length);
    assert.equal(collector.child.exitCode, null, "collector still running");
  });

  test("SIGTERM: every role finishes in-flight work and exits 0", async () => {
    const u = uid("term-u");
    const events = Array.from({ length: 500 }, (_, i) => ({ eventId: uid(`term-e${i}`), userId: u, url: "https://www.nhl.com/news/x" }));
    const before = await stats();
    assert.equal((await post(events)).status, 202);
    for (const c of categorisers) c.child.kill("SIGTERM");
    assert.deepEqual(await Promise.all(categorisers.map((c) => c.exited)), [0, 0]);
    categorisers[0] = await startRole("categoriser", env);
    await waitFor("all processed after restart", async () => processed(await stats()) - processed(before) >= events.length, 30_000);
    assert.equal((await profile(u)).body.events, events.length);
    for (const r of [collector, writer, api, categorisers[0]]) r.child.kill("SIGTERM");
    assert.deepEqual(await Promise.all([collector, writer, api, categorisers[0]].map((r) => r.exited)), [0, 0, 0, 0]);
  });
});
