// `npm run restore -- <file> [--stack <name>]`: puts a backup (npm run backup) back into a running
// stack, the selected Pulumi stack or the one named: its users' profiles, then the events the
// streams held, each counted once. A stack that keeps user IDs under another key than the
// backup's and holds no profile (made anew, or another stack) first takes the backup's key
// (config redis.userIdKey, secret) in one `pulumi up`; one that holds profiles is refused.
import * as fs from "node:fs";
import * as path from "node:path";
import { closeGatewayConnections } from "../components/gateway/client";
import { otherStoreKey, parseBackupHeader } from "../components/backup";
import { firstLine, runPipelineCommand } from "./pipeline-command";
import { activityOf, outputsOf, pulumi, selectedStack, StackOutputs } from "./stack-outputs";

const usage = "usage: npm run restore -- <file> [--stack <name>]";

/** A pulumi command whose output the user follows (on stderr: stdout is the restore's summary). */
function pulumiShown(args: string[], input?: string): void {
    const result = pulumi(args, { input, shown: true });
    if (result.status !== 0) throw new Error(`pulumi ${args[0]} ${args[1] ?? ""} failed (exit ${result.status})`);
}

async function main(): Promise<void> {
    const argv = process.argv.slice(2);
    const positional = argv.filter((arg, i) => !arg.startsWith("--") && argv[i - 1] !== "--stack");
    if (positional.length !== 1 || argv.some((arg) => arg.startsWith("--") && arg !== "--stack")) throw new Error(usage);
    const file = path.resolve(positional[0]);
    if (!fs.existsSync(file)) throw new Error(`no file ${file}`);
    const header = parseBackupHeader(await firstLine(file).catch(() => ""), file);
    const stack = selectedStack(argv);
    const outputs = outputsOf(stack);
    const restore = (of: StackOutputs) => runPipelineCommand(stack, of, "restore", () => ({
        stdin: fs.createReadStream(file),
        stdout: (chunk) => process.stdout.write(chunk),
        stderr: (chunk) => process.stderr.write(chunk),
    }));
    try {
        await restore(outputs);
    } catch (error) {
        if ((error as { exitCode?: number }).exitCode !== otherStoreKey) throw error;
        const activity = await activityOf(outputs);
        if (typeof activity === "string") throw new Error(`stack ${stack} keeps user IDs under another key than the backup's, and its profiles cannot be counted: ${activity}`);
        if (activity.profiles > 0) {
            throw new Error(`stack ${stack} keeps its ${activity.profiles} profiles under another key than the backup's: the two cannot be merged. Restore into a stack that holds no profile (a new one, or this one after destroy and up)`);
        }
        console.error(`stack ${stack} holds no profile: it takes the backup's store key (config redis.userIdKey, secret), with pulumi up`);
        pulumiShown(["config", "set", "--secret", "--path", "redis.userIdKey", "--stack", stack], header.storeKey);
        pulumiShown(["up", "--yes", "--skip-preview", "--stack", stack]);
        // The outputs as that up left them.
        await restore(outputsOf(stack));
    }
}

main().then(closeGatewayConnections, (error: Error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
});
