// The replicated profile store against real processes: a Redis primary with two replicas and
// three Sentinels on loopback. The primary is killed with SIGKILL while profile updates are being
// applied, together with the first Sentinel (as when the machine that runs both dies); every update
// the store acknowledged must survive the failover, and none counts twice.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "redis";
import { loadConfig } from "../../src/config.js";
import { openStore, type ProfileStore } from "../../src/store.js";
import { freePort, requireBinaries, startProcess, stopAll, tempDir, waitFor, type Proc } from "../helpers/procs.js";

const skip = requireBinaries(["redis-server"]);

async function startServer(args: string[], ready: RegExp): Promise<Proc> {
  const proc = startProcess("redis-server", args);
  await waitFor(`redis-server ${args[0]}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`redis-server exited: ${proc.output()}`);
    return ready.test(proc.output());
  });
  return proc;
}

describe("replicated profile store (Redis primary, 2 replicas, 3 Sentinels)", { skip: skip ?? false }, () => {
  const servers: Array<{ port: number; proc: Proc }> = [];
  const sentinelPorts: number[] = [];
  const sentinelProcs: Proc[] = [];
  let store: ProfileStore;

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", tempDir("redis-ha-"), "--appendonly", "yes", "--save", ""];
      if (i > 0) args.push("--replicaof", "127.0.0.1", String(servers[0].port));
      servers.push({ port, proc: await startServer(args, /Ready to accept connections/) });
    }
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(tempDir("sentinel-"), "sentinel.conf");
      writeFileSync(conf, [
        `port ${port}`,
        "bind 127.0.0.1",
        `sentinel monitor profiles 127.0.0.1 ${servers[0].port} 2`,
        "sentinel down-after-milliseconds profiles 1000",
        "sentinel failover-timeout profiles 5000",
        "",
      ].join("\n"));
      sentinelPorts.push(port);
      sentinelProcs.push(await startServer([conf, "--sentinel"], /Sentinel ID is/));
    }
    // Every Sentinel knows both replicas and the two other Sentinels before the fault.
    for (const port of sentinelPorts) {
      const client = createClient({ url: `redis://127.0.0.1:${port}` });
      await client.connect();
      await waitFor("sentinels to discover the set", async () => {
        const replicas = (await client.sendCommand(["SENTINEL", "REPLICAS", "profiles"])) as unknown[];
        const sentinels = (await client.sendCommand(["SENTINEL", "SENTINELS", "profiles"])) as unknown[];
        return replicas.length === 2 && sentinels.length === 2;
      }, 30_000, 200);
      client.destroy();
    }
    store = await openStore(loadConfig({
      REDIS_SENTINELS: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(","),
      REDIS_MASTER_NAME: "profiles",
      REDIS_MIN_REPLICAS_ACK: "1",
    }));
  });
  after(async () => {
    await store?.connection.close().catch(() => undefined);
    await stopAll();
  });

  test("SIGKILL of the primary and the first Sentinel mid-stream: every acknowledged update survives, none counts twice", async (t) => {
    const total = 600;
    const users = 10;
    let failures = 0;
    let killedAt = 0;
    const started = Date.now();
    // Sequential, like one consumer: an update that fails is tried again, as a redelivery would.
    for (let i = 0; i < total; i++) {
      if (i === total / 3) {
        servers[0].proc.child.kill("SIGKILL");
        sentinelProcs[0].child.kill("SIGKILL");
        killedAt = Date.now();
      }
      for (;;) {
        try {
          await store.apply(`ev-${i}`, `user-${i % users}`, 1_700_000_000_000 + i, "written", [{ nodeId: "1", credit: 1 }]);
          break;
        } catch (e) {
          failures++;
          if (Date.now() - (killedAt || started) > 60_000) throw new Error(`the store did not come back within 60 s of the kill: ${String(e)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    const recoveredMs = Date.now() - killedAt;
    t.diagnostic(`${failures} failed attempts; ${recoveredMs} ms from the kill to the last update; ${killedAt - started} ms for the ${total / 3} before it`);
    const sentinel = createClient({ url: `redis://127.0.0.1:${sentinelPorts[1]}` });
    await sentinel.connect();
    const primary = (await sentinel.sendCommand(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "profiles"])) as string[];
    sentinel.destroy();
    assert.notEqual(Number(primary[1]), servers[0].port, "a replica was promoted");
    let counted = 0;
    for (let u = 0; u < users; u++) counted += (await store.profile(`user-${u}`, 1_700_000_000_000))?.events ?? 0;
    assert.equal(counted, total, `every acknowledged update counted once (${failures} retries, ${recoveredMs} ms from the kill to the end)`);
    const stats = await store.stats();
    assert.equal(stats.written, total);
  });
});
