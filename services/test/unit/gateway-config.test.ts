// The gateway's bound on one request's backend time, read from its haproxy.cfg: every try (the
// first and each retry on another task) may take the connect and the server timeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config.js";
import { servicesDir } from "../helpers/labelled.js";

const cfg = readFileSync(join(servicesDir, "docker", "haproxy.cfg"), "utf8");
const setting = (name: string): number => {
  const match = new RegExp(`^\\s*${name}\\s+(\\d+)(ms|s)?\\s*$`, "m").exec(cfg);
  assert.ok(match, `${name} in haproxy.cfg`);
  return Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "s" ? 1000 : 1);
};

test("one request costs at most 30 s of backend time, retries included, and a collector answers before the gateway gives up on it", () => {
  const tries = setting("retries") + 1;
  const perTry = setting("timeout connect") + setting("timeout server");
  assert.ok(tries * perTry <= 30_000, `${tries} tries of ${perTry} ms`);
  assert.ok(loadConfig({}).publishTimeoutMs < setting("timeout server"), "the collector's publish bound is under the gateway's server timeout");
});
