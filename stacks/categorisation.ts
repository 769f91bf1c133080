// The categorisation pipeline as a Docker stack: collector -> categoriser pool -> profile writer,
// on NATS JetStream and Redis, with the profile API, behind a gateway on every manager.
//
// Two layouts of the data tier. With fewer than 3 managers: one NATS server and one Redis on
// manager 0 (losing manager 0 stops the pipeline until it is back; nothing acknowledged is
// lost). With 3 managers or more: a 3-server JetStream cluster whose streams keep 3 replicas, and
// Redis with 2 replicas watched by 3 Sentinels, one of each per manager 0..2, so that any one
// machine can go.
import { nodeLabels } from "../components/swarm";
import { HealthCheck, ServiceDefinition, StackDefinition } from "./types";

/** Port of the gateway: where `collectorUrl`, `profilesUrl` and `gatewayUrls` point. */
export const gatewayPort = 8080;

/** Managers from which the data tier is replicated (one server of each store per manager). */
export const replicatedDataFrom = 3;

/** The services whose replica count config may set: the stateless tier. */
export const scalableServices = ["collector", "categoriser", "profile-writer", "profile-api"] as const;

// A task counts as running only after its first passing check, one interval after it starts: short
// intervals make a deploy, a scale and a rolling update converge sooner. The first passing check
// ends the start period, so a long one costs nothing; it lets a role wait for a NATS cluster that
// is still forming (a change from 1 to 3 managers) without being restarted. Once started, a task
// fails after 5 failed checks in a row.
// The check is bash's /dev/tcp, not a Node.js one-liner: a Node.js start took about 90 ms of CPU
// per check, which for every task every few seconds was a share of a small machine's CPUs.
const httpHealth: HealthCheck = {
    test: ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"],
    interval: "2s",
    timeout: "3s",
    retries: 5,
    startPeriod: "90s",
};

const natsHealth = (path: string): HealthCheck => ({ test: ["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:8222${path}`], interval: "2s", timeout: "3s", retries: 5, startPeriod: "60s" });
const redisHealth = (port: number): HealthCheck => ({ test: ["CMD", "redis-cli", "-p", String(port), "ping"], interval: "2s", timeout: "3s", retries: 5, startPeriod: "30s" });

const taxonomyFile = "/etc/categorisation/taxonomy.tsv";

/** How the pipeline reaches its stores, by layout. */
function pipelineEnvironment(replicated: boolean): Record<string, string> {
    const common = { TAXONOMY_FILE: taxonomyFile, PORT: "8080" };
    if (!replicated) return { ...common, NATS_URL: "nats://nats:4222", REDIS_URL: "redis://redis:6379" };
    return {
        ...common,
        NATS_URL: slots.map((i) => `nats://nats-${i}:4222`).join(","),
        STREAM_REPLICAS: "3",
        REDIS_SENTINELS: slots.map((i) => `sentinel-${i}:26379`).join(","),
        REDIS_MASTER_NAME: "profiles",
        // A profile update counts as done once a replica has it too: a failover loses none.
        REDIS_MIN_REPLICAS_ACK: "1",
    };
}

const slots = [1, 2, 3];
/** Slot i of the data tier lives on manager i-1. */
const onSlot = (slot: number) => [`node.labels.${nodeLabels.managerIndex} == ${slot - 1}`];
/** Redis slot 1 keeps the single layout's volume: going to 3 managers keeps the profiles. */
const redisVolume = (slot: number) => (slot === 1 ? "redis-data" : `redis-${slot}-data`);

function singleDataTier(): Record<string, ServiceDefinition> {
    const stateful = { replicas: 1, constraints: onSlot(1), stopGracePeriod: "30s", resources: { memory: "512M" } };
    return {
        nats: { ...stateful, image: "nats", volumes: { "nats-data": "/data" }, healthcheck: natsHealth("/healthz") },
        redis: { ...stateful, image: "redis", volumes: { "redis-data": "/data" }, healthcheck: redisHealth(6379) },
    };
}

function replicatedDataTier(): Record<string, ServiceDefinition> {
    const services: Record<string, ServiceDefinition> = {};
    const stateful = { replicas: 1, stopGracePeriod: "30s" };
    for (const slot of slots) {
        services[`nats-${slot}`] = {
            ...stateful,
            image: "nats",
            constraints: onSlot(slot),
            // Routes to every server (its own is ignored); the server name stays with the slot,
            // as JetStream's placement needs.
            command: ["--name", `nats-${slot}`, "--cluster_name", "pipeline", "--cluster", "nats://0.0.0.0:6222", "--routes", slots.map((i) => `nats://nats-${i}:6222`).join(",")],
            // A new store: JetStream does not take a single server's streams into a cluster.
            volumes: { [`nats-${slot}-data`]: "/data" },
            // The server answering, not JetStream's health: that needs the routes, and a task's
            // name resolves only once the task is healthy, so each would wait for the others.
            healthcheck: natsHealth("/varz"),
            resources: { memory: "512M" },
        };
        services[`redis-${slot}`] = {
            ...stateful,
            image: "redis",
            constraints: onSlot(slot),
            // Slot 1 starts as the primary; after that Sentinel decides, and each server keeps
            // its role in the config file on its volume.
            environment: { REDIS_ANNOUNCE: `redis-${slot}`, REDIS_PRIMARY: "redis-1" },
            volumes: { [redisVolume(slot)]: "/data" },
            healthcheck: redisHealth(6379),
            resources: { memory: "512M" },
        };
        services[`sentinel-${slot}`] = {
            ...stateful,
            image: "redis",
            command: ["sentinel"],
            constraints: onSlot(slot),
            environment: { SENTINEL_ANNOUNCE: `sentinel-${slot}`, SENTINEL_MONITOR: "profiles redis-1 6379 2" },
            volumes: { [`sentinel-${slot}-data`]: "/data" },
            healthcheck: redisHealth(26379),
            resources: { memory: "64M" },
        };
    }
    return services;
}

/** What the layout needs to know of the swarm. */
export interface CategorisationLayout {
    managers: number;
}

/** The pipeline's stack for a swarm with this many managers. */
export function categorisationStack(layout: CategorisationLayout): StackDefinition {
    const replicated = layout.managers >= replicatedDataFrom;
    const environment = pipelineEnvironment(replicated);
    const role = (command: string, replicas: number, stopGracePeriod: string, taxonomy: boolean): ServiceDefinition => ({
        image: "pipeline",
        command: [command],
        replicas,
        environment,
        ...(taxonomy ? { taxonomyAt: taxonomyFile } : {}),
        healthcheck: httpHealth,
        stopGracePeriod,
        resources: { memory: "256M" },
    });
    return {
        network: "pipeline",
        edgeLabel: nodeLabels.edge,
        // Swarm spreads over label values only: the node's name is one value per node.
        spreadLabel: nodeLabels.name,
        images: {
            pipeline: {
                context: "services",
                dockerfile: "Dockerfile",
                inputs: ["Dockerfile", ".dockerignore", "package.json", "package-lock.json", "tsconfig.json", "scripts/prepare-image.sh", "src", "knowledge", "taxonomy", "dashboard", "../.nvmrc"],
                // The image takes the compiled code, the installed runtime packages and the Node.js
                // pinned in the project's .nvmrc.
                prepare: "bash scripts/prepare-image.sh >&2",
            },
            // Contexts of their own: sending the pipeline's context (its node_modules) with each took seconds.
            nats: {
                context: "services/docker",
                dockerfile: "Dockerfile.nats",
                inputs: ["Dockerfile.nats", "nats-server.conf", "nats-server/go.mod", "nats-server/go.sum", "nats-server/tools.go", "nats-server/prepare.sh"],
                // nats-server built from the Go module proxy (see the Dockerfile for why).
                prepare: "bash nats-server/prepare.sh >&2",
            },
            redis: { context: "services/docker", dockerfile: "Dockerfile.redis", inputs: ["Dockerfile.redis", "redis-node.sh"] },
            gateway: { context: "services/docker", dockerfile: "Dockerfile.gateway", inputs: ["Dockerfile.gateway", "haproxy.cfg"] },
        },
        services: {
            ...(replicated ? replicatedDataTier() : singleDataTier()),
            // Two of each stateless role, so that one machine never takes a role away.
            collector: role("collector", 2, "20s", false),
            categoriser: role("categoriser", 2, "20s", true),
            "profile-writer": role("profile-writer", 2, "20s", true),
            "profile-api": role("profile-api", 2, "10s", true),
            gateway: {
                image: "gateway",
                replicas: 1,
                ports: [{ target: 8080, published: gatewayPort }],
                healthcheck: { test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/gateway/healthz"], interval: "2s", timeout: "3s", retries: 5, startPeriod: "30s" },
                stopGracePeriod: "10s",
                resources: { memory: "128M" },
            },
        },
    };
}
