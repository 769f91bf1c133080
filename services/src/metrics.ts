// Counters with rates over a sliding window, for /metrics.
export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly history: Array<{ t: number; c: Map<string, number> }> = [];
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;
  readonly gauges = new Map<string, () => number>();

  constructor(private readonly windowMs = 10_000) {
    this.timer = setInterval(() => this.snapshot(), 1000);
    this.timer.unref();
    this.snapshot();
  }

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  private snapshot(): void {
    const now = Date.now();
    this.history.push({ t: now, c: new Map(this.counters) });
    while (this.history.length > 2 && now - this.history[0].t > this.windowMs) this.history.shift();
  }

  toJSON(): Record<string, unknown> {
    const now = Date.now();
    const oldest = this.history[0];
    const dt = Math.max(0.001, (now - oldest.t) / 1000);
    const counts: Record<string, number> = {};
    const rates: Record<string, number> = {};
    for (const [k, v] of this.counters) {
      counts[k] = v;
      rates[k] = Math.round(((v - (oldest.c.get(k) ?? 0)) / dt) * 10) / 10;
    }
    const gauges: Record<string, number> = {};
    for (const [k, f] of this.gauges) gauges[k] = f();
    return {
      uptimeSeconds: Math.round((now - this.started) / 1000),
      counts,
      ratesPerSecond: rates,
      rateWindowSeconds: Math.round(dt),
      gauges,
    };
  }
}
