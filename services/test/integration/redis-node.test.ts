// The Redis image's entry script (docker/redis-node.sh) run for real on loopback: a replicated
// server keeps the role it was last given across restarts, and a Sentinel starts from a state
// file in which Redis 7.0 wrote a replica twice (which it refuses to read as it is).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "redis";
import { servicesDir } from "../helpers/labelled.js";
import { freePort, requireBinaries, startProcess, stopAll, tempDir, waitFor, type Proc } from "../helpers/procs.js";

const skip = requireBinaries(["redis-server"]);
const script = join(servicesDir, "docker", "redis-node.sh");

async function startNode(env: Record<string, string>, args: string[] = []): Promise<Proc> {
  const proc = startProcess("sh", [script, ...args], env);
  await waitFor("redis-node.sh", async () => {
    if (proc.child.exitCode !== null) throw new Error(`redis-node.sh exited ${proc.child.exitCode}: ${proc.output()}`);
    return /Ready to accept connections|Sentinel ID is/.test(proc.output());
  });
  return proc;
}

async function stop(proc: Proc): Promise<void> {
  proc.child.kill("SIGTERM");
  await proc.exited;
}

async function role(port: number): Promise<string> {
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  await client.connect();
  try {
    return String(((await client.sendCommand(["ROLE"])) as unknown[])[0]);
  } finally {
    client.destroy();
  }
}

describe("redis-node.sh", { skip: skip ?? false }, () => {
  after(stopAll);

  test("a replica keeps the role in its file: a promotion written there survives a restart", async () => {
    const data = tempDir("redis-node-");
    const port = await freePort();
    const env = { DATA_DIR: data, REDIS_PORT: String(port), REDIS_ANNOUNCE: "redis-2", REDIS_PRIMARY: "127.0.0.1", REDIS_PRIMARY_PORT: String(await freePort()) };
    const first = await startNode(env);
    assert.equal(await role(port), "slave");
    await stop(first);
    // What Sentinel's promotion leaves in the file: no replicaof line.
    const conf = join(data, "redis.conf");
    writeFileSync(conf, readFileSync(conf, "utf8").replace(/^replicaof .*$/m, ""));
    await startNode(env);
    assert.equal(await role(port), "master", "the restarted server kept its promotion instead of starting as a replica again");
  });

  test("a second server on the same data directory waits until the first has stopped", async () => {
    const data = tempDir("redis-node-");
    const first = await startNode({ DATA_DIR: data, REDIS_PORT: String(await freePort()) });
    const secondPort = await freePort();
    const second = startProcess("sh", [script], { DATA_DIR: data, REDIS_PORT: String(secondPort) });
    await new Promise((r) => setTimeout(r, 1500));
    assert.doesNotMatch(second.output(), /Ready to accept connections/, "started while the first still held the directory");
    await stop(first);
    await waitFor("the second server", async () => /Ready to accept connections/.test(second.output()));
    assert.equal(await role(secondPort), "master");
  });

  test("the server named as primary starts as the primary", async () => {
    const port = await freePort();
    await startNode({ DATA_DIR: tempDir("redis-node-"), REDIS_PORT: String(port), REDIS_ANNOUNCE: "redis-1", REDIS_PRIMARY: "redis-1" });
    assert.equal(await role(port), "master");
  });

  test("a Sentinel whose state file lists a replica twice still starts", async () => {
    const data = tempDir("sentinel-node-");
    const primary = await freePort();
    await startNode({ DATA_DIR: data, REDIS_PORT: String(primary), REDIS_ANNOUNCE: "p", REDIS_PRIMARY: "p" });
    const port = await freePort();
    const duplicate = `sentinel known-replica profiles 127.0.0.1 ${await freePort()}`;
    writeFileSync(join(data, "sentinel.conf"), [`port ${port}`, `dir ${data}`, `sentinel monitor profiles 127.0.0.1 ${primary} 1`, duplicate, duplicate, ""].join("\n"));
    await startNode({ DATA_DIR: data, SENTINEL_ANNOUNCE: "127.0.0.1", SENTINEL_MONITOR: "profiles 127.0.0.1 1 1" }, ["sentinel"]);
    const client = createClient({ url: `redis://127.0.0.1:${port}` });
    await client.connect();
    const master = (await client.sendCommand(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "profiles"])) as string[];
    client.destroy();
    assert.deepEqual(master, ["127.0.0.1", String(primary)]);
  });
});
