// Tokens and CORS in the roles, against real nats-server and redis-server processes: a collector
// and a profile API started with AUTH_TOKENS_FILE answer requests that came through the gateway
// (they carry X-Forwarded-For) by token kind, before any routing or lookup; internal requests
// (health checks) need none; the collector answers CORS preflights for ALLOWED_ORIGINS.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { join } from "node:path";
import { createClient } from "redis";
import { defaultScoring } from "../../src/scoring.js";
import { plainConnection, ProfileStore } from "../../src/store.js";
import { requireBinaries, startNats, startProcess, startRedis, startRole, stopAll, tempDir } from "../helpers/procs.js";
import { metric } from "../helpers/metrics.js";

const skip = requireBinaries();

const sha = (t: string) => createHash("sha256").update(t).digest("hex");
const ingestToken = "it-ingest-token";
const adminToken = "it-admin-token";
const gateway = { "x-forwarded-for": "203.0.113.9" };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const basic = (t: string) => ({ authorization: `Basic ${Buffer.from(`ops:${t}`).toString("base64")}` });
const shop = "https://shop.example";

describe("tokens and CORS in the roles", { skip: skip ?? false }, () => {
  let collector: string;
  let api: string;
  let redis: ReturnType<typeof createClient>;
  // Where the profile API passes /prometheus/... on to: what it was asked, and with which headers.
  let prometheus: Server;
  const prometheusSaw: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];

  const post = (headers: Record<string, string>) =>
    fetch(`${collector}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ eventId: `auth-${process.pid}-${Math.random()}`, userId: "u", url: "https://example.org/news" }),
    });
  const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });
  const requestsCounted = () => metric(api, "categorisation_profile_lookups_total");

  before(async () => {
    const [nats, r] = await Promise.all([startNats(), startRedis()]);
    const dir = tempDir("auth-");
    const tokens = join(dir, "tokens");
    writeFileSync(tokens, `# test tokens\ningest ${sha(ingestToken)}\n\nadmin ${sha(adminToken)}\n`);
    prometheus = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        prometheusSaw.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }));
      });
    });
    await new Promise<void>((resolve) => prometheus.listen(0, "127.0.0.1", resolve));
    const prometheusUrl = `http://127.0.0.1:${(prometheus.address() as { port: number }).port}`;
    const env = { NATS_URL: nats.url, REDIS_URL: r.url, AUTH_TOKENS_FILE: tokens, ALLOWED_ORIGINS: `${shop},http://localhost:3000`, PROMETHEUS_URL: prometheusUrl };
    // startRole waits for GET /healthz without X-Forwarded-For: internal requests need no token.
    [collector, api] = (await Promise.all([startRole("collector", env), startRole("profile-api", env)])).map((p) => p.url);
    redis = createClient({ url: r.url });
    await redis.connect();
    const store = new ProfileStore(plainConnection(redis), defaultScoring, 3600);
    await store.init();
    await store.apply("auth-known-1", "known", Date.now(), "written", [{ nodeId: "1", credit: 1 }]);
  });
  after(async () => {
    await redis?.quit().catch(() => undefined);
    prometheus?.close();
    await stopAll();
  });

  test("POST /events through the gateway: 401 without a token, 403 with the admin token, 202 with the ingest token", async () => {
    const none = await post(gateway);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="pipeline"');
    assert.deepEqual(await none.json(), { error: "unauthorized" });
    assert.equal((await post({ ...gateway, ...bearer("not-a-token") })).status, 401);
    const admin = await post({ ...gateway, ...bearer(adminToken) });
    assert.equal(admin.status, 403);
    assert.equal(admin.headers.get("www-authenticate"), null);
    const ok = await post({ ...gateway, ...bearer(ingestToken) });
    assert.equal(ok.status, 202, await ok.clone().text());
    assert.deepEqual(await ok.json(), { accepted: 1, duplicates: 0 });
    assert.equal((await post({ ...gateway, ...basic(ingestToken) })).status, 202);
  });

  test("GET /profiles: known and unknown users the same 401 without a token, 403 with the ingest token, 200/404 with the admin token", async () => {
    const before = await requestsCounted();
    const known = await get(`${api}/profiles/known`, gateway);
    const unknown = await get(`${api}/profiles/nobody`, gateway);
    assert.equal(known.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(known.headers.get("www-authenticate"), 'Basic realm="pipeline", charset="UTF-8"');
    assert.equal(unknown.headers.get("www-authenticate"), known.headers.get("www-authenticate"));
    assert.equal(await known.text(), await unknown.text());
    assert.equal((await get(`${api}/profiles/known`, { ...gateway, ...basic("wrong") })).status, 401);
    const known403 = await get(`${api}/profiles/known`, { ...gateway, ...bearer(ingestToken) });
    const unknown403 = await get(`${api}/profiles/nobody`, { ...gateway, ...bearer(ingestToken) });
    assert.equal(known403.status, 403);
    assert.equal(unknown403.status, 403);
    assert.equal(await known403.text(), await unknown403.text());
    // Refused before the lookup: the handler never ran.
    assert.equal(await requestsCounted(), before);
    const found = await get(`${api}/profiles/known`, { ...gateway, ...basic(adminToken) });
    assert.equal(found.status, 200);
    assert.equal(((await found.json()) as { userId: string }).userId, "known");
    assert.equal((await get(`${api}/profiles/nobody`, { ...gateway, ...bearer(adminToken) })).status, 404);
  });

  test("DELETE /profiles: 401 without a token, 403 with the ingest token; with the admin token 204 and no body for a known and an unknown user", async () => {
    const store = new ProfileStore(plainConnection(redis), defaultScoring, 3600);
    await store.apply("auth-erase-1", "to-erase", Date.now(), "written", [{ nodeId: "1", credit: 1 }]);
    const erase = (user: string, headers: Record<string, string>) => fetch(`${api}/profiles/${user}`, { method: "DELETE", headers });
    const none = await erase("to-erase", gateway);
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Basic /);
    assert.equal((await erase("to-erase", { ...gateway, ...bearer(ingestToken) })).status, 403);
    assert.equal((await erase("nobody", { ...gateway, ...bearer(ingestToken) })).status, 403);
    assert.equal((await get(`${api}/profiles/to-erase`, { ...gateway, ...basic(adminToken) })).status, 200, "refused erasures erased nothing");
    for (const user of ["to-erase", "nobody"]) {
      const r = await erase(user, { ...gateway, ...basic(adminToken) });
      assert.equal(r.status, 204, user);
      assert.equal(await r.text(), "", user);
    }
    assert.equal((await get(`${api}/profiles/to-erase`, { ...gateway, ...basic(adminToken) })).status, 404);
  });

  test("the rest through the gateway needs the admin token too; unknown paths are not told apart", async () => {
    for (const url of [`${api}/stats`, `${api}/activity`, `${api}/dashboard`, `${api}/dashboard/data`, `${api}/healthz`, `${collector}/metrics`, `${collector}/healthz`, `${collector}/nowhere`]) {
      const r = await get(url, gateway);
      assert.equal(r.status, 401, url);
      assert.match(r.headers.get("www-authenticate") ?? "", /^Basic /, url);
      assert.equal((await get(url, { ...gateway, ...bearer(ingestToken) })).status, 403, url);
    }
    assert.equal((await get(`${api}/dashboard`, { ...gateway, ...basic(adminToken) })).status, 200);
    assert.equal((await get(`${collector}/metrics`, { ...gateway, ...basic(adminToken) })).status, 200);
    assert.equal((await get(`${collector}/nowhere`, { ...gateway, ...basic(adminToken) })).status, 404);
  });

  test("/prometheus/... needs the admin token; with it the request, path and query as sent, reaches Prometheus without the client's credentials, and its answer comes back", async () => {
    const query = `${api}/prometheus/api/v1/query?query=${encodeURIComponent('up{job="pipeline"}')}`;
    assert.equal((await get(query, gateway)).status, 401);
    assert.equal((await get(query, { ...gateway, ...bearer(ingestToken) })).status, 403);
    assert.equal(prometheusSaw.length, 0, "refused before it was passed on");
    const answer = await get(query, { ...gateway, ...basic(adminToken) });
    assert.equal(answer.status, 200);
    assert.equal(((await answer.json()) as { status: string }).status, "success");
    const posted = await fetch(`${api}/prometheus/api/v1/query`, {
      method: "POST",
      headers: { ...gateway, ...bearer(adminToken), "content-type": "application/x-www-form-urlencoded" },
      body: "query=up",
    });
    assert.equal(posted.status, 200);
    assert.deepEqual(prometheusSaw.map((r) => [r.method, r.url, r.body]), [
      ["GET", `/prometheus/api/v1/query?query=${encodeURIComponent('up{job="pipeline"}')}`, ""],
      ["POST", "/prometheus/api/v1/query", "query=up"],
    ]);
    for (const seen of prometheusSaw) {
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers["x-forwarded-for"], undefined);
    }
  });

  test("internal requests (no X-Forwarded-For) need no token", async () => {
    const h = await get(`${collector}/healthz`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: "ok", nats: true });
    assert.equal((await get(`${api}/healthz`)).status, 200);
    assert.equal((await get(`${api}/metrics`)).status, 200);
  });

  test("CORS: a preflight from an allowed origin 204 without a token, another origin 403 with no CORS headers", async () => {
    const ok = await fetch(`${collector}/events`, {
      method: "OPTIONS",
      headers: { ...gateway, origin: shop, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get("access-control-allow-origin"), shop);
    assert.equal(ok.headers.get("access-control-allow-methods"), "POST");
    assert.equal(ok.headers.get("access-control-allow-headers"), "authorization, content-type");
    assert.equal(ok.headers.get("access-control-max-age"), "600");
    assert.equal(ok.headers.get("vary"), "Origin");
    const refused = await fetch(`${collector}/events`, { method: "OPTIONS", headers: { ...gateway, origin: "https://evil.example", "access-control-request-method": "POST" } });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
    assert.equal(refused.headers.get("access-control-allow-methods"), null);
  });

  test("CORS: POST /events from an allowed origin carries Access-Control-Allow-Origin, refused or accepted; other routes never", async () => {
    const denied = await post({ ...gateway, origin: shop });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get("access-control-allow-origin"), shop);
    assert.equal(denied.headers.get("vary"), "Origin");
    const accepted = await post({ ...gateway, origin: shop, ...bearer(ingestToken) });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.headers.get("access-control-allow-origin"), shop);
    const other = await post({ ...gateway, origin: "https://evil.example", ...bearer(ingestToken) });
    assert.equal(other.status, 202);
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    const profile = await get(`${api}/profiles/known`, { ...gateway, origin: shop, ...basic(adminToken) });
    assert.equal(profile.status, 200);
    assert.equal(profile.headers.get("access-control-allow-origin"), null);
  });

  test("a malformed tokens file stops the role at start, naming the line and not its content", async () => {
    const bad = join(tempDir("auth-bad-"), "tokens");
    writeFileSync(bad, `admin ${adminToken}\n`);
    const proc = startProcess(process.execPath, ["dist/main.js", "collector"], { AUTH_TOKENS_FILE: bad, PORT: "0", HOST: "127.0.0.1", NATS_URL: "nats://127.0.0.1:1" });
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([proc.exited, new Promise((r) => (timer = setTimeout(() => r("still running"), 10_000)))]).finally(() => clearTimeout(timer));
    assert.equal(code, 2);
    assert.match(proc.output(), /configuration error: AUTH_TOKENS_FILE=.*: line 1: the hash must be 64 hex digits/);
    assert.ok(!proc.output().includes(adminToken));
  });
});
