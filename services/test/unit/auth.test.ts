import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  access,
  authorize,
  AuthSettingsError,
  kindsOf,
  parseOrigins,
  parseTokensFile,
  requiredKind,
  tokenFrom,
  type AccessPolicy,
} from "../../src/auth.js";
import { ConfigError, loadConfig } from "../../src/config.js";

const sha = (t: string) => createHash("sha256").update(t).digest("hex");
const ingestToken = "ingest-secret-1";
const adminToken = "admin-secret-1";
const file = [
  "# tokens of the pipeline",
  "",
  `ingest ${sha(ingestToken)}`,
  `ingest ${sha("ingest-secret-2").toUpperCase()}   # a second sender`,
  `   admin\t${sha(adminToken)}  `,
].join("\r\n");
const hashes = parseTokensFile(file);
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
const viaGateway = { "x-forwarded-for": "203.0.113.7" };

describe("tokens file", () => {
  test("kinds and hashes; blank lines, comments, CRLF and upper-case hex accepted", () => {
    assert.equal(hashes.ingest.length, 2);
    assert.equal(hashes.admin.length, 1);
    assert.deepEqual(hashes.ingest[1], Buffer.from(sha("ingest-secret-2"), "hex"));
    assert.deepEqual(hashes.admin[0], Buffer.from(sha(adminToken), "hex"));
  });

  test("a hash listed twice under one kind counts once", () => {
    const h = parseTokensFile(`admin ${sha("a")}\nadmin ${sha("a")}\n`);
    assert.equal(h.admin.length, 1);
  });

  test("malformed files are errors naming the line, never its content", () => {
    const secret = "plain-token-written-by-mistake";
    const cases: Array<[string, RegExp]> = [
      [`admin ${sha("a")}\n${secret}\n`, /^line 2: expected "ingest <sha256 hex>" or "admin <sha256 hex>"$/],
      [`reader ${sha("a")}`, /^line 1: the kind must be "ingest" or "admin"$/],
      [`admin ${secret}`, /^line 1: the hash must be 64 hex digits/],
      [`admin ${sha("a").slice(1)}`, /^line 1: the hash must be 64 hex digits/],
      [`admin ${sha("a")} ${secret}`, /^line 1: expected/],
      [`ingest ${sha("a")}\nadmin ${sha("a")}`, /^line 2: the same hash is listed as both ingest and admin$/],
      ["", /^no hash in the file/],
      ["# only comments\n\n", /^no hash in the file/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseTokensFile(text), (e: unknown) => {
        assert.ok(e instanceof AuthSettingsError);
        assert.match(e.message, message);
        assert.ok(!e.message.includes(secret) && !e.message.includes(sha("a").slice(1, 20)), e.message);
        return true;
      });
    }
  });

  test("loadConfig: unset means auth off; unreadable or malformed is a ConfigError", () => {
    assert.equal(loadConfig({}).authTokens, undefined);
    assert.equal(loadConfig({ AUTH_TOKENS_FILE: "" }).authTokens, undefined);
    const dir = mkdtempSync(join(tmpdir(), "auth-"));
    try {
      const good = join(dir, "tokens");
      writeFileSync(good, file);
      assert.equal(loadConfig({ AUTH_TOKENS_FILE: good }).authTokens?.admin.length, 1);
      assert.throws(() => loadConfig({ AUTH_TOKENS_FILE: join(dir, "missing") }), (e: unknown) => e instanceof ConfigError && /cannot be read \(ENOENT\)/.test(e.message));
      const bad = join(dir, "bad");
      writeFileSync(bad, `admin ${adminToken}\n`);
      assert.throws(() => loadConfig({ AUTH_TOKENS_FILE: bad }), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /AUTH_TOKENS_FILE=".*bad": line 1: the hash must be 64 hex digits/);
        assert.ok(!e.message.includes(adminToken));
        return true;
      });
      const empty = join(dir, "empty");
      writeFileSync(empty, "# nothing yet\n");
      assert.throws(() => loadConfig({ AUTH_TOKENS_FILE: empty }), (e: unknown) => e instanceof ConfigError && /no hash/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the token of a request", () => {
  test("Bearer, and Basic with the password as the token (any user name)", () => {
    assert.equal(tokenFrom(bearer("abc")), "abc");
    assert.equal(tokenFrom({ authorization: "bearer   abc  " }), "abc");
    assert.equal(tokenFrom(basic("anyone", "p:w d")), "p:w d");
    assert.equal(tokenFrom(basic("", "pw")), "pw");
    assert.equal(tokenFrom(basic("ünïcode", "pässwörd")), "pässwörd");
  });

  test("none: no header, another scheme, empty token, Basic without a colon or password", () => {
    assert.equal(tokenFrom({}), undefined);
    assert.equal(tokenFrom({ authorization: "Digest abc" }), undefined);
    assert.equal(tokenFrom({ authorization: "Bearer " }), undefined);
    assert.equal(tokenFrom({ authorization: "Bearer" }), undefined);
    assert.equal(tokenFrom({ authorization: `Basic ${Buffer.from("nocolon").toString("base64")}` }), undefined);
    assert.equal(tokenFrom(basic("user", "")), undefined);
  });
});

describe("checking a token", () => {
  test("kinds of a token", () => {
    assert.deepEqual(kindsOf(hashes, ingestToken), { ingest: true, admin: false });
    assert.deepEqual(kindsOf(hashes, "ingest-secret-2"), { ingest: true, admin: false });
    assert.deepEqual(kindsOf(hashes, adminToken), { ingest: false, admin: true });
    assert.deepEqual(kindsOf(hashes, "unknown"), { ingest: false, admin: false });
  });

  test("constant time: crypto.timingSafeEqual against every hash of both kinds, a match or not", () => {
    for (const token of [ingestToken, "ingest-secret-2", adminToken, "unknown"]) {
      const calls: Array<[Buffer, Buffer]> = [];
      const spy = (a: Buffer, b: Buffer) => {
        calls.push([a, b]);
        return timingSafeEqual(a, b);
      };
      kindsOf(hashes, token, spy);
      assert.equal(calls.length, 3, token);
      assert.deepEqual(calls.map(([a]) => a), [...hashes.ingest, ...hashes.admin]);
      assert.ok(calls.every(([, b]) => b.equals(Buffer.from(sha(token), "hex"))));
    }
    // And the default is crypto's: a spy that never matches makes a valid token unknown.
    assert.equal(authorize(hashes, "admin", bearer(adminToken), () => false), 401);
    assert.equal(authorize(hashes, "admin", bearer(adminToken)), 200);
  });

  test("200 for the right kind, 403 for the other kind, 401 for none or an unknown one", () => {
    assert.equal(authorize(hashes, "ingest", bearer(ingestToken)), 200);
    assert.equal(authorize(hashes, "ingest", basic("x", ingestToken)), 200);
    assert.equal(authorize(hashes, "ingest", bearer(adminToken)), 403);
    assert.equal(authorize(hashes, "admin", basic("ops", adminToken)), 200);
    assert.equal(authorize(hashes, "admin", bearer(ingestToken)), 403);
    assert.equal(authorize(hashes, "admin", {}), 401);
    assert.equal(authorize(hashes, "ingest", bearer("nope")), 401);
  });

  test("only the collector's POST /events takes an ingest token", () => {
    assert.equal(requiredKind("collector", "POST", "/events"), "ingest");
    assert.equal(requiredKind("collector", "POST", "/events/"), "ingest");
    for (const [role, method, path] of [
      ["collector", "GET", "/events"],
      ["collector", "POST", "/events/x"],
      ["collector", "POST", "//events"],
      ["collector", "GET", "/metrics"],
      ["collector", "GET", "/healthz"],
      ["profile-api", "POST", "/events"],
      ["profile-api", "GET", "/profiles/u"],
      ["profile-api", "GET", "/dashboard/data"],
    ]) {
      assert.equal(requiredKind(role, method, path), "admin", `${role} ${method} ${path}`);
    }
  });
});

describe("access: the check before routing", () => {
  const policy: AccessPolicy = { tokens: hashes, allowedOrigins: parseOrigins("https://shop.example, http://localhost:3000") };
  const off: AccessPolicy = { tokens: undefined, allowedOrigins: [] };
  const shop = { origin: "https://shop.example" };

  test("requests without X-Forwarded-For (health checks) pass; so does everything with auth off", () => {
    assert.deepEqual(access(policy, "collector", "GET", "/healthz", {}), { pass: true, headers: {} });
    assert.deepEqual(access(policy, "profile-api", "GET", "/profiles/u", {}), { pass: true, headers: {} });
    assert.deepEqual(access(off, "collector", "POST", "/events", viaGateway), { pass: true, headers: {} });
    assert.deepEqual(access(off, "profile-api", "GET", "/stats", viaGateway), { pass: true, headers: {} });
  });

  test("POST /events: an ingest token; none 401 with a Bearer challenge, an admin token 403", () => {
    assert.deepEqual(access(policy, "collector", "POST", "/events", { ...viaGateway, ...bearer(ingestToken) }), { pass: true, headers: {} });
    assert.deepEqual(access(policy, "collector", "POST", "/events", viaGateway), {
      pass: false,
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="pipeline"' },
      body: { error: "unauthorized" },
    });
    assert.deepEqual(access(policy, "collector", "POST", "/events", { ...viaGateway, ...bearer(adminToken) }), {
      pass: false,
      status: 403,
      headers: {},
      body: { error: "forbidden" },
    });
  });

  test("everything else through the gateway: the admin token; none 401 with a Basic challenge, an ingest token 403", () => {
    for (const [role, path] of [["profile-api", "/profiles/u"], ["profile-api", "/dashboard"], ["collector", "/metrics"], ["collector", "/nowhere"]]) {
      assert.deepEqual(access(policy, role, "GET", path, { ...viaGateway, ...basic("ops", adminToken) }), { pass: true, headers: {} });
      const none = access(policy, role, "GET", path, viaGateway);
      assert.deepEqual(none, { pass: false, status: 401, headers: { "www-authenticate": 'Basic realm="pipeline", charset="UTF-8"' }, body: { error: "unauthorized" } });
      assert.equal(access(policy, role, "GET", path, { ...viaGateway, ...basic("ops", "wrong") }).pass, false);
      const wrongKind = access(policy, role, "GET", path, { ...viaGateway, ...bearer(ingestToken) });
      assert.equal(!wrongKind.pass && wrongKind.status, 403);
    }
  });

  test("CORS preflight: 204 with the headers for an allowed origin, 403 and none for another, no token needed", () => {
    assert.deepEqual(access(policy, "collector", "OPTIONS", "/events", { ...viaGateway, ...shop }), {
      pass: false,
      status: 204,
      headers: {
        "access-control-allow-origin": "https://shop.example",
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
        vary: "Origin",
      },
    });
    for (const headers of [{ origin: "https://evil.example" }, { origin: "https://shop.example.evil" }, {}]) {
      assert.deepEqual(access(policy, "collector", "OPTIONS", "/events", { ...viaGateway, ...headers }), {
        pass: false,
        status: 403,
        headers: {},
        body: { error: "origin not allowed" },
      });
    }
    assert.equal(access(off, "collector", "OPTIONS", "/events", shop).pass, false);
  });

  test("POST /events from an allowed origin carries Access-Control-Allow-Origin, on errors too; no other route ever", () => {
    const cors = { "access-control-allow-origin": "https://shop.example", vary: "Origin" };
    assert.deepEqual(access(policy, "collector", "POST", "/events", { ...viaGateway, ...shop, ...bearer(ingestToken) }), { pass: true, headers: cors });
    const denied = access(policy, "collector", "POST", "/events", { ...viaGateway, ...shop });
    assert.deepEqual(denied.headers, { ...cors, "www-authenticate": 'Bearer realm="pipeline"' });
    assert.deepEqual(access(policy, "collector", "POST", "/events", { ...viaGateway, ...shop, ...bearer(adminToken) }).headers, cors);
    assert.deepEqual(access(off, "collector", "POST", "/events", shop).headers, {});
    assert.deepEqual(access(policy, "collector", "POST", "/events", { ...viaGateway, origin: "https://evil.example", ...bearer(ingestToken) }).headers, {});
    assert.deepEqual(access(policy, "collector", "GET", "/metrics", { ...shop, ...basic("a", adminToken) }).headers, {});
    assert.deepEqual(access(policy, "profile-api", "POST", "/events", shop).headers, {});
    assert.deepEqual(access(policy, "profile-api", "OPTIONS", "/events", shop), { pass: true, headers: {} });
  });
});

describe("allowed origins", () => {
  test("comma-separated, serialised as browsers send them", () => {
    assert.deepEqual(parseOrigins(""), []);
    assert.deepEqual(parseOrigins(" https://Shop.Example/ ,http://localhost:3000,https://shop.example:443"), ["https://shop.example", "http://localhost:3000"]);
  });

  test("anything but scheme://host[:port] is a ConfigError", () => {
    for (const bad of ["shop.example", "*", "https://shop.example/path", "ftp://shop.example", "https://u:p@shop.example", "null"]) {
      assert.throws(() => parseOrigins(bad), AuthSettingsError, bad);
      assert.throws(() => loadConfig({ ALLOWED_ORIGINS: bad }), ConfigError, bad);
    }
    assert.deepEqual(loadConfig({ ALLOWED_ORIGINS: "https://shop.example" }).allowedOrigins, ["https://shop.example"]);
  });
});
