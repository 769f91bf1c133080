import { test } from "node:test";
import assert from "node:assert/strict";
import { aliveRoles, type RoleProbe } from "../../src/dashboard.js";

test("roles alive: each role's tasks found by DNS, counted when they answer their health check", async () => {
  const tasks: Record<string, string[]> = { collector: ["10.0.0.2", "10.0.0.3"], categoriser: ["10.0.0.4", "10.0.0.5", "10.0.0.6"] };
  const probe: RoleProbe = {
    resolve: async (service) => tasks[service] ?? [],
    healthy: async (address) => address !== "10.0.0.5",
  };
  assert.deepEqual(await aliveRoles(["collector", "categoriser", "profile-api"], probe), { collector: 2, categoriser: 2, "profile-api": 0 });
});
