// A role's Prometheus metrics (prom-client), served as text at GET /metrics: the process's own
// (CPU, memory, event loop), the latency of every request, refusals by reason, and the role's
// counters and gauges. Labels never carry a user ID, URL or token: routes are named, not quoted.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

const prefix = "categorisation_";

export class RoleMetrics {
  readonly registry = new Registry();
  private readonly requestSeconds: Histogram<"route" | "method" | "code">;
  private readonly refusals: Counter<"reason">;

  constructor(readonly role: string) {
    this.registry.setDefaultLabels({ role });
    collectDefaultMetrics({ register: this.registry });
    this.requestSeconds = new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: "Time from a request's arrival to its answer, by route, method and status code",
      labelNames: ["route", "method", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [this.registry],
    });
    this.refusals = this.counter("refusals_total", "Requests refused, by reason", ["reason"]);
  }

  counter<L extends string = never>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter({ name: `${prefix}${name}`, help, labelNames, registers: [this.registry] });
  }

  /** A gauge read when scraped. */
  gauge(name: string, help: string, read: () => number | Promise<number>): Gauge {
    return new Gauge({
      name: `${prefix}${name}`,
      help,
      registers: [this.registry],
      async collect() {
        this.set(await read());
      },
    });
  }

  /** A gauge with labels, set by its owner, or on each scrape by `collect`. */
  labelledGauge<L extends string>(name: string, help: string, labelNames: L[], collect?: (gauge: Gauge<L>) => Promise<void>): Gauge<L> {
    return new Gauge<L>({
      name: `${prefix}${name}`,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect ? { async collect() { await collect(this); } } : {}),
    });
  }

  histogram(name: string, help: string, buckets: number[]): Histogram {
    return new Histogram({ name: `${prefix}${name}`, help, buckets, registers: [this.registry] });
  }

  observeRequest(route: string, method: string, code: number, seconds: number): void {
    this.requestSeconds.observe({ route, method, code: String(code) }, seconds);
  }

  refuse(reason: RefusalReason): void {
    this.refusals.inc({ reason });
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Why a request was refused: no or a wrong token (401), a token of the wrong kind or an origin not allowed (403), a body that is not events, too large, or a stream that cannot take it. */
export type RefusalReason = "unauthorized" | "forbidden" | "invalid" | "too_large" | "stream_full" | "stream_unavailable";
