#!/usr/bin/env node
// Entry point: node dist/main.js collector|categoriser|profile-writer|profile-api
// (or ROLE=<role>). SIGTERM/SIGINT: stop taking work, finish or return what is
// in flight, exit.
import { startCategoriser } from "./categoriser.js";
import { startCollector } from "./collector.js";
import { ConfigError, loadConfig } from "./config.js";
import { log } from "./log.js";
import { startProfileApi } from "./profileApi.js";
import { startProfileWriter } from "./profileWriter.js";
import type { Running } from "./role.js";

const roles: Record<string, (c: ReturnType<typeof loadConfig>) => Promise<Running>> = {
  collector: startCollector,
  categoriser: startCategoriser,
  "profile-writer": startProfileWriter,
  "profile-api": startProfileApi,
};

async function main(): Promise<void> {
  const role = process.argv[2] ?? process.env.ROLE ?? "";
  const start = roles[role];
  if (!start) {
    process.stderr.write(`usage: main.js <${Object.keys(roles).join("|")}> (or ROLE=...); got ${JSON.stringify(role)}\n`);
    process.exit(2);
  }
  process.env.ROLE = role;
  let cfg;
  try {
    cfg = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`configuration error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const running = await start(cfg);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "shutting down", { signal });
    const timer = setTimeout(() => {
      log("error", "shutdown timed out; exiting");
      process.exit(1);
    }, cfg.shutdownTimeoutMs + 5000);
    timer.unref();
    try {
      await running.stop();
      log("info", "stopped");
      process.exit(0);
    } catch (e) {
      log("error", "error during shutdown", { error: String(e) });
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((e) => {
  log("error", "fatal", { error: String(e), stack: (e as Error)?.stack });
  process.exit(1);
});
