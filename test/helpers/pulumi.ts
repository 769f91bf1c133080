// Runs the project's Pulumi CLI (the one `npm run setup` made) the way a user would.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const projectRoot = path.resolve(__dirname, "..", "..");
const toolsBin = path.join(projectRoot, ".tools", "bin");

/** Fails loudly when setup has not run: e2e tests never skip. */
export function requireToolchain(): void {
    const cli = path.join(toolsBin, "pulumi");
    if (!fs.existsSync(cli)) {
        throw new Error(`no Pulumi CLI at ${cli}: run 'npm run setup' before the tests`);
    }
}

export interface PulumiResult {
    status: number;
    stdout: string;
    stderr: string;
}

export interface PulumiEnv {
    /** Directory of the file state backend. */
    backendDir: string;
    passphrase?: string;
    extra?: Record<string, string>;
}

export function pulumiEnv(env: PulumiEnv): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: `${toolsBin}:${path.join(projectRoot, "node_modules", ".bin")}:${process.env.PATH}`,
        PULUMI_BACKEND_URL: `file://${env.backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: env.passphrase ?? "test-passphrase",
        PULUMI_CONFIG_PASSPHRASE_FILE: "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        // As scripts/env.sh: the program is type-checked once, by tsc.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        ...env.extra,
    };
}

/** Runs `pulumi <args>` in `cwd`; throws with the output unless `allowFailure`. */
export function pulumi(args: string[], cwd: string, env: PulumiEnv, allowFailure = false): PulumiResult {
    const result = spawnSync(path.join(toolsBin, "pulumi"), ["--non-interactive", ...args], {
        cwd,
        env: pulumiEnv(env),
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    const out: PulumiResult = { status: result.status ?? -1, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
    if (out.status !== 0 && !allowFailure) {
        throw new Error(`pulumi ${args.join(" ")} failed (${out.status}):\n${out.stdout}\n${out.stderr}`);
    }
    return out;
}
