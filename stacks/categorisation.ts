// The categorisation pipeline as a Compose stack: collector -> categoriser pool -> profile writer,
// on NATS JetStream and Redis, with the profile API, behind a gateway on every manager. A function
// of the config that returns the Compose document, the images it builds and the taxonomy it
// ships; the same component deploys it as any stack of yours.
//
// Two layouts of the data tier. With fewer than 3 managers: one NATS server and one Redis on
// manager 0 (losing manager 0 stops the pipeline until it is back; nothing acknowledged is
// lost). With 3 managers or more: a 3-server JetStream cluster whose streams keep 3 replicas, and
// Redis with 2 replicas watched by 3 Sentinels, one of each per manager 0..2, so that any one
// machine can go.
import * as path from "path";
import { checkReplicas, StackSpec } from "../components/stack/compose";
import { ConfigError, PrivacySettings, StoreSettings } from "../components/config";
import { defaultSensitive, redisContainerBytes } from "../components/pipeline/config";
import { labels } from "../components/types";
import { alertRules, prometheusConfig, prometheusFiles, prometheusPath, prometheusPort } from "./monitoring";

/** Port of the gateway: where `collectorUrl`, `profilesUrl` and `gatewayUrls` point. */
export const gatewayPort = 8080;

/** Managers from which the data tier is replicated (one server of each store per manager). */
export const replicatedDataFrom = 3;

/** The services whose replica count config may set: the stateless tier. */
export const scalableServices = ["collector", "categoriser", "profile-writer", "profile-api"];

/** The overlay network every service joins. */
const network = "pipeline";

type Json = Record<string, unknown>;

interface HealthCheck {
    test: string[];
    interval: string;
    timeout: string;
    retries: number;
    start_period: string;
}

// A task counts as running only after its first passing check, one interval after it starts: short
// intervals make a deploy, a scale and a rolling update converge sooner. The first passing check
// ends the start period, so a long one costs nothing; it lets a role wait for a NATS cluster that
// is still forming (a change from 1 to 3 managers) without being restarted. Once started, a task
// fails after 5 failed checks in a row.
// The check is bash's /dev/tcp, not a Node.js one-liner: a Node.js start took about 90 ms of CPU
// per check, which for every task every few seconds was a share of a small machine's CPUs.
const check = (test: string[], startPeriod: string): HealthCheck => ({ test, interval: "2s", timeout: "3s", retries: 5, start_period: startPeriod });
const httpGetCheck = (port: number, urlPath: string, startPeriod: string) =>
    check(["CMD", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${urlPath} HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`], startPeriod);
const httpHealth = httpGetCheck(8080, "/healthz", "90s");
const natsHealth = (urlPath: string) => check(["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:8222${urlPath}`], "60s");
// redis-ping reads the password from its file (redis-cli would need it on its command line).
const redisHealth = (port: number) => check(["CMD", "redis-ping", String(port)], "30s");

const taxonomyPath = "/etc/categorisation/taxonomy.tsv";

/** How the pipeline reaches its stores, by layout. */
function pipelineEnvironment(replicated: boolean): Record<string, string> {
    const common = { TAXONOMY_FILE: taxonomyPath, PORT: "8080" };
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
const onSlot = (slot: number) => [`node.labels.${labels.managerIndex} == ${slot - 1}`];
/** Redis slot 1 keeps the single layout's volume: going to 3 managers keeps the profiles. */
const redisVolume = (slot: number) => (slot === 1 ? "redis-data" : `redis-${slot}-data`);

interface ServiceShape {
    /** Key of the stack's builds. */
    image: string;
    command?: string[];
    environment?: Record<string, string>;
    /** Named volumes: name -> mount path. A service with volumes is stateful: one task at a time, stopped before its successor starts. */
    volumes?: Record<string, string>;
    /** Named volumes that hold no state, shared with another service's task on the same machine: name -> mount path. */
    shared?: Record<string, string>;
    /** Mount the taxonomy config. */
    taxonomy?: boolean;
    /** Other swarm configs of the stack to mount: key -> path. */
    configs?: Record<string, string>;
    /** Files of the machine to mount read-only: host path -> path in the task. */
    binds?: Record<string, string>;
    /** Swarm secrets of the stack to mount: key -> file name under /run/secrets. */
    secrets?: Record<string, string>;
    /** One task on every edge node (global). */
    edge?: boolean;
    /** Container port published as the gateway port on each edge node, in host mode (an edge service's). */
    publish?: number;
    healthcheck: HealthCheck;
    /** Time between SIGTERM and SIGKILL: the roles finish what is in flight within it. */
    stopGracePeriod: string;
    replicas?: number;
    constraints?: string[];
    memory: string;
}

/** One service of the Compose document. */
function service(shape: ServiceShape): Json {
    const stateful = shape.volumes !== undefined;
    const edge = shape.edge === true;
    const constraints = [...(shape.constraints ?? []), ...(edge ? [`node.labels.${labels.edge} == true`] : [])];
    // Replicas of a stateless service go to different machines first: one machine never holds them all.
    const preferences = stateful || edge ? [] : [{ spread: `node.labels.${labels.nodeName}` }];
    return {
        image: shape.image,
        ...(shape.command ? { command: shape.command } : {}),
        ...(shape.environment ? { environment: shape.environment } : {}),
        networks: [network],
        ...(shape.volumes || shape.shared || shape.binds
            ? { volumes: [...Object.entries({ ...shape.volumes, ...shape.shared }).map(([name, target]) => `${name}:${target}`), ...Object.entries(shape.binds ?? {}).map(([from, target]) => `${from}:${target}:ro`)] }
            : {}),
        ...(shape.taxonomy || shape.configs
            ? { configs: Object.entries({ ...(shape.taxonomy ? { taxonomy: taxonomyPath } : {}), ...shape.configs }).map(([source, target]) => ({ source, target })) }
            : {}),
        ...(shape.secrets ? { secrets: Object.entries(shape.secrets).map(([source, target]) => ({ source, target })) } : {}),
        ...(shape.publish !== undefined ? { ports: [{ target: shape.publish, published: gatewayPort, protocol: "tcp", mode: "host" }] } : {}),
        healthcheck: shape.healthcheck,
        stop_grace_period: shape.stopGracePeriod,
        deploy: {
            ...(edge ? { mode: "global" } : { mode: "replicated", replicas: shape.replicas ?? 1 }),
            // vip unless the kernels lack IPVS (the renderer says dnsrr then).
            endpoint_mode: "vip",
            ...(constraints.length + preferences.length > 0
                ? { placement: { ...(constraints.length > 0 ? { constraints } : {}), ...(preferences.length > 0 ? { preferences } : {}) } }
                : {}),
            // One task at a time, the new one healthy before the old one stops; a task that fails
            // within `monitor` rolls the service back. A stateful task must stop before its
            // successor mounts the same volume, and a task that publishes a port before its
            // successor can take it.
            update_config: { parallelism: 1, order: stateful || shape.publish !== undefined ? "stop-first" : "start-first", failure_action: "rollback", monitor: "15s" },
            rollback_config: { parallelism: 1, order: "stop-first" },
            restart_policy: { condition: "any", delay: "5s" },
            resources: { limits: { memory: shape.memory } },
        },
    };
}

/** How the data tier's servers get their passwords, and Redis its memory bound. */
interface DataTierAccess {
    nats: Pick<ServiceShape, "environment" | "secrets">;
    redis: Pick<ServiceShape, "environment" | "secrets">;
    /** The Redis servers' memory limit (Sentinels need little). */
    redisMemory: string;
}

function dataTierAccess(store: CategorisationSettings["store"]): DataTierAccess {
    return {
        nats: { environment: { NATS_PASSWORD_FILE: secretFile(pipelineSecrets.streamPassword) }, secrets: mounts(pipelineSecrets.streamPassword) },
        redis: { environment: { REDIS_PASSWORD_FILE: secretFile(pipelineSecrets.storePassword) }, secrets: mounts(pipelineSecrets.storePassword) },
        redisMemory: `${Math.ceil(redisContainerBytes(store) / (1024 * 1024))}M`,
    };
}

function singleDataTier(access: DataTierAccess, maxMemory: string): Record<string, Json> {
    const stateful = { constraints: onSlot(1), stopGracePeriod: "30s", memory: "512M" };
    return {
        nats: service({ ...stateful, image: "nats", volumes: { "nats-data": "/data" }, healthcheck: natsHealth("/healthz"), ...access.nats }),
        redis: service({
            ...stateful,
            image: "redis",
            volumes: { "redis-data": "/data" },
            healthcheck: redisHealth(6379),
            secrets: access.redis.secrets,
            environment: { ...access.redis.environment, REDIS_MAXMEMORY: maxMemory },
            memory: access.redisMemory,
        }),
    };
}

function replicatedDataTier(access: DataTierAccess, maxMemory: string): Record<string, Json> {
    const services: Record<string, Json> = {};
    for (const slot of slots) {
        const stateful = { constraints: onSlot(slot), stopGracePeriod: "30s" };
        services[`nats-${slot}`] = service({
            ...stateful,
            image: "nats",
            // Routes to every server (its own is ignored), with the password (nats-node writes them
            // into its config, never onto a command line); the server name stays with the slot,
            // as JetStream's placement needs.
            environment: { ...access.nats.environment, NATS_NAME: `nats-${slot}`, NATS_CLUSTER_NAME: "pipeline", NATS_ROUTES: slots.map((i) => `nats-${i}:6222`).join(",") },
            secrets: access.nats.secrets,
            // A new store: JetStream does not take a single server's streams into a cluster.
            volumes: { [`nats-${slot}-data`]: "/data" },
            // The server answering, not JetStream's health: that needs the routes, and a task's
            // name resolves only once the task is healthy, so each would wait for the others.
            healthcheck: natsHealth("/varz"),
            memory: "512M",
        });
        services[`redis-${slot}`] = service({
            ...stateful,
            image: "redis",
            // Slot 1 starts as the primary; after that Sentinel decides, and each server keeps
            // its role in the config file on its volume.
            environment: { REDIS_ANNOUNCE: `redis-${slot}`, REDIS_PRIMARY: "redis-1", REDIS_MAXMEMORY: maxMemory, ...access.redis.environment },
            secrets: access.redis.secrets,
            volumes: { [redisVolume(slot)]: "/data" },
            healthcheck: redisHealth(6379),
            memory: access.redisMemory,
        });
        services[`sentinel-${slot}`] = service({
            ...stateful,
            image: "redis",
            command: ["sentinel"],
            environment: { SENTINEL_ANNOUNCE: `sentinel-${slot}`, SENTINEL_MONITOR: "profiles redis-1 6379 2", ...access.redis.environment },
            secrets: access.redis.secrets,
            volumes: { [`sentinel-${slot}-data`]: "/data" },
            healthcheck: redisHealth(26379),
            memory: "64M",
        });
    }
    return services;
}

/** The images the pipeline builds, with contexts relative to the project directory. */
const images = {
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
        inputs: ["Dockerfile.nats", "nats-server.conf", "nats-node.sh", "nats-server/go.mod", "nats-server/go.sum", "nats-server/tools.go", "nats-server/prepare.sh", "go-binary.sh"],
        // nats-server built from the Go module proxy (see the Dockerfile for why).
        prepare: "bash nats-server/prepare.sh >&2",
    },
    redis: { context: "services/docker", dockerfile: "Dockerfile.redis", inputs: ["Dockerfile.redis", "redis-node.sh", "redis-ping.sh"] },
    gateway: { context: "services/docker", dockerfile: "Dockerfile.gateway", inputs: ["Dockerfile.gateway", "haproxy.cfg", "gateway-start.sh"] },
    edge: { context: "services/docker", dockerfile: "Dockerfile.edge", inputs: ["Dockerfile.edge", "edge.cfg"] },
};

/** The monitoring's image (`monitoring: true`): Prometheus built from the Go module proxy, in a context of its own (its binary is 50 MB). */
const monitoringImage = {
    context: "services/docker/prometheus",
    dockerfile: "Dockerfile",
    inputs: ["Dockerfile", "go.mod", "go.sum", "tools.go", "prepare.sh", "../go-binary.sh"],
    prepare: "bash prepare.sh >&2",
};

/** The swarm configs of the monitoring, by key. */
const monitoringConfigs = { config: "prometheus-config", rules: "prometheus-rules" } as const;

export interface CategorisationSettings {
    /** The Docker stack's name (`stackName`). */
    stackName: string;
    managers: number;
    /** `replicas` from config: checked against the scalable services. */
    replicas: Record<string, number>;
    /** Content of the taxonomy TSV, shipped as a swarm config. */
    taxonomy: string;
    /** Encrypt the overlay network's traffic (IPsec) between machines. */
    encryptNetwork: boolean;
    /** Where the project's files are (the images' build contexts). */
    projectDir: string;
    /** The gateway's limits and the origins whose pages may send events: see GatewaySettings in the config. */
    gateway: { rateLimit: number; allowedOrigins: string[] };
    privacy: PrivacySettings;
    /** Redis's memory bound (the passwords travel as the stack's secrets). */
    store: Pick<StoreSettings, "maxMemoryBytes">;
    /** Deploy Prometheus with the pipeline's alert rules (`monitoring`). */
    monitoring: boolean;
}

/** The roles that serve Prometheus metrics (the gateway's haproxy and the stores do not). */
const scrapedRoles = scalableServices;

/**
 * The secrets the pipeline's stack ships, given to its deployment: the gateway's certificate and
 * key (one PEM, as haproxy reads it), the hashes of the tokens the roles accept, the key under
 * which the store keeps user IDs (a keyed hash: a raw ID is never written to its files), and the
 * stores' passwords.
 */
export const pipelineSecrets = {
    gatewayTls: "gateway-tls",
    authTokens: "auth-tokens",
    storeKey: "store-key",
    storePassword: "store-password",
    streamPassword: "stream-password",
} as const;
const secretFile = (key: string) => `/run/secrets/${key}`;
/** Mounts of the stack's secrets, under their own names. */
const mounts = (...keys: string[]) => Object.fromEntries(keys.map((key) => [key, key]));

/**
 * The sensitive nodes as the roles get them: those you listed must be in the taxonomy; the
 * defaults that your taxonomy does not have are left out.
 */
export function sensitiveNodes(privacy: PrivacySettings, taxonomy: string, problems: string[]): string[] {
    const known = new Set<string>();
    for (const line of taxonomy.split(/\r?\n/)) {
        const [id, , name] = line.split("\t");
        if (id?.trim()) known.add(id.trim());
        if (name?.trim()) known.add(name.trim().toLowerCase());
    }
    const inTaxonomy = (entry: string) => known.has(entry) || known.has(entry.toLowerCase());
    const missing = privacy.sensitive.filter((entry) => !inTaxonomy(entry) && !defaultSensitive.includes(entry));
    if (missing.length > 0) problems.push(`privacy.sensitive: ${missing.map((m) => JSON.stringify(m)).join(", ")} names no node of the taxonomy (by Unique ID or Name)`);
    return privacy.sensitive.filter(inTaxonomy);
}

/** Where the gateway on a machine leaves its socket for the edge on the same machine. */
const gatewaySocket = { "gateway-socket": "/run/gateway" };

/** Environment and secrets (by key) a role needs for something it does. */
interface RoleAccess {
    environment: Record<string, string>;
    secrets: string[];
}

/** The pipeline's stack for these settings; a ConfigError when `replicas` names a service that cannot be scaled. */
export function categorisationStack(settings: CategorisationSettings): StackSpec {
    const problems: string[] = [];
    const replicated = settings.managers >= replicatedDataFrom;
    const environment = pipelineEnvironment(replicated);
    const sensitive = sensitiveNodes(settings.privacy, settings.taxonomy, problems);
    // Each role gets the secrets it needs: every role the stream's password; the roles that answer
    // the gateway the hashes of the tokens they accept; the roles that use the store its password
    // and the key of its user IDs.
    const answersGateway = {
        environment: {
            AUTH_TOKENS_FILE: secretFile(pipelineSecrets.authTokens),
            // A stopping task (a rolling update, a scale down) fails the gateway's health check
            // and serves on until the gateway has taken it out (two failed checks a second apart,
            // haproxy.cfg): its successor, which the gateway may not have found yet, is not needed.
            STOP_DRAIN_MS: "4000",
        },
        secrets: [pipelineSecrets.authTokens],
    };
    const store = {
        environment: {
            REDIS_PASSWORD_FILE: secretFile(pipelineSecrets.storePassword),
            STORE_KEY_FILE: secretFile(pipelineSecrets.storeKey),
            RETENTION_SECONDS: String(settings.privacy.retentionSeconds),
        },
        secrets: [pipelineSecrets.storePassword, pipelineSecrets.storeKey],
    };
    const role = (command: string, stopGracePeriod: string, taxonomy: boolean, ...access: RoleAccess[]) =>
        // Two of each stateless role, so that one machine never takes a role away.
        service({
            image: "pipeline",
            command: [command],
            replicas: 2,
            environment: Object.assign({ ...environment, NATS_PASSWORD_FILE: secretFile(pipelineSecrets.streamPassword) }, ...access.map((a) => a.environment)),
            secrets: mounts(pipelineSecrets.streamPassword, ...access.flatMap((a) => a.secrets)),
            taxonomy,
            healthcheck: httpHealth,
            stopGracePeriod,
            memory: "256M",
        });
    const origins: RoleAccess = { environment: settings.gateway.allowedOrigins.length > 0 ? { ALLOWED_ORIGINS: settings.gateway.allowedOrigins.join(",") } : {}, secrets: [] };
    const data = dataTierAccess(settings.store);
    const maxMemory = String(settings.store.maxMemoryBytes);
    const services: Record<string, Json> = {
        ...(replicated ? replicatedDataTier(data, maxMemory) : singleDataTier(data, maxMemory)),
        collector: role("collector", "20s", false, answersGateway, origins),
        categoriser: role("categoriser", "20s", true),
        "profile-writer": role("profile-writer", "20s", true, store, { environment: sensitive.length > 0 ? { SENSITIVE_NODES: sensitive.join(",") } : {}, secrets: [] }),
        "profile-api": role("profile-api", "10s", true, answersGateway, store),
        // Two tiers on every edge node: `edge` owns the public port and hands connections over;
        // `gateway` ends TLS, checks limits and routes, and is replaced start-first (a renewed
        // certificate, new limits) while `edge` keeps the port.
        gateway: service({
            image: "gateway",
            environment: { RATE_LIMIT: String(settings.gateway.rateLimit) },
            secrets: { [pipelineSecrets.gatewayTls]: "gateway.pem" },
            shared: gatewaySocket,
            edge: true,
            // Whether haproxy answers: /gateway/healthz, which load balancers ask, also fails while
            // no collector is alive, and the task must not be restarted for that.
            healthcheck: check(["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8081/gateway/alive"], "30s"),
            // Past its 3 s of grace and 6 s of draining (haproxy.cfg).
            stopGracePeriod: "10s",
            memory: "128M",
        }),
        edge: service({
            image: "edge",
            shared: gatewaySocket,
            edge: true,
            publish: 8080,
            healthcheck: check(["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8081/edge/alive"], "30s"),
            stopGracePeriod: "10s",
            memory: "64M",
        }),
        ...(settings.monitoring ? {
            prometheus: service({
                image: "prometheus",
                // With the data tier's first slot, on manager 0: its volume stays on one machine, and
                // service discovery needs a manager's Docker socket.
                constraints: onSlot(1),
                volumes: { "prometheus-data": "/prometheus" },
                configs: { [monitoringConfigs.config]: prometheusFiles.config, [monitoringConfigs.rules]: prometheusFiles.rules },
                binds: { "/var/run/docker.sock": "/var/run/docker.sock" },
                healthcheck: httpGetCheck(prometheusPort, `${prometheusPath}/-/ready`, "60s"),
                stopGracePeriod: "30s",
                memory: "512M",
            }),
        } : {}),
    };
    const volumes = Object.values(services).flatMap((s) => ((s.volumes as string[] | undefined) ?? []).map((v) => v.split(":")[0]).filter((v) => !v.startsWith("/")));
    const spec: StackSpec = {
        name: settings.stackName,
        project: {
            services,
            networks: { [network]: { driver: "overlay", ...(settings.encryptNetwork ? { driver_opts: { encrypted: "" } } : {}) } },
            volumes: Object.fromEntries(volumes.map((v) => [v, {}])),
            configs: Object.fromEntries(["taxonomy", ...(settings.monitoring ? Object.values(monitoringConfigs) : [])].map((key) => [key, {}])),
            secrets: Object.fromEntries(Object.values(pipelineSecrets).map((key) => [key, {}])),
        },
        version: "3.8",
        builds: Object.fromEntries(Object.entries({ ...images, ...(settings.monitoring ? { prometheus: monitoringImage } : {}) }).map(([key, image]) => [key, { ...image, context: path.resolve(settings.projectDir, image.context) }])),
        builtImages: Object.fromEntries(Object.entries(services).map(([name, s]) => [name, s.image as string])),
        configs: {
            taxonomy: settings.taxonomy,
            ...(settings.monitoring ? {
                [monitoringConfigs.config]: prometheusConfig(settings.stackName, scrapedRoles, network),
                [monitoringConfigs.rules]: alertRules(scrapedRoles),
            } : {}),
        },
        secrets: Object.values(pipelineSecrets),
        scalable: scalableServices,
        replicas: settings.replicas,
    };
    checkReplicas(spec, "replicas", problems);
    if (problems.length > 0) throw new ConfigError(problems);
    return spec;
}
