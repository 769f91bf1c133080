// What the local provider plans (names, addresses, ports) and how image tags are made.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { localDefaults } from "../../components/local/config";
import { hashInputs, imageTag } from "../../components/images";
import { dockerSafe, gatewayOf, planLocalNodes } from "../../components/local";

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

test("image tags follow the content of the image's inputs (not other files), its base image, build args and target", () => {
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

        // What else makes the image: its base, build args and target. A new base pushes new tags.
        const image = { context: dir, dockerfile: "Dockerfile", inputs: ["Dockerfile", "src"] };
        const tag = imageTag(image, "debian:bookworm-slim");
        assert.equal(imageTag({ ...image, inputs: ["src", "Dockerfile"] }, "debian:bookworm-slim"), tag);
        const others = [
            imageTag(image, "debian:bookworm-20261201-slim"),
            imageTag({ ...image, buildArgs: { ROLE: "worker" } }, "debian:bookworm-slim"),
            imageTag({ ...image, buildArgs: { ROLE: "web" } }, "debian:bookworm-slim"),
            imageTag({ ...image, target: "runtime" }, "debian:bookworm-slim"),
        ];
        assert.equal(new Set([tag, ...others]).size, 5, [tag, ...others].join(" "));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
