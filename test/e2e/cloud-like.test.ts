// The readiness path of cloud VMs (provider aws), run for real on machines that boot like them:
// SSH answers at once, Docker and the login user's docker group only come later, behind a
// cloud-init stand-in whose `status --wait` blocks and then exits 0, or 2 (recoverable errors).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { generateKeyPair } from "../../components/ssh";
import { runScript, SshConnection } from "../../components/command/provider";
import { localDefaults } from "../../components/local/config";
import { hashInputs } from "../../components/images";
import { prepareBaseImageScript } from "../../components/images/base";
import { nodeImageDir, nodeImageTag } from "../../components/local";
import * as local from "../../components/local/scripts";
import { projectRoot } from "../helpers/pulumi";
import { removeLabelled, TestStack, uniqueStackName } from "../helpers/stack";

const fixture = path.join(projectRoot, "test", "fixtures", "cloud-like");
const label = uniqueStackName("cloud-like-machines");
const network = label;
const key = generateKeyPair("cloud-like-test");
const machines = [
    { name: `${label}-manager`, role: "manager", address: "10.217.0.10", port: 2360, cloudInitExit: 0, bootDelay: 12 },
    { name: `${label}-worker`, role: "worker", address: "10.217.0.20", port: 2361, cloudInitExit: 2, bootDelay: 16 },
];
const connectionTo = (port: number): SshConnection => ({ host: "127.0.0.1", port, user: "ubuntu", privateKey: key.private, dialAttempts: 30, dialIntervalSeconds: 1 });
let image = "";
let stack: TestStack | undefined;

function docker(args: string[]): string {
    const result = spawnSync("docker", args, { encoding: "utf8" });
    assert.equal(result.status, 0, `docker ${args.join(" ")}: ${result.stderr}`);
    return result.stdout.trim();
}

/** Starts a machine as a cloud VM boots: privileged where the engine allows it. */
function start(m: (typeof machines)[number]): void {
    const run = (flags: string[]) =>
        spawnSync("docker", [
            "run", "--detach", "--name", m.name, "--hostname", m.name, "--label", `swarm.stack=${label}`,
            "--network", network, "--ip", m.address, "--publish", `127.0.0.1:${m.port}:22`,
            "--env", `SSH_AUTHORIZED_KEY=${key.public}`, "--env", `CLOUD_INIT_EXIT=${m.cloudInitExit}`, "--env", `BOOT_DELAY=${m.bootDelay}`,
            "--tmpfs", "/var/lib/docker:exec", ...flags, image,
        ], { encoding: "utf8" });
    if (run(["--privileged"]).status !== 0) {
        spawnSync("docker", ["rm", "--force", m.name]);
        const fallback = run(local.capabilityFlags.split(" "));
        assert.equal(fallback.status, 0, fallback.stderr);
    }
}

before(async () => {
    await runScript({}, prepareBaseImageScript(localDefaults.baseImage));
    const nodeImage = nodeImageTag();
    await runScript({}, local.buildImageScript({ tag: nodeImage, contextDir: nodeImageDir, baseImage: localDefaults.baseImage }));
    image = `swarm-cloud-like:${hashInputs(path.join(fixture, "machine"), ["Dockerfile", "boot.sh", "cloud-init.sh", "systemctl"])}-${nodeImage.split(":")[1]}`;
    docker(["build", "--quiet", "--build-arg", `NODE_IMAGE=${nodeImage}`, "--tag", image, path.join(fixture, "machine")]);
    docker(["network", "create", "--subnet", "10.217.0.0/24", "--label", `swarm.stack=${label}`, network]);
});

after(() => {
    stack?.cleanup();
    removeLabelled(label);
});

test("the cloud readiness path waits out cloud-init (exit 0 or 2) and logs in anew, with the docker group; the machines' setup runs through sudo, and again in place when it changes", async () => {
    machines.forEach(start);
    // What the first `pulumi up` on AWS met: a session opened while the machine boots keeps the
    // groups it logged in with, so Docker refuses it even once cloud-init is done.
    const early = await runScript(
        { connection: connectionTo(machines[0].port) },
        "cloud-init status --wait >/dev/null || true; id -nG; docker info >/dev/null 2>&1 && echo docker-ok || echo docker-refused",
    );
    assert.deepEqual(early.stdout.trim().split("\n"), ["ubuntu", "docker-refused"]);

    stack = new TestStack(uniqueStackName("cloud-like"), path.join(fixture, "program"));
    stack.setConfig({ machines: JSON.stringify(machines.map((m) => ({ name: m.name, host: "127.0.0.1", port: m.port, user: "ubuntu", privateAddress: m.address, role: m.role }))) });
    stack.setConfig({ privateKey: key.private }, true);
    stack.setConfig({ ecrRegistry: "111111111111.dkr.ecr.eu-west-1.amazonaws.com" });
    stack.up();

    const nodes = (await runScript({ connection: connectionTo(machines[0].port) }, "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")).stdout;
    assert.deepEqual(nodes.trim().split("\n").map((l) => l.trim()).sort(), [`${machines[0].name} Ready Leader`, `${machines[1].name} Ready`]);
    const workerStatus = await runScript({ connection: connectionTo(machines[1].port) }, "cloud-init status --wait >/dev/null; echo $?");
    assert.equal(workerStatus.stdout.trim(), "2", "the worker's cloud-init ended with recoverable errors, and it joined all the same");

    // The machines' setup (the AWS registry login) ran on each, as root through sudo, and set the
    // renewal timer going. A new version of it runs again in place, changing what differs only.
    const setupOf = async (port: number) => (await runScript({ connection: connectionTo(port) },
        "stat -c '%U %a' ~/.docker/config.json; cat ~/.docker/config.json; sudo cat /root/.docker/config.json; " +
        "stat -c '%U %a' /usr/local/sbin/swarm-renew-registry-auth; grep -c OnUnitActiveSec=6h /etc/systemd/system/swarm-renew-registry-auth.timer; " +
        "cat /var/log/systemctl-calls")).stdout.trim().split("\n");
    const config = (registry: string) => JSON.stringify({ credHelpers: { [registry]: "ecr-login" } });
    for (const m of machines) {
        assert.deepEqual(await setupOf(m.port), [
            "ubuntu 600", config("111111111111.dkr.ecr.eu-west-1.amazonaws.com"), config("111111111111.dkr.ecr.eu-west-1.amazonaws.com"), "root 755", "1",
            "daemon-reload", "is-enabled --quiet swarm-renew-registry-auth.timer", "enable swarm-renew-registry-auth.timer", "restart swarm-renew-registry-auth.timer",
        ], m.name);
    }
    stack.setConfig({ ecrRegistry: "222222222222.dkr.ecr.eu-west-1.amazonaws.com" });
    const preview = stack.run(["preview", "--json"]);
    const steps = (JSON.parse(preview.stdout).steps as { op: string; urn: string }[]).filter((step) => step.op !== "same");
    assert.deepEqual(steps.map((step) => `${step.op} ${step.urn.split("::").pop()}`).sort(), ["update swarm-manager-0-setup", "update swarm-worker-0-setup"]);
    stack.up();
    for (const m of machines) {
        const [, user, root, , , ...calls] = await setupOf(m.port);
        assert.deepEqual([user, root], [config("222222222222.dkr.ecr.eu-west-1.amazonaws.com"), config("222222222222.dkr.ecr.eu-west-1.amazonaws.com")], m.name);
        // The units were as they were: no reload, and the timer, enabled and running, left alone.
        assert.deepEqual(calls.slice(4), ["is-enabled --quiet swarm-renew-registry-auth.timer", "is-active --quiet swarm-renew-registry-auth.timer"], m.name);
    }

    stack.run(["destroy", "--yes", "--skip-preview"]);
    for (const m of machines) {
        const state = await runScript({ connection: connectionTo(m.port) }, "docker info --format '{{.Swarm.LocalNodeState}}'");
        assert.equal(state.stdout.trim(), "inactive", `${m.name} left the swarm`);
    }
});
