// proxyTo's answers when there is nothing to pass the request on to.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createServer } from "node:net";
import { HttpService, proxyTo } from "../../src/http.js";

async function serve(base: string): Promise<{ url: string; close: () => Promise<void> }> {
  const service = new HttpService([{ name: "p", method: "GET", path: /^\/p(\/.*)?$/, handler: proxyTo(base, "nothing runs there", 2_000) }], () => undefined);
  const port = await service.listen(0, "127.0.0.1");
  return { url: `http://127.0.0.1:${port}`, close: () => service.close(100) };
}

test("a host name that does not resolve answers 404 with the message given (a service the stack does not run)", async () => {
  const proxy = await serve("http://prometheus.invalid:9090");
  try {
    const r = await fetch(`${proxy.url}/p/api/v1/query`);
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: "nothing runs there" });
  } finally {
    await proxy.close();
  }
});

test("a server that takes the connection and never answers is given up after the timeout: 502", async () => {
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const proxy = await serve(`http://127.0.0.1:${(silent.address() as { port: number }).port}`);
  try {
    const r = await fetch(`${proxy.url}/p/x`);
    assert.equal(r.status, 502);
  } finally {
    await proxy.close();
    silent.close();
  }
});
