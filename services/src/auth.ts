// Who may ask what through the gateway: tokens by kind (ingest, admin) from AUTH_TOKENS_FILE, and
// CORS for browsers that send events (ALLOWED_ORIGINS). Pure functions; HttpService applies the
// answer of `access` before any routing. Tokens and hashes are never logged or put in a message.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export type TokenKind = "ingest" | "admin";

/** The sha256 digests (32 bytes each) of the accepted tokens, by kind. */
export interface TokenHashes {
  ingest: Buffer[];
  admin: Buffer[];
}

/** A tokens file or an origin list that cannot be used; the message names no token or hash. */
export class AuthSettingsError extends Error {}

const kinds: readonly TokenKind[] = ["ingest", "admin"];

/**
 * Parse AUTH_TOKENS_FILE: one `ingest <sha256 hex>` or `admin <sha256 hex>` a line (an optional
 * `# comment` after it); blank lines and lines starting with `#` are ignored. Malformed lines, a
 * hash listed under both kinds, or no hash at all are errors.
 */
export function parseTokensFile(text: string): TokenHashes {
  const out: TokenHashes = { ingest: [], admin: [] };
  const seen = new Map<string, TokenKind>();
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    const at = `line ${i + 1}`;
    if (fields.length < 2 || (fields.length > 2 && !fields[2].startsWith("#"))) {
      throw new AuthSettingsError(`${at}: expected "ingest <sha256 hex>" or "admin <sha256 hex>"`);
    }
    const [kind, hex] = fields;
    if (!(kinds as readonly string[]).includes(kind)) throw new AuthSettingsError(`${at}: the kind must be "ingest" or "admin"`);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new AuthSettingsError(`${at}: the hash must be 64 hex digits (the sha256 of the token)`);
    const key = hex.toLowerCase();
    const before = seen.get(key);
    if (before && before !== kind) throw new AuthSettingsError(`${at}: the same hash is listed as both ingest and admin`);
    if (before) return;
    seen.set(key, kind as TokenKind);
    out[kind as TokenKind].push(Buffer.from(key, "hex"));
  });
  if (out.ingest.length + out.admin.length === 0) throw new AuthSettingsError("no hash in the file: expected lines \"ingest <sha256 hex>\" or \"admin <sha256 hex>\"");
  return out;
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, or `Authorization: Basic
 * base64(user:password)` with the password as the token (any user name). Undefined when none.
 */
export function tokenFrom(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization;
  if (!value) return undefined;
  const m = /^\s*(\S+)\s+(.*)$/.exec(value);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  const rest = m[2].trim();
  if (scheme === "bearer") return rest || undefined;
  if (scheme === "basic") {
    const decoded = Buffer.from(rest, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    return decoded.slice(colon + 1) || undefined;
  }
  return undefined;
}

export type Equal = (a: Buffer, b: Buffer) => boolean;

/**
 * The kinds a token is of. Its sha256 is compared with every stored hash of both kinds in constant
 * time (`equal`: crypto.timingSafeEqual), with no early return on a match: the time depends on the
 * number of hashes only.
 */
export function kindsOf(hashes: TokenHashes, token: string, equal: Equal = timingSafeEqual): Record<TokenKind, boolean> {
  const digest = createHash("sha256").update(token, "utf8").digest();
  let ingest = 0;
  let admin = 0;
  for (const h of hashes.ingest) ingest |= Number(equal(h, digest));
  for (const h of hashes.admin) admin |= Number(equal(h, digest));
  return { ingest: ingest === 1, admin: admin === 1 };
}

/** The collector's event intake (also its route). */
export const eventsPath = /^\/events\/?$/;

/** The token kind a request to a role needs: the collector's POST /events an ingest token, everything else admin. */
export function requiredKind(role: string, method: string, path: string): TokenKind {
  return role === "collector" && method === "POST" && eventsPath.test(path) ? "ingest" : "admin";
}

/** The challenges of a 401: a Bearer token for the intake, Basic (a browser asks for it) for the rest. */
export const challenges: Record<TokenKind, string> = {
  ingest: 'Bearer realm="pipeline"',
  admin: 'Basic realm="pipeline", charset="UTF-8"',
};

/**
 * 200, 401 or 403 for a request that came through the gateway, needing a token of `need`:
 * no token or an unknown one 401 (with the challenge), a known token of the other kind 403.
 */
export function authorize(hashes: TokenHashes, need: TokenKind, headers: IncomingHttpHeaders, equal?: Equal): 200 | 401 | 403 {
  const token = tokenFrom(headers);
  if (token === undefined) return 401;
  const of = kindsOf(hashes, token, equal);
  if (of[need]) return 200;
  return of.ingest || of.admin ? 403 : 401;
}

/**
 * ALLOWED_ORIGINS: comma-separated origins (`https://shop.example`, `http://localhost:3000`),
 * returned in their serialised form (as browsers send them in `Origin`).
 */
export function parseOrigins(raw: string): string[] {
  const out: string[] = [];
  for (const entry of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    let u: URL | undefined;
    try {
      u = new URL(entry);
    } catch {
      u = undefined;
    }
    if (!u || !/^https?:$/.test(u.protocol) || u.pathname !== "/" || u.search || u.hash || u.username || u.password) {
      throw new AuthSettingsError(`${JSON.stringify(entry)} is not an origin: expected scheme://host[:port], e.g. https://shop.example`);
    }
    if (!out.includes(u.origin)) out.push(u.origin);
  }
  return out;
}

/** What a role checks before routing: the tokens (undefined: auth off) and the origins allowed to send events. */
export interface AccessPolicy {
  tokens: TokenHashes | undefined;
  allowedOrigins: string[];
}

/** `pass`: go on to routing, with `headers` on the answer; otherwise answer `status` with `headers` and `body`. */
export type Access =
  | { pass: true; headers: Record<string, string> }
  | { pass: false; status: 204 | 401 | 403; headers: Record<string, string>; body?: { error: string } };

const preflightHeaders = {
  "access-control-allow-methods": "POST",
  "access-control-allow-headers": "authorization, content-type",
  "access-control-max-age": "600",
};

/**
 * The check in front of a role's routes:
 * - the collector's `OPTIONS /events` (a CORS preflight, no token): 204 with the CORS headers for
 *   an allowed `Origin`, else 403 with none;
 * - the collector's `POST /events` from an allowed `Origin` carries `Access-Control-Allow-Origin`
 *   and `Vary: Origin` on whatever it is answered (401 and 403 included);
 * - with auth on, a request that came through the gateway (it has `X-Forwarded-For`) needs a token
 *   of `requiredKind`: 401 with a challenge or 403 before any routing, so a known and an unknown
 *   user or path get the same answer. Requests without it (health checks) pass.
 */
export function access(policy: AccessPolicy, role: string, method: string, path: string, headers: IncomingHttpHeaders, equal?: Equal): Access {
  const intake = role === "collector" && eventsPath.test(path);
  const origin = headers.origin;
  const allowedOrigin = intake && origin !== undefined && policy.allowedOrigins.includes(origin);
  if (intake && method === "OPTIONS") {
    if (!allowedOrigin) return { pass: false, status: 403, headers: {}, body: { error: "origin not allowed" } };
    return { pass: false, status: 204, headers: { "access-control-allow-origin": origin, ...preflightHeaders, vary: "Origin" } };
  }
  const cors: Record<string, string> = allowedOrigin && method === "POST" ? { "access-control-allow-origin": origin, vary: "Origin" } : {};
  if (!policy.tokens || headers["x-forwarded-for"] === undefined) return { pass: true, headers: cors };
  const need = requiredKind(role, method, path);
  const status = authorize(policy.tokens, need, headers, equal);
  if (status === 200) return { pass: true, headers: cors };
  if (status === 401) return { pass: false, status, headers: { ...cors, "www-authenticate": challenges[need] }, body: { error: "unauthorized" } };
  return { pass: false, status, headers: cors, body: { error: "forbidden" } };
}
