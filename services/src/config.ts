// Settings from environment variables, with the defaults documented in README.md.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AuthSettingsError, parseOrigins, parseTokensFile, type TokenHashes } from "./auth.js";
import { defaultLimits, type ValidationLimits } from "./validate.js";
import { defaultScoring, type ScoringSettings } from "./scoring.js";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export class ConfigError extends Error {}

function num(env: NodeJS.ProcessEnv, key: string, def: number, min = 0): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new ConfigError(`${key}=${JSON.stringify(raw)}: expected a number >= ${min}`);
  return v;
}

function str(env: NodeJS.ProcessEnv, key: string, def: string): string {
  const v = env[key];
  return v === undefined || v === "" ? def : v;
}

/** An access setting's value, its problems as a ConfigError naming the setting (never a token). */
function accessSetting<T>(key: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof AuthSettingsError) throw new ConfigError(`${key}: ${e.message}`);
    throw e;
  }
}

/** The content of the file a `*_FILE` setting names (a swarm secret); undefined when it is unset. Never echoed. */
function secretFile(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const file = env[key];
  if (file === undefined || file === "") return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`${key}=${JSON.stringify(file)}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** A password from a secret file: its first line. */
function password(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const text = secretFile(env, key);
  if (text === undefined) return undefined;
  const first = text.split("\n")[0].trim();
  if (first === "") throw new ConfigError(`${key}=${JSON.stringify(env[key])}: the file is empty`);
  return first;
}

/** AUTH_TOKENS_FILE's hashes; undefined (auth off) when it is unset. */
function tokens(env: NodeJS.ProcessEnv): TokenHashes | undefined {
  const text = secretFile(env, "AUTH_TOKENS_FILE");
  if (text === undefined) return undefined;
  return accessSetting(`AUTH_TOKENS_FILE=${JSON.stringify(env.AUTH_TOKENS_FILE)}`, () => parseTokensFile(text));
}

export interface Config {
  /** One server, or several (comma-separated) of a cluster. */
  natsUrl: string;
  redisUrl: string;
  /** host:port of each Sentinel: when given, the store is the primary they name (redisUrl unused). */
  redisSentinels: string[];
  redisMasterName: string;
  /** Replicas that must have a profile update before its event is acknowledged (0: none). */
  redisMinReplicasAck: number;
  taxonomyFile: string;
  knowledgeDir: string;
  host: string;
  port: number;
  subjectPrefix: string;
  eventsStream: string;
  resultsStream: string;
  streamMaxBytes: number;
  streamReplicas: number;
  duplicateWindowMs: number;
  maxInFlight: number;
  /** Messages a categoriser or profile writer handles together (one store round trip), and events a collector publishes as one message. */
  maxBatch: number;
  /**
   * How long a categoriser or profile writer waits for more messages before it handles a batch that
   * is not full: a trickle of small messages makes fewer, larger batches (one publish, one store
   * round trip each) instead of one each.
   */
  batchLingerMs: number;
  /** A collector's publishes waiting for the stream at once; events that arrive meanwhile go out together. */
  publishConcurrency: number;
  /** How long the collector tries to store an event (a stream leader being elected) before a 503. */
  publishTimeoutMs: number;
  ackWaitMs: number;
  maxBodyBytes: number;
  limits: ValidationLimits;
  scoring: ScoringSettings;
  seenTtlSeconds: number;
  notifySubject: string;
  shutdownTimeoutMs: number;
  /** After SIGTERM, the HTTP roles serve this long with a failing health check before they close their port. */
  stopDrainMs: number;
  /** The stack's Prometheus (config `monitoring: true`), which the profile API passes /prometheus/... on to. */
  prometheusUrl: string;
  /** Hashes of the accepted tokens (AUTH_TOKENS_FILE); undefined: auth off. */
  authTokens: TokenHashes | undefined;
  /** Origins whose browsers may POST /events (CORS). */
  allowedOrigins: string[];
  /** Key of the keyed hash under which the store keeps user IDs (STORE_KEY_FILE); "" when unset (tests). */
  storeKey: string;
  /** A profile is removed this long after its user's last event. */
  retentionSeconds: number;
  /** Taxonomy nodes (IDs or names) that are sensitive besides the SCD-flagged ones, with everything below them. */
  sensitiveNodes: string[];
  /** Redis's password (REDIS_PASSWORD_FILE): servers, Sentinels and clients; undefined: none. */
  redisPassword: string | undefined;
  /** NATS user and password (NATS_PASSWORD_FILE); undefined: none. */
  natsUser: string;
  natsPassword: string | undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    natsUrl: str(env, "NATS_URL", "nats://127.0.0.1:4222"),
    redisUrl: str(env, "REDIS_URL", "redis://127.0.0.1:6379"),
    redisSentinels: str(env, "REDIS_SENTINELS", "").split(",").filter(Boolean),
    redisMasterName: str(env, "REDIS_MASTER_NAME", "profiles"),
    redisMinReplicasAck: num(env, "REDIS_MIN_REPLICAS_ACK", 0, 0),
    taxonomyFile: str(env, "TAXONOMY_FILE", join(packageDir, "taxonomy", "default-taxonomy.tsv")),
    knowledgeDir: str(env, "KNOWLEDGE_DIR", join(packageDir, "knowledge")),
    host: str(env, "HOST", "0.0.0.0"),
    port: num(env, "PORT", 8080, 0),
    subjectPrefix: str(env, "SUBJECT_PREFIX", "events"),
    eventsStream: str(env, "EVENTS_STREAM", "EVENTS"),
    resultsStream: str(env, "RESULTS_STREAM", "CATEGORISED"),
    streamMaxBytes: num(env, "STREAM_MAX_BYTES", 1024 * 1024 * 1024, 1024),
    streamReplicas: num(env, "STREAM_REPLICAS", 1, 1),
    duplicateWindowMs: num(env, "DUPLICATE_WINDOW_MS", 120_000, 1000),
    maxInFlight: num(env, "MAX_IN_FLIGHT", 1000, 1),
    maxBatch: num(env, "WORK_BATCH", 200, 1),
    batchLingerMs: num(env, "WORK_LINGER_MS", 20, 0),
    publishConcurrency: num(env, "PUBLISH_CONCURRENCY", 1, 1),
    publishTimeoutMs: num(env, "PUBLISH_TIMEOUT_MS", 5_000, 100),
    ackWaitMs: num(env, "ACK_WAIT_MS", 30_000, 1000),
    maxBodyBytes: num(env, "MAX_BODY_BYTES", 1024 * 1024, 1024),
    limits: { ...defaultLimits, maxBatch: num(env, "MAX_BATCH", defaultLimits.maxBatch, 1) },
    scoring: {
      halfLifeMs: num(env, "HALF_LIFE_DAYS", defaultScoring.halfLifeMs / 86_400_000, 0.001) * 86_400_000,
      ancestorShare: num(env, "ANCESTOR_SHARE", defaultScoring.ancestorShare, 0),
      topN: num(env, "TOP_N", defaultScoring.topN, 1),
      minCredit: defaultScoring.minCredit,
    },
    seenTtlSeconds: num(env, "SEEN_TTL_SECONDS", 2 * 86_400, 60),
    notifySubject: env.NOTIFY_SUBJECT ?? "pipeline.written",
    shutdownTimeoutMs: num(env, "SHUTDOWN_TIMEOUT_MS", 20_000, 100),
    stopDrainMs: num(env, "STOP_DRAIN_MS", 0, 0),
    prometheusUrl: str(env, "PROMETHEUS_URL", "http://prometheus:9090"),
    authTokens: tokens(env),
    allowedOrigins: accessSetting("ALLOWED_ORIGINS", () => parseOrigins(env.ALLOWED_ORIGINS ?? "")),
    storeKey: password(env, "STORE_KEY_FILE") ?? "",
    retentionSeconds: num(env, "RETENTION_SECONDS", 400 * 86_400, 1),
    sensitiveNodes: str(env, "SENSITIVE_NODES", "").split(",").map((n) => n.trim()).filter(Boolean),
    redisPassword: password(env, "REDIS_PASSWORD_FILE"),
    natsUser: str(env, "NATS_USER", "pipeline"),
    natsPassword: password(env, "NATS_PASSWORD_FILE"),
  };
}

export const subjects = (c: Config) => ({ raw: `${c.subjectPrefix}.raw`, categorised: `${c.subjectPrefix}.categorised` });
