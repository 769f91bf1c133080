// Prints the wall time of `pulumi up` from nothing (warm images) for a local swarm of 1 manager
// with 2 and with 5 workers, and of `pulumi destroy`. Worker joins run in parallel, so the two
// should be close. Run: npx tsx bench/swarm-up.ts
import { TestStack, uniqueStackName } from "../test/helpers/stack";

function timed<T>(action: () => T): [T, number] {
    const start = process.hrtime.bigint();
    const result = action();
    return [result, Number(process.hrtime.bigint() - start) / 1e9];
}

const rows: string[] = [];
for (const workers of [2, 5]) {
    const stack = new TestStack(uniqueStackName(`bench-${workers}`));
    try {
        stack.setConfig({ managers: "1", workers: String(workers), "local.subnet": "10.217.0.0/24", "local.sshPortBase": "2500" });
        const [, up] = timed(() => stack.up());
        const [, destroy] = timed(() => stack.run(["destroy", "--yes", "--skip-preview"]));
        rows.push(`1 manager + ${workers} workers: pulumi up ${up.toFixed(1)} s, pulumi destroy ${destroy.toFixed(1)} s`);
        console.log(rows[rows.length - 1]);
    } finally {
        stack.cleanup();
    }
}
