import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { localDefaults } from "../../components/config";
import { dockerSafe, gatewayOf, planLocalNodes } from "../../components/local";
import * as local from "../../components/local/scripts";
import * as swarm from "../../components/swarm/scripts";
import { buildAndPushScript, hashInputs } from "../../components/images";
import { prepareBaseImageScript } from "../../components/images/base";

/** `sh -n`: the script parses. */
function assertParses(script: string): void {
    const result = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
    assert.equal(result.status, 0, `${result.stderr}\n${script}`);
}

const rendered: Record<string, string> = {
    ready: swarm.readyScript({ timeoutSeconds: 60, cloudInit: true }),
    init: swarm.initScript("10.0.0.10"),
    dissolve: swarm.dissolveScript(),
    tokens: swarm.tokensScript(),
    join: swarm.joinScript("10.0.0.10", 60),
    leave: swarm.leaveScript(),
    admit: swarm.admitScript("abc123", { "swarm.role": "worker", "it's": "quoted" }, 60),
    drain: swarm.drainScript("abc123", 60),
    remove: swarm.removeScript("node-1", 60),
    build: local.buildImageScript({ tag: "swarm-node:1", contextDir: "/x", baseImage: "debian:bookworm-slim" }),
    baseImage: prepareBaseImageScript("debian:bookworm-slim"),
    otherBaseImage: prepareBaseImageScript("registry.example/base:1"),
    network: local.createNetworkScript({ name: "n", subnet: "10.0.0.0/24", gateway: "10.0.0.1", labels: { a: "b" } }),
    removeNetwork: local.removeNetworkScript("n"),
    node: local.createNodeScript({ name: "n-worker-0", image: "i", network: "n", address: "10.0.0.20", sshPort: 2210, labels: { a: "b" }, privileged: "auto" }),
    removeNode: local.removeContainerScript("n-worker-0"),
};

test("every script parses and stops at the first error", () => {
    for (const [name, script] of Object.entries(rendered)) {
        assert.match(script, /^set -eu\n/, name);
        assertParses(script);
    }
});

test("shellQuote survives any value", () => {
    for (const value of ["plain", "it's", "$(rm -rf /)", "a b\nc", "'"]) {
        const result = spawnSync("sh", ["-c", `printf '%s' ${swarm.shellQuote(value)}`], { encoding: "utf8" });
        assert.equal(result.stdout, value);
    }
});

test("joining reads the token from stdin and never initialises a swarm", () => {
    assert.match(rendered.join, /token=\$\(cat\)/);
    assert.match(rendered.join, /docker swarm join --token "\$token" '10\.0\.0\.10:2377'/);
    assert.doesNotMatch(rendered.join, /swarm init/);
});

test("init is skipped on an active manager and refused on a worker", () => {
    assert.match(rendered.init, /if \[ "\$state" = active \]/);
    assert.match(rendered.init, /already in a swarm as a worker/);
    assert.match(rendered.init, /--advertise-addr '10\.0\.0\.10'/);
});

test("removal demotes before draining, and removes only Down nodes of that hostname", () => {
    assert.ok(rendered.drain.indexOf("docker node demote") < rendered.drain.indexOf("--availability drain"));
    assert.match(rendered.drain, /desired-state=running/);
    assert.match(rendered.remove, /\$2 == h && tolower\(\$3\) == s/);
});

test("labels are quoted", () => {
    assert.match(rendered.admit, /--label-add 'it'\\''s=quoted'/);
});

test("the local node falls back from --privileged to the capability set", () => {
    assert.match(rendered.node, /run_container --privileged/);
    assert.ok(rendered.node.includes(`run_container ${local.capabilityFlags}`));
    assert.match(local.createNodeScript({ name: "n", image: "i", network: "n", address: "1.2.3.4", sshPort: 1, labels: {}, privileged: "never" }), /^(?!.*--privileged)/s);
});

test("local nodes keep their address and port when others come and go", () => {
    const three = planLocalNodes("p", 1, 3, localDefaults);
    const one = planLocalNodes("p", 1, 1, localDefaults);
    assert.deepEqual(one, three.slice(0, 2));
    assert.deepEqual(three.map((n) => [n.name, n.address, n.sshPort]), [
        ["p-manager-0", "10.213.0.10", 2200],
        ["p-worker-0", "10.213.0.20", 2210],
        ["p-worker-1", "10.213.0.21", 2211],
        ["p-worker-2", "10.213.0.22", 2212],
    ]);
    assert.equal(gatewayOf("10.213.0.0/24"), "10.213.0.1");
    assert.equal(dockerSafe("Swarm_Dev.1"), "swarm-dev-1");
});

test("image tags follow the content of the image's inputs only", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hash-"));
    try {
        fs.mkdirSync(path.join(dir, "src"));
        fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM x");
        fs.writeFileSync(path.join(dir, "src", "a.ts"), "a");
        fs.writeFileSync(path.join(dir, "README.md"), "docs");
        const first = hashInputs(dir, ["Dockerfile", "src"]);
        fs.writeFileSync(path.join(dir, "README.md"), "other docs");
        assert.equal(hashInputs(dir, ["src", "Dockerfile"]), first);
        fs.writeFileSync(path.join(dir, "src", "a.ts"), "b");
        assert.notEqual(hashInputs(dir, ["Dockerfile", "src"]), first);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("an image already in the registry is not built again", () => {
    const script = buildAndPushScript({ pushRef: "127.0.0.1:5000/cat/pipeline:abc", pullRef: "10.0.0.2:5000/cat/pipeline:abc", contextDir: "/ctx", dockerfile: "Dockerfile", baseImage: "debian:bookworm-slim", prepare: "npm run build" });
    assertParses(script);
    assert.match(script, /http:\/\/127\.0\.0\.1:5000\/v2\/cat\/pipeline\/manifests\/abc/);
    assert.ok(script.indexOf("manifests") < script.indexOf("docker build"));
    assert.match(script, /docker push '127\.0\.0\.1:5000\/cat\/pipeline:abc'/);
    assert.match(script, /echo '10\.0\.0\.2:5000\/cat\/pipeline:abc'$/);
});

test("leaving retries gracefully and forces only a node that is no longer a manager", () => {
    const leave = swarm.leaveScript();
    assertParses(leave);
    assert.ok(leave.indexOf("docker swarm leave >/dev/null") < leave.indexOf("ControlAvailable"));
    assert.ok(leave.indexOf("ControlAvailable") < leave.indexOf("docker swarm leave --force"));
});

test("the default base image is made by the locked offline script; another base is pulled when missing", () => {
    assert.match(prepareBaseImageScript(localDefaults.baseImage), /scripts\/build-base-image\.sh' 'debian:bookworm-slim' >&2\necho 'debian:bookworm-slim'$/);
    const other = prepareBaseImageScript("registry.example/base:1");
    assert.doesNotMatch(other, /build-base-image/);
    assert.match(other, /docker image inspect 'registry\.example\/base:1' >\/dev\/null 2>&1 \|\| docker pull 'registry\.example\/base:1'/);
});
