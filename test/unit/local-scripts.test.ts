// The scripts run on the machine running Pulumi (components/local/scripts/*.sh,
// components/images/scripts/*.sh): the parameters each function renders, and the scripts run for
// real under /bin/sh against stand-ins for docker, curl, bash and sleep that log their calls.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { localDefaults } from "../../components/local/config";
import { buildAndPushScript } from "../../components/images";
import { prepareBaseImageScript } from "../../components/images/base";
import * as local from "../../components/local/scripts";
import { renderScript } from "../../components/shell";
import { labels as labelNames } from "../../components/types";
import { projectRoot } from "../helpers/pulumi";

const localScript = (name: string) => path.join(projectRoot, "components", "local", "scripts", `${name}.sh`);
const imagesScript = (name: string) => path.join(projectRoot, "components", "images", "scripts", `${name}.sh`);

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    /** The stand-ins' calls: command name and arguments. */
    calls: string[][];
    /** For each call, `NAME=value` of the variables `show` names, as the stand-in saw them. */
    environments: string[][];
    /** What `docker login` read on stdin, if it ran. */
    stdinOfLogin?: string;
}

interface RunOptions {
    /** Calls that fail: `case` patterns matched against the command line ("docker run *--privileged*"). */
    fail?: string[];
    env?: Record<string, string>;
    /** Variables whose values each call records. */
    show?: string[];
    stdin?: string;
}

/**
 * Runs `script` under /bin/sh with docker, curl, bash and sleep replaced by stand-ins that log
 * their arguments and succeed unless their command line matches one of `fail`. The docker
 * stand-in prints a line on stdout, as the real one does, to show where a script lets it through.
 */
/** The calls but `sleep`'s: how often a script polls a stand-in that ends at once is not fixed. */
const withoutSleeps = (calls: string[][]): string[][] => calls.filter((call) => call[0] !== "sleep");

function run(script: string, options: RunOptions = {}): Run {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-scripts-"));
    try {
        const log = path.join(dir, "calls");
        fs.writeFileSync(log, "");
        fs.writeFileSync(`${log}.env`, "");
        for (const name of ["docker", "curl", "bash", "sleep"]) {
            const stub = [
                "#!/bin/sh",
                // One write per record: a build runs in the background while sleep is called.
                `record=$(printf '%s\\037' ${name} "$@")`,
                `printf '%s\\n' "$record" >>"$STUB_LOG"`,
                `shown=$(for name in $STUB_SHOW; do printf '%s=%s\\037' "$name" "$(printenv "$name" || echo unset)"; done)`,
                `printf '%s\\n' "$shown" >>"$STUB_LOG.env"`,
                "set -f",
                `call="${name} $*"`,
                "IFS='\n'",
                `for pattern in $STUB_FAIL; do case "$call" in $pattern) echo "refused: $call" >&2; exit 1 ;; esac; done`,
                // A login reads its password from stdin: kept to check what arrived.
                ...(name === "docker" ? ['[ "$1" != login ] || cat >>"$STUB_LOG.stdin"', "echo 'docker output'"] : []),
            ].join("\n");
            fs.writeFileSync(path.join(dir, name), `${stub}\n`, { mode: 0o755 });
        }
        const env = { ...process.env, ...options.env, PATH: `${dir}:${process.env.PATH}`, STUB_LOG: log, STUB_FAIL: (options.fail ?? []).join("\n"), STUB_SHOW: (options.show ?? []).join(" ") };
        const result = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", env, input: options.stdin ?? "" });
        const stdinOfLogin = fs.existsSync(`${log}.stdin`) ? fs.readFileSync(`${log}.stdin`, "utf8") : undefined;
        const lines = (file: string) => fs.readFileSync(file, "utf8").split("\n").slice(0, -1).map((line) => line.split("\x1f").slice(0, -1));
        return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls: lines(log), environments: lines(`${log}.env`), stdinOfLogin };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** A temporary directory for the duration of `body`. */
function withDir<T>(body: (dir: string) => T): T {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "local-scripts-ctx-")));
    try {
        return body(dir);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const labels = { "swarm.project": "it's $(mine)", "swarm.stack": "dev" };
const labelFlags = ["--label", "swarm.project=it's $(mine)", "--label", "swarm.stack=dev"];
const node: local.NodeContainerSpec = { name: "p-worker-0", image: "swarm-node:1", network: "p", address: "10.0.0.20", sshPort: 2210, labels, privileged: "auto" };
const registry: local.RegistryContainerSpec = { name: "p-registry", image: "swarm-registry:1", network: "p", address: "10.0.0.2", hostPort: 5350, labels };
const capabilities = local.capabilityFlags.split(" ");

/** The `docker run` of the node container, with `flags` after its own. */
const nodeRun = (...flags: string[]) => [
    "docker", "run", "--detach", "--name", "p-worker-0", "--hostname", "p-worker-0", "--network", "p", "--ip", "10.0.0.20",
    "--publish", "127.0.0.1:2210:22", ...labelFlags, "--volume", "p-worker-0-docker:/var/lib/docker",
    "--env", "SSH_AUTHORIZED_KEY", "--env", "INSECURE_REGISTRIES", ...flags, "swarm-node:1",
];

test("the local scripts render their .sh file with the spec as parameters", () => {
    assert.equal(
        local.buildImageScript({ tag: "swarm-node:1", contextDir: "/ctx", baseImage: "debian:bookworm-slim" }),
        renderScript(localScript("build-image"), { TAG: "swarm-node:1", CONTEXT_DIR: "/ctx", BASE_IMAGE: "debian:bookworm-slim" }),
    );
    assert.equal(
        local.createNetworkScript({ name: "p", subnet: "10.0.0.0/24", gateway: "10.0.0.1", labels }),
        renderScript(localScript("create-network"), { NETWORK: "p", SUBNET: "10.0.0.0/24", GATEWAY: "10.0.0.1" }, labelFlags),
    );
    assert.equal(local.removeNetworkScript("p"), renderScript(localScript("remove-network"), { NETWORK: "p" }));
    assert.equal(
        local.createNodeScript(node),
        renderScript(localScript("create-node"), {
            NAME: "p-worker-0", IMAGE: "swarm-node:1", NETWORK: "p", ADDRESS: "10.0.0.20", VOLUME: "p-worker-0-docker",
            SSH_PORT: 2210, PRIVILEGED: "auto", CAPABILITY_FLAGS: local.capabilityFlags,
        }, labelFlags),
    );
    assert.equal(
        local.createRegistryScript(registry),
        renderScript(localScript("create-registry"), {
            NAME: "p-registry", IMAGE: "swarm-registry:1", NETWORK: "p", ADDRESS: "10.0.0.2", HOST_PORT: 5350, STORAGE_VOLUME: "swarm-registry-cache", CACHE_LABEL: "swarm.cache",
        }, labelFlags),
    );
    assert.equal(local.removeContainerScript("p-registry"), renderScript(localScript("remove-container"), { NAME: "p-registry", VOLUME: "p-registry-docker" }));
    assert.match(local.createNodeScript(node), /^set -eu\n/);
    assert.match(local.createNodeScript(node), /\nset -- '--label' 'swarm\.project=it'\\''s \$\(mine\)' '--label' 'swarm\.stack=dev'\n/);
});

test("a label key docker would split at '=' is refused; a value with spaces, quotes and globs is kept whole", () => {
    assert.throws(() => local.createNetworkScript({ name: "p", subnet: "10.0.0.0/24", gateway: "10.0.0.1", labels: { "a=b": "c" } }), /holds no '='/);
    const result = run(local.createNetworkScript({ name: "p", subnet: "10.0.0.0/24", gateway: "10.0.0.1", labels: { a: "b c'd *" } }), { fail: ["docker network inspect *"] });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.calls.at(-1), ["docker", "network", "create", "--driver", "bridge", "--subnet", "10.0.0.0/24", "--gateway", "10.0.0.1", "--label", "a=b c'd *", "p"]);
});

test("the image scripts render their .sh file with the spec as parameters", () => {
    const spec = { pushRef: "127.0.0.1:5000/cat/pipeline:abc", pullRef: "10.0.0.2:5000/cat/pipeline:abc", contextDir: "/ctx", dockerfile: "Dockerfile", baseImage: "debian:bookworm-slim" };
    const params = {
        PUSH_REF: spec.pushRef,
        PULL_REF: spec.pullRef,
        CONTEXT_DIR: "/ctx",
        DOCKERFILE: "/ctx/Dockerfile",
        BASE_IMAGE: "debian:bookworm-slim",
    };
    const rest = { INSECURE: false, PLATFORM: "", LOGIN_USER: "" };
    assert.equal(buildAndPushScript({ ...spec, prepare: "bash scripts/prepare-image.sh >&2" }), renderScript(imagesScript("build-and-push"), { ...params, PREPARE: "bash scripts/prepare-image.sh >&2", ...rest }));
    assert.equal(buildAndPushScript(spec), renderScript(imagesScript("build-and-push"), { ...params, PREPARE: "", ...rest }));
    assert.equal(
        prepareBaseImageScript(localDefaults.baseImage),
        renderScript(imagesScript("prepare-base-image"), { TAG: localDefaults.baseImage, OFFLINE_SCRIPT: path.join(projectRoot, "scripts", "build-base-image.sh") }),
    );
    assert.equal(prepareBaseImageScript("registry.example/base:1"), renderScript(imagesScript("prepare-base-image"), { TAG: "registry.example/base:1", OFFLINE_SCRIPT: "" }));
});

test("the node image is built only when no image has its tag", () => {
    const script = local.buildImageScript({ tag: "swarm-node:1", contextDir: "/ctx", baseImage: "debian:bookworm-slim" });
    const present = run(script);
    assert.equal(present.status, 0, present.stderr);
    assert.deepEqual(present.calls, [["docker", "image", "inspect", "swarm-node:1"]]);
    const missing = run(script, { fail: ["docker image inspect *"] });
    assert.equal(missing.status, 0, missing.stderr);
    assert.equal(missing.stdout, "");
    assert.deepEqual(missing.calls, [
        ["docker", "image", "inspect", "swarm-node:1"],
        ["docker", "build", "--quiet", "--build-arg", "BASE_IMAGE=debian:bookworm-slim", "--tag", "swarm-node:1", "/ctx"],
    ]);
});

test("the network is created, with its labels, only when docker network inspect fails", () => {
    const script = local.createNetworkScript({ name: "p", subnet: "10.0.0.0/24", gateway: "10.0.0.1", labels });
    const present = run(script);
    assert.equal(present.status, 0, present.stderr);
    assert.deepEqual(present.calls, [["docker", "network", "inspect", "p"]]);
    const missing = run(script, { fail: ["docker network inspect *"] });
    assert.equal(missing.status, 0, missing.stderr);
    assert.equal(missing.stdout, "");
    assert.deepEqual(missing.calls, [
        ["docker", "network", "inspect", "p"],
        ["docker", "network", "create", "--driver", "bridge", "--subnet", "10.0.0.0/24", "--gateway", "10.0.0.1", ...labelFlags, "p"],
    ]);
    const unlabelled = run(local.createNetworkScript({ name: "p", subnet: "10.0.0.0/24", gateway: "10.0.0.1", labels: {} }), { fail: ["docker network inspect *"] });
    assert.deepEqual(unlabelled.calls.at(-1), ["docker", "network", "create", "--driver", "bridge", "--subnet", "10.0.0.0/24", "--gateway", "10.0.0.1", "p"]);
});

test("the network is removed only when it exists", () => {
    const present = run(local.removeNetworkScript("p"));
    assert.equal(present.status, 0, present.stderr);
    assert.equal(present.stdout, "");
    assert.deepEqual(present.calls, [["docker", "network", "inspect", "p"], ["docker", "network", "rm", "p"]]);
    const gone = run(local.removeNetworkScript("p"), { fail: ["docker network inspect *"] });
    assert.equal(gone.status, 0, gone.stderr);
    assert.deepEqual(gone.calls, [["docker", "network", "inspect", "p"]]);
});

test("a new local node falls back from --privileged to the capability flags when the engine refuses it", () => {
    const result = run(local.createNodeScript(node), { fail: ["docker container inspect *", "docker volume inspect *", "docker run *--privileged*"] });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, "p-worker-0\n");
    assert.match(result.stderr, /^--privileged refused \(refused: docker run .* --privileged swarm-node:1\): using the capability set$/m);
    assert.deepEqual(result.calls, [
        ["docker", "container", "inspect", "p-worker-0"],
        ["docker", "volume", "inspect", "p-worker-0-docker"],
        ["docker", "volume", "create", ...labelFlags, "p-worker-0-docker"],
        nodeRun("--privileged"),
        ["docker", "rm", "--force", "p-worker-0"],
        nodeRun(...capabilities),
        ["docker", "start", "p-worker-0"],
    ]);
});

test("a new local node runs --privileged when the engine grants it", () => {
    const result = run(local.createNodeScript(node), { fail: ["docker container inspect *", "docker volume inspect *"] });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, "p-worker-0\n");
    assert.deepEqual(result.calls.slice(3), [nodeRun("--privileged"), ["docker", "start", "p-worker-0"]]);
});

test("a node made anew after its container was removed starts on an empty disk", () => {
    const result = run(local.createNodeScript(node), { fail: ["docker container inspect *"] });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.calls.slice(1, 4), [
        ["docker", "volume", "inspect", "p-worker-0-docker"],
        ["docker", "volume", "rm", "p-worker-0-docker"],
        ["docker", "volume", "create", ...labelFlags, "p-worker-0-docker"],
    ]);
});

test("privileged never runs only the capability flags; always never falls back", () => {
    const never = run(local.createNodeScript({ ...node, privileged: "never" }), { fail: ["docker container inspect *", "docker volume inspect *"] });
    assert.equal(never.status, 0, never.stderr);
    assert.deepEqual(never.calls.slice(3), [nodeRun(...capabilities), ["docker", "start", "p-worker-0"]]);
    assert.ok(!never.calls.some((call) => call.includes("--privileged")));
    const always = run(local.createNodeScript({ ...node, privileged: "always" }), { fail: ["docker container inspect *", "docker volume inspect *", "docker run *--privileged*"] });
    assert.notEqual(always.status, 0);
    assert.deepEqual(always.calls.slice(3), [nodeRun("--privileged")]);
});

test("an existing local node is only started", () => {
    const result = run(local.createNodeScript(node));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, "p-worker-0\n");
    assert.deepEqual(result.calls, [["docker", "container", "inspect", "p-worker-0"], ["docker", "start", "p-worker-0"]]);
});

test("the node container takes SSH_AUTHORIZED_KEY and INSECURE_REGISTRIES from the environment, not from parameters", () => {
    const script = local.createNodeScript(node);
    assert.doesNotMatch(script, /^(SSH_AUTHORIZED_KEY|INSECURE_REGISTRIES)=/m);
    const result = run(script, {
        fail: ["docker container inspect *", "docker volume inspect *"],
        env: { SSH_AUTHORIZED_KEY: "ssh-ed25519 AAAA key", INSECURE_REGISTRIES: "10.0.0.2:5000" },
        show: ["SSH_AUTHORIZED_KEY", "INSECURE_REGISTRIES"],
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.calls[3], nodeRun("--privileged"));
    assert.deepEqual(result.environments[3], ["SSH_AUTHORIZED_KEY=ssh-ed25519 AAAA key", "INSECURE_REGISTRIES=10.0.0.2:5000"]);
});

test("a new registry container is started and waited for until it answers", () => {
    const result = run(local.createRegistryScript(registry), { fail: ["docker container inspect *"] });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, "");
    assert.deepEqual(result.calls, [
        ["docker", "container", "inspect", "p-registry"],
        // The storage every local registry shares, not labelled with the stack: it outlives it.
        ["docker", "volume", "create", "--label", "swarm.cache=registry", "swarm-registry-cache"],
        [
            "docker", "run", "--detach", "--name", "p-registry", "--hostname", "p-registry", "--network", "p", "--ip", "10.0.0.2",
            "--publish", "127.0.0.1:5350:5000", ...labelFlags, "--volume", "swarm-registry-cache:/var/lib/docker-registry", "swarm-registry:1",
        ],
        ["docker", "start", "p-registry"],
        ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:5350/v2/"],
    ]);
});

test("a registry that never answers fails after 30 attempts", () => {
    const result = run(local.createRegistryScript(registry), { fail: ["curl *"] });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /the registry did not answer on 127\.0\.0\.1:5350\n$/);
    assert.deepEqual(result.calls.slice(0, 2), [["docker", "container", "inspect", "p-registry"], ["docker", "start", "p-registry"]]);
    assert.equal(result.calls.filter(([command]) => command === "curl").length, 30);
});

test("a container and its volume are removed only when they exist", () => {
    const present = run(local.removeContainerScript("p-worker-0"));
    assert.equal(present.status, 0, present.stderr);
    assert.equal(present.stdout, "");
    assert.deepEqual(present.calls, [
        ["docker", "container", "inspect", "p-worker-0"],
        ["docker", "rm", "--force", "--volumes", "p-worker-0"],
        ["docker", "volume", "inspect", "p-worker-0-docker"],
        ["docker", "volume", "rm", "p-worker-0-docker"],
    ]);
    const gone = run(local.removeContainerScript("p-worker-0"), { fail: ["docker container inspect *", "docker volume inspect *"] });
    assert.equal(gone.status, 0, gone.stderr);
    assert.deepEqual(gone.calls, [["docker", "container", "inspect", "p-worker-0"], ["docker", "volume", "inspect", "p-worker-0-docker"]]);
});

const image = (contextDir: string, prepare?: string) =>
    buildAndPushScript({ pushRef: "127.0.0.1:5000/cat/pipeline:abc", pullRef: "10.0.0.2:5000/cat/pipeline:abc", contextDir, dockerfile: "Dockerfile", baseImage: "debian:bookworm-slim", prepare, insecure: true });
const manifestCheck = ["curl", "-fsS", "-o", "/dev/null", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", "http://127.0.0.1:5000/v2/cat/pipeline/manifests/abc"];

test("an image the registry already has is not prepared, built or pushed again", () => {
    withDir((ctx) => {
        const result = run(image(ctx, "touch prepared"));
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdout, "10.0.0.2:5000/cat/pipeline:abc\n");
        assert.deepEqual(result.calls, [manifestCheck]);
        assert.ok(!fs.existsSync(path.join(ctx, "prepared")));
    });
});

test("an image the registry lacks is prepared in its context, built and pushed; only the pull reference is printed", () => {
    withDir((ctx) => {
        // The command line is data: its quotes and expansions are the prepare step's own.
        const result = run(image(ctx, `printf '%s %s' "it's" "$(pwd)" > prepared; echo preparing >&2`), { fail: ["curl *"] });
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdout, "10.0.0.2:5000/cat/pipeline:abc\n");
        assert.match(result.stderr, /preparing/);
        assert.equal(fs.readFileSync(path.join(ctx, "prepared"), "utf8"), `it's ${ctx}`);
        assert.deepEqual(withoutSleeps(result.calls), [
            manifestCheck,
            ["docker", "build", "--build-arg", "BASE_IMAGE=debian:bookworm-slim", "--file", path.join(ctx, "Dockerfile"), "--tag", "127.0.0.1:5000/cat/pipeline:abc", ctx],
            ["docker", "push", "127.0.0.1:5000/cat/pipeline:abc"],
        ]);
        // What it does is said as progress, and the build's own output is not in its output.
        assert.match(result.stderr, /^progress: building pipeline:abc$/m);
        assert.match(result.stderr, /^progress: pushing pipeline:abc$/m);
        assert.doesNotMatch(result.stderr + result.stdout, /docker output/);
    });
});

test("a failed build shows the end of its output and stops before the push", () => {
    withDir((ctx) => {
        const result = run(image(ctx), { fail: ["curl *", "docker build *"] });
        assert.notEqual(result.status, 0);
        assert.match(result.stderr, /refused: docker build .*\nthe build of 127\.0\.0\.1:5000\/cat\/pipeline:abc failed\n$/);
        assert.deepEqual(withoutSleeps(result.calls).map((call) => call.slice(0, 2)), [["curl", "-fsS"], ["docker", "build"]]);
    });
});

test("a failed prepare step stops the image before its build", () => {
    withDir((ctx) => {
        const result = run(image(ctx, "false; touch prepared"), { fail: ["curl *"] });
        assert.notEqual(result.status, 0);
        assert.deepEqual(result.calls, [manifestCheck]);
        assert.ok(!fs.existsSync(path.join(ctx, "prepared")));
    });
    withDir((ctx) => {
        const result = run(image(ctx), { fail: ["curl *"] });
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(withoutSleeps(result.calls).map((call) => call.slice(0, 2)), [["curl", "-fsS"], ["docker", "build"], ["docker", "push"]]);
    });
});

test("a registry with a login gets the password on stdin only, is asked with docker, and gets images for its platform", () => {
    withDir((ctx) => {
        const script = buildAndPushScript({
            pushRef: "1.dkr.ecr.eu-west-1.amazonaws.com/cat/pipeline:abc",
            pullRef: "1.dkr.ecr.eu-west-1.amazonaws.com/cat/pipeline:abc",
            contextDir: ctx,
            dockerfile: "Dockerfile",
            baseImage: "debian:bookworm-slim",
            prepare: `echo "$TARGET_PLATFORM" > prepared`,
            platform: "linux/amd64",
            loginUser: "AWS",
        });
        assert.doesNotMatch(script, /s3cret/);
        const result = run(script, { fail: ["docker manifest *"], stdin: "s3cret-token" });
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdinOfLogin, "s3cret-token");
        assert.ok(result.calls.every((call) => !call.includes("s3cret-token")), "the password is never an argument");
        const calls = withoutSleeps(result.calls);
        assert.deepEqual(calls.map((call) => call.slice(0, 2)), [["docker", "login"], ["docker", "manifest"], ["docker", "build"], ["docker", "push"]]);
        assert.deepEqual(calls[0], ["docker", "login", "--username", "AWS", "--password-stdin", "1.dkr.ecr.eu-west-1.amazonaws.com"]);
        assert.ok(calls[2].join(" ").includes("--platform linux/amd64"));
        assert.equal(fs.readFileSync(path.join(ctx, "prepared"), "utf8"), "linux/amd64\n");
    });
});

test("the default base image is made by the locked offline script; another base is pulled only when missing", () => {
    const offline = run(prepareBaseImageScript(localDefaults.baseImage));
    assert.equal(offline.status, 0, offline.stderr);
    assert.equal(offline.stdout, `${localDefaults.baseImage}\n`);
    assert.deepEqual(offline.calls, [["bash", path.join(projectRoot, "scripts", "build-base-image.sh"), localDefaults.baseImage]]);

    const present = run(prepareBaseImageScript("registry.example/base:1"));
    assert.equal(present.status, 0, present.stderr);
    assert.equal(present.stdout, "registry.example/base:1\n");
    assert.deepEqual(present.calls, [["docker", "image", "inspect", "registry.example/base:1"]]);

    const missing = run(prepareBaseImageScript("registry.example/base:1"), { fail: ["docker image inspect *"] });
    assert.equal(missing.status, 0, missing.stderr);
    assert.equal(missing.stdout, "registry.example/base:1\n");
    assert.deepEqual(missing.calls, [["docker", "image", "inspect", "registry.example/base:1"], ["docker", "pull", "registry.example/base:1"]]);
});

test("the local scripts name no label of their own: the labels come as arguments and parameters", () => {
    const dir = path.join(projectRoot, "components", "local", "scripts");
    for (const file of fs.readdirSync(dir)) {
        const text = fs.readFileSync(path.join(dir, file), "utf8");
        for (const name of Object.values(labelNames)) assert.ok(!text.includes(name), `${file} names the label ${name}`);
    }
});
