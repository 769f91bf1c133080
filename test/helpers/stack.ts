// A throwaway stack of this project in its own state backend, with cleanup that runs even when
// a test fails: destroy, then remove anything Docker still holds with the stack's label.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runScript, SshConnection } from "../../components/command/provider";
import type { GatewayEndpoint } from "../../components/gateway/client";
import { projectRoot, pulumi, PulumiEnv, PulumiResult, requireToolchain } from "./pulumi";

/** Files of the project as a clone has them: those of `commit`, or the work tree's (tracked and new, not ignored). */
function projectFiles(commit?: string): string[] {
    const args = commit ? ["ls-tree", "-r", "-z", "--name-only", commit] : ["ls-files", "-z", "--cached", "--others", "--exclude-standard"];
    const files = spawnSync("git", args, { cwd: projectRoot, encoding: "utf8" });
    if (files.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${files.stderr}`);
    return files.stdout.split("\0").filter(Boolean);
}

/**
 * Puts the project's files into `dir`: those of `commit` (from git: a checkout of an earlier
 * version), or the work tree's. Files of the project that `dir` holds from `replacing` (the commit
 * checked out there before) go first, as a `git checkout` of the new version would remove them.
 */
export function checkOut(dir: string, commit?: string, replacing?: string): void {
    if (replacing) {
        for (const file of projectFiles(replacing)) fs.rmSync(path.join(dir, file), { force: true });
    }
    if (commit) {
        const archive = spawnSync("sh", ["-c", `git -C '${projectRoot}' archive '${commit}' | tar -x -C '${dir}'`], { encoding: "utf8" });
        if (archive.status !== 0) throw new Error(`git archive ${commit} failed (is the clone's history complete? git fetch --unshallow): ${archive.stderr}`);
        return;
    }
    for (const file of projectFiles()) {
        const source = path.join(projectRoot, file);
        if (!fs.existsSync(source)) continue; // deleted in the work tree
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.copyFileSync(source, path.join(dir, file));
        fs.chmodSync(path.join(dir, file), fs.statSync(source).mode);
    }
}

/**
 * A fresh copy of the project as a clone would have it (tracked and new, not ignored files),
 * without node_modules, tools or state.
 */
export function freshCopy(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-clone-"));
    checkOut(dir);
    return dir;
}

/**
 * A copy whose code a test may change (of the work tree, or of `commit`), sharing this project's
 * installed packages.
 */
export function editableCopy(commit?: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-clone-"));
    checkOut(dir, commit);
    fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"));
    // The pipeline image takes services/node_modules as files: hard links, not a symlink.
    const copied = spawnSync("cp", ["-al", path.join(projectRoot, "services", "node_modules"), path.join(dir, "services", "node_modules")], { stdio: "inherit" });
    if (copied.status !== 0) throw new Error("copying services/node_modules failed");
    return dir;
}

export class TestStack {
    readonly work = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-e2e-"));
    readonly env: PulumiEnv = { backendDir: path.join(this.work, "state") };

    /** A new stack in a new backend, or (with `existing`) a stack that is already there. */
    constructor(readonly name: string, readonly dir: string = projectRoot, existing?: PulumiEnv) {
        requireToolchain();
        if (existing) {
            this.env = existing;
        } else {
            fs.mkdirSync(this.env.backendDir);
            pulumi(["stack", "init", name], this.dir, this.env);
        }
    }

    run(args: string[], allowFailure = false): PulumiResult {
        return pulumi([...args, "--stack", this.name], this.dir, this.env, allowFailure);
    }

    setConfig(values: Record<string, string>, secret = false): void {
        for (const [key, value] of Object.entries(values)) {
            pulumi(["config", "set", "--stack", this.name, "--path", ...(secret ? ["--secret"] : []), key, "--", value], this.dir, this.env);
        }
    }

    up(): PulumiResult {
        return this.run(["up", "--yes", "--skip-preview"]);
    }

    output<T = unknown>(name: string): T {
        return JSON.parse(this.run(["stack", "output", name, "--json", "--show-secrets"]).stdout) as T;
    }

    /** The stack's gateway, as its outputs give it: the front URL (or gateway `index`'s), its CA and tokens. */
    gateway(index?: number): GatewayEndpoint {
        const outputs = JSON.parse(this.run(["stack", "output", "--json", "--show-secrets"]).stdout) as Record<string, unknown>;
        const url = index === undefined ? String(outputs.collectorUrl).replace(/\/events$/, "") : (outputs.gatewayUrls as string[])[index];
        return { url, ca: outputs.caCertificate as string, ingestToken: outputs.ingestToken as string, adminToken: outputs.adminToken as string };
    }

    /** SSH connection to manager 0, from the stack's outputs. */
    managerConnection(index = 0): SshConnection {
        const manager = this.output<{ host: string; port: number }[]>("managers")[index];
        return { host: manager.host, port: manager.port, user: this.output<string>("sshUser"), privateKey: this.output<string>("sshPrivateKey") };
    }

    /** Runs a script on manager 0 (or manager `index`) and returns its stdout. */
    async onManager(script: string, index = 0): Promise<string> {
        return (await runScript({ connection: this.managerConnection(index) }, script)).stdout;
    }

    /** Destroys the stack, removes it and whatever Docker objects carry its label. */
    cleanup(): void {
        this.run(["destroy", "--yes", "--skip-preview"], true);
        this.run(["stack", "rm", "--yes", "--force"], true);
        removeLabelled(this.name);
        fs.rmSync(this.work, { recursive: true, force: true });
    }
}

/** Docker objects labelled with this stack, as `kind name` lines. */
export function labelledObjects(stack: string): string[] {
    const filter = `label=swarm.stack=${stack}`;
    const list = (args: string[], field: string) => {
        const result = spawnSync("docker", [...args, "--filter", filter, "--format", `{{.${field}}}`], { encoding: "utf8" });
        if (result.status !== 0) throw new Error(`docker ${args.join(" ")} failed: ${result.stderr}`);
        return result.stdout.split("\n").filter(Boolean);
    };
    return [
        ...list(["ps", "--all"], "Names").map((n) => `container ${n}`),
        ...list(["network", "ls"], "Name").map((n) => `network ${n}`),
        ...list(["volume", "ls"], "Name").map((n) => `volume ${n}`),
    ];
}

export function removeLabelled(stack: string): void {
    for (const entry of labelledObjects(stack)) {
        const [kind, name] = entry.split(" ");
        spawnSync("docker", kind === "container" ? ["rm", "-f", "-v", name] : [kind, "rm", name]);
    }
}

/** Test and benchmark stacks are named `<prefix>-<pid>-<time>`, so an interrupted run's leftovers can be told apart. */
export function uniqueStackName(prefix: string): string {
    return `${prefix}-${process.pid}-${Date.now().toString(36)}`;
}

const testStackName = /^(?:local|bad|faults|healing|hosts|hosts-machines|cloud-like|cloud-like-machines|bench-[a-z0-9-]+)-(\d+)-[0-9a-z]+$/;

function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * Test stacks whose run is gone (killed, or the machine restarted) but whose Docker objects stayed:
 * their networks hold the subnets that the next run's tests need.
 */
export function staleTestStacks(): string[] {
    const labels = new Set<string>();
    for (const args of [["ps", "--all"], ["network", "ls"], ["volume", "ls"]]) {
        const result = spawnSync("docker", [...args, "--filter", "label=swarm.stack", "--format", '{{.Label "swarm.stack"}}'], { encoding: "utf8" });
        if (result.status !== 0) throw new Error(`docker ${args.join(" ")} failed: ${result.stderr}`);
        for (const label of result.stdout.split("\n")) if (label) labels.add(label);
    }
    return [...labels].filter((name) => {
        const match = testStackName.exec(name);
        return match !== null && !processAlive(Number(match[1]));
    });
}
