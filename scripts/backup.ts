// `npm run backup [-- --stack <name>] [--out <file>]`: a consistent backup of the pipeline's
// streams and profile store (the selected Pulumi stack, or the one named) into one file here,
// readable by its owner only (it holds personal data and the store's key). Prints the file's path
// as its last line.
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultBackupFile, parseBackupHeader } from "../components/backup";
import { firstLine, runPipelineCommand } from "./pipeline-command";
import { option, outputsOf, selectedStack } from "./stack-outputs";

const usage = "usage: npm run backup [-- --stack <name>] [--out <file>]";

async function main(): Promise<void> {
    const argv = process.argv.slice(2);
    const valued = new Set(["--stack", "--out"]);
    if (argv.some((arg, i) => !valued.has(arg) && !valued.has(argv[i - 1]))) throw new Error(usage);
    const stack = selectedStack(argv);
    const outputs = outputsOf(stack);
    const file = path.resolve(option(argv, "out") ?? defaultBackupFile(process.cwd(), stack, new Date()));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Written aside, then renamed: a file with the backup's name is a whole backup.
    const partial = `${file}.partial`;
    const out = fs.createWriteStream(partial, { mode: 0o600 });
    try {
        await runPipelineCommand(stack, outputs, "backup", () => ({ stdout: (chunk) => out.write(chunk), stderr: (chunk) => process.stderr.write(chunk) }));
        await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
        parseBackupHeader(await firstLine(partial), partial);
        fs.renameSync(partial, file);
    } catch (error) {
        out.destroy();
        fs.rmSync(partial, { force: true });
        throw error;
    }
    console.log(file);
}

main().catch((error: Error) => {
    console.error(`error: ${error.message}`);
    process.exit(1);
});
