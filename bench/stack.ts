// The everyday change loop on a local swarm (1 manager, 2 workers, images already built), each
// figure next to a floor measured in the same run, so that the ratio holds on a noisy machine:
// - `pulumi up` from nothing, against `docker run` of the same node containers until their
//   engines answer;
// - a no-op `pulumi preview`, against the preview of a stack whose config fails validation (the
//   CLI, Node.js and the program's start, with no resources);
// - a replica edit (`pulumi up` after `config set`, until converged), against
//   `docker service scale --detach=false` of the same service on the same swarm;
// - `pulumi destroy`, against `docker rm --force` of the floor's containers and their volumes;
// - end-to-end events/s through the swarm (POST to collectorUrl until the profile writers have
//   applied every event, read from /stats).
// Run: bash scripts/run.sh tsx bench/stack.ts [events]
import { spawnSync } from "node:child_process";
import { nodeImageTag } from "../components/local";
import { capabilityFlags } from "../components/local/scripts";
import { GatewayEndpoint, gatewayRequest, GatewayRequest, GatewayResponse } from "../components/gateway/client";
import { TestStack, uniqueStackName } from "../test/helpers/stack";

const events = Number(process.argv[2] ?? 20000);
const batch = 200;
const concurrency = 8;
const urls = [
    ["https://www.espn.com/nba/story/_/id/1/lakers-beat-celtics", "Lakers beat Celtics in overtime"],
    ["https://www.bbcgoodfood.com/recipes/easy-chocolate-cake", "Easy chocolate cake recipe"],
    ["https://www.lonelyplanet.com/italy/rome", "Rome travel guide"],
    ["https://www.caranddriver.com/reviews/a1/2025-toyota-camry-review", "2025 Toyota Camry review"],
    ["https://www.imdb.com/title/tt0111161/", "The Shawshank Redemption (1994)"],
    ["https://www.investopedia.com/terms/i/indexfund.asp", "What is an index fund?"],
];

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

function timed(fn: () => void): number {
    const start = process.hrtime.bigint();
    fn();
    return seconds(start);
}

async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
    const start = process.hrtime.bigint();
    await fn();
    return seconds(start);
}

function docker(args: string[]): string {
    const result = spawnSync("docker", args, { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`docker ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
}

/** The floor of `up` and `destroy`: the node containers alone, started until their engines answer, then removed. */
async function nodeContainersFloor(count: number): Promise<{ up: number; destroy: number }> {
    const label = uniqueStackName("bench-floor");
    const names = Array.from({ length: count }, (_, i) => `${label}-${i}`);
    try {
        const up = await timedAsync(async () => {
            for (const name of names) {
                docker(["volume", "create", "--label", `swarm.stack=${label}`, name]);
                // As the local provider runs them: privileged, or with its capability set where the engine refuses that.
                const run = (flags: string[]) =>
                    spawnSync("docker", ["run", "--detach", ...flags, "--label", `swarm.stack=${label}`, "--name", name, "--volume", `${name}:/var/lib/docker`, "--env", "SSH_AUTHORIZED_KEY=# nobody logs in to a floor container", nodeImageTag()], { encoding: "utf8" });
                if (run(["--privileged"]).status !== 0) {
                    docker(["rm", "--force", name]);
                    const fallback = run(capabilityFlags.split(" "));
                    if (fallback.status !== 0) throw new Error(`docker run ${name} failed: ${fallback.stderr}`);
                }
            }
            for (const name of names) {
                while (spawnSync("docker", ["exec", name, "docker", "info"], { stdio: "ignore" }).status !== 0) {
                    if (docker(["inspect", "--format", "{{.State.Running}}", name]).trim() !== "true") throw new Error(`${name} stopped: ${docker(["logs", name])}`);
                    await new Promise((r) => setTimeout(r, 200));
                }
            }
        });
        const destroy = timed(() => {
            docker(["rm", "--force", ...names]);
            docker(["volume", "rm", ...names]);
        });
        return { up, destroy };
    } finally {
        spawnSync("docker", ["rm", "--force", ...names], { stdio: "ignore" });
        spawnSync("docker", ["volume", "rm", ...names], { stdio: "ignore" });
    }
}

async function requestRetrying(gateway: GatewayEndpoint, path: string, request?: GatewayRequest): Promise<GatewayResponse> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await gatewayRequest(gateway, path, request);
        } catch (err) {
            if (attempt >= 3) throw err;
        }
    }
}

async function applied(gateway: GatewayEndpoint): Promise<number> {
    const stats = JSON.parse((await requestRetrying(gateway, "/stats")).body) as Record<string, number>;
    return Object.entries(stats).filter(([k]) => k !== "duplicates").reduce((sum, [, v]) => sum + v, 0);
}

async function throughput(gateway: GatewayEndpoint, run: string): Promise<number> {
    const before = await applied(gateway);
    const start = process.hrtime.bigint();
    let next = 0;
    const sender = async () => {
        while (next < events) {
            const first = next;
            next += batch;
            const body = Array.from({ length: Math.min(batch, events - first) }, (_, i) => {
                const n = first + i;
                const [url, title] = urls[n % urls.length];
                return { eventId: `${run}-${n}`, userId: `user-${n % 500}`, url, title };
            });
            const response = await requestRetrying(gateway, "/events", { body: JSON.stringify(body) });
            if (response.status !== 202) throw new Error(`collector answered ${response.status}: ${response.body}`);
        }
    };
    await Promise.all(Array.from({ length: concurrency }, sender));
    const deadline = Date.now() + 600_000;
    while ((await applied(gateway)) - before < events) {
        if (Date.now() > deadline) throw new Error("events not applied within 10 minutes");
        await new Promise((r) => setTimeout(r, 250));
    }
    return events / seconds(start);
}

/** Where a Pulumi step's time went: its slowest resources, from the durations Pulumi prints. */
function slowest(output: string, count = 3): string {
    // Resources that do the work (not the stack and components, whose times add up theirs).
    const steps = [...output.matchAll(/:dynamic:\w+ (\S+) (?:created|updated|deleted|replaced) \((\d+(?:\.\d+)?)s\)/g)]
        .map((m) => ({ name: m[1], seconds: Number(m[2]) }))
        .sort((a, b) => b.seconds - a.seconds);
    return steps.slice(0, count).map((step) => `${step.name} ${step.seconds} s`).join(", ");
}

/** Runs a Pulumi step, returns its wall time and prints where the time went. */
function timedStep(run: () => { stdout: string }): number {
    let output = "";
    const time = timed(() => {
        output = run().stdout;
    });
    console.log(`    slowest: ${slowest(output)}`);
    return time;
}

const rows: string[][] = [["step", "figure", "floor (same run)", "ratio", "goal"]];
function row(step: string, figure: number, floorName: string, floor: number, goal: string): void {
    rows.push([step, `${figure.toFixed(1)} s`, `${floorName} ${floor.toFixed(1)} s`, `${(figure / floor).toFixed(1)}x`, goal]);
    console.log(`${step}: ${figure.toFixed(1)} s (floor: ${floorName} ${floor.toFixed(1)} s)`);
}

async function main(): Promise<void> {
    const stack = new TestStack(uniqueStackName("bench-stack"));
    const invalid = new TestStack(uniqueStackName("bench-invalid"));
    try {
        stack.setConfig({ managers: "1", workers: "2", "local.subnet": "10.219.0.0/24", "local.sshPortBase": "2700", "local.registryPort": "5700" });
        invalid.setConfig({ managers: "2" });

        const floor = await nodeContainersFloor(3);
        row("pulumi up from nothing (1 + 2 machines)", timedStep(() => stack.up()), "docker run of 3 node containers", floor.up, "<= 60 s");

        const preview = timed(() => stack.run(["preview"]));
        const startOnly = timed(() => invalid.run(["preview"], true));
        row("no-op pulumi preview", preview, "preview of a config that fails validation", startOnly, "<= 8 s");

        const gateway = stack.gateway();
        const service = "categorisation_categoriser";
        for (const [from, to] of [["2", "3"], ["3", "2"]]) {
            stack.setConfig({ "replicas.categoriser": to });
            const edit = timedStep(() => stack.up());
            // Undone by hand, then the same change by hand: the swarm again matches the config.
            await stack.onManager(`docker service scale --detach=false ${service}=${from} >/dev/null 2>&1`);
            const scale = await timedAsync(() => stack.onManager(`docker service scale --detach=false ${service}=${to} >/dev/null 2>&1`));
            row(`replica edit categoriser ${from} -> ${to} (config set + up)`, edit, "docker service scale", scale, "<= 12 s and <= 2x the floor");
        }

        const rate = await throughput(gateway, `tp-${Date.now()}`);
        console.log(`end to end through the swarm: ${rate.toFixed(0)} events/s (${events} events, 2 categorisers)`);

        row("pulumi destroy", timedStep(() => stack.run(["destroy", "--yes", "--skip-preview"])), "docker rm of 3 node containers", floor.destroy, "<= 20 s");
        console.log("");
        for (const r of rows) console.log(`| ${r.join(" | ")} |`);
    } finally {
        invalid.cleanup();
        stack.cleanup();
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
