// What the npm scripts (status, logs) read about a stack: which stack (`--stack <name>`, else the
// one `pulumi stack select` chose), and its outputs, secrets included.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { SshConnection } from "../components/command/provider";

export interface StackOutputs {
    managers: { name: string; host: string; port: number; hostKey?: string }[];
    sshUser: string;
    sshPrivateKey: string;
    gatewayUrls?: string[];
    caCertificate?: string;
    adminToken?: string;
    /** The Docker stack's name. */
    stackName?: string;
}

const projectDir = path.join(__dirname, "..");

function pulumi(args: string[]): { status: number | null; stdout: string; stderr: string } {
    return spawnSync("pulumi", [...args, "--non-interactive"], { cwd: projectDir, encoding: "utf8" });
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

/** SSH to each manager in turn, one attempt each, checking the host key the stack pinned (when its outputs have it). */
export function managerConnections(outputs: StackOutputs): SshConnection[] {
    return outputs.managers.map((manager) => ({
        host: manager.host,
        port: manager.port,
        user: outputs.sshUser,
        privateKey: outputs.sshPrivateKey,
        machine: manager.name,
        dialAttempts: 1,
        ...(manager.hostKey ? { hostKey: manager.hostKey } : {}),
    }));
}

/**
 * Runs `use` on each manager in turn until one answers, and returns what it returns; `use` gets
 * the managers that did not answer before it. A failure for which `tryNext` is false ends there
 * (its first line); when no manager answers, the error names each and why.
 */
export async function onFirstManager<T>(
    stack: string,
    outputs: StackOutputs,
    use: (connection: SshConnection, unreachable: string[]) => Promise<T>,
    tryNext: (error: Error) => boolean = () => true,
): Promise<T> {
    const unreachable: string[] = [];
    for (const connection of managerConnections(outputs)) {
        try {
            return await use(connection, unreachable);
        } catch (error) {
            const firstLine = (error as Error).message.split("\n")[0];
            if (!tryNext(error as Error)) throw new Error(firstLine);
            unreachable.push(`${connection.machine} (${firstLine})`);
        }
    }
    throw new Error(`no manager of stack ${stack} answered: ${unreachable.join("; ")}`);
}
