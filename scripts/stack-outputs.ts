// What the npm scripts (status, logs, backup, restore) read about a stack: which stack (`--stack
// <name>`, else the one `pulumi stack select` chose), and its outputs, secrets included.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { SshConnection } from "../components/command/provider";
import { gatewayRequest } from "../components/gateway/client";
import type { Activity } from "../components/status";

interface MachineOutput {
    name: string;
    host: string;
    port: number;
    hostKey?: string;
}

export interface StackOutputs {
    managers: MachineOutput[];
    workers?: MachineOutput[];
    sshUser: string;
    sshPrivateKey: string;
    gatewayUrls?: string[];
    caCertificate?: string;
    adminToken?: string;
    /** The Docker stack's name. */
    stackName?: string;
}

const projectDir = path.join(__dirname, "..");

/** Runs the pulumi CLI in the project: its output is returned, or with `shown` goes to stderr (stdout is the script's own). */
export function pulumi(args: string[], options: { input?: string; shown?: boolean } = {}): { status: number | null; stdout: string; stderr: string } {
    return spawnSync("pulumi", [...args, "--non-interactive"], {
        cwd: projectDir,
        encoding: "utf8",
        input: options.input,
        ...(options.shown ? { stdio: ["pipe", process.stderr, process.stderr] } : {}),
    });
}

/** The value after `--<name>` in argv, if any. */
export function option(argv: string[], name: string): string | undefined {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
}

/** `--stack <name>`, else $SWARM_STACK, else the selected Pulumi stack. */
export function selectedStack(argv: string[]): string {
    const named = option(argv, "stack") ?? process.env.SWARM_STACK;
    if (named) return named;
    const selected = pulumi(["stack", "--show-name"]);
    if (selected.status !== 0 || !selected.stdout.trim()) {
        throw new Error("no stack selected: `npm run pulumi -- stack select <name>`, or pass `--stack <name>`");
    }
    return selected.stdout.trim();
}

export function outputsOf(stack: string): StackOutputs {
    const result = pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack]);
    if (result.status !== 0) throw new Error(`cannot read the outputs of stack ${stack}: ${result.stderr.trim()}`);
    const outputs = JSON.parse(result.stdout) as Partial<StackOutputs>;
    if (!outputs.managers?.length || !outputs.sshUser || !outputs.sshPrivateKey) throw new Error(`stack ${stack} has no swarm yet: run \`pulumi up\` first`);
    return outputs as StackOutputs;
}

/** SSH to each machine in turn (the managers, then the workers when `all`), one attempt each, checking the host key the stack pinned (when its outputs have it). */
export function machineConnections(outputs: StackOutputs, all = false): SshConnection[] {
    return [...outputs.managers, ...(all ? outputs.workers ?? [] : [])].map((machine) => ({
        host: machine.host,
        port: machine.port,
        user: outputs.sshUser,
        privateKey: outputs.sshPrivateKey,
        machine: machine.name,
        dialAttempts: 1,
        ...(machine.hostKey ? { hostKey: machine.hostKey } : {}),
    }));
}

/**
 * Runs `use` on each manager (then each worker, with `workersToo`) in turn until one answers, and
 * returns what it returns; `use` gets the machines that did not answer before it. A failure for
 * which `tryNext` is false ends there (its first line); when no machine answers, the error names
 * each and why.
 */
export async function onFirstMachine<T>(
    stack: string,
    outputs: StackOutputs,
    use: (connection: SshConnection, unreachable: string[]) => Promise<T>,
    tryNext: (error: Error) => boolean = () => true,
    workersToo = false,
): Promise<T> {
    const unreachable: string[] = [];
    for (const connection of machineConnections(outputs, workersToo)) {
        try {
            return await use(connection, unreachable);
        } catch (error) {
            const firstLine = (error as Error).message.split("\n")[0];
            if (!tryNext(error as Error)) throw Object.assign(new Error(firstLine), { exitCode: (error as { exitCode?: number }).exitCode });
            unreachable.push(`${connection.machine} (${firstLine})`);
        }
    }
    throw new Error(`no ${workersToo ? "machine" : "manager"} of stack ${stack} answered: ${unreachable.join("; ")}`);
}

/** The pipeline's figures from the first gateway that answers, or why none did. */
export async function activityOf(outputs: StackOutputs): Promise<Activity | string> {
    const reasons: string[] = [];
    for (const url of outputs.gatewayUrls ?? []) {
        try {
            const response = await gatewayRequest({ url, ca: outputs.caCertificate, adminToken: outputs.adminToken }, "/activity", { timeoutMs: 3000 });
            if (response.status === 200) return JSON.parse(response.body) as Activity;
            reasons.push(`${url}: ${response.status}`);
        } catch (error) {
            reasons.push(`${url}: ${(error as Error).message}`);
        }
    }
    return reasons.length ? `no gateway answered (${reasons.join("; ")})` : "the stack is not deployed";
}
