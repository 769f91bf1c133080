// `npm run status [-- --stack <name>]`: what runs where on the stack's swarm (the selected Pulumi
// stack, or the one named), read over SSH from the first manager that answers, and the pipeline's figures
// from the first gateway that answers. Works while machines are down, and shows them down.
import { runScript } from "../components/command/provider";
import { closeGatewayConnections } from "../components/gateway/client";
import { parseStatus, renderStatus, statusScript } from "../components/status";
import { activityOf, onFirstMachine, outputsOf, selectedStack } from "./stack-outputs";

async function main(): Promise<void> {
    const stack = selectedStack(process.argv);
    const outputs = outputsOf(stack);
    await onFirstMachine(stack, outputs, async (connection, unreachable) => {
        const result = await runScript({ connection, timeoutSeconds: 30 }, statusScript(outputs.stackName ?? "categorisation"));
        const activity = await activityOf(outputs);
        console.log(renderStatus({ stack: outputs.stackName ?? stack, readFrom: connection.machine ?? connection.host, unreachable, status: parseStatus(result.stdout), activity }));
    });
}

main().then(closeGatewayConnections, (error: Error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
});
