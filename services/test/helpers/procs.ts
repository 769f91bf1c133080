// Test processes: nats-server and redis-server on free loopback ports with
// temp dirs, and the built services (node dist/main.js <role>). Everything
// started here is killed by stopAll(), which tests call in teardown.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { servicesDir } from "./labelled.js";

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

export function which(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Make sure nats-server and redis-server are installed (from Debian when root
 * and apt-get is there). Returns a reason to skip, or null. With CI=true a
 * missing prerequisite throws instead.
 */
export function requireBinaries(names: string[] = ["nats-server", "redis-server"]): string | null {
  const pkgs: Record<string, string> = { "nats-server": "nats-server", "redis-server": "redis-server", "redis-cli": "redis-tools" };
  let missing = names.filter((n) => !which(n));
  if (missing.length && process.getuid?.() === 0 && which("apt-get")) {
    try {
      // The project's apt helper: one apt run at a time on this machine.
      execFileSync("bash", [join(servicesDir, "..", "scripts", "lib", "apt-install.sh"), ...missing.map((m) => pkgs[m] ?? m)], { stdio: "inherit", timeout: 300_000 });
    } catch {
      /* reported below */
    }
    missing = names.filter((n) => !which(n));
  }
  if (!missing.length) return null;
  const msg = `missing prerequisite(s): ${missing.join(", ")} (apt-get install ${missing.map((m) => pkgs[m] ?? m).join(" ")})`;
  if (process.env.CI === "true") throw new Error(msg);
  return msg;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `stdin`: what the process reads on its standard input (then end of file); none by default. */
export function startProcess(cmd: string, args: string[], env: Record<string, string> = {}, cwd = servicesDir, stdin?: string): Proc {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  if (stdin !== undefined) {
    // A process that exits before reading it must not take the test down (EPIPE).
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(stdin);
  }
  children.add(child);
  let out = "";
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => {
    children.delete(child);
    r(code);
  }));
  return { child, output: () => out, exited };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      // Each attempt is bounded by a (referenced) timer: a request into a port
      // that docker-proxy accepts before the container listens can hang with
      // nothing else keeping the event loop alive.
      let timer: NodeJS.Timeout | undefined;
      const v = await Promise.race([
        fn(),
        new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error("attempt timed out")), 5000))),
      ]).finally(() => clearTimeout(timer));
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A string in double quotes for a nats-server or redis-server config file. */
const confString = (s: string) => `"${s.replace(/[\\"]/g, "\\$&")}"`;

/**
 * `password` (with `user`, default "pipeline"): the server requires them from clients; they go in a
 * config file in its temp dir, not on its command line.
 */
export async function startNats(opts: { user?: string; password?: string } = {}): Promise<{ url: string; port: number; proc: Proc }> {
  const port = await freePort();
  const dir = tempDir("nats-");
  const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir];
  if (opts.password !== undefined) {
    const conf = join(dir, "auth.conf");
    writeFileSync(conf, `authorization { user: ${confString(opts.user ?? "pipeline")}, password: ${confString(opts.password)} }\n`, { mode: 0o600 });
    args.unshift("-c", conf);
  }
  const proc = startProcess("nats-server", args);
  await waitFor("nats-server", async () => {
    if (proc.child.exitCode !== null) throw new Error(`nats-server exited: ${proc.output()}`);
    return /Server is ready/.test(proc.output());
  });
  return { url: `nats://127.0.0.1:${port}`, port, proc };
}

/** `password`: the server's requirepass, given on its standard input, not on its command line. */
export async function startRedis(opts: { password?: string } = {}): Promise<{ url: string; port: number; proc: Proc }> {
  const port = await freePort();
  const dir = tempDir("redis-");
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"];
  // "-": config from standard input, which redis-server reads only as its first or last argument.
  const proc = opts.password === undefined
    ? startProcess("redis-server", args)
    : startProcess("redis-server", [...args, "-"], {}, servicesDir, `requirepass ${confString(opts.password)}\n`);
  await waitFor("redis-server", async () => {
    if (proc.child.exitCode !== null) throw new Error(`redis-server exited: ${proc.output()}`);
    return /Ready to accept connections/.test(proc.output());
  });
  return { url: `redis://127.0.0.1:${port}`, port, proc };
}

/** Start a built service role; resolves when its /healthz answers 200. */
export async function startRole(role: string, env: Record<string, string>): Promise<Proc & { port: number; url: string }> {
  const port = await freePort();
  const proc = startProcess(process.execPath, ["dist/main.js", role], { PORT: String(port), HOST: "127.0.0.1", ...env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${role} healthz`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`${role} exited: ${proc.output()}`);
    const r = await fetch(`${url}/healthz`);
    return r.status === 200;
  }, 30_000);
  return { ...proc, port, url };
}

/** Runs `node dist/main.js <args>` to its end, `stdin` (bytes) on its standard input: its exit code, stdout (bytes) and stderr. */
export function runMain(args: string[], env: Record<string, string>, stdin?: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, ["dist/main.js", ...args], { cwd: servicesDir, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  const out: Buffer[] = [];
  let err = "";
  child.stdout!.on("data", (d: Buffer) => out.push(d));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  child.stdin!.on("error", () => undefined);
  child.stdin!.end(stdin ?? Buffer.alloc(0));
  return new Promise((resolve) => child.on("close", (code) => {
    children.delete(child);
    resolve({ code, stdout: Buffer.concat(out), stderr: err });
  }));
}

export async function stopAll(): Promise<void> {
  for (const c of [...children]) {
    if (c.exitCode === null) c.kill("SIGKILL");
  }
  await new Promise((r) => setTimeout(r, 100));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}
