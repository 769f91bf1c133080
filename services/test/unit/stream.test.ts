// What the roles publish stays within a stream message's size: the collector's groups and the
// categoriser's results.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PubAck } from "@nats-io/jetstream";
import { GroupPublisher, jsonChunks, maxMessageBytes } from "../../src/stream.js";

test("jsonChunks: JSON arrays within the bound, in order, an oversized item alone", () => {
  const items = Array.from({ length: 1000 }, (_, i) => ({ i, text: "é".repeat(i % 97) }));
  const chunks = jsonChunks(items, 4096);
  assert.ok(chunks.length > 1);
  for (const chunk of chunks) assert.ok(chunk.length <= 4096, `${chunk.length}`);
  assert.deepEqual(chunks.flatMap((chunk) => JSON.parse(chunk) as unknown[]), items);
  assert.deepEqual(jsonChunks([{ big: "x".repeat(5000) }, 1], 4096).map((c) => JSON.parse(c) as unknown[]), [[{ big: "x".repeat(5000) }], [1]]);
  assert.deepEqual(jsonChunks([]), []);
});

test("GroupPublisher: groups of at most maxGroup events and maxMessageBytes, every event stored once", async () => {
  const sent: string[] = [];
  const publisher = new GroupPublisher<{ id: number; body: string }>(
    async (data) => {
      sent.push(data);
      await new Promise((r) => setTimeout(r, 1));
      return { duplicate: false } as PubAck;
    },
    (item) => String(item.id),
    200,
    1,
  );
  // 1,000 events of 2 KB, then 1,000 of 4 KB: 200 of those would be 800 KB, over the bound.
  const events = Array.from({ length: 2000 }, (_, id) => ({ id, body: "b".repeat(id < 1000 ? 2048 : 4096) }));
  const results = await Promise.all(Array.from({ length: 20 }, (_, r) => publisher.publish(events.slice(r * 100, r * 100 + 100))));
  assert.equal(results.flat().length, 2000);
  for (const data of sent) assert.ok(data.length <= maxMessageBytes, `${data.length}`);
  const ids = sent.flatMap((data) => {
    const parsed = JSON.parse(data) as { id: number } | Array<{ id: number }>;
    return (Array.isArray(parsed) ? parsed : [parsed]).map((e) => e.id);
  });
  assert.deepEqual(ids, events.map((e) => e.id));
  assert.ok(sent.every((data) => !data.startsWith("[") || (JSON.parse(data) as unknown[]).length <= 200));
});
