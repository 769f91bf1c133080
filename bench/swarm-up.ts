// Prints the wall time of `pulumi up` from nothing (warm images) for a local swarm of 1 manager
// with 2 and with 5 workers: when every node was Ready in the swarm (watched on manager 0 while
// `pulumi up` runs) and when `pulumi up` returned with the stack converged; then `pulumi destroy`.
// Worker joins run in parallel, so the swarm should form in about the same time for both.
// Run: bash scripts/run.sh tsx bench/swarm-up.ts
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { projectRoot, pulumiEnv } from "../test/helpers/pulumi";
import { TestStack, uniqueStackName } from "../test/helpers/stack";

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/** Nodes Ready in the swarm, as manager 0's engine sees them (0 before it exists). */
function readyNodes(container: string): number {
    const result = spawnSync("docker", ["exec", container, "docker", "node", "ls", "--format", "{{.Status}}"], { encoding: "utf8" });
    return result.status === 0 ? result.stdout.split("\n").filter((s) => s === "Ready").length : 0;
}

async function measure(workers: number): Promise<string> {
    const stack = new TestStack(uniqueStackName(`bench-${workers}`));
    try {
        stack.setConfig({ managers: "1", workers: String(workers), "local.subnet": "10.217.0.0/24", "local.sshPortBase": "2500", "local.registryPort": "5500" });
        const manager = `swarm-${stack.name}-manager-0`;
        const start = process.hrtime.bigint();
        const up = spawn(path.join(projectRoot, ".tools", "bin", "pulumi"), ["--non-interactive", "up", "--yes", "--skip-preview", "--stack", stack.name], {
            cwd: projectRoot,
            env: pulumiEnv(stack.env),
            stdio: "ignore",
        });
        const done = new Promise<number>((resolve) => up.on("exit", (code) => resolve(code ?? -1)));
        let formed: number | undefined;
        let exited = false;
        void done.then(() => (exited = true));
        while (!exited) {
            if (formed === undefined && readyNodes(manager) === 1 + workers) formed = seconds(start);
            await new Promise((r) => setTimeout(r, 250));
        }
        const total = seconds(start);
        if ((await done) !== 0) throw new Error(`pulumi up failed for ${workers} workers`);
        const destroyStart = process.hrtime.bigint();
        stack.run(["destroy", "--yes", "--skip-preview"]);
        return `1 manager + ${workers} workers: all nodes Ready after ${formed?.toFixed(1)} s, pulumi up done (stack converged) after ${total.toFixed(1)} s; pulumi destroy ${seconds(destroyStart).toFixed(1)} s`;
    } finally {
        stack.cleanup();
    }
}

async function main(): Promise<void> {
    for (const workers of [2, 5]) console.log(await measure(workers));
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
