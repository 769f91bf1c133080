// `npm run context -- [--stack <name>] [--name <context>]`: a Docker context for the stack's
// swarm (manager 0 over SSH, as `dockerHost` says), and the managers' SSH host keys in
// ~/.ssh/known_hosts: each as the machine presents it, taken only when it is the key the stack
// pinned when the machine became ready. Then `docker --context <name> service ls` works with the
// stack's key in an SSH agent.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pinnedKnownHosts } from "../components/ssh";
import { option, outputsOf, selectedStack } from "./stack-outputs";

function run(command: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(command, args, { encoding: "utf8" });
    if (result.error) throw new Error(`cannot run ${command}: ${result.error.message}`);
    return result;
}

function main(): void {
    const argv = process.argv.slice(2);
    const stack = selectedStack(argv);
    const outputs = outputsOf(stack);
    const name = option(argv, "name") ?? `swarm-${stack}`;
    const knownHosts = path.join(os.homedir(), ".ssh", "known_hosts");
    fs.mkdirSync(path.dirname(knownHosts), { recursive: true, mode: 0o700 });
    for (const manager of outputs.managers) {
        if (!manager.hostKey) throw new Error(`stack ${stack} does not hand out its host keys yet: run \`pulumi up\` once with this version`);
        const entry = manager.port === 22 ? manager.host : `[${manager.host}]:${manager.port}`;
        const type = manager.hostKey.split(" ")[0];
        const scan = run("ssh-keyscan", ["-T", "10", "-p", String(manager.port), "-t", type, manager.host]);
        const lines = pinnedKnownHosts(scan.stdout, manager.hostKey, `${manager.name} (${entry})`);
        // Entries of an earlier machine at the same address go first (a stack made anew).
        if (fs.existsSync(knownHosts)) run("ssh-keygen", ["-R", entry, "-f", knownHosts]);
        fs.appendFileSync(knownHosts, lines.map((line) => `${line}\n`).join(""), { mode: 0o600 });
        console.log(`${manager.name}: host key ${manager.hostKey} in ${knownHosts}`);
    }
    const manager0 = outputs.managers[0];
    const host = `ssh://${outputs.sshUser}@${manager0.host}:${manager0.port}`;
    const exists = run("docker", ["context", "inspect", name]).status === 0;
    const made = run("docker", ["context", exists ? "update" : "create", name, "--description", `swarm of stack ${stack}`, "--docker", `host=${host}`]);
    if (made.status !== 0) throw new Error(`docker context ${exists ? "update" : "create"} ${name} failed: ${made.stderr.trim()}`);
    console.log(`docker context ${name}: ${host}`);
    console.log("With the stack's key in your SSH agent:");
    console.log(`  npm run -s pulumi -- stack output sshPrivateKey --show-secrets --stack ${stack} | ssh-add -`);
    console.log(`  docker --context ${name} service ls`);
}

try {
    main();
} catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exit(1);
}
