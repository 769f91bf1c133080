// Every image builds offline on the local base, and each service starts in its
// image: a small stack on a private Docker network carries one event from the
// collector to the profile API. Containers and the network carry a label and a
// unique name, and are removed in teardown.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { repoRoot, servicesDir } from "../helpers/labelled.js";
import { waitFor } from "../helpers/procs.js";

const run = promisify(execFile);
const docker = async (...args: string[]) => (await run("docker", args, { maxBuffer: 64 * 1024 * 1024 })).stdout.trim();

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

const skip = dockerAvailable();
const id = `pvtest-${process.pid}-${Date.now().toString(36)}`;
const label = `org.categorisation.test=${id}`;
const tag = (name: string) => `categorisation/${name}:test-${id}`;

async function cleanup(): Promise<void> {
  const ids = (await docker("ps", "-aq", "--filter", `label=${label}`).catch(() => "")).split("\n").filter(Boolean);
  if (ids.length) await docker("rm", "-f", "-v", ...ids).catch(() => "");
  await docker("network", "rm", id).catch(() => "");
  for (const n of ["pipeline", "nats", "redis"]) await docker("rmi", tag(n)).catch(() => "");
}

describe("images", { skip: skip ?? false }, () => {
  before(async () => {
    await run("bash", [join(repoRoot, "scripts/build-base-image.sh")], { timeout: 600_000 });
    await run("bash", [join(servicesDir, "scripts/prepare-image.sh")], { timeout: 600_000 });
    await run("bash", [join(servicesDir, "docker/nats-server/prepare.sh")], { timeout: 600_000 });
  });
  after(cleanup);

  test("each image builds on the local base with no pull, and each service starts in its image", async () => {
    const build = (name: string, context: string, file: string) =>
      docker("build", "-q", "--build-arg", "BASE_IMAGE=debian:bookworm-slim", "-f", join(context, file), "-t", tag(name), context);
    const dockerDir = join(servicesDir, "docker");
    await Promise.all([build("pipeline", servicesDir, "Dockerfile"), build("nats", dockerDir, "Dockerfile.nats"), build("redis", dockerDir, "Dockerfile.redis")]);
    assert.match(await docker("run", "--rm", "--label", label, "--entrypoint", "node", tag("pipeline"), "--version"), /^v22\./, "the pipeline image runs Node.js 22");

    await docker("network", "create", "--label", label, id);
    const runC = (name: string, image: string, args: string[] = [], extra: string[] = []) =>
      docker("run", "-d", "--name", `${id}-${name}`, "--label", label, "--network", id, "--network-alias", name, ...extra, image, ...args);
    await Promise.all([runC("nats", tag("nats")), runC("redis", tag("redis"))]);
    const env = ["-e", "NATS_URL=nats://nats:4222", "-e", "REDIS_URL=redis://redis:6379"];
    await Promise.all([
      runC("collector", tag("pipeline"), ["collector"], [...env, "-p", "127.0.0.1::8080"]),
      runC("categoriser", tag("pipeline"), ["categoriser"], env),
      runC("profile-writer", tag("pipeline"), ["profile-writer"], env),
      runC("profile-api", tag("pipeline"), ["profile-api"], [...env, "-p", "127.0.0.1::8080"]),
    ]);
    const hostPort = async (name: string) => (await docker("port", `${id}-${name}`, "8080/tcp")).split("\n")[0].trim();
    const collector = `http://${await hostPort("collector")}`;
    const api = `http://${await hostPort("profile-api")}`;
    await waitFor("collector in its container", async () => (await fetch(`${collector}/healthz`)).ok, 60_000, 500);
    await waitFor("profile API in its container", async () => (await fetch(`${api}/healthz`)).ok, 60_000, 500);

    const r = await fetch(`${collector}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ eventId: `${id}-e1`, userId: `${id}-u1`, url: "https://www.espn.com/nba/story/_/id/1/finals", title: "NBA Finals" }),
    });
    assert.equal(r.status, 202);
    const profile = await waitFor("the event in the profile", async () => {
      const p = await fetch(`${api}/profiles/${id}-u1`);
      return p.ok ? ((await p.json()) as { interests: Array<{ name: string }> }) : null;
    }, 30_000, 300);
    assert.equal(profile.interests[0].name, "Basketball", "default taxonomy: Sports > Basketball");

    // Docker's own health checks (bash /dev/tcp for the pipeline, curl to the NATS monitor, redis-cli ping).
    const names = ["nats", "redis", "collector", "categoriser", "profile-writer", "profile-api"];
    await waitFor("every container healthy", async () => {
      const states = await Promise.all(names.map((n) => docker("inspect", "-f", "{{.State.Health.Status}}", `${id}-${n}`)));
      if (states.some((s) => s === "unhealthy")) throw new Error(`unhealthy: ${names.filter((_, i) => states[i] === "unhealthy").join(", ")}`);
      return states.every((s) => s === "healthy");
    }, 60_000, 1000);

    // SIGTERM (docker stop) ends each role cleanly.
    for (const n of ["collector", "categoriser", "profile-writer", "profile-api"]) {
      await docker("stop", "-t", "20", `${id}-${n}`);
      assert.equal(await docker("inspect", "-f", "{{.State.ExitCode}}", `${id}-${n}`), "0", `${n} exit code`);
    }
  });
});
