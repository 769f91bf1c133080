// The hosts provider: machines started outside Pulumi (node containers, as a user's own servers
// would be) become a swarm, and destroy makes them leave it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { utils } from "ssh2";
import { runScript, SshConnection } from "../../components/command/provider";
import { localDefaults } from "../../components/config";
import { baseImageScriptFor, nodeImageDir, nodeImageTag } from "../../components/local";
import * as local from "../../components/local/scripts";
import { TestStack, removeLabelled, uniqueStackName } from "../helpers/stack";

const machinesLabel = uniqueStackName("hosts-machines");
const labels = { "swarm.stack": machinesLabel };
const network = machinesLabel;
const key = utils.generateKeyPairSync("ed25519", { comment: "hosts-test" });
const machines = [
    { name: `${machinesLabel}-a`, address: "10.216.0.10", sshPort: 2350, role: "manager" },
    { name: `${machinesLabel}-b`, address: "10.216.0.11", sshPort: 2351, role: "worker" },
];
const connectionTo = (port: number): SshConnection => ({ host: "127.0.0.1", port, user: "root", privateKey: key.private, dialAttempts: 30, dialIntervalSeconds: 1 });
const swarmState = async (port: number) =>
    (await runScript({ connection: connectionTo(port) }, "docker info --format '{{.Swarm.LocalNodeState}}'")).stdout.trim();

let stack: TestStack | undefined;

before(async () => {
    const image = nodeImageTag();
    await runScript({}, local.buildImageScript({ tag: image, contextDir: nodeImageDir, baseImage: localDefaults.baseImage, baseImageScript: baseImageScriptFor(localDefaults.baseImage) }));
    await runScript({}, local.createNetworkScript({ name: network, subnet: "10.216.0.0/24", gateway: "10.216.0.1", labels }));
    for (const m of machines) {
        await runScript(
            { environment: { SSH_AUTHORIZED_KEY: key.public, INSECURE_REGISTRIES: "" } },
            local.createNodeScript({ name: m.name, image, network, address: m.address, sshPort: m.sshPort, labels, privileged: "auto" }),
        );
    }
});

after(() => {
    stack?.cleanup();
    removeLabelled(machinesLabel);
});

test("the hosts provider forms a swarm on existing machines and destroy makes them leave", async () => {
    stack = new TestStack(uniqueStackName("hosts"));
    stack.setConfig({ provider: "hosts", "ssh.publicKey": key.public });
    stack.setConfig({ "ssh.privateKey": key.private }, true);
    machines.forEach((m, i) => {
        stack!.setConfig({ [`hosts[${i}].host`]: "127.0.0.1", [`hosts[${i}].port`]: String(m.sshPort), [`hosts[${i}].role`]: m.role, [`hosts[${i}].privateAddress`]: m.address });
    });
    stack.up();

    const rows = (await stack.onManager("docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")).trim().split("\n").map((r) => r.trim()).sort();
    assert.deepEqual(rows, [`${machines[0].name} Ready Leader`, `${machines[1].name} Ready`]);
    assert.deepEqual(stack.output<{ name: string }[]>("workers").map((w) => w.name), [machines[1].name]);
    assert.doesNotMatch(stack.run(["stack", "export"]).stdout, /PRIVATE KEY/);

    stack.run(["destroy", "--yes", "--skip-preview"]);
    for (const m of machines) assert.equal(await swarmState(m.sshPort), "inactive", `${m.name} left the swarm`);
});
