// `npm run status [-- --stack <name>]`: what runs where on the stack's swarm (the selected Pulumi
// stack, or the one named), read over SSH from the first manager that answers, and the pipeline's figures
// from the first gateway that answers. Works while machines are down, and shows them down.
import { runScript } from "../components/command/provider";
import { closeGatewayConnections, gatewayRequest } from "../components/gateway/client";
import { Activity, parseStatus, renderStatus, statusScript } from "../components/status";
import { onFirstManager, outputsOf, selectedStack, StackOutputs } from "./stack-outputs";

async function activityOf(outputs: StackOutputs): Promise<Activity | string> {
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
    const stack = selectedStack(process.argv);
    const outputs = outputsOf(stack);
    await onFirstManager(stack, outputs, async (connection, unreachable) => {
        const result = await runScript({ connection, timeoutSeconds: 30 }, statusScript(outputs.stackName ?? "categorisation"));
        const activity = await activityOf(outputs);
        console.log(renderStatus({ stack: outputs.stackName ?? stack, readFrom: connection.machine ?? connection.host, unreachable, status: parseStatus(result.stdout), activity }));
    });
}

main().then(closeGatewayConnections, (error: Error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
});
