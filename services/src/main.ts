#!/usr/bin/env node
// Entry point: node dist/main.js collector|categoriser|profile-writer|profile-api
// (or ROLE=<role>). SIGTERM/SIGINT: stop taking work, finish or return what is
// in flight, exit. Or a command, run inside a role's task with its configuration:
// backup (the pipeline's data on stdout) or restore (from stdin); see backup.ts.
import { exitCodeOf, failureLine, runBackup, runRestore } from "./backup.js";
import { startCategoriser } from "./categoriser.js";
import { startCollector } from "./collector.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { log, setLogSink } from "./log.js";
import { startProfileApi } from "./profileApi.js";
import { startProfileWriter } from "./profileWriter.js";
import type { Running } from "./role.js";

const roles: Record<string, (c: ReturnType<typeof loadConfig>) => Promise<Running>> = {
  collector: startCollector,
  categoriser: startCategoriser,
  "profile-writer": startProfileWriter,
  "profile-api": startProfileApi,
};

const commands: Record<string, (c: Config) => Promise<void>> = {
  backup: runBackup,
  restore: runRestore,
};

/**
 * A command: 0 when done; else one line on stderr and the exit code of its failure (backup.ts's
 * exitCodeOf). Log records go to stderr without their details (addresses, errors that name
 * them), warnings and errors only: stdout is the command's output.
 */
async function runCommand(name: string, command: (c: Config) => Promise<void>): Promise<never> {
  setLogSink((level, msg) => {
    if (level !== "info") process.stderr.write(`${name}: ${level}: ${msg}\n`);
  });
  try {
    await command(loadConfig());
    process.exit(0);
  } catch (e) {
    process.stderr.write(failureLine(name, e) + "\n");
    process.exit(exitCodeOf(e));
  }
}

async function main(): Promise<void> {
  const role = process.argv[2] ?? process.env.ROLE ?? "";
  const start = roles[role];
  const command = commands[role];
  if (command) {
    process.env.ROLE = role;
    await runCommand(role, command);
  }
  if (!start) {
    process.stderr.write(`usage: main.js <${[...Object.keys(roles), ...Object.keys(commands)].join("|")}> (or ROLE=...); got ${JSON.stringify(role)}\n`);
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
    }, cfg.stopDrainMs + cfg.shutdownTimeoutMs + 5000);
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
