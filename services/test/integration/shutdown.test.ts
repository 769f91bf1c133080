// A role told to stop (SIGTERM, as the swarm does on `docker stack rm`, a scale-down or a rolling
// update) while its NATS server no longer answers (stopped with the same stack, or its machine
// died: frozen here with SIGSTOP, so that no reset comes) must still end on its own, well within
// the swarm's stop grace (20 s), rather than wait for the server until it is killed.
// A role that answers the gateway first serves on with a failing health check (STOP_DRAIN_MS), so
// that the gateway takes it out of its rotation before its port closes.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { requireBinaries, startNats, startRedis, startRole, stopAll } from "../helpers/procs.js";

const skip = requireBinaries();
const stopGraceMs = 20_000;

describe("a role told to stop (SIGTERM)", { skip: skip ?? false }, () => {
  after(stopAll);

  test("with a NATS server that no longer answers, collector, categoriser and profile writer exit 0 within seconds, not at the stop grace", async () => {
    const [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const env = { NATS_URL: nats.url, REDIS_URL: redis.url };
    const roles = Object.fromEntries(
      await Promise.all(["collector", "categoriser", "profile-writer"].map(async (role) => [role, await startRole(role, env)] as const)),
    );
    nats.proc.child.kill("SIGSTOP");
    try {
      const started = Date.now();
      const exits = await Promise.all(Object.entries(roles).map(async ([role, proc]) => {
        proc.child.kill("SIGTERM");
        const code = await proc.exited;
        return { role, code, ms: Date.now() - started };
      }));
      for (const { role, code, ms } of exits) {
        assert.equal(code, 0, `${role} exited ${code}: ${roles[role].output().slice(-2000)}`);
        assert.ok(ms < stopGraceMs / 2, `${role} took ${ms} ms to stop`);
      }
    } finally {
      nats.proc.child.kill("SIGCONT");
    }
  });

  test("the collector told to stop fails its health check and serves events for STOP_DRAIN_MS, then closes its port and exits 0", async () => {
    const [nats, redis] = await Promise.all([startNats(), startRedis()]);
    const collector = await startRole("collector", { NATS_URL: nats.url, REDIS_URL: redis.url, STOP_DRAIN_MS: "1500" });
    const post = (id: string) => fetch(`${collector.url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ eventId: id, userId: "drain", url: "https://www.nba.com/", title: "NBA" }]),
    }).then((r) => r.status);
    const started = Date.now();
    collector.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    const health = await fetch(`${collector.url}/healthz`);
    assert.deepEqual([health.status, await health.json()], [503, { status: "stopping" }]);
    assert.equal(await post("during-drain"), 202);
    assert.equal(await collector.exited, 0, collector.output().slice(-2000));
    assert.ok(Date.now() - started >= 1500, `exited ${Date.now() - started} ms after SIGTERM, within its drain`);
    await assert.rejects(post("after-exit"));
  });
});
