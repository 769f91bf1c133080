// A NATS server whose machine died sends nothing, not even a reset. The roles' connection must
// leave it and reach a live server within seconds, also when a second dead address comes before
// the live one: a server that accepts connections but never answers stands for it here (the
// client's default gave each such attempt 20 s). Missed pings take 6 to 8 s, the silent server 2 s:
// the bound of 18 s fails with the default's 20 s attempt.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { connect } from "@nats-io/transport-node";
import { natsConnectOptions } from "../../src/stream.js";
import { requireBinaries, startNats, stopAll, waitFor } from "../helpers/procs.js";

const skip = requireBinaries(["nats-server"]);

describe("the roles' NATS connection", { skip: skip ?? false }, () => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  after(async () => {
    sockets.forEach((s) => s.destroy());
    silent.close();
    await stopAll();
  });

  test("its server frozen, it moves past a server that never answers to a live one within seconds", async () => {
    const [first, live] = await Promise.all([startNats(), startNats()]);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const url = [first.url, `nats://127.0.0.1:${silentPort}`, live.url].join(",");
    // In this order, so that the silent server is tried before the live one.
    const nc = await connect({ ...natsConnectOptions(url, "reconnect-test"), noRandomize: true });
    try {
      assert.equal(nc.getServer(), `127.0.0.1:${first.port}`);
      first.proc.child.kill("SIGSTOP");
      const frozenAt = Date.now();
      await waitFor("a connection to the live server", async () => nc.getServer() === `127.0.0.1:${live.port}` && !nc.isClosed(), 30_000, 100);
      await nc.flush();
      const tookMs = Date.now() - frozenAt;
      assert.ok(sockets.length >= 1, "the silent server was tried");
      assert.ok(tookMs < 18_000, `reached the live server ${tookMs} ms after the freeze`);
    } finally {
      first.proc.child.kill("SIGCONT");
      await nc.close();
    }
  });
});
