// `npm run status [-- --stack <name>]`: what runs where on the stack's swarm (default `dev`, or
// $SWARM_STACK), read over SSH from the first manager that answers, and the pipeline's figures
// from the first gateway that answers. Works while machines are down, and shows them down.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { runScript } from "../components/command/provider";
import { closeGatewayConnections, gatewayRequest } from "../components/gateway/client";
import { Activity, parseStatus, renderStatus, statusScript } from "../components/status";

interface Outputs {
    managers: { name: string; host: string; port: number }[];
    sshUser: string;
    sshPrivateKey: string;
    gatewayUrls?: string[];
    caCertificate?: string;
    adminToken?: string;
    stackName?: string;
}

function stackName(): string {
    const i = process.argv.indexOf("--stack");
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : (process.env.SWARM_STACK ?? "dev");
}

function outputsOf(stack: string): Outputs {
    const result = spawnSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack, "--non-interactive"], {
        cwd: path.join(__dirname, ".."),
        encoding: "utf8",
    });
    if (result.status !== 0) throw new Error(`cannot read the outputs of stack ${stack}: ${result.stderr.trim()}`);
    const outputs = JSON.parse(result.stdout) as Partial<Outputs>;
    if (!outputs.managers?.length || !outputs.sshUser || !outputs.sshPrivateKey) throw new Error(`stack ${stack} has no swarm yet: run \`pulumi up\` first`);
    return outputs as Outputs;
}

async function activityOf(outputs: Outputs): Promise<Activity | string> {
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

async function main(): Promise<void> {
    const stack = stackName();
    const outputs = outputsOf(stack);
    const unreachable: string[] = [];
    for (const manager of outputs.managers) {
        try {
            // Read-only: the first host key presented is accepted (Pulumi's state pins them for changes).
            const connection = { host: manager.host, port: manager.port, user: outputs.sshUser, privateKey: outputs.sshPrivateKey, machine: manager.name, dialAttempts: 1 };
            const result = await runScript({ connection, timeoutSeconds: 30 }, statusScript(outputs.stackName ?? "categorisation"));
            const activity = await activityOf(outputs);
            console.log(renderStatus({ stack: outputs.stackName ?? stack, readFrom: manager.name, unreachable, status: parseStatus(result.stdout), activity }));
            return;
        } catch (error) {
            unreachable.push(`${manager.name} (${(error as Error).message.split("\n")[0]})`);
        }
    }
    throw new Error(`no manager of stack ${stack} answered: ${unreachable.join("; ")}`);
}

main().then(closeGatewayConnections, (error: Error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
});
