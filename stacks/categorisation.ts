// The categorisation pipeline as a Docker stack: collector -> categoriser pool -> profile writer,
// on NATS JetStream and Redis, with the profile API, behind one gateway port.
import { HealthCheck, StackDefinition } from "./types";

const httpHealth: HealthCheck = {
    test: ["CMD", "node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"],
    interval: "10s",
    timeout: "3s",
    retries: 3,
    startPeriod: "20s",
};

const pipelineEnvironment = {
    NATS_URL: "nats://nats:4222",
    REDIS_URL: "redis://redis:6379",
    TAXONOMY_FILE: "/etc/categorisation/taxonomy.tsv",
    PORT: "8080",
};

/** Port of the gateway: where `collectorUrl` and `profilesUrl` point. */
export const gatewayPort = 8080;

export const categorisation: StackDefinition = {
    network: "pipeline",
    edgeLabel: "swarm.edge",
    images: {
        pipeline: {
            context: "services",
            dockerfile: "Dockerfile",
            inputs: ["Dockerfile", ".dockerignore", "package.json", "package-lock.json", "tsconfig.json", "scripts/prepare-image.sh", "src", "knowledge", "taxonomy", "../.nvmrc"],
            // The image takes the compiled code, the installed runtime packages and the Node.js
            // pinned in the project's .nvmrc.
            prepare: "bash scripts/prepare-image.sh >&2",
        },
        nats: { context: "services", dockerfile: "Dockerfile.nats", inputs: ["Dockerfile.nats", "docker/nats-server.conf"] },
        redis: { context: "services", dockerfile: "Dockerfile.redis", inputs: ["Dockerfile.redis"] },
        gateway: { context: "services", dockerfile: "Dockerfile.gateway", inputs: ["Dockerfile.gateway", "docker/haproxy.cfg"] },
    },
    services: {
        nats: {
            image: "nats",
            replicas: 1,
            // Its JetStream store lives on a volume of one node: pinned there.
            constraints: ["node.labels.swarm.data == true"],
            volumes: { "nats-data": "/data" },
            healthcheck: { test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8222/healthz"], interval: "10s", timeout: "3s", retries: 3, startPeriod: "10s" },
            stopGracePeriod: "30s",
            resources: { memory: "512M" },
        },
        redis: {
            image: "redis",
            replicas: 1,
            constraints: ["node.labels.swarm.data == true"],
            volumes: { "redis-data": "/data" },
            healthcheck: { test: ["CMD", "redis-cli", "ping"], interval: "10s", timeout: "3s", retries: 3, startPeriod: "5s" },
            stopGracePeriod: "30s",
            resources: { memory: "512M" },
        },
        collector: {
            image: "pipeline",
            command: ["collector"],
            replicas: 1,
            environment: pipelineEnvironment,
            healthcheck: httpHealth,
            stopGracePeriod: "20s",
            resources: { memory: "256M" },
        },
        categoriser: {
            image: "pipeline",
            command: ["categoriser"],
            replicas: 2,
            environment: pipelineEnvironment,
            taxonomyAt: "/etc/categorisation/taxonomy.tsv",
            healthcheck: httpHealth,
            stopGracePeriod: "20s",
            resources: { memory: "256M" },
        },
        "profile-writer": {
            image: "pipeline",
            command: ["profile-writer"],
            replicas: 1,
            environment: pipelineEnvironment,
            taxonomyAt: "/etc/categorisation/taxonomy.tsv",
            healthcheck: httpHealth,
            stopGracePeriod: "20s",
            resources: { memory: "256M" },
        },
        "profile-api": {
            image: "pipeline",
            command: ["profile-api"],
            replicas: 1,
            environment: pipelineEnvironment,
            taxonomyAt: "/etc/categorisation/taxonomy.tsv",
            healthcheck: httpHealth,
            stopGracePeriod: "10s",
            resources: { memory: "256M" },
        },
        gateway: {
            image: "gateway",
            replicas: 1,
            ports: [{ target: 8080, published: gatewayPort }],
            healthcheck: { test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/gateway/healthz"], interval: "10s", timeout: "3s", retries: 3, startPeriod: "5s" },
            stopGracePeriod: "10s",
            resources: { memory: "128M" },
        },
    },
};

export const serviceNames = Object.keys(categorisation.services);
