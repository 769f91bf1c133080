// The hosts provider: machines started outside Pulumi (node containers, as a user's own servers
// would be, and a registry they pull from) become a swarm running the stack, and destroy removes
// the stack and makes them leave the swarm.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { generateKeyPair } from "../../components/ssh";
import { runScript, SshConnection } from "../../components/command/provider";
import { localDefaults } from "../../components/local/config";
import { prepareBaseImageScript } from "../../components/images/base";
import { contentTag, nodeImageDir, nodeImageTag, registryImageDir } from "../../components/local";
import * as local from "../../components/local/scripts";
import { TestStack, removeLabelled, uniqueStackName } from "../helpers/stack";
import { declaredReplicas, eventually } from "../helpers/swarm";

const machinesLabel = uniqueStackName("hosts-machines");
const labels = { "swarm.stack": machinesLabel };
const network = machinesLabel;
const key = generateKeyPair("hosts-test");
const machines = [
    { name: `${machinesLabel}-a`, address: "10.216.0.10", sshPort: 2350, role: "manager" },
    { name: `${machinesLabel}-b`, address: "10.216.0.11", sshPort: 2351, role: "worker" },
];
const registry = { name: `${machinesLabel}-registry`, address: "10.216.0.2", hostPort: 5350 };
const connectionTo = (port: number): SshConnection => ({ host: "127.0.0.1", port, user: "root", privateKey: key.private, dialAttempts: 30, dialIntervalSeconds: 1 });
const swarmState = async (port: number) =>
    (await runScript({ connection: connectionTo(port) }, "docker info --format '{{.Swarm.LocalNodeState}}'")).stdout.trim();

let stack: TestStack | undefined;

before(async () => {
    await runScript({}, prepareBaseImageScript(localDefaults.baseImage));
    const build = (tag: string, contextDir: string) => runScript({}, local.buildImageScript({ tag, contextDir, baseImage: localDefaults.baseImage }));
    const image = nodeImageTag();
    const registryImage = contentTag("swarm-registry", registryImageDir);
    await build(image, nodeImageDir);
    await build(registryImage, registryImageDir);
    await runScript({}, local.createNetworkScript({ name: network, subnet: "10.216.0.0/24", gateway: "10.216.0.1", labels }));
    await runScript({}, local.createRegistryScript({ ...registry, image: registryImage, network, labels }));
    for (const m of machines) {
        await runScript(
            { environment: { SSH_AUTHORIZED_KEY: key.public, INSECURE_REGISTRIES: `${registry.address}:5000` } },
            local.createNodeScript({ name: m.name, image, network, address: m.address, sshPort: m.sshPort, labels, privileged: "auto" }),
        );
    }
});

after(() => {
    stack?.cleanup();
    removeLabelled(machinesLabel);
});

test("the hosts provider forms a swarm on existing machines, deploys the stack, and destroy undoes both", async () => {
    stack = new TestStack(uniqueStackName("hosts"));
    stack.setConfig({ provider: "hosts", "ssh.publicKey": key.public, "registry.address": `127.0.0.1:${registry.hostPort}`, "registry.pullAddress": `${registry.address}:5000` });
    stack.setConfig({ "ssh.privateKey": key.private }, true);
    // A stack of your own with a volume on every machine: destroy must leave none of it behind.
    stack.setConfig({ "stacks.keep.file": writeVolumeStack(path.join(stack.work, "keep")) });
    machines.forEach((m, i) => {
        stack!.setConfig({ [`hosts[${i}].host`]: "127.0.0.1", [`hosts[${i}].port`]: String(m.sshPort), [`hosts[${i}].role`]: m.role, [`hosts[${i}].privateAddress`]: m.address });
    });
    stack.up();

    const rows = (await stack.onManager("docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")).trim().split("\n").map((r) => r.trim()).sort();
    assert.deepEqual(rows, [`${machines[0].name} Ready Leader`, `${machines[1].name} Ready`]);
    assert.deepEqual(stack.output<{ name: string }[]>("workers").map((w) => w.name), [machines[1].name]);
    assert.doesNotMatch(stack.run(["stack", "export"]).stdout, /PRIVATE KEY/);

    // Every service of the stack runs its replicas, from images pulled from the registry.
    const services = (await stack.onManager("docker stack services categorisation --format '{{.Name}} {{.Replicas}} {{.Image}}'")).trim().split("\n");
    assert.deepEqual(services.map((line) => line.split(" ")[0]).sort(), Object.keys(declaredReplicas()).map((name) => `categorisation_${name}`).sort(), services.join("\n"));
    for (const line of services) {
        const [name, replicas, image] = line.split(" ");
        const [running, desired] = replicas.split("/");
        assert.equal(running, desired, `${name} runs ${replicas}`);
        assert.match(image, /^10\.216\.0\.2:5000\/categorisation\//);
    }
    assert.equal(stack.output<Record<string, { replicas: number }>>("services").categoriser.replicas, 2);
    for (const m of machines) assert.ok((await stackVolumes(m.sshPort)).includes("keep_holder-data"), `${m.name} holds the stack's volume`);

    // A listed machine that left the swarm shows in the refreshed preview, and up joins it again.
    await runScript({ connection: connectionTo(machines[1].sshPort) }, "docker swarm leave --force >/dev/null");
    const refreshed = JSON.parse(stack.run(["preview", "--refresh", "--json"]).stdout) as { steps?: { op: string; urn: string }[] };
    assert.deepEqual((refreshed.steps ?? []).filter((s) => !["same", "refresh", "read"].includes(s.op)).map((s) => `${s.op} ${s.urn.split("::").pop()}`), ["update swarm-worker-0-join", "update swarm-worker-0-admit"]);
    stack.run(["up", "--refresh", "--yes", "--skip-preview"]);
    assert.equal(await swarmState(machines[1].sshPort), "active");
    const rejoined = (await stack.onManager("docker node ls --format '{{.Hostname}} {{.Status}}'")).trim().split("\n").sort();
    assert.deepEqual(rejoined, [`${machines[0].name} Ready`, `${machines[1].name} Ready`], "joined again, and no Down entry stays");

    // An unreachable machine is named in the refresh, which still finishes.
    spawnSync("docker", ["stop", machines[1].name], { stdio: "ignore" });
    try {
        const unreachable = stack.run(["preview", "--refresh", "--diff"], true);
        assert.equal(unreachable.status, 0, unreachable.stderr);
        assert.match(unreachable.stdout, new RegExp(`cannot reach worker-0 \\(root@127\\.0\\.0\\.1:${machines[1].sshPort}\\)`));
    } finally {
        spawnSync("docker", ["start", machines[1].name], { stdio: "ignore" });
    }
    await eventually(() => swarmState(machines[1].sshPort).catch(() => ""), (state) => state === "active", "the machine back in the swarm", 120);

    const destroy = stack.run(["destroy", "--yes", "--skip-preview"]);
    assert.match(destroy.stdout, /stack-deploy deleted/);
    for (const m of machines) assert.equal(await swarmState(m.sshPort), "inactive", `${m.name} left the swarm`);
    for (const m of machines) assert.deepEqual(await stackVolumes(m.sshPort), [], `no stack's volume is left on ${m.name}`);
});

/** The volumes of stacks (any) on the machine at `port`. */
async function stackVolumes(port: number): Promise<string[]> {
    const volumes = await runScript({ connection: connectionTo(port) }, "docker volume ls --quiet --filter label=com.docker.stack.namespace");
    return volumes.stdout.split("\n").filter(Boolean).sort();
}

/** A stack with one task and one volume on every machine (a global service), built from the base image. */
function writeVolumeStack(dir: string): string {
    fs.mkdirSync(path.join(dir, "app"), { recursive: true });
    fs.writeFileSync(path.join(dir, "app", "Dockerfile"), "ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\nSTOPSIGNAL SIGKILL\nCMD [\"sleep\", \"infinity\"]\n");
    const file = path.join(dir, "compose.yaml");
    fs.writeFileSync(file, "services:\n  holder:\n    build: ./app\n    volumes: [holder-data:/data]\n    deploy: { mode: global }\nvolumes:\n  holder-data: {}\n");
    return file;
}
