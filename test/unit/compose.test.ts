import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { swarmObjectName, describeStackServices, renderStackCompose, StackRenderOptions, StackSpec } from "../../components/stack/compose";
import { privacyDefaults, storeDefaults } from "../../components/pipeline/config";
import { CategorisationSettings, categorisationStack, pipelineSecrets, scalableServices } from "../../stacks/categorisation";
import { alertRules, prometheusConfig } from "../../stacks/monitoring";

const taxonomy = "Unique ID\tParent\tName\n1\t\tHealth\n";
const pipeline = (settings: Partial<CategorisationSettings> = {}): StackSpec =>
    categorisationStack({ stackName: "categorisation", managers: 1, replicas: {}, taxonomy, encryptNetwork: false, projectDir: "/project", gateway: { rateLimit: 1000, allowedOrigins: [] }, privacy: privacyDefaults, store: storeDefaults, monitoring: false, ...settings });
const categorisation = pipeline();
const replicated = pipeline({ managers: 3 });
const secrets = Object.fromEntries(Object.values(pipelineSecrets).map((key) => [key, `categorisation_${key}_1`]));
const images = Object.fromEntries(Object.keys(categorisation.builds).map((k) => [k, `10.0.0.2:5000/categorisation/${k}:abc`]));
type Overrides = Partial<StackRenderOptions> & Partial<CategorisationSettings>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const render = ({ endpointMode = "vip", ...settings }: Overrides = {}, managers = 1): any =>
    parse(renderStackCompose(pipeline({ managers, ...settings }), { images, endpointMode, secrets }));
const servicesOf = (stack: StackSpec) => stack.project.services as Record<string, Record<string, unknown>>;

test("the stack has the pipeline's services, each with an image that is built", () => {
    assert.deepEqual(Object.keys(servicesOf(categorisation)), ["nats", "redis", "collector", "categoriser", "profile-writer", "profile-api", "gateway", "edge"]);
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

test("the edge and the gateway run on every edge node (every manager): the edge owns the port (host mode), the gateway is replaced start-first and shares a socket with it", () => {
    for (const endpointMode of ["vip", "dnsrr"] as const) {
        const compose = render({ endpointMode });
        for (const service of Object.values(compose.services) as { deploy: { endpoint_mode: string } }[]) assert.equal(service.deploy.endpoint_mode, endpointMode);
        for (const name of ["edge", "gateway"]) {
            assert.equal(compose.services[name].deploy.mode, "global", name);
            assert.equal(compose.services[name].deploy.replicas, undefined, name);
            assert.deepEqual(compose.services[name].deploy.placement, { constraints: ["node.labels.swarm.edge == true"] }, name);
        }
        assert.deepEqual(compose.services.edge.ports, [{ target: 8080, published: 8080, protocol: "tcp", mode: "host" }]);
        assert.equal(compose.services.edge.deploy.update_config.order, "stop-first");
        assert.equal(compose.services.gateway.ports, undefined);
        assert.equal(compose.services.gateway.deploy.update_config.order, "start-first");
        // The edge reaches the gateway on its own machine through a socket on a volume they share,
        // which holds no state: the gateway is still replaced start-first.
        for (const name of ["edge", "gateway"]) assert.deepEqual(compose.services[name].volumes, ["gateway-socket:/run/gateway"], name);
    }
    // The edge has neither the certificate nor a setting from config: nothing but a new edge image restarts it.
    assert.deepEqual([render().services.edge.secrets, render().services.edge.environment], [undefined, undefined]);
    assert.deepEqual(render({ gateway: { rateLimit: 5, allowedOrigins: [] } }).services.edge, render().services.edge);
    const described = describeStackServices(pipeline({ managers: 3, replicas: { collector: 4 } }), images, 3);
    assert.equal(described.gateway.replicas, 3);
    assert.equal(described.edge.replicas, 3);
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

test("TLS and tokens: the gateway mounts its certificate, the roles that answer it the token hashes; all secrets are external swarm secrets", () => {
    const compose = render();
    assert.deepEqual(compose.secrets, Object.fromEntries(Object.entries(secrets).map(([key, name]) => [key, { external: true, name }])));
    assert.deepEqual(compose.services.gateway.secrets, [{ source: "gateway-tls", target: "gateway.pem" }]);
    for (const name of ["collector", "profile-api"]) {
        assert.ok(compose.services[name].secrets.some((s: { source: string }) => s.source === "auth-tokens"), name);
        assert.equal(compose.services[name].environment.AUTH_TOKENS_FILE, "/run/secrets/auth-tokens", name);
    }
    for (const name of ["categoriser", "profile-writer"]) assert.equal(compose.services[name].environment.AUTH_TOKENS_FILE, undefined, name);
    assert.throws(() => renderStackCompose(categorisation, { images, endpointMode: "vip" }), /no swarm secret for gateway-tls, auth-tokens/);
});

test("credentials: each server and role gets the passwords of the stores it uses, as files of swarm secrets, and nothing more", () => {
    const secretsOf = (service: { secrets?: Array<{ source: string }> }) => (service.secrets ?? []).map((s) => s.source).sort();
    for (const managers of [1, 3]) {
        const compose = render({}, managers);
        const services = compose.services;
        assert.deepEqual(secretsOf(services.collector), ["auth-tokens", "stream-password"]);
        assert.deepEqual(secretsOf(services.categoriser), ["stream-password"]);
        assert.deepEqual(secretsOf(services["profile-writer"]), ["store-key", "store-password", "stream-password"]);
        assert.deepEqual(secretsOf(services["profile-api"]), ["auth-tokens", "store-key", "store-password", "stream-password"]);
        const stores = Object.keys(services).filter((name) => /^(nats|redis|sentinel)/.test(name));
        for (const name of stores) {
            const [password, file] = name.startsWith("nats") ? ["stream-password", "NATS_PASSWORD_FILE"] : ["store-password", "REDIS_PASSWORD_FILE"];
            assert.deepEqual(secretsOf(services[name]), [password], name);
            assert.equal(services[name].environment[file], `/run/secrets/${password}`, name);
        }
        for (const [name, service] of Object.entries(services) as Array<[string, { environment?: Record<string, string> }]>) {
            // Files, never the values: the environment is in the service's spec for anyone to read.
            for (const [key, value] of Object.entries(service.environment ?? {})) if (/PASSWORD|KEY/.test(key)) assert.match(value, /^\/run\/secrets\//, `${name} ${key}`);
        }
    }
});

test("privacy and the store's bound reach the roles and Redis: retention, sensitive nodes, maxmemory under a container limit twice as high", () => {
    const tax = "Unique ID\tParent\tName\nP1\t\tPolitics\nS1\t\tSports\n";
    const compose = render({ taxonomy: tax, privacy: { retentionSeconds: 60, sensitive: ["Politics", "S1"] }, store: { maxMemoryBytes: 64 * 1024 * 1024 } });
    for (const name of ["profile-writer", "profile-api"]) assert.equal(compose.services[name].environment.RETENTION_SECONDS, "60", name);
    assert.equal(compose.services["profile-writer"].environment.SENSITIVE_NODES, "Politics,S1");
    assert.equal(compose.services.redis.environment.REDIS_MAXMEMORY, String(64 * 1024 * 1024));
    assert.equal(compose.services.redis.deploy.resources.limits.memory, "128M");
    for (const slot of [1, 2, 3]) assert.equal(render({ store: { maxMemoryBytes: 256 * 1024 * 1024 } }, 3).services[`redis-${slot}`].deploy.resources.limits.memory, "512M");
    // The default (Politics) is left out for a taxonomy without it; a node you name must exist.
    assert.equal(render().services["profile-writer"].environment.SENSITIVE_NODES, undefined);
    assert.throws(() => pipeline({ privacy: { retentionSeconds: 60, sensitive: ["Gambling"] } }), /privacy.sensitive: "Gambling" names no node of the taxonomy/);
});

test("one manager: one NATS and one Redis, pinned to manager 0, with a volume, stopped before their successor starts", () => {
    const compose = render();
    for (const name of ["nats", "redis"]) {
        assert.deepEqual(compose.services[name].deploy.placement, { constraints: ["node.labels.swarm.manager-index == 0"] });
        assert.equal(compose.services[name].deploy.update_config.order, "stop-first");
        assert.deepEqual(compose.services[name].volumes, [`${name}-data:/data`]);
    }
    assert.deepEqual(Object.keys(compose.volumes).sort(), ["gateway-socket", "nats-data", "redis-data"]);
    // They go with a machine that leaves the swarm.
    assert.deepEqual(compose.volumes["redis-data"], { labels: { "swarm.stack-data": "true" } });
    assert.equal(compose.services.collector.environment.NATS_URL, "nats://nats:4222");
    assert.equal(compose.services.collector.environment.REDIS_SENTINELS, undefined);
});

test("three managers: a NATS cluster, Redis with replicas and Sentinels, one of each per manager", () => {
    const compose = render({}, 3);
    assert.deepEqual(Object.keys(compose.services).sort(), [
        "categoriser", "collector", "edge", "gateway", "nats-1", "nats-2", "nats-3", "profile-api", "profile-writer",
        "redis-1", "redis-2", "redis-3", "sentinel-1", "sentinel-2", "sentinel-3",
    ]);
    for (const slot of [1, 2, 3]) {
        for (const store of ["nats", "redis", "sentinel"]) {
            const service = compose.services[`${store}-${slot}`];
            assert.deepEqual(service.deploy.placement, { constraints: [`node.labels.swarm.manager-index == ${slot - 1}`] });
            assert.equal(service.deploy.replicas, 1);
            assert.equal(service.deploy.update_config.order, "stop-first");
        }
        // The cluster's settings as environment: nats-node writes them, with the routes' password, into the server's config.
        assert.equal(compose.services[`nats-${slot}`].command, undefined);
        assert.deepEqual(compose.services[`nats-${slot}`].environment, { NATS_PASSWORD_FILE: "/run/secrets/stream-password", NATS_NAME: `nats-${slot}`, NATS_CLUSTER_NAME: "pipeline", NATS_ROUTES: "nats-1:6222,nats-2:6222,nats-3:6222" });
        assert.deepEqual({ ...compose.services[`redis-${slot}`].environment, REDIS_MAXMEMORY: undefined, REDIS_PASSWORD_FILE: undefined }, { REDIS_ANNOUNCE: `redis-${slot}`, REDIS_PRIMARY: "redis-1", REDIS_MAXMEMORY: undefined, REDIS_PASSWORD_FILE: undefined });
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

test("monitoring: Prometheus on manager 0 with its volume, the Docker socket read-only, its config and rules as swarm configs, its image built; nothing of it when off", () => {
    const images = Object.fromEntries(Object.keys(pipeline({ monitoring: true }).builds).map((k) => [k, `10.0.0.2:5000/categorisation/${k}:abc`]));
    const compose = parse(renderStackCompose(pipeline({ monitoring: true }), { images, endpointMode: "vip", secrets }));
    const prometheus = compose.services.prometheus;
    assert.equal(prometheus.image, "10.0.0.2:5000/categorisation/prometheus:abc");
    assert.deepEqual(prometheus.deploy.placement.constraints, ["node.labels.swarm.manager-index == 0"]);
    assert.deepEqual(prometheus.volumes, ["prometheus-data:/prometheus", "/var/run/docker.sock:/var/run/docker.sock:ro"]);
    assert.ok(compose.volumes["prometheus-data"], "its data volume");
    assert.ok(!Object.keys(compose.volumes).some((v) => v.startsWith("/")), "a bind mount is no volume");
    assert.deepEqual(prometheus.configs.map((c: { target: string }) => c.target), ["/etc/prometheus/prometheus.yml", "/etc/prometheus/rules.yml"]);
    for (const key of ["prometheus-config", "prometheus-rules"]) assert.equal(compose.configs[key].external, true, key);
    assert.equal(prometheus.deploy.update_config.order, "stop-first");
    assert.match(prometheus.healthcheck.test.join(" "), /9090.*\/prometheus\/-\/ready/);
    assert.equal(pipeline({ monitoring: true }).builds.prometheus.context, "/project/services/docker/prometheus");
    const off = render();
    assert.equal(off.services.prometheus, undefined);
    assert.deepEqual(Object.keys(off.configs), ["taxonomy"]);
    assert.equal(pipeline().builds.prometheus, undefined);
});

test("Prometheus's config: every running task of the stack's roles on its network, labelled by role and machine; the machines' states; itself", () => {
    const config = parse(prometheusConfig("shop-1", scalableServices, "pipeline"));
    assert.deepEqual(config.rule_files, ["/etc/prometheus/rules.yml"]);
    const jobs = Object.fromEntries(config.scrape_configs.map((job: { job_name: string }) => [job.job_name, job]));
    assert.deepEqual(Object.keys(jobs), ["pipeline", "machines", "prometheus"]);
    const pipelineJob = jobs.pipeline;
    assert.equal(pipelineJob.dockerswarm_sd_configs[0].role, "tasks");
    assert.equal(pipelineJob.dockerswarm_sd_configs[0].host, "unix:///var/run/docker.sock");
    const keep = (label: string) => pipelineJob.relabel_configs.find((r: { action?: string; source_labels: string[] }) => r.action === "keep" && r.source_labels[0] === label)?.regex;
    assert.equal(keep("__meta_dockerswarm_service_label_com_docker_stack_namespace"), "shop-1");
    assert.equal(keep("__meta_dockerswarm_network_name"), "shop-1_pipeline");
    assert.equal(keep("__meta_dockerswarm_service_name"), "shop-1_(collector|categoriser|profile-writer|profile-api)");
    assert.ok(new RegExp(`^${keep("__meta_dockerswarm_service_name")}$`).test("shop-1_profile-api"));
    assert.ok(!new RegExp(`^${keep("__meta_dockerswarm_service_name")}$`).test("shop-1_gateway"));
    const targets = pipelineJob.relabel_configs.map((r: { target_label?: string }) => r.target_label).filter(Boolean);
    assert.deepEqual(targets, ["service", "role", "machine", "slot"]);
    assert.equal(pipelineJob.honor_labels, true, "the roles' own role label is the same");
    assert.equal(jobs.machines.dockerswarm_sd_configs[0].role, "nodes");
    assert.ok(jobs.machines.relabel_configs.some((r: { target_label?: string; source_labels?: string[] }) => r.target_label === "status" && r.source_labels?.[0] === "__meta_dockerswarm_node_status"));
});

test("alert rules: a role with no task (one rule per role), a growing backlog, a nearly full store, a machine down", () => {
    const rules = parse(alertRules(scalableServices)).groups[0].rules as { alert: string; expr: string; for: string; labels: Record<string, string> }[];
    const roleRules = rules.filter((r) => r.alert === "RoleWithoutTask");
    assert.deepEqual(roleRules.map((r) => r.labels.role), scalableServices);
    assert.equal(roleRules[1].expr, 'absent(up{job="pipeline", role="categoriser"} == 1)');
    assert.deepEqual(rules.filter((r) => r.alert !== "RoleWithoutTask").map((r) => [r.alert, r.for]), [["ConsumerLagGrowing", "5m"], ["ProfileStoreNearlyFull", "2m"], ["MachineDown", "1m"]]);
    assert.match(rules.find((r) => r.alert === "ProfileStoreNearlyFull")!.expr, /categorisation_redis_used_memory_bytes.*categorisation_redis_max_memory_bytes/);
});

test("health checks, images and commands come from the definition", () => {
    const compose = render();
    assert.equal(compose.services.categoriser.image, "10.0.0.2:5000/categorisation/pipeline:abc");
    assert.deepEqual(compose.services.categoriser.command, ["categoriser"]);
    assert.deepEqual(compose.services.redis.healthcheck.test, ["CMD", "redis-ping", "6379"]);
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

