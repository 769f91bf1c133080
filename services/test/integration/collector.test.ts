// The collector against a real nats-server whose stream fills up: a publish
// the stream refuses for lack of room is answered 503 "full" with Retry-After.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { requireBinaries, startNats, startRole, stopAll } from "../helpers/procs.js";
import { metric, sampleSum, scrape } from "../helpers/metrics.js";

const skip = requireBinaries(["nats-server"]);

describe("collector with a full stream", { skip: skip ?? false }, () => {
  let url: string;

  before(async () => {
    const nats = await startNats();
    // No categoriser: nothing takes events off the 1 KiB stream.
    url = (await startRole("collector", { NATS_URL: nats.url, STREAM_MAX_BYTES: "1024" })).url;
  });
  after(stopAll);

  test("the shared endpoints answer", async () => {
    const h = await fetch(`${url}/healthz`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: "ok", nats: true });
    const text = await scrape(url);
    assert.equal(sampleSum(text, "categorisation_publishes_in_flight", { role: "collector" }), 0);
    // The requests before, by route: the health check's latency is in the histogram.
    assert.ok(sampleSum(text, "categorisation_http_request_duration_seconds_count", { route: "healthz", method: "GET", code: "200" }) >= 1);
    assert.match(text, /^process_resident_memory_bytes\{role="collector"\} \d+/m);
  });

  test("503 'the stream is full' with Retry-After once the stream has no room", async () => {
    let r: Response | undefined;
    for (let i = 0; i < 50; i++) {
      r = await fetch(`${url}/events`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ eventId: `full-${i}`, userId: "u", url: `https://example.org/${"a".repeat(200)}/${i}` }),
      });
      if (r.status !== 202) break;
    }
    assert.ok(r);
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("retry-after"), "1");
    const body = (await r.json()) as { error: string; detail: string };
    assert.equal(body.error, "the stream is full; retry later", body.detail);
    assert.equal(await metric(url, "categorisation_refusals_total", { reason: "stream_full" }), 1);
    assert.ok((await metric(url, "categorisation_events_accepted_total")) > 0);
  });
});
