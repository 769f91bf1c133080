import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { swarmObjectName, describeStackServices, renderStackCompose, StackRenderOptions, StackSpec } from "../../components/stack/compose";
import { CategorisationSettings, categorisationStack, scalableServices } from "../../stacks/categorisation";

const taxonomy = "Unique ID\tParent\tName\n1\t\tHealth\n";
const pipeline = (settings: Partial<CategorisationSettings> = {}): StackSpec =>
    categorisationStack({ stackName: "categorisation", managers: 1, replicas: {}, taxonomy, encryptNetwork: false, projectDir: "/project", gateway: { rateLimit: 1000, allowedOrigins: [] }, ...settings });
const categorisation = pipeline();
const replicated = pipeline({ managers: 3 });
const secrets = { "gateway-tls": "categorisation_gateway-tls_1", "auth-tokens": "categorisation_auth-tokens_1" };
const images = Object.fromEntries(Object.keys(categorisation.builds).map((k) => [k, `10.0.0.2:5000/categorisation/${k}:abc`]));
type Overrides = Partial<StackRenderOptions> & Partial<CategorisationSettings>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const render = ({ endpointMode = "vip", ...settings }: Overrides = {}, managers = 1): any =>
    parse(renderStackCompose(pipeline({ managers, ...settings }), { images, endpointMode, secrets }));
const servicesOf = (stack: StackSpec) => stack.project.services as Record<string, Record<string, unknown>>;

test("the stack has the pipeline's services, each with an image that is built", () => {
    assert.deepEqual(Object.keys(servicesOf(categorisation)), ["nats", "redis", "collector", "categoriser", "profile-writer", "profile-api", "gateway"]);
    for (const stack of [categorisation, replicated]) {
        for (const name of Object.keys(servicesOf(stack))) assert.ok(stack.builds[stack.builtImages[name]], name);
    }
    for (const name of scalableServices) assert.ok(servicesOf(categorisation)[name] && servicesOf(replicated)[name], name);
    // Build contexts are the project's folders.
    assert.equal(categorisation.builds.pipeline.context, "/project/services");
});

test("replica counts: the definition's defaults, overridden by config", () => {
    const compose = render({ replicas: { categoriser: 5, collector: 0 } });
    assert.equal(compose.services.categoriser.deploy.replicas, 5);
    assert.equal(compose.services.collector.deploy.replicas, 0);
    assert.equal(compose.services["profile-writer"].deploy.replicas, 2);
    assert.equal(describeStackServices(categorisation, images).categoriser.replicas, 2);
});

test("the stateless tier: two replicas of each role by default, spread one per machine first", () => {
    for (const name of scalableServices) {
        const service = render().services[name];
        assert.equal(service.deploy.replicas, 2, name);
        assert.deepEqual(service.deploy.placement, { preferences: [{ spread: "node.labels.swarm.node" }] }, name);
        assert.equal(service.deploy.update_config.order, "start-first");
        assert.equal(service.deploy.update_config.failure_action, "rollback");
    }
});

test("the gateway runs on every edge node (every manager), its port published there in host mode", () => {
    for (const endpointMode of ["vip", "dnsrr"] as const) {
        const compose = render({ endpointMode });
        for (const service of Object.values(compose.services) as { deploy: { endpoint_mode: string } }[]) assert.equal(service.deploy.endpoint_mode, endpointMode);
        assert.equal(compose.services.gateway.deploy.mode, "global");
        assert.equal(compose.services.gateway.deploy.replicas, undefined);
        assert.deepEqual(compose.services.gateway.deploy.placement, { constraints: ["node.labels.swarm.edge == true"] });
        assert.deepEqual(compose.services.gateway.ports, [{ target: 8080, published: 8080, protocol: "tcp", mode: "host" }]);
        assert.equal(compose.services.gateway.deploy.update_config.order, "stop-first");
    }
    const described = describeStackServices(pipeline({ managers: 3, replicas: { collector: 4 } }), images, 3);
    assert.equal(described.gateway.replicas, 3);
    assert.equal(described.collector.replicas, 4);
    assert.equal(described.collector.image, "10.0.0.2:5000/categorisation/pipeline:abc");
});

test("the gateway gets its rate limit from config, and its task's health check does not depend on the collectors", () => {
    const gateway = render({ gateway: { rateLimit: 25, allowedOrigins: ["https://shop.example"] } }).services.gateway;
    assert.deepEqual(gateway.environment, { RATE_LIMIT: "25" });
    assert.deepEqual(gateway.healthcheck.test, ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8081/gateway/alive"]);
    assert.equal(render({ gateway: { rateLimit: 25, allowedOrigins: ["https://shop.example"] } }).services.collector.environment.ALLOWED_ORIGINS, "https://shop.example");
    assert.equal(render().services.collector.environment.ALLOWED_ORIGINS, undefined);
});

test("TLS and tokens: the gateway mounts its certificate, the roles that answer it the token hashes; both are external swarm secrets", () => {
    const compose = render();
    assert.deepEqual(compose.secrets, { "gateway-tls": { external: true, name: secrets["gateway-tls"] }, "auth-tokens": { external: true, name: secrets["auth-tokens"] } });
    assert.deepEqual(compose.services.gateway.secrets, [{ source: "gateway-tls", target: "gateway.pem" }]);
    for (const name of ["collector", "profile-api"]) {
        assert.deepEqual(compose.services[name].secrets, [{ source: "auth-tokens", target: "auth-tokens" }], name);
        assert.equal(compose.services[name].environment.AUTH_TOKENS_FILE, "/run/secrets/auth-tokens", name);
    }
    for (const name of ["categoriser", "profile-writer", "nats", "redis"]) assert.equal(compose.services[name].secrets, undefined, name);
    assert.throws(() => renderStackCompose(categorisation, { images, endpointMode: "vip" }), /no swarm secret for gateway-tls, auth-tokens/);
});

test("one manager: one NATS and one Redis, pinned to manager 0, with a volume, stopped before their successor starts", () => {
    const compose = render();
    for (const name of ["nats", "redis"]) {
        assert.deepEqual(compose.services[name].deploy.placement, { constraints: ["node.labels.swarm.manager-index == 0"] });
        assert.equal(compose.services[name].deploy.update_config.order, "stop-first");
        assert.deepEqual(compose.services[name].volumes, [`${name}-data:/data`]);
    }
    assert.deepEqual(Object.keys(compose.volumes).sort(), ["nats-data", "redis-data"]);
    // They go with a machine that leaves the swarm.
    assert.deepEqual(compose.volumes["redis-data"], { labels: { "swarm.stack-data": "true" } });
    assert.equal(compose.services.collector.environment.NATS_URL, "nats://nats:4222");
    assert.equal(compose.services.collector.environment.REDIS_SENTINELS, undefined);
});

test("three managers: a NATS cluster, Redis with replicas and Sentinels, one of each per manager", () => {
    const compose = render({}, 3);
    assert.deepEqual(Object.keys(compose.services).sort(), [
        "categoriser", "collector", "gateway", "nats-1", "nats-2", "nats-3", "profile-api", "profile-writer",
        "redis-1", "redis-2", "redis-3", "sentinel-1", "sentinel-2", "sentinel-3",
    ]);
    for (const slot of [1, 2, 3]) {
        for (const store of ["nats", "redis", "sentinel"]) {
            const service = compose.services[`${store}-${slot}`];
            assert.deepEqual(service.deploy.placement, { constraints: [`node.labels.swarm.manager-index == ${slot - 1}`] });
            assert.equal(service.deploy.replicas, 1);
            assert.equal(service.deploy.update_config.order, "stop-first");
        }
        assert.deepEqual(compose.services[`nats-${slot}`].command.slice(0, 2), ["--name", `nats-${slot}`]);
        assert.equal(compose.services[`nats-${slot}`].command.at(-1), "nats://nats-1:6222,nats://nats-2:6222,nats://nats-3:6222");
        assert.deepEqual(compose.services[`redis-${slot}`].environment, { REDIS_ANNOUNCE: `redis-${slot}`, REDIS_PRIMARY: "redis-1" });
    }
    // Redis slot 1 keeps the single layout's volume: going from 1 to 3 managers keeps the profiles.
    assert.deepEqual(compose.services["redis-1"].volumes, ["redis-data:/data"]);
    assert.deepEqual(compose.services["redis-2"].volumes, ["redis-2-data:/data"]);
    assert.deepEqual(compose.services["nats-1"].volumes, ["nats-1-data:/data"]);
    const env = compose.services["profile-writer"].environment;
    assert.equal(env.NATS_URL, "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222");
    assert.equal(env.STREAM_REPLICAS, "3");
    assert.equal(env.REDIS_SENTINELS, "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379");
    assert.equal(env.REDIS_MIN_REPLICAS_ACK, "1");
    assert.equal(servicesOf(pipeline({ managers: 5 }))["nats-3"] !== undefined, true);
});

test("the taxonomy is an external swarm config, named after its content, mounted where the services read it", () => {
    const compose = render();
    assert.deepEqual(compose.configs, { taxonomy: { external: true, name: swarmObjectName("categorisation", "taxonomy", taxonomy) } });
    assert.match(swarmObjectName("categorisation", "taxonomy", taxonomy), /^categorisation_taxonomy_[0-9a-f]{12}$/);
    assert.notEqual(swarmObjectName("categorisation", "taxonomy", taxonomy), swarmObjectName("categorisation", "taxonomy", `${taxonomy}2\t1\tMental Health\n`));
    for (const name of ["categoriser", "profile-writer", "profile-api"]) {
        assert.deepEqual(compose.services[name].configs, [{ source: "taxonomy", target: "/etc/categorisation/taxonomy.tsv" }]);
        assert.equal(compose.services[name].environment.TAXONOMY_FILE, "/etc/categorisation/taxonomy.tsv");
    }
});

test("health checks, images and commands come from the definition", () => {
    const compose = render();
    assert.equal(compose.services.categoriser.image, "10.0.0.2:5000/categorisation/pipeline:abc");
    assert.deepEqual(compose.services.categoriser.command, ["categoriser"]);
    assert.deepEqual(compose.services.redis.healthcheck.test, ["CMD", "redis-cli", "-p", "6379", "ping"]);
    assert.equal(compose.services.redis.healthcheck.start_period, "30s");
    assert.equal(compose.services.collector.stop_grace_period, "20s");
});

test("the overlay network is encrypted on request", () => {
    assert.deepEqual(render().networks, { pipeline: { driver: "overlay" } });
    assert.deepEqual(render({ encryptNetwork: true }).networks, { pipeline: { driver: "overlay", driver_opts: { encrypted: "" } } });
});

test("a missing image reference is an error", () => {
    assert.throws(() => renderStackCompose(categorisation, { images: {}, endpointMode: "vip", secrets }), /no image reference/);
});

