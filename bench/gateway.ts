// The cost of HTTPS and tokens at the gateway, on a local swarm (1 manager, 2 workers): single
// events (one POST /events a request, kept-alive connections) through the stack's public port (the
// edge, then the gateway's TLS) with the ingest token, against the same requests to the same
// gateway and collectors over plain HTTP on the gateway task's loopback, where no token is asked
// (its `loopback` frontend): both sent from inside the gateway task's network, so that the edge's
// hop, TLS and the token are what differ. Three shapes: as fast as 50 connections go, and a fixed
// 1,000 and 2,000 events/s (p99 latency).
// Run: bash scripts/run.sh tsx bench/gateway.ts [seconds]
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { TestStack, uniqueStackName } from "../test/helpers/stack";

interface Shape {
    /** Requests a second: as fast as possible when absent. */
    rate?: number;
    connections: number;
    seconds: number;
}

interface Figures {
    requests: number;
    perSecond: number;
    failed: number;
    p50: number;
    p99: number;
}

/** Runs in the gateway task's network (see main): sends the requests and prints the figures as JSON. */
async function load(target: { url: string; ca?: string; token?: string }, shape: Shape): Promise<Figures> {
    const secure = target.url.startsWith("https:");
    // The certificate names the machine's address, not the loopback: the chain is still checked.
    const agent = secure
        ? new https.Agent({ keepAlive: true, maxSockets: shape.connections, ca: target.ca, checkServerIdentity: () => undefined })
        : new http.Agent({ keepAlive: true, maxSockets: shape.connections });
    const send = (n: number) => new Promise<number>((resolve) => {
        const body = JSON.stringify({ eventId: `gw-${process.pid}-${n}`, userId: `gw-user-${n % 1000}`, url: "https://www.nba.com/news/playoff-bracket", title: "NBA playoff bracket" });
        const started = process.hrtime.bigint();
        const request = (secure ? https : http).request(target.url, {
            method: "POST",
            agent,
            headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) },
        }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode === 202 ? Number(process.hrtime.bigint() - started) / 1e6 : -1));
        });
        request.on("error", () => resolve(-1));
        request.end(body);
    });
    const latencies: number[] = [];
    let failed = 0;
    let sent = 0;
    const start = Date.now();
    const end = start + shape.seconds * 1000;
    const record = (ms: number): void => {
        if (ms < 0) failed++;
        else latencies.push(ms);
    };
    if (shape.rate === undefined) {
        await Promise.all(Array.from({ length: shape.connections }, async () => {
            while (Date.now() < end) record(await send(sent++));
        }));
    } else {
        const pending: Promise<void>[] = [];
        for (let i = 0; Date.now() < end; i++) {
            const wait = start + (i * 1000) / shape.rate - Date.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            pending.push(send(sent++).then(record));
        }
        await Promise.all(pending);
    }
    agent.destroy();
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return { requests: sent, perSecond: latencies.length / ((Date.now() - start) / 1000), failed, p50: at(0.5), p99: at(0.99) };
}

/** The host process of the gateway's haproxy on `machine` (a node container): its network is the gateway task's. */
function gatewayPid(machine: string): string {
    const machinePid = spawnSync("docker", ["inspect", "--format", "{{.State.Pid}}", machine], { encoding: "utf8" }).stdout.trim();
    const parentOf = (pid: string) => fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1];
    const candidates = spawnSync("pgrep", ["-f", "haproxy -W -db -f /etc/haproxy/gateway.cfg"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    const inMachine = candidates.find((pid) => {
        for (let p = pid; p !== "0" && p !== "1"; p = parentOf(p)) if (p === machinePid) return true;
        return false;
    });
    if (!inMachine) throw new Error(`no gateway haproxy runs on ${machine}`);
    return inMachine;
}

/** Runs `load` in the network of process `pid` (nsenter), with the figures back as JSON. */
function loadIn(pid: string, target: { url: string; ca?: string; token?: string }, shape: Shape): Figures {
    // The token goes in the environment, not on the command line (which `ps` shows).
    const result = spawnSync("nsenter", [`--net=/proc/${pid}/ns/net`, process.execPath, "--import", "tsx", __filename, "--load"], {
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, GATEWAY_LOAD: JSON.stringify({ target, shape }) },
    });
    if (result.status !== 0) throw new Error(`load failed: ${result.stderr}`);
    return JSON.parse(result.stdout.trim().split("\n").pop()!) as Figures;
}

async function main(): Promise<void> {
    const seconds = Number(process.argv[2] ?? 20);
    const stack = new TestStack(uniqueStackName("bench-gateway"));
    try {
        stack.setConfig({ managers: "1", workers: "2", "local.subnet": "10.223.0.0/24", "local.sshPortBase": "2650", "local.registryPort": "5650", "gateway.rateLimit": "1000000" });
        stack.up();
        const gateway = stack.gateway();
        const pid = gatewayPid(stack.output<{ name: string }[]>("managers")[0].name);
        const secure = { url: `${gateway.url}/events`, ca: gateway.ca, token: gateway.ingestToken };
        const plain = { url: "http://127.0.0.1:8082/events" };
        console.log("shape                            | HTTPS + token            | plain HTTP, no token (floor) | ratio");
        const shapes: [string, Shape][] = [
            ["50 connections, as fast as they go", { connections: 50, seconds }],
            ["1,000 events/s, 50 connections", { connections: 50, seconds, rate: 1000 }],
            ["2,000 events/s, 50 connections", { connections: 50, seconds, rate: 2000 }],
        ];
        for (const [name, shape] of shapes) {
            // The floor first and last: the machine's noise shows in their difference.
            const floor = loadIn(pid, plain, shape);
            const measured = loadIn(pid, secure, shape);
            const floorAgain = loadIn(pid, plain, shape);
            const show = (f: Figures) => `${f.perSecond.toFixed(0)}/s p50 ${f.p50.toFixed(1)} p99 ${f.p99.toFixed(1)} ms${f.failed ? ` ${f.failed} failed` : ""}`;
            const best = floor.perSecond > floorAgain.perSecond ? floor : floorAgain;
            console.log(`${name.padEnd(32)} | ${show(measured)} | ${show(floor)}; again ${show(floorAgain)} | ${(measured.perSecond / best.perSecond).toFixed(2)}`);
        }
    } finally {
        stack.cleanup();
    }
}

if (process.argv[2] === "--load") {
    const { target, shape } = JSON.parse(process.env.GATEWAY_LOAD ?? "{}") as { target: { url: string; ca?: string; token?: string }; shape: Shape };
    void load(target, shape).then((figures) => console.log(JSON.stringify(figures)));
} else {
    main().catch((error: Error) => {
        console.error(error.message);
        process.exit(1);
    });
}
