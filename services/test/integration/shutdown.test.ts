// A role told to stop (SIGTERM, as the swarm does on `docker stack rm`, a scale-down or a rolling
// update) while its NATS server no longer answers (stopped with the same stack, or its machine
// died: frozen here with SIGSTOP, so that no reset comes) must still end on its own, well within
// the swarm's stop grace (20 s), rather than wait for the server until it is killed.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { requireBinaries, startNats, startRedis, startRole, stopAll } from "../helpers/procs.js";

const skip = requireBinaries();
const stopGraceMs = 20_000;

describe("stopping with a NATS server that no longer answers", { skip: skip ?? false }, () => {
  after(stopAll);

  test("collector, categoriser and profile writer exit 0 within seconds, not at the stop grace", async () => {
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
});
