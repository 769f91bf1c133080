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
    /** The machine's name, for messages. */
    machine?: string;
    /**
     * The host key the machine must present (`<type> SHA256:<hash>`, as `ssh-keygen -l` shows it).
     * Absent: the key presented on the first connection is pinned in the state.
     */
    hostKey?: string;
    /** Connection attempts before giving up (machines that are still booting refuse SSH). Default 20. */
    dialAttempts?: number;
    /** Seconds between connection attempts. Default 3. */
    dialIntervalSeconds?: number;
}

/** Dial attempts of a connection that does not say: a minute at the default interval. */
export const defaultDialAttempts = 20;

/** The inputs as the provider receives them: every `pulumi.Input` resolved. */
export interface CommandInputs {
    connection?: SshConnection;
    create: string;
    update?: string;
    delete?: string;
    stdin?: string;
    /** On stdin when there is no `stdin`; not part of the fingerprint (a rotating login secret). */
    credentials?: string;
    environment?: Record<string, string>;
    triggers?: unknown[];
    timeoutSeconds?: number;
    /**
     * Prints what is there now, run after create and update and on refresh: a different output on
     * refresh is drift, and the next `up` runs the script again; exit 3 says the thing is gone
     * (refresh drops it from the state, and `up` makes it anew).
     */
    read?: string;
    /** The resource's URN, which the engine shows the script's progress lines beside. */
    progressUrn?: string;
}

/** The exit status of a read script for "what this made is gone". */
export const goneStatus = 3;

/** The outputs kept in the state. Secret inputs (stdin) are kept only as part of a hash. */
export interface CommandOutputs {
    connection?: SshConnection;
    environment?: Record<string, string>;
    delete?: string;
    triggers?: unknown[];
    timeoutSeconds?: number;
    /** The host key pinned on the first connection to the machine (remote commands). */
    hostKey?: string;
    read?: string;
    /** What the read script printed after the last run. */
    observed?: string;
    /** Set by a refresh that found the world changed (or the machine unreachable): why. */
    drift?: string;
    /** Hash of what makes the script's effect (scripts, stdin, environment): a change re-runs it. */
    fingerprint: string;
    /** See CommandInputs.progressUrn: the delete script's progress goes there. */
    progressUrn?: string;
    stdout: string;
    stderr: string;
}

export interface ScriptResult {
    stdout: string;
    stderr: string;
    /** The host key the machine presented (remote runs). */
    hostKey?: string;
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

/** Where a command runs, for messages. */
function target(connection: SshConnection | undefined): string {
    return connection ? `${connection.user}@${connection.host}:${connection.port ?? 22}` : "local";
}

/** The machine for messages: its name and where SSH reaches it. */
function describe(connection: SshConnection): string {
    return connection.machine ? `${connection.machine} (${target(connection)})` : target(connection);
}

/** `<type> SHA256:<base64>` of an SSH public key blob, as OpenSSH prints fingerprints. */
export function hostKeyFingerprint(blob: Buffer): string {
    const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
    const type = typeLength > 0 && typeLength < blob.length ? blob.subarray(4, 4 + typeLength).toString() : "unknown";
    const hash = crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
    return `${type} SHA256:${hash}`;
}

/**
 * The error for a machine that presents another host key than the one pinned. A plain Error with
 * a name, not a subclass: this code is serialized into the state, and serialized classes that
 * extend Error lose their message.
 */
export function hostKeyMismatch(connection: SshConnection, pinned: string, presented: string): Error {
    const err = new Error(
        `the SSH host key of ${describe(connection)} changed: pinned ${pinned}, presented ${presented}. ` +
            "Refusing to connect: the machine may be an impostor. If it was rebuilt or its keys regenerated on purpose, " +
            "replace it through Pulumi (a change that recreates it, or `pulumi up --replace <URN of its ready step>` " +
            "to pin the new key).",
    );
    err.name = "HostKeyMismatch";
    return err;
}

const isHostKeyMismatch = (err: unknown): boolean => err instanceof Error && err.name === "HostKeyMismatch";
const isUnreachable = (err: unknown): boolean => err instanceof Error && err.name === "Unreachable";

/** Dial attempts of a delete: a machine that is gone is given up on within seconds. */
export const deleteDialAttempts = 3;

export interface CommandDiff {
    changes: boolean;
    replaces: string[];
    /** The properties that differ, for the preview. */
    diffs: string[];
}

/**
 * Compares the stored outputs with the new inputs. Only `triggers` replace: a machine's new
 * address (a VM stopped and started) is the same machine, so its steps are kept and the new
 * connection is stored; a machine made anew comes with new triggers (its instance).
 */
export function planDiff(olds: CommandOutputs, news: CommandInputs): CommandDiff {
    const replaces: string[] = [];
    if (JSON.stringify(olds.triggers ?? []) !== JSON.stringify(news.triggers ?? [])) {
        replaces.push("triggers");
    }
    const differs: [string, boolean][] = [
        ["triggers", replaces.length > 0],
        ["create", olds.fingerprint !== fingerprint(news)],
        ["drift", olds.drift !== undefined],
        ["delete", (olds.delete ?? "") !== (news.delete ?? "")],
        ["read", (olds.read ?? "") !== (news.read ?? "")],
        ["timeoutSeconds", (olds.timeoutSeconds ?? defaultTimeoutSeconds) !== (news.timeoutSeconds ?? defaultTimeoutSeconds)],
        ["connection", JSON.stringify(olds.connection ?? null) !== JSON.stringify(news.connection ?? null)],
    ];
    const diffs = differs.filter(([, differ]) => differ).map(([name]) => name);
    return { changes: diffs.length > 0, replaces, diffs };
}

function tail(text: string): string {
    const trimmed = text.trim();
    return trimmed.length > maxErrorOutput ? "…" + trimmed.slice(-maxErrorOutput) : trimmed;
}

/** The error of a failed script: exit status and the end of its stderr; never stdin or stdout (they may hold secrets). */
export function scriptError(where: string, status: string, stderr: string, exitCode?: number | null): Error & { exitCode?: number } {
    const detail = tail(stderr);
    return Object.assign(new Error(`script on ${where} failed (${status})${detail ? `:\n${detail}` : ""}`), { exitCode: exitCode ?? undefined });
}

/** How a script says what it waits for (lib.sh's `progress`): a line of stderr with this prefix. */
const progressPrefix = "progress: ";

/** Told each progress line of a running script (without its prefix). */
export type ProgressSink = (message: string) => void;

/**
 * A script's stderr as it comes: its progress lines go to `progress` and are not kept (they are
 * not what went wrong); the rest is kept, its last `keep` characters when given.
 */
function stderrCollector(progress?: ProgressSink, keep?: number): { write(chunk: Buffer): void; text(): string } {
    let partial = "";
    let kept = "";
    return {
        write(chunk: Buffer) {
            const lines = (partial + chunk.toString()).split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
                if (line.startsWith(progressPrefix)) progress?.(line.slice(progressPrefix.length));
                else kept += `${line}\n`;
            }
            if (keep !== undefined && kept.length > keep) kept = kept.slice(-keep);
        },
        text: () => kept + (partial.startsWith(progressPrefix) ? "" : partial),
    };
}

function runLocal(script: string, stdin: string | undefined, env: Record<string, string>, timeoutSeconds: number, progress?: ProgressSink): Promise<ScriptResult> {
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn("/bin/sh", ["-c", script], {
            env: { ...process.env, ...env },
            stdio: ["pipe", "pipe", "pipe"],
            timeout: timeoutSeconds * 1000,
        });
        let stdout = "";
        const stderr = stderrCollector(progress);
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => stderr.write(chunk));
        child.on("error", (err) => reject(scriptError("local", err.message, stderr.text())));
        child.on("close", (code, signal) => {
            if (code === 0) {
                resolve({ stdout, stderr: stderr.text() });
            } else {
                reject(scriptError("local", signal ? `killed by ${signal}` : `exit ${code}`, stderr.text(), code));
            }
        });
        child.stdin.on("error", () => undefined); // a script that does not read stdin closes it early
        child.stdin.end(stdin ?? "");
    });
}

interface Connected {
    client: Client;
    hostKey: string;
}

function connectOnce(connection: SshConnection): Promise<Connected> {
    return new Promise((resolve, reject) => {
        const client = new Client();
        let presented = "";
        client
            .on("ready", () => resolve({ client, hostKey: presented }))
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
                // Checked before we authenticate: an impostor never gets to run anything.
                hostVerifier: (key: Buffer) => {
                    presented = hostKeyFingerprint(key);
                    if (connection.hostKey && connection.hostKey !== presented) {
                        reject(hostKeyMismatch(connection, connection.hostKey, presented));
                        return false;
                    }
                    return true;
                },
            });
    });
}

async function connect(connection: SshConnection): Promise<Connected> {
    const attempts = connection.dialAttempts ?? defaultDialAttempts;
    const interval = (connection.dialIntervalSeconds ?? 3) * 1000;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
            return await connectOnce(connection);
        } catch (err) {
            if (isHostKeyMismatch(err)) throw err; // no retry changes a key
            lastError = err;
            if (attempt < attempts) {
                await new Promise((r) => setTimeout(r, interval));
            }
        }
    }
    const reason = lastError instanceof Error ? lastError.message : String(lastError);
    const err = new Error(`cannot reach ${describe(connection)} over SSH after ${attempts} attempts: ${reason}`);
    err.name = "Unreachable";
    throw err;
}

/** Where a script's output goes as it comes, instead of into its result (a long-running command's). */
export interface OutputRelay {
    stdout: (chunk: Buffer) => void;
    stderr: (chunk: Buffer) => void;
    /** What the script reads on stdin, streamed (a file to restore), instead of the inputs' text. */
    stdin?: NodeJS.ReadableStream;
}

async function runRemote(connection: SshConnection, script: string, stdin: string | undefined, timeoutSeconds: number, relay?: OutputRelay, progress?: ProgressSink): Promise<ScriptResult> {
    const where = describe(connection);
    const { client, hostKey } = await connect(connection);
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
                // What a failure says is kept either way: relayed, only its end (what scriptError shows).
                const stderr = stderrCollector(progress, relay ? 8192 : undefined);
                channel.on("data", (chunk: Buffer) => (relay ? relay.stdout(chunk) : (stdout += chunk.toString())));
                channel.stderr.on("data", (chunk: Buffer) => {
                    relay?.stderr(chunk);
                    stderr.write(chunk);
                });
                channel.on("exit", () => undefined);
                // A channel error (its machine gone mid-write, say) fails this script, never the provider's process.
                channel.on("error", (error: Error) => {
                    clearTimeout(timer);
                    reject(scriptError(where, error.message, stderr.text()));
                });
                channel.on("close", (code: number | null, signal?: string) => {
                    clearTimeout(timer);
                    if (code === 0) {
                        resolve({ stdout, stderr: stderr.text(), hostKey });
                    } else {
                        reject(scriptError(where, signal ? `killed by ${signal}` : `exit ${code}`, stderr.text(), code));
                    }
                });
                if (relay?.stdin) relay.stdin.pipe(channel);
                else channel.end(stdin ?? "");
            });
        });
    } finally {
        client.end();
    }
}

/**
 * Runs a script where the inputs say: on the machine of `connection`, else locally. Its progress
 * lines go to `progress` (dropped without one), its output to `relay` when given.
 */
export function runScript(
    inputs: Pick<CommandInputs, "connection" | "stdin" | "credentials" | "environment" | "timeoutSeconds">,
    script: string,
    relay?: OutputRelay,
    progress?: ProgressSink,
): Promise<ScriptResult> {
    const timeoutSeconds = inputs.timeoutSeconds ?? defaultTimeoutSeconds;
    const stdin = inputs.stdin ?? inputs.credentials;
    if (inputs.connection) {
        return runRemote(inputs.connection, script, stdin, timeoutSeconds, relay, progress);
    }
    return runLocal(script, stdin, inputs.environment ?? {}, timeoutSeconds, progress);
}

/** Drops absent values: the provider protocol's structs cannot carry `undefined`. */
function defined<T extends object>(value: T): T {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function outputsOf(inputs: CommandInputs, result: ScriptResult, observed?: string): CommandOutputs {
    return defined({
        connection: inputs.connection,
        environment: inputs.environment,
        delete: inputs.delete,
        triggers: inputs.triggers,
        timeoutSeconds: inputs.timeoutSeconds,
        hostKey: result.hostKey,
        read: inputs.read,
        observed,
        fingerprint: fingerprint(inputs),
        progressUrn: inputs.progressUrn,
        stdout: result.stdout.trim(),
        stderr: result.stderr.trim(),
    });
}

/** The lines a script wrote with `warn` (lib.sh), as warnings of `pulumi up`. */
async function relayWarnings(stderr: string): Promise<void> {
    for (const line of stderr.split("\n")) {
        if (line.startsWith("warning: ")) await warn(line.slice("warning: ".length));
    }
}

/**
 * A message in the output of `pulumi up` or `destroy`: a warning, or (ephemeral, beside the
 * resource of `urn`) what a running script waits for. The dynamic-provider host gets the engine's
 * address as its first argument but gives providers no log, so this calls the engine's Log itself;
 * elsewhere (unit tests) a warning goes to stderr and progress nowhere.
 */
async function engineLog(kind: "warning" | "progress", message: string, urn?: string): Promise<void> {
    const engine = process.argv[2] ?? "";
    if (!/^(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(engine)) {
        if (kind === "warning") process.stderr.write(`warning: ${message}\n`);
        return;
    }
    /* eslint-disable @typescript-eslint/no-require-imports */
    const grpc = require("@grpc/grpc-js");
    const enginePb = require("@pulumi/pulumi/proto/engine_pb.js");
    const engineGrpc = require("@pulumi/pulumi/proto/engine_grpc_pb.js");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const client = new engineGrpc.EngineClient(engine, grpc.credentials.createInsecure());
    const request = new enginePb.LogRequest();
    request.setSeverity(kind === "warning" ? enginePb.LogSeverity.WARNING : enginePb.LogSeverity.INFO);
    request.setMessage(message);
    if (kind === "progress") {
        request.setEphemeral(true);
        if (urn) request.setUrn(urn);
    }
    await new Promise<void>((resolve) => client.log(request, () => resolve()));
    client.close();
}

const warn = (message: string): Promise<void> => engineLog("warning", message);

/** Where a script of the resource of `urn` says what it waits for: beside that resource, in order. */
function progressOf(urn: string | undefined): ProgressSink {
    let sent = Promise.resolve();
    return (message) => {
        sent = sent.then(() => engineLog("progress", message, urn)).catch(() => undefined);
    };
}

/** What the read script prints now (after a run of create or update), if there is one. */
async function observe(inputs: CommandInputs, hostKey: string | undefined): Promise<string | undefined> {
    if (!inputs.read) return undefined;
    const connection = pinnedConnection(inputs.connection, hostKey);
    return (await runScript({ connection, environment: inputs.environment, timeoutSeconds: inputs.timeoutSeconds }, inputs.read)).stdout.trim();
}

/** The connection with the host key it must present: the one given, else the one pinned before. */
function pinnedConnection(connection: SshConnection | undefined, pinned: string | undefined): SshConnection | undefined {
    return connection && { ...connection, hostKey: connection.hostKey ?? pinned };
}

/** The provider object handed to `pulumi.dynamic.Resource`. */
export const commandProvider = {
    async check(_olds: CommandInputs, news: CommandInputs) {
        const failures: { property: string; reason: string }[] = [];
        if (typeof news.create !== "string") failures.push({ property: "create", reason: "a create script is required" });
        if (news.stdin !== undefined && news.credentials !== undefined) failures.push({ property: "credentials", reason: "give stdin or credentials, not both" });
        if (news.connection && news.environment && Object.keys(news.environment).length > 0) {
            // sshd drops variables it does not accept, and splicing them into the script would
            // put their values into logs and errors: remote scripts get values on stdin instead.
            failures.push({ property: "environment", reason: "environment is for local scripts only; pass values to a remote script on stdin" });
        }
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: CommandOutputs, news: CommandInputs) {
        return planDiff(olds, news);
    },
    async create(inputs: CommandInputs) {
        const result = await runScript(inputs, inputs.create, undefined, progressOf(inputs.progressUrn));
        await relayWarnings(result.stderr);
        return { id: crypto.randomUUID(), outs: outputsOf(inputs, result, await observe(inputs, result.hostKey)) };
    },
    async update(_id: string, olds: CommandOutputs, news: CommandInputs) {
        const pinned = news.connection?.hostKey ?? olds.hostKey;
        if (olds.fingerprint === fingerprint(news) && olds.drift === undefined) {
            // Only the delete or read script, timeout or credentials changed: nothing to run.
            return { outs: { ...outputsOf(news, { ...olds, hostKey: pinned }, olds.observed), stdout: olds.stdout, stderr: olds.stderr } };
        }
        const pinnedNews = { ...news, connection: pinnedConnection(news.connection, pinned) };
        const result = await runScript(pinnedNews, news.update ?? news.create, undefined, progressOf(news.progressUrn));
        await relayWarnings(result.stderr);
        return { outs: outputsOf(news, result, await observe(pinnedNews, result.hostKey ?? pinned)) };
    },
    async delete(_id: string, props: CommandOutputs) {
        if (!props.delete) return;
        const connection = pinnedConnection(props.connection, props.hostKey);
        try {
            const dialAttempts = Math.min(connection?.dialAttempts ?? defaultDialAttempts, deleteDialAttempts);
            await runScript({ ...props, connection: connection && { ...connection, dialAttempts } }, props.delete, undefined, progressOf(props.progressUrn));
        } catch (err) {
            // The machine this ran on is gone: dead or unreachable, or another key (it was made
            // anew, and nothing is sent to the new one). Its step is skipped; the steps that run
            // on a manager (draining, removing its node entry) clean up after it.
            if (!isHostKeyMismatch(err) && !isUnreachable(err)) throw err;
            await warn(`skipped a step on a machine that is gone: ${err instanceof Error ? err.message.split(". ")[0] : String(err)}`);
        }
    },
    /**
     * Refresh: runs the read script and records drift (or drops what is gone); a remote command
     * without one checks that its machine still presents the pinned host key. A machine that
     * cannot be reached is recorded as drift, naming it and why; a different host key fails.
     */
    async read(id: string, props: CommandOutputs): Promise<{ id: string; props: Partial<CommandOutputs> }> {
        const connection = pinnedConnection(props.connection, props.hostKey);
        try {
            if (props.read) {
                const result = await runScript({ connection: connection && { ...connection, dialAttempts: 1 }, environment: props.environment, timeoutSeconds: 60 }, props.read);
                const now = result.stdout.trim();
                const drift = now === (props.observed ?? "") ? undefined : `was ${JSON.stringify(props.observed ?? "")}, now ${JSON.stringify(now)}`;
                return { id, props: defined({ ...props, hostKey: result.hostKey ?? props.hostKey, drift }) };
            }
            if (connection) {
                const { client, hostKey } = await connect({ ...connection, dialAttempts: 1 });
                client.end();
                return { id, props: defined({ ...props, hostKey, drift: undefined }) };
            }
            return { id, props };
        } catch (err) {
            if (isHostKeyMismatch(err)) throw err;
            if ((err as { exitCode?: number }).exitCode === goneStatus) return { id: "", props: {} };
            return { id, props: { ...props, drift: err instanceof Error ? err.message : String(err) } };
        }
    },

};
