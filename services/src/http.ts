// A small HTTP shell: routing for a handful of endpoints, JSON replies, body
// limits, and a graceful close that lets requests in flight finish.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Access } from "./auth.js";

export type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => void | Promise<void>;

export interface Route {
  /** The route's name in metrics (never the path, which may name a user). */
  name: string;
  method: string;
  path: RegExp;
  handler: Handler;
}

/** Told of every answered request: its route's name ("unknown" when none matched), method, status and time taken. */
export type Observer = (route: string, method: string, status: number, seconds: number) => void;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** The request headers passed on by `proxyTo`: never the client's credentials. */
const forwardedRequestHeaders = ["accept", "accept-encoding", "content-type", "content-length"];
const forwardedResponseHeaders = ["content-type", "content-encoding", "content-length", "location"];
const pick = (headers: Record<string, string | string[] | undefined>, names: string[]) =>
  Object.fromEntries(names.filter((n) => headers[n] !== undefined).map((n) => [n, headers[n] as string | string[]]));

/**
 * A handler that passes the request, path and query as they came, on to the HTTP server at
 * `base` (http://host:port) and streams its answer back. A host whose name does not resolve
 * answers 404 with `missing` (a service the stack does not run); one that does not answer, 502.
 */
export function proxyTo(base: string, missing: string, timeoutMs = 30_000): Handler {
  const target = new URL(base);
  return (req, res) =>
    new Promise<void>((resolve) => {
      const upstream = request(
        { host: target.hostname, port: target.port || 80, method: req.method, path: req.url, headers: pick(req.headers, forwardedRequestHeaders), timeout: timeoutMs },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, pick(answer.headers, forwardedResponseHeaders));
          answer.pipe(res);
          answer.on("end", resolve);
          answer.on("error", () => resolve(void res.destroy()));
        },
      );
      upstream.on("timeout", () => upstream.destroy(new Error("timed out")));
      upstream.on("error", (e: NodeJS.ErrnoException) => {
        if (res.headersSent) res.destroy();
        else if (e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") sendJson(res, 404, { error: missing });
        else sendJson(res, 502, { error: `${target.host} did not answer` });
        resolve();
      });
      req.pipe(upstream);
    });
}

/** Checked before routing (auth, CORS): passes the request on, or answers it. */
export type Gate = (req: IncomingMessage, path: string) => Access;

export class BodyTooLarge extends Error {}

/** Read a request body up to `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new BodyTooLarge(`body of ${declared} bytes exceeds the limit of ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLarge(`body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => !failed && resolve(Buffer.concat(chunks)));
    req.on("error", (e) => !failed && reject(e));
  });
}

export class HttpService {
  readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private inFlight = 0;
  private closing = false;

  constructor(private readonly routes: Route[], onError: (e: unknown) => void, gate?: Gate, observe?: Observer) {
    this.server = createServer((req, res) => {
      const started = process.hrtime.bigint();
      this.inFlight++;
      res.on("close", () => this.inFlight--);
      if (this.closing) res.setHeader("connection", "close");
      const url = req.url ?? "/";
      const path = url.split("?")[0];
      if (observe) {
        const name = this.routes.find((r) => r.path.test(path))?.name ?? "unknown";
        res.on("finish", () => observe(name, req.method ?? "", res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
      }
      if (gate) {
        const a = gate(req, path);
        for (const [k, v] of Object.entries(a.headers)) res.setHeader(k, v);
        if (!a.pass) {
          req.resume();
          if (a.body) return sendJson(res, a.status, a.body);
          res.writeHead(a.status);
          return void res.end();
        }
      }
      const matches = this.routes.filter((r) => r.path.test(path));
      if (matches.length === 0) return sendJson(res, 404, { error: "not found" });
      const route = matches.find((r) => r.method === req.method);
      if (!route) return sendJson(res, 405, { error: `method ${req.method} not allowed` }, { allow: matches.map((r) => r.method).join(", ") });
      const params = (path.match(route.path) ?? []).slice(1).map((p) => {
        try {
          return decodeURIComponent(p);
        } catch {
          return p;
        }
      });
      Promise.resolve()
        .then(() => route.handler(req, res, params))
        .catch((e) => {
          onError(e);
          sendJson(res, 500, { error: "internal error" });
        });
    });
    this.server.keepAliveTimeout = 65_000;
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        const a = this.server.address();
        resolve(typeof a === "object" && a ? a.port : port);
      });
    });
  }

  /** Whether close() was called: the health check says so from then on. */
  get stopping(): boolean {
    return this.closing;
  }

  /**
   * Serve `drainMs` more while the health check fails (so that a load balancer stops sending here
   * before the port closes), then stop accepting connections, wait for requests in flight (up to
   * timeoutMs), and drop idle keep-alive sockets.
   */
  async close(timeoutMs: number, drainMs = 0): Promise<void> {
    this.closing = true;
    if (drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeIdleConnections();
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      this.server.closeIdleConnections();
    }
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
