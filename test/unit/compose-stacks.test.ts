// Your own stacks (config `stacks`): the checks of each file, run with the real Docker CLI, and
// the rendering of what is deployed.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { isObject } from "../../components/checks";
import { ConfigError, StackSettings, validateConfig } from "../../components/config";
import { ComposeStack, ownStackSecrets } from "../../components/stack";
import { describeStackServices, loadComposeStacks, localComposeIo, renderStackCompose, swarmObjectName } from "../../components/stack/compose";
import { labels } from "../../components/types";

const stackDataLabel = labels.stackData;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compose-stacks-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (relative: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
    fs.writeFileSync(path.join(dir, relative), text);
};

write("shop/compose.yaml", `
services:
  web:
    build:
      context: ./web
      args: { GREETING: hello }
    env_file: web.env
    ports: ["8000:8000"]
    deploy: { replicas: 2 }
  cache:
    image: shop-cache:1
    deploy: { mode: global }
    volumes: [cache-data:/data, shared:/shared]
volumes:
  cache-data:
    labels: { tier: cache }
  shared:
    external: true
`);
write("shop/web.env", "MODE=test\n");
write("shop/web/Dockerfile", "FROM scratch\n");
write("shop/web/app.js", "console.log(1)\n");
write("shop/web/.dockerignore", "node_modules\n*.log\n");
write("shop/web/node_modules/x/index.js", "x\n");
write("shop/web/debug.log", "noise\n");

/**
 * The inputs of every resource made under Pulumi's mocks, by name (set once for the file: setting
 * them again forgets the resources made before, whose outputs may still be on their way).
 */
const mockedInputs: Record<string, Record<string, unknown>> = {};
let mocked: Promise<void> | undefined;
const mockedResources = async (): Promise<Record<string, Record<string, unknown>>> => {
    mocked ??= pulumi.runtime.setMocks({
        async newResource({ name, inputs: given }) {
            mockedInputs[name] = given;
            return { id: `${name}-id`, state: { ...given, stdout: "10.0.0.2:5000/categorisation/secret/web:abc" } };
        },
        call: ({ inputs: given }) => given,
    }, "swarm", "test", false);
    await mocked;
    return mockedInputs;
};

const io = localComposeIo();
const load = (stacks: Record<string, StackSettings>, hasRegistry = true) => loadComposeStacks(stacks, dir, io, hasRegistry);
const problemsOf = (stacks: Record<string, StackSettings>, hasRegistry = true): string[] => {
    try {
        load(stacks, hasRegistry);
    } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.problems;
    }
    assert.fail("expected a ConfigError");
};

test("a stack's file is read, normalised by the Docker CLI, and its build context hashed as Docker sends it", () => {
    const [shop] = load({ shop: { file: "shop/compose.yaml", replicas: { web: 3 } } });
    assert.equal(shop.name, "shop");
    assert.equal(shop.file, path.join(dir, "shop/compose.yaml"));
    assert.deepEqual(Object.keys(shop.builds), ["web"]);
    const web = shop.builds.web;
    assert.equal(web.context, path.join(dir, "shop/web"));
    assert.equal(web.dockerfile, "Dockerfile");
    assert.deepEqual(web.buildArgs, { GREETING: "hello" });
    // .dockerignore'd files do not version the image.
    assert.deepEqual(web.inputs, [".dockerignore", "Dockerfile", "app.js"]);
    // The env file is read here: the manager does not have it.
    const services = shop.project.services as Record<string, { environment?: Record<string, string> }>;
    assert.deepEqual(services.web.environment, { MODE: "test" });
});

test("rendering: built services name their pushed image, config replicas win, no env_file", () => {
    const [shop] = load({ shop: { file: "shop/compose.yaml", replicas: { web: 3 } } });
    const compose = parse(renderStackCompose(shop, { images: { web: "10.0.0.1:5000/categorisation/shop/web:abc" }, endpointMode: "vip" }));
    assert.equal(compose.version, "3.8");
    assert.equal(compose.services.web.image, "10.0.0.1:5000/categorisation/shop/web:abc");
    assert.equal(compose.services.web.build, undefined);
    assert.equal(compose.services.web.env_file, undefined);
    assert.equal(compose.services.web.deploy.replicas, 3);
    assert.equal(compose.services.web.ports[0].mode, "ingress");
    assert.equal(compose.services.cache.image, "shop-cache:1");
    assert.deepEqual(describeStackServices(shop, { web: "ref" }), { web: { image: "ref", replicas: 3 }, cache: { image: "shop-cache:1" } });
    // The stack's own volumes are marked to go with a machine that leaves the swarm; external ones are not its own.
    assert.deepEqual(compose.volumes["cache-data"].labels, { tier: "cache", [stackDataLabel]: "true" });
    assert.equal(compose.volumes.shared.labels, undefined);
    // Every task's log rotates, unless the service says how it logs.
    for (const name of ["web", "cache"]) assert.deepEqual(compose.services[name].logging, { driver: "json-file", options: { "max-size": "10m", "max-file": "3" } }, name);
    const ownLogging = { ...shop, project: { ...shop.project, services: { ...(shop.project.services as object), cache: { image: "shop-cache:1", logging: { driver: "local" } } } } };
    assert.deepEqual(parse(renderStackCompose(ownLogging, { images: { web: "ref" }, endpointMode: "vip" })).services.cache.logging, { driver: "local" });
});

test("rendering for kernels without IPVS: DNS round-robin and ports published on the machines", () => {
    const [shop] = load({ shop: { file: "shop/compose.yaml", replicas: {} } });
    const compose = parse(renderStackCompose(shop, { images: { web: "ref" }, endpointMode: "dnsrr" }));
    for (const service of Object.values(compose.services) as { deploy: { endpoint_mode: string } }[]) assert.equal(service.deploy.endpoint_mode, "dnsrr");
    assert.deepEqual(compose.services.web.ports, [{ mode: "host", target: 8000, published: 8000, protocol: "tcp" }]);
    assert.equal(compose.services.web.deploy.replicas, 2);
});

test("a replica edit changes only that service's count in the rendered file", () => {
    const render = (replicas: Record<string, number>) => renderStackCompose(load({ shop: { file: "shop/compose.yaml", replicas } })[0], { images: { web: "ref" }, endpointMode: "vip" });
    const before = render({ web: 2 }).split("\n");
    const after = render({ web: 5 }).split("\n");
    const changed = before.filter((line, i) => line !== after[i]);
    assert.deepEqual(changed.map((l) => l.trim()), ["replicas: 2"]);
});

test("bad input: each error names the stack, the file and the key", () => {
    write("bad/syntax.yaml", "services:\n  web:\n    image: [unclosed\n");
    write("bad/spec.yaml", "services:\n  web:\n    image: a\n    deploy: { replicas: many }\n");
    write("bad/none.yaml", "services:\n  web:\n    environment: { A: b }\n");
    write("bad/config-file.yaml", "services:\n  web:\n    image: a\n    configs: [c]\n    secrets: [s]\nconfigs:\n  c:\n    file: ./c.txt\nsecrets:\n  s:\n    file: ./big.txt\n");
    write("bad/big.txt", "x".repeat(500 * 1024 + 1));
    const file = (relative: string) => path.join(dir, relative);
    const [missing] = problemsOf({ gone: { file: "nowhere/compose.yaml", replicas: {} } });
    assert.equal(missing, `stacks.gone: ${file("nowhere/compose.yaml")}: cannot read the file: it does not exist`);
    const [syntax] = problemsOf({ syntax: { file: "bad/syntax.yaml", replicas: {} } });
    assert.match(syntax, new RegExp(`^stacks\\.syntax: ${file("bad/syntax.yaml")}: not valid YAML: .*at line \\d+, column \\d+$`));
    const [spec] = problemsOf({ spec: { file: "bad/spec.yaml", replicas: {} } });
    assert.match(spec, new RegExp(`^stacks\\.spec: ${file("bad/spec.yaml")}: breaks the Compose specification: services\\.web\\.deploy\\.replicas must be a integer`));
    const [none] = problemsOf({ none: { file: "bad/none.yaml", replicas: {} } });
    assert.match(none, /^stacks\.none: .*none\.yaml: services\.web: needs an image or a build section$/);
    const [configFile, bigFile] = problemsOf({ cf: { file: "bad/config-file.yaml", replicas: {} } });
    assert.equal(configFile, `stacks.cf: ${file("bad/config-file.yaml")}: configs.c.file: cannot read ${file("bad/c.txt")}: it does not exist`);
    assert.equal(bigFile, `stacks.cf: ${file("bad/config-file.yaml")}: secrets.s.file: ${file("bad/big.txt")} has 512001 bytes; a swarm secret holds at most 512000`);
    const [unknown] = problemsOf({ shop: { file: file("shop/compose.yaml"), replicas: { webb: 2 } } });
    assert.equal(unknown, `stacks.shop.replicas.webb: ${file("shop/compose.yaml")} has no such service; valid services: cache, web`);
    const [global] = problemsOf({ shop: { file: "shop/compose.yaml", replicas: { cache: 2 } } });
    assert.match(global, /^stacks\.shop\.replicas\.cache: the service runs in global mode/);
    const [noRegistry] = problemsOf({ shop: { file: "shop/compose.yaml", replicas: {} } }, false);
    assert.match(noRegistry, /^stacks\.shop: .*compose\.yaml: services web have a build section, and there is no registry to push them to: set registry\.address$/);
    // Every stack's problems at once.
    assert.equal(problemsOf({ a: { file: "bad/spec.yaml", replicas: {} }, b: { file: "bad/none.yaml", replicas: {} } }).length, 2);
});

test("configs and secrets from files: read here, shipped as swarm objects named after their content, the secret's content only as a secret", async () => {
    const marker = "secret-file-c0ntent";
    write("monitor/compose.yaml", "services:\n  prometheus:\n    image: prom\n    configs: [{ source: rules, target: /etc/rules.yml }, own]\n    secrets: [password]\nconfigs:\n  rules:\n    file: ./rules.yml\n  own:\n    external: true\nsecrets:\n  password:\n    file: ./password.txt\n");
    write("monitor/rules.yml", "groups: []\n");
    write("monitor/password.txt", marker);
    const [spec] = load({ monitor: { file: "monitor/compose.yaml", replicas: {} } });
    assert.deepEqual(spec.configs, { rules: "groups: []\n" });
    assert.deepEqual(spec.secrets, ["password"]);
    assert.doesNotMatch(JSON.stringify(spec), new RegExp(marker), "the secret's content is read when deployed, not kept in the stack");
    const compose = parse(renderStackCompose(spec, { images: {}, endpointMode: "vip", secrets: { password: "monitor_password_0123456789ab" } }));
    assert.deepEqual(compose.configs, { rules: { external: true, name: swarmObjectName("monitor", "rules", "groups: []\n") }, own: { external: true, name: "own" } });
    assert.deepEqual(compose.secrets, { password: { external: true, name: "monitor_password_0123456789ab" } });

    const inputs = await mockedResources();
    const stack = new ComposeStack("stack-monitor", {
        connection: { host: "10.0.0.2", user: "root", privateKey: "KEY" },
        stack: spec,
        repository: "categorisation",
        baseImage: "debian:bookworm-slim",
        endpointMode: "vip",
        swarmId: "swarm-1",
        secrets: ownStackSecrets(spec),
    });
    await new Promise((resolve) => stack.services.apply(resolve));
    const isSecret = (v: unknown): v is { value: string } => isObject(v) && v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
    assert.equal(inputs["stack-monitor-rules"].stdin, "groups: []\n");
    const secret = inputs["stack-monitor-password"];
    assert.ok(isSecret(secret.stdin) && secret.stdin.value === marker, "the secret goes to the swarm on stdin, as a secret");
    const shown = (v: unknown): unknown => (isSecret(v) ? "[secret]" : Array.isArray(v) ? v.map(shown) : isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shown(x)])) : v);
    assert.doesNotMatch(JSON.stringify(shown(inputs)), new RegExp(marker));
});

test("config: stacks are a map of name to {file, replicas}; the built-in stack's name is taken", () => {
    const problemsOfConfig = (stacks: unknown): string[] => {
        try {
            validateConfig({ stacks });
        } catch (err) {
            assert.ok(err instanceof ConfigError);
            return err.problems;
        }
        return [];
    };
    assert.deepEqual(validateConfig({ stacks: { shop: { file: "shop.yaml", replicas: { web: "2" } } } }).stacks, { shop: { file: "shop.yaml", replicas: { web: 2 } } });
    assert.deepEqual(validateConfig({}).stacks, {});
    assert.deepEqual(problemsOfConfig({ categorisation: { file: "x.yaml" } }), ["stacks.categorisation: clashes with the built-in stack \"categorisation\" (stackName); choose another name"]);
    assert.deepEqual(problemsOfConfig({ Shop: { file: "x.yaml" } }), ["stacks.Shop: \"Shop\" is not a Docker stack name (lower-case letters, digits, '-' and '_', at most 40)"]);
    assert.deepEqual(problemsOfConfig({ shop: { file: "" } }), ["stacks.shop.file: \"\" is not a path to a Compose file"]);
    assert.deepEqual(problemsOfConfig({ shop: {} }), ["stacks.shop.file: required: the path to the stack's Compose file"]);
    assert.deepEqual(problemsOfConfig({ shop: { file: "x.yaml", replica: {} } }), ["stacks.shop.replica: unknown key; allowed: file, replicas"]);
    assert.deepEqual(problemsOfConfig({ shop: { file: "x.yaml", replicas: { web: -1 } } }), ["stacks.shop.replicas.web: -1 is not an integer >= 0"]);
    assert.deepEqual(problemsOfConfig(["shop"]), ["stacks: [\"shop\"] is not a map of stack name to {file, replicas}"]);
});

test("what a stack interpolates reaches the state only as secrets: the rendered Compose text and the build args", async () => {
    // A value from this machine's environment and one from an env file.
    const marker = "interpolated-5ecret-value";
    write("secret/compose.yaml", "services:\n  web:\n    build: { context: ./web, args: { TOKEN: \"${SHOP_TOKEN}\" } }\n    environment: { TOKEN: \"${SHOP_TOKEN}\" }\n    env_file: web.env\n");
    write("secret/web.env", `FROM_FILE=${marker}-file\n`);
    write("secret/web/Dockerfile", "FROM scratch\n");
    process.env.SHOP_TOKEN = marker;
    const [spec] = load({ secret: { file: "secret/compose.yaml", replicas: {} } });
    delete process.env.SHOP_TOKEN;

    const inputs = await mockedResources();
    const stack = new ComposeStack("stack-secret", {
        connection: { host: "10.0.0.2", user: "root", privateKey: "KEY" },
        stack: spec,
        registry: { push: "127.0.0.1:5000", pull: "10.0.0.2:5000", instance: "registry-1" },
        repository: "categorisation",
        baseImage: "debian:bookworm-slim",
        endpointMode: "vip",
        swarmId: "swarm-1",
    });
    await new Promise((resolve) => stack.services.apply(resolve));

    // Mocks see a secret input as {sig: secretSig, value}.
    const isSecret = (v: unknown): v is { value: string } => isObject(v) && v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
    const deploy = inputs["stack-secret-deploy"];
    assert.ok(isSecret(deploy.stdin), "the rendered Compose text is a secret");
    assert.equal(parse(deploy.stdin.value).services.web.environment.TOKEN, marker);
    assert.equal(parse(deploy.stdin.value).services.web.environment.FROM_FILE, `${marker}-file`);
    const image = inputs["stack-secret-images-web"];
    assert.ok(isSecret(image.create), "the build script, with its build args, is a secret");
    assert.match(image.create.value, new RegExp(`'--build-arg' 'TOKEN=${marker}'`));
    // Nothing else carries the values: what the state and `preview --diff` show of the inputs.
    const shown = (v: unknown): unknown => (isSecret(v) ? "[secret]" : Array.isArray(v) ? v.map(shown) : isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shown(x)])) : v);
    assert.doesNotMatch(JSON.stringify(shown(inputs)), new RegExp(marker));
});
