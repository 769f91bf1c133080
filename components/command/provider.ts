// The resource provider behind `Command`: runs a shell script locally or on a machine over SSH.
//
// It runs inside Pulumi's dynamic-provider host, which receives these functions serialized
// into the state, so everything here is plain functions and values (no classes, no `this`),
// and node_modules imports only (they are re-required, not serialized).
import * as childProcess from "child_process";
import * as crypto from "crypto";
import { Client } from "ssh2";

export interface SshConnection {
    host: string;
    port?: number;
    user: string;
    privateKey: string;
    /** Connection attempts before giving up (machines that are still booting refuse SSH). */
    dialAttempts?: number;
    /** Seconds between connection attempts. */
    dialIntervalSeconds?: number;
}

/** The inputs as the provider receives them: every `pulumi.Input` resolved. */
export interface CommandInputs {
    connection?: SshConnection;
    create: string;
    update?: string;
    delete?: string;
    stdin?: string;
    environment?: Record<string, string>;
    triggers?: unknown[];
    timeoutSeconds?: number;
}

/** The outputs kept in the state. Secret inputs (stdin) are kept only as part of a hash. */
export interface CommandOutputs {
    connection?: SshConnection;
    environment?: Record<string, string>;
    delete?: string;
    triggers?: unknown[];
    timeoutSeconds?: number;
    /** Hash of what makes the script's effect (scripts, stdin, environment): a change re-runs it. */
    fingerprint: string;
    stdout: string;
    stderr: string;
}

export interface ScriptResult {
    stdout: string;
    stderr: string;
}

const defaultTimeoutSeconds = 20 * 60;
const maxErrorOutput = 2000;

/** A stable hash of the inputs whose change means the script must run again. */
export function fingerprint(inputs: CommandInputs): string {
    const material = JSON.stringify([
        inputs.create,
        inputs.update ?? null,
        inputs.stdin ?? null,
        Object.entries(inputs.environment ?? {}).sort(([a], [b]) => a.localeCompare(b)),
    ]);
    return crypto.createHash("sha256").update(material).digest("hex");
}

/** The machine a command runs on: a change of it means a new resource, not an update. */
function target(connection: SshConnection | undefined): string {
    return connection ? `${connection.user}@${connection.host}:${connection.port ?? 22}` : "local";
}

export interface CommandDiff {
    changes: boolean;
    replaces: string[];
}

/** Compares the stored outputs with the new inputs. */
export function planDiff(olds: CommandOutputs, news: CommandInputs): CommandDiff {
    const replaces: string[] = [];
    if (JSON.stringify(olds.triggers ?? []) !== JSON.stringify(news.triggers ?? [])) {
        replaces.push("triggers");
    }
    if (target(olds.connection) !== target(news.connection)) {
        replaces.push("connection");
    }
    const changes =
        replaces.length > 0 ||
        olds.fingerprint !== fingerprint(news) ||
        (olds.delete ?? "") !== (news.delete ?? "") ||
        (olds.timeoutSeconds ?? defaultTimeoutSeconds) !== (news.timeoutSeconds ?? defaultTimeoutSeconds) ||
        JSON.stringify(olds.connection ?? null) !== JSON.stringify(news.connection ?? null);
    return { changes, replaces };
}

function tail(text: string): string {
    const trimmed = text.trim();
    return trimmed.length > maxErrorOutput ? "…" + trimmed.slice(-maxErrorOutput) : trimmed;
}

/** The error of a failed script: exit status and the end of its stderr; never stdin or stdout (they may hold secrets). */
export function scriptError(where: string, status: string, stderr: string): Error {
    const detail = tail(stderr);
    return new Error(`script on ${where} failed (${status})${detail ? `:\n${detail}` : ""}`);
}

function runLocal(script: string, stdin: string | undefined, env: Record<string, string>, timeoutSeconds: number): Promise<ScriptResult> {
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn("/bin/sh", ["-c", script], {
            env: { ...process.env, ...env },
            stdio: ["pipe", "pipe", "pipe"],
            timeout: timeoutSeconds * 1000,
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", (err) => reject(scriptError("local", err.message, stderr)));
        child.on("close", (code, signal) => {
            if (code === 0) {
                resolve({ stdout, stderr });
            } else {
                reject(scriptError("local", signal ? `killed by ${signal}` : `exit ${code}`, stderr));
            }
        });
        child.stdin.on("error", () => undefined); // a script that does not read stdin closes it early
        child.stdin.end(stdin ?? "");
    });
}

function connectOnce(connection: SshConnection): Promise<Client> {
    return new Promise((resolve, reject) => {
        const client = new Client();
        client
            .on("ready", () => resolve(client))
            .on("error", (err) => {
                client.end();
                reject(err);
            })
            .connect({
                host: connection.host,
                port: connection.port ?? 22,
                username: connection.user,
                privateKey: connection.privateKey,
                readyTimeout: 20000,
                keepaliveInterval: 10000,
            });
    });
}

async function connect(connection: SshConnection): Promise<Client> {
    const attempts = connection.dialAttempts ?? 10;
    const interval = (connection.dialIntervalSeconds ?? 3) * 1000;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
            return await connectOnce(connection);
        } catch (err) {
            lastError = err;
            if (attempt < attempts) {
                await new Promise((r) => setTimeout(r, interval));
            }
        }
    }
    const reason = lastError instanceof Error ? lastError.message : String(lastError);
    throw new Error(`cannot reach ${target(connection)} over SSH after ${attempts} attempts: ${reason}`);
}

async function runRemote(connection: SshConnection, script: string, stdin: string | undefined, timeoutSeconds: number): Promise<ScriptResult> {
    const where = target(connection);
    const client = await connect(connection);
    try {
        return await new Promise<ScriptResult>((resolve, reject) => {
            const timer = setTimeout(() => {
                client.end();
                reject(scriptError(where, `no result after ${timeoutSeconds}s`, ""));
            }, timeoutSeconds * 1000);
            // The login shell runs the script text; secrets only ever travel on stdin.
            client.exec(script, (err, channel) => {
                if (err) {
                    clearTimeout(timer);
                    reject(scriptError(where, err.message, ""));
                    return;
                }
                let stdout = "";
                let stderr = "";
                channel.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
                channel.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
                channel.on("exit", () => undefined);
                channel.on("close", (code: number | null, signal?: string) => {
                    clearTimeout(timer);
                    if (code === 0) {
                        resolve({ stdout, stderr });
                    } else {
                        reject(scriptError(where, signal ? `killed by ${signal}` : `exit ${code}`, stderr));
                    }
                });
                channel.end(stdin ?? "");
            });
        });
    } finally {
        client.end();
    }
}

/** Runs a script where the inputs say: on the machine of `connection`, else locally. */
export function runScript(inputs: Pick<CommandInputs, "connection" | "stdin" | "environment" | "timeoutSeconds">, script: string): Promise<ScriptResult> {
    const timeoutSeconds = inputs.timeoutSeconds ?? defaultTimeoutSeconds;
    if (inputs.connection) {
        return runRemote(inputs.connection, script, inputs.stdin, timeoutSeconds);
    }
    return runLocal(script, inputs.stdin, inputs.environment ?? {}, timeoutSeconds);
}

/** Drops absent values: the provider protocol's structs cannot carry `undefined`. */
function defined<T extends object>(value: T): T {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function outputsOf(inputs: CommandInputs, result: ScriptResult): CommandOutputs {
    return defined({
        connection: inputs.connection,
        environment: inputs.environment,
        delete: inputs.delete,
        triggers: inputs.triggers,
        timeoutSeconds: inputs.timeoutSeconds,
        fingerprint: fingerprint(inputs),
        stdout: result.stdout.trim(),
        stderr: result.stderr.trim(),
    });
}

/** The provider object handed to `pulumi.dynamic.Resource`. */
export const commandProvider = {
    async check(_olds: CommandInputs, news: CommandInputs) {
        const failures = typeof news.create === "string" ? [] : [{ property: "create", reason: "a create script is required" }];
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: CommandOutputs, news: CommandInputs) {
        const plan = planDiff(olds, news);
        return { changes: plan.changes, replaces: plan.replaces };
    },
    async create(inputs: CommandInputs) {
        const result = await runScript(inputs, inputs.create);
        return { id: crypto.randomUUID(), outs: outputsOf(inputs, result) };
    },
    async update(_id: string, olds: CommandOutputs, news: CommandInputs) {
        if (olds.fingerprint === fingerprint(news)) {
            // Only the delete script, timeout or credentials changed: nothing to run.
            return { outs: { ...outputsOf(news, olds), stdout: olds.stdout, stderr: olds.stderr } };
        }
        const result = await runScript(news, news.update ?? news.create);
        return { outs: outputsOf(news, result) };
    },
    async delete(_id: string, props: CommandOutputs) {
        if (props.delete) {
            await runScript(props, props.delete);
        }
    },
};
