import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultLimits, validateBody, validateEvent } from "../../src/validate.js";

const now = Date.UTC(2025, 0, 1);
const ok = { eventId: "e-1", userId: "u-1", url: "https://example.com/a" };

test("accepts a minimal event and fills timestamp and receivedAt", () => {
  const r = validateEvent(ok, now);
  assert.ok(r.ok);
  if (r.ok) assert.deepEqual(r.value, { ...ok, timestamp: now, receivedAt: now });
});

test("accepts optional fields: title, keywords (array or comma list), referrer, ISO or ms timestamp", () => {
  const r = validateEvent({ ...ok, title: "T", keywords: "a, b", referrer: "http://x.org/", timestamp: "2024-12-31T00:00:00Z" }, now);
  assert.ok(r.ok);
  if (r.ok) {
    assert.deepEqual(r.value.keywords, ["a", "b"]);
    assert.equal(r.value.timestamp, Date.UTC(2024, 11, 31));
  }
  const r2 = validateEvent({ ...ok, keywords: ["x"], timestamp: now - 1000 }, now);
  assert.ok(r2.ok);
});

test("names every missing or malformed field", () => {
  const r = validateEvent({ url: "ftp://x", eventId: 5, title: 3, timestamp: "yesterday" }, now);
  assert.equal(r.ok, false);
  if (!r.ok) {
    const text = r.errors.join("\n");
    for (const f of ["eventId: must be a string", "userId: required", "url: must use http or https", "title: must be a string", "timestamp: not a valid date"]) {
      assert.match(text, new RegExp(f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    }
  }
});

test("rejects oversize fields and far-future timestamps", () => {
  const long = "https://e.com/" + "a".repeat(3000);
  const r = validateEvent({ ...ok, url: long, timestamp: now + 3 * 86_400_000, keywords: Array(60).fill("k") }, now);
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.errors.length, 3);
});

test("batches: array or {events}, all-or-nothing with indexed reasons, size limit", () => {
  assert.ok(validateBody([ok, { ...ok, eventId: "e-2" }], now).ok);
  assert.ok(validateBody({ events: [ok] }, now).ok);
  const bad = validateBody([ok, { ...ok, url: "nope" }], now);
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.errors[0], /^events\[1\]\.url: not an absolute URL/);
  assert.equal(validateBody([], now).ok, false);
  assert.equal(validateBody("x", now).ok, false);
  assert.equal(validateBody(null, now).ok, false);
  const big = validateBody(Array(defaultLimits.maxBatch + 1).fill(ok), now);
  assert.equal(big.ok, false);
});
