// `npm run logs -- <service> [--since 10m] [--follow] [--stack <name>]`: a service's lines from
// every task, each with its task, machine and time, read over SSH from the first manager that
// answers (the selected Pulumi stack, or the one named).
import { runScript } from "../components/command/provider";
import { logsProblems, logsScript, LogsRequest } from "../components/status";
import { onFirstMachine, option, outputsOf, selectedStack } from "./stack-outputs";

const usage = "usage: npm run logs -- <service> [--since 10m] [--follow] [--stack <name>]";

function request(argv: string[], stack: string): LogsRequest {
    const valued = new Set(["--since", "--stack"]);
    const positional = argv.filter((arg, i) => !arg.startsWith("--") && !valued.has(argv[i - 1]));
    const unknown = argv.filter((arg) => arg.startsWith("--") && !valued.has(arg) && arg !== "--follow");
    if (positional.length !== 1 || unknown.length > 0) throw new Error(usage);
    return { stack, service: positional[0], since: option(argv, "since"), follow: argv.includes("--follow") };
}

async function main(): Promise<void> {
    // Read through a pipe that closes early (`| head`): that is the end, not an error.
    process.stdout.on("error", () => process.exit(0));
    const argv = process.argv.slice(2);
    const stack = selectedStack(argv);
    const outputs = outputsOf(stack);
    const wanted = request(argv, outputs.stackName ?? "categorisation");
    const problems = logsProblems(wanted);
    if (problems.length > 0) throw new Error(`${problems.join("; ")}\n${usage}`);
    // Another manager only when this one cannot be reached: a script that failed said why on
    // stderr already. Following ends with Ctrl-C; a read of what is kept ends with the logs.
    await onFirstMachine(
        stack,
        outputs,
        (connection) =>
            runScript({ connection, timeoutSeconds: wanted.follow ? 7 * 24 * 3600 : 120 }, logsScript(wanted), {
                stdout: (chunk) => process.stdout.write(chunk),
                stderr: (chunk) => process.stderr.write(chunk),
            }),
        (error) => error.name === "Unreachable",
    );
}

main().catch((error: Error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
});
