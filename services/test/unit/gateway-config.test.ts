// The gateway's bound on one request's backend time, read from its haproxy.cfg: every try (the
// first and each retry on another task) may take the connect and the server timeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config.js";
import { servicesDir } from "../helpers/labelled.js";

const cfg = readFileSync(join(servicesDir, "docker", "haproxy.cfg"), "utf8");
const edgeCfg = readFileSync(join(servicesDir, "docker", "edge.cfg"), "utf8");
/** A setting's number (a time in ms) from the gateway's config, or the edge's. */
const setting = (name: string, text = cfg): number => {
  const match = new RegExp(`^\\s*${name}\\s+(\\d+)(ms|s)?\\s*$`, "m").exec(text);
  assert.ok(match, `${name} in ${text === cfg ? "haproxy.cfg" : "edge.cfg"}`);
  return Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "s" ? 1000 : 1);
};

test("one request costs at most 30 s of backend time, retries included, and a collector answers before the gateway gives up on it", () => {
  const tries = setting("retries") + 1;
  const perTry = setting("timeout connect") + setting("timeout server");
  assert.ok(tries * perTry <= 30_000, `${tries} tries of ${perTry} ms`);
  assert.ok(loadConfig({}).publishTimeoutMs < setting("timeout server"), "the collector's publish bound is under the gateway's server timeout");
});

test("a gateway replaced by its successor takes connections until every edge has found the successor, and ends within its 10 s stop grace period", () => {
  // An edge sees a new task within one DNS resolution plus the time its answer is held, and
  // sends it connections from its first passing check.
  const checkEvery = Number(/^\s*default-server .*\binter (\d+)ms\b.*\brise 1\b/m.exec(edgeCfg)?.[1]);
  const edgeFinds = setting("timeout resolve", edgeCfg) + setting("hold valid", edgeCfg) + checkEvery;
  assert.ok(checkEvery > 0, "edges check gateways and take one from its first passing check");
  assert.ok(edgeFinds < setting("grace"), `edges find a new gateway in ${edgeFinds} ms, the old one takes connections for ${setting("grace")} ms`);
  assert.ok(setting("grace") + setting("hard-stop-after") < 10_000);
  assert.match(cfg, /^\s*option idle-close-on-response\s*$/m, "a stopping gateway answers the next request on an idle connection instead of closing it");
  assert.match(cfg, /bind :8443 accept-proxy ssl/, "the gateway takes the client's address from the edge");
  assert.match(edgeCfg, /send-proxy-v2/);
  // The edge never ends a connection the gateway keeps alive.
  assert.ok(setting("timeout client", edgeCfg) > setting("timeout http-keep-alive"));
});

test("the edge hands connections to the gateway on its machine through the socket the gateway links once it can route, the others as backups", () => {
  const start = readFileSync(join(servicesDir, "docker", "gateway-start.sh"), "utf8");
  const dir = /^dir=(\S+)$/m.exec(start)?.[1];
  const shared = /^shared="\$dir\/(\S+)"$/m.exec(start)?.[1];
  assert.ok(dir && shared, "gateway-start.sh names the shared socket");
  assert.match(edgeCfg, new RegExp(`^\\s*server local unix@${dir}/${shared}\\s*$`, "m"));
  assert.match(edgeCfg, /^\s*server-template gateway \d+ tasks\.gateway:8443 backup\b/m);
  assert.match(edgeCfg, /^\s*option allbackups\s*$/m);
  assert.match(cfg, /^\s*bind "unix@\$\{GATEWAY_SOCKET\}" accept-proxy ssl /m);
  // It links its socket only once the ready monitor answers, which fails while no collector is found.
  assert.match(start, /http:\/\/127\.0\.0\.1:8083\/gateway\/ready/);
  // Two tasks on one machine (start-first) are both PID 1: the link's temporary name is per container.
  assert.doesNotMatch(start, /\$\$/);
  assert.match(start, /^GATEWAY_SOCKET="\$dir\/gateway-\$\(hostname\)\.sock"$/m);
  assert.match(start, /ln -f "\$GATEWAY_SOCKET" "\$GATEWAY_SOCKET\.link" && mv -f "\$GATEWAY_SOCKET\.link" "\$shared"/);
  assert.match(cfg, /bind 127\.0\.0\.1:8083\s+monitor-uri \/gateway\/ready\s+monitor fail if \{ nbsrv\(collector\) lt 1 \}/);
});
