import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { describeServices, effectiveReplicas, RenderOptions, renderCompose } from "../../components/stack/compose";
import { categorisation, serviceNames } from "../../stacks/categorisation";

const images = Object.fromEntries(Object.keys(categorisation.images).map((k) => [k, `10.0.0.2:5000/categorisation/${k}:abc`]));
const options = (overrides: Partial<RenderOptions> = {}): RenderOptions => ({
    images,
    replicas: {},
    endpointMode: "vip",
    taxonomyConfig: "categorisation_taxonomy_123",
    ...overrides,
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const render = (overrides: Partial<RenderOptions> = {}): any => parse(renderCompose(categorisation, options(overrides)));

test("the stack has the pipeline's services, each with an image that is built", () => {
    assert.deepEqual(serviceNames, ["nats", "redis", "collector", "categoriser", "profile-writer", "profile-api", "gateway"]);
    for (const service of Object.values(categorisation.services)) assert.ok(categorisation.images[service.image], service.image);
});

test("replica counts: the definition's defaults, overridden by config", () => {
    const compose = render({ replicas: { categoriser: 5, collector: 0 } });
    assert.equal(compose.services.categoriser.deploy.replicas, 5);
    assert.equal(compose.services.collector.deploy.replicas, 0);
    assert.equal(compose.services["profile-writer"].deploy.replicas, 1);
    assert.equal(effectiveReplicas(categorisation, {}).categoriser, 2);
});

test("with IPVS: virtual IPs, the gateway replicated and published through the routing mesh", () => {
    const compose = render();
    for (const service of Object.values(compose.services) as { deploy: { endpoint_mode: string } }[]) assert.equal(service.deploy.endpoint_mode, "vip");
    assert.equal(compose.services.gateway.deploy.mode, "replicated");
    assert.deepEqual(compose.services.gateway.ports, [{ target: 8080, published: 8080, protocol: "tcp", mode: "ingress" }]);
    assert.equal(compose.services.gateway.deploy.placement, undefined);
});

test("without IPVS: DNS round-robin, and the gateway in host mode on the edge node", () => {
    const compose = render({ endpointMode: "dnsrr" });
    for (const service of Object.values(compose.services) as { deploy: { endpoint_mode: string } }[]) assert.equal(service.deploy.endpoint_mode, "dnsrr");
    assert.equal(compose.services.gateway.deploy.mode, "global");
    assert.equal(compose.services.gateway.deploy.replicas, undefined);
    assert.deepEqual(compose.services.gateway.deploy.placement.constraints, ["node.labels.swarm.edge == true"]);
    assert.equal(compose.services.gateway.ports[0].mode, "host");
    assert.equal(describeServices(categorisation, options({ endpointMode: "dnsrr", replicas: { gateway: 3 } })).gateway.replicas, 1);
});

test("stateful services are pinned by node label, keep a volume and stop before their successor starts", () => {
    const compose = render();
    for (const name of ["nats", "redis"]) {
        assert.deepEqual(compose.services[name].deploy.placement.constraints, ["node.labels.swarm.data == true"]);
        assert.equal(compose.services[name].deploy.update_config.order, "stop-first");
        assert.deepEqual(compose.services[name].volumes, [`${name}-data:/data`]);
    }
    assert.equal(compose.services.categoriser.deploy.update_config.order, "start-first");
    assert.equal(compose.services.categoriser.deploy.update_config.failure_action, "rollback");
    assert.deepEqual(Object.keys(compose.volumes).sort(), ["nats-data", "redis-data"]);
});

test("the taxonomy is an external swarm config mounted where the services read it", () => {
    const compose = render();
    assert.deepEqual(compose.configs, { taxonomy: { external: true, name: "categorisation_taxonomy_123" } });
    for (const name of ["categoriser", "profile-writer", "profile-api"]) {
        assert.deepEqual(compose.services[name].configs, [{ source: "taxonomy", target: "/etc/categorisation/taxonomy.tsv" }]);
        assert.equal(compose.services[name].environment.TAXONOMY_FILE, "/etc/categorisation/taxonomy.tsv");
    }
});

test("health checks, images and commands come from the definition", () => {
    const compose = render();
    assert.equal(compose.services.categoriser.image, "10.0.0.2:5000/categorisation/pipeline:abc");
    assert.deepEqual(compose.services.categoriser.command, ["categoriser"]);
    assert.deepEqual(compose.services.redis.healthcheck.test, ["CMD", "redis-cli", "ping"]);
    assert.equal(compose.services.redis.healthcheck.start_period, "5s");
});

test("the overlay network is encrypted on request", () => {
    assert.deepEqual(render().networks, { pipeline: { driver: "overlay" } });
    assert.deepEqual(render({ encryptNetwork: true }).networks, { pipeline: { driver: "overlay", driver_opts: { encrypted: "" } } });
});

test("a missing image reference is an error", () => {
    assert.throws(() => renderCompose(categorisation, options({ images: {} })), /no image reference/);
});

