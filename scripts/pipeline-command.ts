// Runs the pipeline's backup or restore command in a profile-api task of a stack: on the first
// machine (managers, then workers) that runs one.
import * as fs from "node:fs";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { runScript, type OutputRelay } from "../components/command/provider";
import { noTaskHere, pipelineCommandScript, type PipelineCommand } from "../components/backup";
import { onFirstMachine, type StackOutputs } from "./stack-outputs";

/**
 * Runs `command` with the streams of `relay` (made anew for each machine tried: one without the
 * task may have taken some of stdin); rejects with the command's exit status as `exitCode`.
 */
export function runPipelineCommand(stack: string, outputs: StackOutputs, command: PipelineCommand, relay: () => OutputRelay): Promise<unknown> {
    const script = pipelineCommandScript(outputs.stackName ?? "categorisation", command);
    // A machine that cannot be reached, or that runs no profile-api task: the next one.
    const tryNext = (error: Error) => error.name === "Unreachable" || (error as { exitCode?: number }).exitCode === noTaskHere;
    return onFirstMachine(stack, outputs, (connection) => runScript({ connection, timeoutSeconds: 24 * 3600 }, script, relay()), tryNext, true);
}

/** The first line of a gzip-compressed file (a backup's header). */
export async function firstLine(file: string): Promise<string> {
    const lines = createInterface({ input: fs.createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
    try {
        for await (const line of lines) return line;
        return "";
    } finally {
        lines.close();
    }
}
