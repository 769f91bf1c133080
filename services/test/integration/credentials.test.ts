// The data tier's credentials, against real processes started by the images' entry scripts:
// docker/redis-node.sh (a server on its own; a primary, its replica and two Sentinels) and
// docker/nats-node.sh (a server on its own; a cluster of three), each given a password file as the
// stack gives a swarm secret. A client without the password is refused (NOAUTH from Redis and the
// Sentinels, "auth_required" and an authorization violation from NATS, its routes included); the
// pipeline's own clients (the config's password, the stream client) get in; replication and a
// Sentinel failover work with auth; a restart with a new password file takes the new password,
// although the config files on the volume were rewritten with the old one; and no process shows
// a password on its command line.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { connect } from "@nats-io/transport-node";
import { createClient } from "redis";
import { loadConfig } from "../../src/config.js";
import { closeNats, connectJetStream, publishWithin } from "../../src/stream.js";
import { repoRoot, servicesDir } from "../helpers/labelled.js";
import { freePort, requireBinaries, startNats, startProcess, startRedis, stopAll, tempDir, waitFor, type Proc } from "../helpers/procs.js";

const run = promisify(execFile);
const redisSkip = requireBinaries(["redis-server", "redis-cli"]);
const natsSkip = requireBinaries(["nats-server"]);
const docker = join(servicesDir, "docker");
const redisNode = join(docker, "redis-node.sh");
const redisPing = join(docker, "redis-ping.sh");
const natsNode = join(docker, "nats-node.sh");

// Passwords with what a config parser could trip on: spaces, quotes, a backslash, a dollar, a hash.
// The files pad them with blanks and a second line, which the scripts and the roles both drop.
const passwordFile = (password: string): string => {
  const file = join(tempDir("secret-"), "password");
  writeFileSync(file, `  ${password}\t\nsecond line, not part of it\n`, { mode: 0o400 });
  return file;
};

/** No process on this machine carries the password in its command line. */
function assertNoCommandLineHas(...secrets: string[]): void {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    for (const secret of secrets) assert.ok(!cmdline.includes(secret), `process ${pid} has a password in its command line: ${cmdline.split("\0")[0]}`);
  }
}

// --- Redis ---------------------------------------------------------------------------------------

async function startRedisNode(env: Record<string, string>, args: string[] = []): Promise<Proc> {
  const proc = startProcess("sh", [redisNode, ...args], env);
  await waitFor("redis-node.sh", async () => {
    if (proc.child.exitCode !== null) throw new Error(`redis-node.sh exited ${proc.child.exitCode}: ${proc.output()}`);
    return /Ready to accept connections|Sentinel ID is/.test(proc.output());
  });
  return proc;
}

async function stop(proc: Proc): Promise<void> {
  if (proc.child.exitCode === null) proc.child.kill("SIGTERM");
  await proc.exited;
}

/** One command on a fresh connection, as `password` (or anonymous); its answer or the error's message. */
async function redis(port: number, password: string | undefined, ...command: string[]): Promise<unknown> {
  const client = createClient({ url: `redis://127.0.0.1:${port}`, ...(password !== undefined ? { password } : {}), socket: { reconnectStrategy: false } });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await client.sendCommand(command);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

const info = async (port: number, password: string, section: string): Promise<Record<string, string>> =>
  Object.fromEntries(String(await redis(port, password, "INFO", section)).split("\r\n").filter((l) => l.includes(":")).map((l) => l.split(":", 2) as [string, string]));

/** SENTINEL <what> as records (the reply's flat name/value lists). */
async function sentinelRecords(port: number, password: string, ...what: string[]): Promise<Array<Record<string, string>>> {
  const reply = await redis(port, password, "SENTINEL", ...what);
  if (!Array.isArray(reply)) throw new Error(`SENTINEL ${what.join(" ")}: ${String(reply)}`);
  const toRecord = (flat: string[]) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
  return Array.isArray(reply[0]) ? (reply as string[][]).map(toRecord) : [toRecord(reply as string[])];
}

const pingScript = async (port: number, env: Record<string, string>): Promise<boolean> =>
  run("sh", [redisPing, String(port)], { env: { ...process.env, REDIS_PASSWORD_FILE: "", ...env } }).then(() => true, () => false);

describe("Redis credentials (redis-node.sh)", { skip: redisSkip ?? false }, () => {
  after(stopAll);

  test("a server on its own: NOAUTH without the password, the roles' password in, maxmemory with noeviction, a restart takes a new password", async () => {
    const first = 'one "quoted" \\ $HOME #not-a-comment \'x\'';
    const second = "two-other-password";
    const [firstFile, secondFile] = [passwordFile(first), passwordFile(second)];
    // The password the roles read from the same file is the one the server took.
    assert.equal(loadConfig({ REDIS_PASSWORD_FILE: firstFile }).redisPassword, first);
    const data = tempDir("redis-cred-");
    const port = await freePort();
    const env = { DATA_DIR: data, REDIS_PORT: String(port), REDIS_MAXMEMORY: "64mb" };
    const server = await startRedisNode({ ...env, REDIS_PASSWORD_FILE: firstFile });

    assert.match(String(await redis(port, undefined, "PING")), /NOAUTH/);
    assert.match(String(await redis(port, "wrong", "PING")), /WRONGPASS|invalid/i);
    assert.equal(await redis(port, first, "PING"), "PONG");
    assert.deepEqual(await redis(port, first, "CONFIG", "GET", "maxmemory"), ["maxmemory", String(64 * 1024 * 1024)]);
    assert.deepEqual(await redis(port, first, "CONFIG", "GET", "maxmemory-policy"), ["maxmemory-policy", "noeviction"]);
    assert.deepEqual(await redis(port, first, "CONFIG", "GET", "protected-mode"), ["protected-mode", "yes"]);
    assert.equal(await pingScript(port, { REDIS_PASSWORD_FILE: firstFile }), true, "redis-ping with the password file");
    assert.equal(await pingScript(port, {}), false, "redis-ping without the password gets NOAUTH: not healthy");
    assertNoCommandLineHas(first, second);

    await stop(server);
    await startRedisNode({ ...env, REDIS_PASSWORD_FILE: secondFile });
    assert.match(String(await redis(port, first, "PING")), /WRONGPASS|invalid/i, "the old password still worked after the restart");
    assert.equal(await redis(port, second, "PING"), "PONG");
    assert.equal(await pingScript(port, { REDIS_PASSWORD_FILE: secondFile }), true);
    assertNoCommandLineHas(first, second);
  });

  test("without REDIS_PASSWORD_FILE a server is open as before", async () => {
    const port = await freePort();
    await startRedisNode({ DATA_DIR: tempDir("redis-cred-"), REDIS_PORT: String(port) });
    assert.equal(await redis(port, undefined, "PING"), "PONG");
    assert.deepEqual(await redis(port, undefined, "CONFIG", "GET", "protected-mode"), ["protected-mode", "no"]);
    assert.deepEqual(await redis(port, undefined, "CONFIG", "GET", "maxmemory"), ["maxmemory", "0"]);
    assert.equal(await pingScript(port, {}), true);
  });

  test("a primary, its replica and two Sentinels: replication, discovery and a failover with auth, then a restart of all with a new password", async () => {
    // The first password has what a Sentinel writes back unquoted (spaces, quotes): a restart
    // reading it back from the Sentinel's file would fail.
    const first = 'set "pass" word \\ $x';
    const second = "second 'set' password";
    const [firstFile, secondFile] = [passwordFile(first), passwordFile(second)];
    const [p1, p2, s1, s2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const [d1, d2, ds1, ds2] = [tempDir("redis-p-"), tempDir("redis-r-"), tempDir("sentinel-1-"), tempDir("sentinel-2-")];
    // The replica announces 127.0.0.2 (loopback too): REDIS_ANNOUNCE differs from REDIS_PRIMARY.
    const primaryEnv = { DATA_DIR: d1, REDIS_PORT: String(p1), REDIS_ANNOUNCE: "127.0.0.1", REDIS_PRIMARY: "127.0.0.1" };
    const replicaEnv = { DATA_DIR: d2, REDIS_PORT: String(p2), REDIS_ANNOUNCE: "127.0.0.2", REDIS_PRIMARY: "127.0.0.1", REDIS_PRIMARY_PORT: String(p1) };
    const sentinelEnv = (dir: string, port: number) => ({ DATA_DIR: dir, SENTINEL_PORT: String(port), SENTINEL_ANNOUNCE: "127.0.0.1", SENTINEL_MONITOR: `profiles 127.0.0.1 ${p1} 1` });
    const startSet = async (file: string, maxmemory: string) => [
      await startRedisNode({ ...primaryEnv, REDIS_PASSWORD_FILE: file, REDIS_MAXMEMORY: maxmemory }),
      await startRedisNode({ ...replicaEnv, REDIS_PASSWORD_FILE: file, REDIS_MAXMEMORY: maxmemory }),
      await startRedisNode({ ...sentinelEnv(ds1, s1), REDIS_PASSWORD_FILE: file }, ["sentinel"]),
      await startRedisNode({ ...sentinelEnv(ds2, s2), REDIS_PASSWORD_FILE: file }, ["sentinel"]),
    ];
    /** Each Sentinel sees the primary up, the replica, and the other Sentinel: it reaches all of them with the password. */
    const sentinelsSeeTheSet = async (password: string, primary: [string, number], replica: [string, number]) => {
      for (const s of [s1, s2]) {
        await waitFor(`Sentinel ${s} to reach the set`, async () => {
          const [master] = await sentinelRecords(s, password, "MASTER", "profiles");
          const replicas = await sentinelRecords(s, password, "REPLICAS", "profiles");
          const sentinels = await sentinelRecords(s, password, "SENTINELS", "profiles");
          return master.ip === primary[0] && master.port === String(primary[1]) && master.flags === "master" &&
            replicas.length === 1 && replicas[0].ip === replica[0] && replicas[0].port === String(replica[1]) && replicas[0].flags === "slave" &&
            replicas[0]["master-link-status"] === "ok" &&
            sentinels.length === 1 && sentinels[0].flags === "sentinel";
        }, 45_000, 250);
      }
    };

    let set = await startSet(firstFile, "32mb");
    for (const port of [p1, p2, s1, s2]) assert.match(String(await redis(port, undefined, "PING")), /NOAUTH/, `port ${port} answered an anonymous client`);
    assert.equal(await redis(s1, first, "PING"), "PONG");
    assert.equal(await redis(p1, first, "SET", "profile:1", "v1"), "OK");
    await waitFor("the write on the replica", async () => (await redis(p2, first, "GET", "profile:1")) === "v1");
    assert.equal((await info(p2, first, "replication")).master_link_status, "up", "the replica authenticated to its primary");
    assert.deepEqual(await redis(p1, first, "CONFIG", "GET", "maxmemory-policy"), ["maxmemory-policy", "noeviction"]);
    await sentinelsSeeTheSet(first, ["127.0.0.1", p1], ["127.0.0.2", p2]);
    assert.equal(await pingScript(s1, { REDIS_PASSWORD_FILE: firstFile }), true, "redis-ping on a Sentinel");

    // A failover: the replica becomes the primary, the old primary its replica (masterauth), and
    // both files on the volumes are rewritten (CONFIG REWRITE), the Sentinels' too.
    assert.equal(await redis(s1, first, "SENTINEL", "FAILOVER", "profiles"), "OK");
    await waitFor("the replica promoted", async () => {
      const addr = await redis(s1, first, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "profiles");
      return Array.isArray(addr) && addr[1] === String(p2);
    }, 30_000, 250);
    await waitFor("the old primary replicating from the new one", async () => {
      const r = await info(p1, first, "replication");
      return r.role === "slave" && r.master_port === String(p2) && r.master_link_status === "up";
    }, 30_000, 250);
    await sentinelsSeeTheSet(first, ["127.0.0.2", p2], ["127.0.0.1", p1]);
    assert.match(readFileSync(join(d1, "redis.conf"), "utf8"), /^replicaof 127\.0\.0\.2 /m, "the old primary's file was rewritten");
    assertNoCommandLineHas(first, second);

    // Rotation: every process restarted with the new secret (and a new memory bound).
    for (const proc of set.reverse()) await stop(proc);
    set = await startSet(secondFile, "48mb");
    for (const port of [p1, p2, s1, s2]) {
      assert.match(String(await redis(port, undefined, "PING")), /NOAUTH/);
      assert.match(String(await redis(port, first, "PING")), /WRONGPASS|invalid/i, `port ${port} still took the old password`);
      assert.equal(await redis(port, second, "PING"), "PONG");
    }
    for (const port of [p1, p2]) assert.deepEqual(await redis(port, second, "CONFIG", "GET", "maxmemory"), ["maxmemory", String(48 * 1024 * 1024)]);
    await waitFor("the replica to authenticate with the new password", async () => (await info(p1, second, "replication")).master_link_status === "up", 30_000, 250);
    assert.equal(await redis(p2, second, "SET", "profile:2", "v2"), "OK");
    await waitFor("the write on the replica", async () => (await redis(p1, second, "GET", "profile:2")) === "v2");
    await sentinelsSeeTheSet(second, ["127.0.0.2", p2], ["127.0.0.1", p1]);
    assertNoCommandLineHas(first, second);
    for (const proc of set.reverse()) await stop(proc);
  });
});

// --- NATS ----------------------------------------------------------------------------------------

// The image's nats-server when nats-server/prepare.sh has made it, else the one on PATH.
const imageBinDir = join(docker, ".image");
const natsPath = existsSync(join(imageBinDir, "nats-server")) ? `${imageBinDir}:${process.env.PATH}` : process.env.PATH ?? "";

interface NatsNode extends Proc {
  port: number;
  httpPort: number;
  clusterPort: number;
  dataDir: string;
  runDir: string;
}

type NatsSlot = Pick<NatsNode, "port" | "httpPort" | "clusterPort" | "dataDir" | "runDir">;

/** nats-node.sh on free ports, or on those of `slot` (a restart: the same store and run dir). */
async function startNatsNode(env: Record<string, string>, slot?: NatsSlot): Promise<NatsNode> {
  const p: NatsSlot = slot ?? { port: await freePort(), httpPort: await freePort(), clusterPort: await freePort(), dataDir: tempDir("nats-node-"), runDir: tempDir("nats-run-") };
  const proc = startProcess("sh", [natsNode], {
    PATH: natsPath,
    NATS_BASE_CONFIG: join(docker, "nats-server.conf"),
    NATS_RUN_DIR: p.runDir,
    DATA_DIR: p.dataDir,
    NATS_PORT: String(p.port),
    NATS_HTTP_PORT: String(p.httpPort),
    NATS_CLUSTER_PORT: String(p.clusterPort),
    ...env,
  });
  await waitFor("nats-node.sh", async () => {
    if (proc.child.exitCode !== null) throw new Error(`nats-node.sh exited ${proc.child.exitCode}: ${proc.output()}`);
    return /Server is ready/.test(proc.output());
  });
  return { ...proc, ...p };
}

/** What a server says first on a port (the INFO line), and its answer to what is sent then. */
function rawExchange(port: number, send: string, waitMs = 1500): Promise<{ info: Record<string, unknown>; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    let text = "";
    let info: Record<string, unknown> | undefined;
    const finish = () => {
      socket.destroy();
      if (!info) reject(new Error(`no INFO from port ${port}: ${text}`));
      else resolve({ info, answer: text.slice(text.indexOf("\r\n") + 2) });
    };
    socket.on("error", reject);
    socket.on("close", finish);
    socket.on("data", (d) => {
      text += d.toString();
      if (!info && text.includes("\r\n")) {
        info = JSON.parse(text.slice(0, text.indexOf("\r\n")).replace(/^INFO /, "")) as Record<string, unknown>;
        socket.write(send);
        setTimeout(finish, waitMs);
      }
    });
  });
}

const anonymousConnect = (port: number, credentials: { user?: string; pass?: string } = {}) =>
  connect({ servers: `nats://127.0.0.1:${port}`, reconnect: false, timeout: 2_000, ...credentials }).then(async (nc) => {
    await nc.close();
    return "connected";
  }, (e: unknown) => `refused: ${String(e)}`);

const monitor = async (node: NatsNode, path: string) => (await fetch(`http://127.0.0.1:${node.httpPort}${path}`)).text();

describe("NATS credentials (nats-node.sh)", { skip: natsSkip ?? false }, () => {
  after(stopAll);

  test("a server on its own: auth_required, no anonymous client, the stream client in with the password, a restart takes a new password", async (t) => {
    const first = 'nats "pass" \\ $HOME #x';
    const second = "nats-second-password";
    const [firstFile, secondFile] = [passwordFile(first), passwordFile(second)];
    const node = await startNatsNode({ NATS_PASSWORD_FILE: firstFile });
    t.diagnostic(`nats-server ${/Version:\s+(\S+)/.exec(node.output())?.[1] ?? "?"}`);

    const { info, answer } = await rawExchange(node.port, 'CONNECT {"verbose":false}\r\nPING\r\n');
    assert.equal(info.auth_required, true, "INFO says auth_required");
    assert.match(answer, /Authorization Violation/i);
    assert.match(await anonymousConnect(node.port), /refused/, "an anonymous client connected");
    assert.match(await anonymousConnect(node.port, { user: "pipeline", pass: "wrong" }), /refused/);
    assert.equal((await fetch(`http://127.0.0.1:${node.httpPort}/healthz`)).status, 200, "the monitor port stays open for health checks");

    // The roles' client: NATS_USER defaults to pipeline, the password from the same file.
    const cfg = loadConfig({ NATS_URL: `nats://127.0.0.1:${node.port}`, NATS_PASSWORD_FILE: firstFile, STREAM_MAX_BYTES: String(1024 * 1024) });
    const { nc, js } = await connectJetStream(cfg, "credentials-test");
    assert.ok((await publishWithin(js, "events.raw", "{}", "cred-1", 5_000)).seq >= 1);
    await closeNats(nc);

    const conf = join(node.runDir, "nats-server.conf");
    assert.equal(statSync(conf).mode & 0o077, 0, "the generated config is readable by its owner only");
    assert.ok(!(await monitor(node, "/varz")).includes(first));
    assertNoCommandLineHas(first, second);

    node.child.kill("SIGTERM");
    await node.exited;
    const again = await startNatsNode({ NATS_PASSWORD_FILE: secondFile }, node);
    assert.match(await anonymousConnect(again.port, { user: "pipeline", pass: first }), /refused/, "the old password still worked");
    assert.equal(await anonymousConnect(again.port, { user: "pipeline", pass: second }), "connected");
    const { nc: nc2 } = await connectJetStream(loadConfig({ NATS_URL: `nats://127.0.0.1:${again.port}`, NATS_PASSWORD_FILE: secondFile }), "credentials-test");
    await closeNats(nc2);
    assert.ok(!readFileSync(conf, "utf8").includes(first), "the old password left in the config");
  });

  test("without NATS_PASSWORD_FILE a server is open as before", async () => {
    const node = await startNatsNode({});
    const { info } = await rawExchange(node.port, "PING\r\n", 200);
    assert.notEqual(info.auth_required, true);
    assert.equal(await anonymousConnect(node.port), "connected");
  });

  test("a cluster of three forms over routes that require the password; a route without it is refused", async () => {
    const password = 'route "pass" \\ $x #y';
    const file = passwordFile(password);
    const slots = await Promise.all([1, 2, 3].map(async () => ({
      port: await freePort(), httpPort: await freePort(), clusterPort: await freePort(), dataDir: tempDir("nats-c-"), runDir: tempDir("nats-run-"),
    })));
    const routes = slots.map((s) => `127.0.0.1:${s.clusterPort}`).join(",");
    const nodes = await Promise.all(slots.map((s, i) =>
      startNatsNode({ NATS_PASSWORD_FILE: file, NATS_NAME: `nats-${i + 1}`, NATS_CLUSTER_NAME: "pipeline", NATS_ROUTES: routes }, s)));

    for (const node of nodes) {
      await waitFor("routes to the two other servers", async () => {
        const routez = JSON.parse(await monitor(node, "/routez")) as { routes?: Array<{ remote_id: string }> };
        return new Set((routez.routes ?? []).map((r) => r.remote_id)).size === 2;
      }, 30_000, 250);
    }
    await waitFor("a JetStream meta leader of 3", async () => {
      const jsz = JSON.parse(await monitor(nodes[0], "/jsz")) as { meta_cluster?: { leader?: string; cluster_size?: number } };
      return Boolean(jsz.meta_cluster?.leader) && jsz.meta_cluster?.cluster_size === 3;
    }, 60_000, 500);
    const cfg = loadConfig({ NATS_URL: nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(","), NATS_PASSWORD_FILE: file, STREAM_REPLICAS: "3", STREAM_MAX_BYTES: String(1024 * 1024) });
    const { nc, js } = await connectJetStream(cfg, "credentials-cluster-test");
    assert.ok((await publishWithin(js, "events.raw", "{}", "cluster-1", 10_000)).seq >= 1);
    await closeNats(nc);
    assert.match(await anonymousConnect(nodes[1].port), /refused/);

    // A route that gives no credentials, as a container on the network could try.
    const rogue = await rawExchange(nodes[0].clusterPort, 'CONNECT {"verbose":false,"pedantic":false,"name":"rogue","cluster":"pipeline"}\r\nPING\r\n');
    assert.equal(rogue.info.auth_required, true, "the route port's INFO says auth_required");
    assert.match(rogue.answer, /Authorization Violation/i, `a route without credentials was not refused: ${rogue.answer}`);

    // The route URLs hold the password: not on a command line, not in the monitor, not in the log.
    const encoded = [...Buffer.from(password)].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
    for (const node of nodes) {
      for (const path of ["/varz", "/routez"]) {
        const text = await monitor(node, path);
        assert.ok(!text.includes(password) && !text.toLowerCase().includes(encoded), `${path} shows the password`);
      }
      assert.ok(!node.output().includes(password) && !node.output().toLowerCase().includes(encoded), "the log shows the password");
    }
    assertNoCommandLineHas(password, encoded);
  });
});

describe("the test helpers' servers with a password", { skip: redisSkip ?? natsSkip ?? false }, () => {
  after(stopAll);

  test("startRedis and startNats take a password, and keep it off their command lines", async () => {
    const password = 'helper "pw" \\ $x';
    const r = await startRedis({ password });
    assert.match(String(await redis(r.port, undefined, "PING")), /NOAUTH/);
    assert.equal(await redis(r.port, password, "PING"), "PONG");
    const n = await startNats({ password });
    assert.match(await anonymousConnect(n.port), /refused/);
    assert.equal(await anonymousConnect(n.port, { user: "pipeline", pass: password }), "connected");
    assertNoCommandLineHas(password);
  });
});

// --- The images, as the stack runs them ------------------------------------------------------------

function dockerAvailable(): string | null {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 });
    return null;
  } catch {
    const msg = "the Docker engine is not reachable (docker info failed)";
    if (process.env.CI === "true") throw new Error(msg);
    return msg;
  }
}

const dockerSkip = dockerAvailable();
const dockerCmd = async (...args: string[]) => (await run("docker", args, { maxBuffer: 64 * 1024 * 1024 })).stdout.trim();

describe("the images with credentials, given as the stack gives them", { skip: dockerSkip ?? false }, () => {
  const id = `credtest-${process.pid}-${Date.now().toString(36)}`;
  const label = `org.categorisation.test=${id}`;
  const tag = (name: string) => `categorisation/${name}:test-${id}`;
  after(async () => {
    const ids = (await dockerCmd("ps", "-aq", "--filter", `label=${label}`).catch(() => "")).split("\n").filter(Boolean);
    if (ids.length) await dockerCmd("rm", "-f", "-v", ...ids).catch(() => "");
    await dockerCmd("network", "rm", id).catch(() => "");
    for (const n of ["nats", "redis"]) await dockerCmd("rmi", tag(n)).catch(() => "");
    await stopAll();
  });

  test("nats-1..3 and redis-1..2 with sentinel-1: healthy, a cluster with route auth, replication with auth; a container without the secrets is refused", async () => {
    await run("bash", [join(repoRoot, "scripts/build-base-image.sh")], { timeout: 600_000 });
    await run("bash", [join(docker, "nats-server/prepare.sh")], { timeout: 600_000 });
    const build = (name: string, file: string) => dockerCmd("build", "-q", "--build-arg", "BASE_IMAGE=debian:bookworm-slim", "-f", join(docker, file), "-t", tag(name), docker);
    await Promise.all([build("nats", "Dockerfile.nats"), build("redis", "Dockerfile.redis")]);
    await dockerCmd("network", "create", "--label", label, id);

    // Swarm secrets are files under /run/secrets, readable by all (0444): the Redis image runs as redis.
    const storePassword = "store pass \"word\" \\ $x";
    const streamPassword = "stream pass 'word' \\ $y #z";
    const storeFile = passwordFile(storePassword);
    const streamFile = passwordFile(streamPassword);
    for (const f of [storeFile, streamFile]) chmodSync(f, 0o444);
    const storeSecret = ["-v", `${storeFile}:/run/secrets/store-password:ro`, "-e", "REDIS_PASSWORD_FILE=/run/secrets/store-password"];
    const streamSecret = ["-v", `${streamFile}:/run/secrets/stream-password:ro`, "-e", "NATS_PASSWORD_FILE=/run/secrets/stream-password"];
    const runC = (name: string, image: string, extra: string[], args: string[] = []) =>
      dockerCmd("run", "-d", "--name", `${id}-${name}`, "--label", label, "--network", id, "--network-alias", name, "--health-interval", "1s", ...extra, tag(image), ...args);
    const routes = [1, 2, 3].map((i) => `nats-${i}:6222`).join(",");
    await Promise.all([
      ...[1, 2, 3].map((i) => runC(`nats-${i}`, "nats", [...streamSecret, "-e", `NATS_NAME=nats-${i}`, "-e", "NATS_CLUSTER_NAME=pipeline", "-e", `NATS_ROUTES=${routes}`,
        "--health-cmd", "curl -fsS -o /dev/null http://127.0.0.1:8222/varz"])),
      ...[1, 2].map((i) => runC(`redis-${i}`, "redis", [...storeSecret, "-e", `REDIS_ANNOUNCE=redis-${i}`, "-e", "REDIS_PRIMARY=redis-1", "-e", "REDIS_MAXMEMORY=100000000",
        "--health-cmd", "redis-ping 6379"])),
      runC("sentinel-1", "redis", [...storeSecret, "-e", "SENTINEL_ANNOUNCE=sentinel-1", "-e", "SENTINEL_MONITOR=profiles redis-1 6379 1", "--health-cmd", "redis-ping 26379"], ["sentinel"]),
    ]);
    const names = ["nats-1", "nats-2", "nats-3", "redis-1", "redis-2", "sentinel-1"];
    await waitFor("every container healthy", async () => {
      const states = await Promise.all(names.map((n) => dockerCmd("inspect", "-f", "{{.State.Health.Status}}", `${id}-${n}`)));
      if (states.some((s) => s === "unhealthy")) throw new Error(`unhealthy: ${names.filter((_, i) => states[i] === "unhealthy").join(", ")}`);
      return states.every((s) => s === "healthy");
    }, 90_000, 1000);

    // A container on the same network without the secrets.
    const probe = async (image: string, script: string, extra: string[] = []) =>
      (await run("docker", ["run", "--rm", "--label", label, "--network", id, ...extra, "--entrypoint", "bash", tag(image), "-c", script], { timeout: 60_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stdout ?? ""}${e.stderr ?? ""}` }))).stdout;
    const anonymous = await probe("redis", "redis-cli -h redis-1 ping; redis-cli -h redis-2 ping; redis-cli -h sentinel-1 -p 26379 ping");
    assert.equal(anonymous.match(/NOAUTH/g)?.length, 3, anonymous);
    // The client port's INFO, then an anonymous CONNECT; the same on the route port.
    const natsAnonymous = await probe("nats",
      `for port in 4222 6222; do exec 3<>/dev/tcp/nats-2/$port; head -n 1 <&3; printf 'CONNECT {"verbose":false}\\r\\nPING\\r\\n' >&3; timeout 2 cat <&3; exec 3<&-; done`);
    assert.match(natsAnonymous, /"auth_required":true[\s\S]*Authorization Violation[\s\S]*"auth_required":true[\s\S]*Authorization Violation/, natsAnonymous);

    // With the secrets (read inside the containers, never on a command line): replication and the
    // Sentinel's view work with auth.
    const asClient = (name: string, command: string) =>
      dockerCmd("exec", `${id}-${name}`, "sh", "-c", `REDISCLI_AUTH=$(sed -n '1{s/^[[:space:]]*//;s/[[:space:]]*$//;p;}' "$REDIS_PASSWORD_FILE"); export REDISCLI_AUTH; ${command}`);
    await waitFor("the replica's link to its primary, with auth", async () =>
      /master_link_status:up/.test(await asClient("redis-2", "redis-cli info replication")), 30_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${await dockerCmd("logs", `${id}-redis-2`).catch(() => "")}`);
    });
    assert.match(await asClient("redis-1", "redis-cli config get maxmemory-policy"), /noeviction/);
    await waitFor("the Sentinel's view of the replica", async () =>
      /flags\s+slave\s/.test(await asClient("sentinel-1", "redis-cli -p 26379 sentinel replicas profiles")), 30_000, 500);
    await waitFor("the NATS cluster's JetStream meta leader", async () => {
      const jsz = JSON.parse(await dockerCmd("exec", `${id}-nats-1`, "curl", "-fsS", "http://127.0.0.1:8222/jsz")) as { meta_cluster?: { leader?: string; cluster_size?: number } };
      return Boolean(jsz.meta_cluster?.leader) && jsz.meta_cluster?.cluster_size === 3;
    }, 60_000, 1000);
    // Host users see the containers' processes: no password on a command line.
    assertNoCommandLineHas(storePassword, streamPassword);
    const inspect = await dockerCmd("inspect", ...names.map((n) => `${id}-${n}`));
    assert.ok(!inspect.includes(storePassword) && !inspect.includes(streamPassword), "a password in the containers' configuration");
  });
});
