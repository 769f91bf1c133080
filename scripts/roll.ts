// `npm run roll [-- --stack <name>] [--all] [--dry-run]`: moves the running machines to what
// machines are made with now (an image, instance type or user data that changed since they were
// made: each machine keeps its own, pinned, see components/aws/pin.ts), one machine per `pulumi
// up`: workers first, managers after, manager 0 last. Each up replaces that machine's pins: the
// machine is made anew, joins the swarm, and the old one is drained and leaves it; the up ends when
// the stack has converged, so the next machine starts on a whole swarm. The first failure stops
// the roll. Without --all, only the machines that `preview` says keep another value are rolled.
import { pulumi, selectedStack } from "./stack-outputs";

/** Runs the pulumi CLI (the project's, or a test's stand-in program). */
export type PulumiRunner = (args: string[]) => { status: number | null; stdout: string; stderr: string };

/** A machine's place in the roll: workers first, then managers, each from the highest index down (manager 0 last). */
export function rollOrder(machines: string[]): string[] {
    const rank = (machine: string): [number, number] => {
        const [, role, index] = machine.match(/-(worker|manager)-(\d+)$/) ?? [];
        if (!role) throw new Error(`${machine}: not a machine name (<name>-worker-<n> or <name>-manager-<n>)`);
        return [role === "worker" ? 0 : 1, -Number(index)];
    };
    const ranked = machines.map((machine) => ({ machine, rank: rank(machine) }));
    return ranked.sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1]).map(({ machine }) => machine);
}

/** The pins of each machine (`<machine>-ami`, `-type`, `-user-data`), by machine, from `pulumi stack --show-urns`. */
export function machinePins(urnListing: string, machines: string[]): Map<string, string[]> {
    const urns = urnListing.match(/urn:pulumi:\S+/g) ?? [];
    return new Map(machines.map((machine) => [machine, urns.filter((urn) => /PinnedValue::/.test(urn) && new RegExp(`::${machine}-(ami|type|user-data)$`).test(urn))]));
}

/**
 * What `pulumi preview --json` says: the machines that keep another value than new machines get
 * (pin.ts's keepsMessage), and the changes pending besides (a roll starts on a converged stack).
 */
export function readPreview(previewJson: string): { outdated: string[]; pending: string[] } {
    const preview = JSON.parse(previewJson) as { diagnostics?: { message?: string }[]; steps?: { op: string; urn: string }[] };
    const named = (preview.diagnostics ?? []).map((d) => d.message?.match(/^(\S+) keeps /)?.[1]).filter((m): m is string => m !== undefined);
    const pending = (preview.steps ?? []).filter((step) => step.op !== "same").map((step) => `${step.op} ${step.urn.split("::").pop()}`);
    return { outdated: [...new Set(named)], pending };
}

export interface RollOptions {
    stack: string;
    /** Every machine with pins, not only those that keep another value. */
    all?: boolean;
    dryRun?: boolean;
    say?: (line: string) => void;
}

/** Rolls the machines in order; returns those rolled. Throws at the first failed up, naming the machine and those not rolled. */
export function roll(run: PulumiRunner, options: RollOptions): string[] {
    const say = options.say ?? ((line: string) => console.error(line));
    const stackArgs = ["--stack", options.stack];
    const images = run(["stack", "output", "machineImages", "--json", ...stackArgs]);
    if (images.status !== 0) throw new Error(`cannot read the machines of stack ${options.stack}: ${images.stderr.trim()}`);
    const pinnedMachines = Object.keys(JSON.parse(images.stdout || "{}") as Record<string, string>);
    if (pinnedMachines.length === 0) throw new Error(`stack ${options.stack} has no machines with pins (only the aws provider pins what its machines are made with)`);
    const previewed = run(["preview", "--json", ...stackArgs]);
    if (previewed.status !== 0) throw new Error(`pulumi preview failed: ${previewed.stderr.trim() || previewed.stdout.slice(-2000)}`);
    const { outdated, pending } = readPreview(previewed.stdout);
    // Each up of the roll is to change one machine only (after a failed one, its machine is still to be made).
    if (pending.length > 0) throw new Error(`stack ${options.stack} has changes pending (${pending.slice(0, 5).join(", ")}${pending.length > 5 ? ", ..." : ""}): run pulumi up first, then roll`);
    const machines = options.all ? pinnedMachines : pinnedMachines.filter((machine) => outdated.includes(machine));
    const order = rollOrder(machines);
    if (order.length === 0) {
        say("every machine runs what new machines are made with: nothing to roll (--all rolls them anyway)");
        return [];
    }
    const pins = machinePins(run(["stack", "--show-urns", ...stackArgs]).stdout, order);
    say(`rolling ${order.length} machine(s), one per up: ${order.join(", ")}`);
    for (const [i, machine] of order.entries()) {
        const replace = pins.get(machine) ?? [];
        if (replace.length === 0) throw new Error(`${machine}: no pins found in stack ${options.stack}`);
        say(`[${i + 1}/${order.length}] ${machine}: made anew (pulumi up --replace ${replace.map((urn) => urn.split("::").pop()).join(" ")})`);
        if (options.dryRun) continue;
        const up = run(["up", "--yes", "--skip-preview", ...replace.flatMap((urn) => ["--replace", urn]), ...stackArgs]);
        if (up.status !== 0) {
            const rest = order.slice(i + 1);
            throw new Error(`the up that rolls ${machine} failed (exit ${up.status}), see its output; stopped${rest.length ? `, not rolled: ${rest.join(", ")}` : ""}. Once the cause is fixed, pulumi up makes ${machine} anew (its pins hold the new values), then npm run roll goes on`);
        }
    }
    return order;
}

if (require.main === module) {
    try {
        const argv = process.argv.slice(2);
        const known = ["--stack", "--all", "--dry-run"];
        const unknown = argv.filter((arg, i) => !known.includes(arg) && argv[i - 1] !== "--stack");
        if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]}; usage: npm run roll [-- --stack <name>] [--all] [--dry-run]`);
        const stack = selectedStack(argv);
        // The ups show their output as they run (on stderr); what roll itself reads is captured.
        const dryRun = argv.includes("--dry-run");
        const rolled = roll((args) => pulumi(args, { shown: args[0] === "up" }), { stack, all: argv.includes("--all"), dryRun });
        console.log(rolled.length === 0 ? "nothing rolled" : `${dryRun ? "would roll" : "rolled"}: ${rolled.join(", ")}`);
    } catch (error) {
        console.error(`error: ${(error as Error).message}`);
        process.exit(1);
    }
}
