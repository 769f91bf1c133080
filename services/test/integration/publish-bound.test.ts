// The collector's publish is bounded (PUBLISH_TIMEOUT_MS): against a NATS server that no longer
// answers (frozen with SIGSTOP, as a machine that died sends nothing) a POST is answered 503 within
// the bound, so the gateway can try another collector before its own timeout. A stream that has no
// leader yet (no responders) is tried again within the bound, and the event is stored once.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { loadConfig } from "../../src/config.js";
import { publishWithin } from "../../src/stream.js";
import { requireBinaries, startNats, startRole, stopAll } from "../helpers/procs.js";

const skip = requireBinaries(["nats-server"]);

describe("a bounded publish", { skip: skip ?? false }, () => {
  after(stopAll);

  test("a frozen NATS server: POST /events is answered 503 within PUBLISH_TIMEOUT_MS", async () => {
    const nats = await startNats();
    const boundMs = 2_000;
    const collector = await startRole("collector", { NATS_URL: nats.url, PUBLISH_TIMEOUT_MS: String(boundMs) });
    nats.proc.child.kill("SIGSTOP");
    try {
      const started = Date.now();
      const r = await fetch(`${collector.url}/events`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ eventId: "frozen-1", userId: "u", url: "https://example.org/a" }),
        signal: AbortSignal.timeout(30_000),
      });
      const tookMs = Date.now() - started;
      assert.equal(r.status, 503);
      assert.equal(((await r.json()) as { error: string }).error, "the stream is unavailable; retry later");
      assert.ok(tookMs >= boundMs - 100 && tookMs < boundMs + 1_500, `answered after ${tookMs} ms, bound ${boundMs} ms`);
    } finally {
      nats.proc.child.kill("SIGCONT");
    }
  });

  test("no stream leader at first: tried again until one answers, stored once", async () => {
    const nats = await startNats();
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const cfg = loadConfig({});
      // The stream appears 700 ms after the first attempt, as a leader is elected.
      const creating = new Promise((resolve) => setTimeout(resolve, 700)).then(() =>
        jsm.streams.add({ name: "BOUND", subjects: ["bound.raw"], duplicate_window: 60_000_000_000 }),
      );
      const started = Date.now();
      const ack = await publishWithin(jsm.jetstream(), "bound.raw", "{}", "bound-1", cfg.publishTimeoutMs);
      await creating;
      assert.equal(ack.stream, "BOUND");
      assert.equal(ack.duplicate, false);
      assert.ok(Date.now() - started >= 700, "answered once the stream was there");
      assert.equal((await jsm.streams.info("BOUND")).state.messages, 1);
    } finally {
      await nc.close();
    }
  });
});
