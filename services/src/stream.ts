// NATS JetStream: the two work-queue streams of the pipeline, their durable
// pull consumers, and a worker loop with a bound on messages in flight and a
// graceful stop (finish what is in flight, return what is buffered).
import { createHash } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { errors, nanos, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JsMsg,
  type PubAck,
} from "@nats-io/jetstream";
import { subjects, type Config } from "./config.js";
import { log } from "./log.js";
import { connectWithRetry } from "./role.js";

// JetStream API error codes (nats-server's errors.json) that the client does not name.
const StreamNameInUse = 10058;
const ConsumerNameInUse = 10013;
const ConsumerAlreadyExists = 10148;
const StreamStoreFailed = 10077; // "maximum bytes exceeded", "maximum messages exceeded", ...
const InsufficientResources = 10023;

const isApiError = (e: unknown, ...codes: number[]): boolean => e instanceof JetStreamApiError && codes.includes(e.code);

/** A publish refused because the stream (or the server's storage) is full. */
export const isStreamFull = (e: unknown): boolean => isApiError(e, StreamStoreFailed, InsufficientResources);

/** The credentials a connection gives: NATS_USER and NATS_PASSWORD_FILE's password; none without a password. */
export type NatsCredentials = Pick<Config, "natsUser" | "natsPassword">;

/**
 * A server whose machine died sends nothing, not even a reset:
 * - two missed pings 2 s apart move the connection to another server (the default takes minutes);
 * - a reconnect attempt to it gives up after 2 s (the client's default is 20 s, and a collector
 *   that tried the dead server under its name and then under its address took its requests
 *   down for 40 s and more);
 * - the servers are the ones named (the swarm's names), not also the addresses the cluster
 *   announces, which repeat the dead server.
 * noAsyncTraces: the client otherwise builds two Errors (stack traces) up front for every request,
 * each publish included, in case it fails: most of the collector's CPU per event.
 * With `credentials` that hold a password, the connection gives the user and password the servers
 * require (every connection of the roles passes the config here).
 */
export const natsConnectOptions = (natsUrl: string, name: string, credentials?: NatsCredentials): ConnectionOptions => ({
  servers: natsUrl.split(","),
  name,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
  timeout: 2_000,
  ignoreClusterUpdates: true,
  pingInterval: 2_000,
  maxPingOut: 2,
  noAsyncTraces: true,
  ...(credentials?.natsPassword !== undefined ? { user: credentials.natsUser, pass: credentials.natsPassword } : {}),
});

/** Connect (retrying while NATS starts), make sure the streams and consumers exist, return a JetStream client. */
export async function connectJetStream(cfg: Config, name: string): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
  const nc = await connectWithRetry("NATS", cfg.natsUrl, () => connect(natsConnectOptions(cfg.natsUrl, name, cfg)));
  // A JetStream cluster that is still forming (no meta leader, too few peers) answers with errors
  // or not at all for a while.
  await connectWithRetry("JetStream", cfg.natsUrl, () => ensureTopology(nc, cfg));
  return { nc, js: jetstream(nc, { timeout: 5_000 }) };
}

/** The wait for one publish's acknowledgement, within a `publishWithin` bound. */
const publishAttemptMs = 3_000;

/** No answer, or no stream leader to answer (being elected after a server was lost). */
const isTransient = (e: unknown): boolean =>
  e instanceof errors.TimeoutError ||
  e instanceof errors.NoRespondersError ||
  (e instanceof Error && e.cause instanceof errors.RequestError && e.cause.isNoResponders());

/**
 * Publishes to the stream, tried again with backoff while the stream gives no answer or has no
 * leader, for at most `withinMs` in all: the caller answers within a bound it knows (the gateway
 * retries a 503 on another collector) rather than waiting out every retry of the client.
 */
export async function publishWithin(js: JetStreamClient, subject: string, data: string, msgID: string, withinMs: number): Promise<PubAck> {
  const deadline = Date.now() + withinMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await js.publish(subject, data, { msgID, timeout: Math.max(1, Math.min(publishAttemptMs, deadline - Date.now())) });
    } catch (e) {
      const pause = Math.min(100 * 2 ** attempt, 1_000);
      if (!isTransient(e) || Date.now() + pause >= deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * The largest message the roles publish: half of the servers' default `max_payload` (1 MB), so
 * that headers and a server with a lower limit still take it.
 */
export const maxMessageBytes = 512 * 1024;

/**
 * `items` as JSON arrays of at most `maxBytes` each (counting UTF-16 code units, an under-count of
 * bytes only for text outside ASCII: the halved limit covers that), in order. An item larger than
 * `maxBytes` goes alone.
 */
export function jsonChunks(items: unknown[], maxBytes = maxMessageBytes): string[] {
  const jsons = items.map((item) => JSON.stringify(item));
  const chunks: string[] = [];
  for (let start = 0; start < jsons.length; ) {
    const count = fitInMessage((i) => jsons[start + i].length, jsons.length - start, Infinity, maxBytes);
    chunks.push(`[${jsons.slice(start, start + count).join(",")}]`);
    start += count;
  }
  return chunks;
}

/**
 * How many of `available` JSON texts (of lengths `lengthOf(0)`, `lengthOf(1)`...) go into one JSON
 * array message: at most `maxCount`, within `maxBytes` (the first one in any case).
 */
function fitInMessage(lengthOf: (i: number) => number, available: number, maxCount: number, maxBytes: number): number {
  let count = 1;
  let size = lengthOf(0) + 2;
  while (count < Math.min(maxCount, available) && size + lengthOf(count) + 1 <= maxBytes) {
    size += lengthOf(count) + 1;
    count++;
  }
  return count;
}

/** One event waiting for its group's publish. */
interface Waiting<T> {
  item: T;
  /** The event as JSON. */
  json: string;
  stored: (duplicate: boolean) => void;
  failed: (e: unknown) => void;
}

/**
 * Group commit of the events of concurrent requests: while `concurrency` publishes are waiting for
 * the stream, the events that arrive meanwhile wait too, and go out together as one message (a
 * JSON array, at most `maxGroup` events and `maxMessageBytes`) when a publish ends. With little traffic each event goes
 * out alone, at once; under load the stream, the consumers and their acknowledgements each work
 * once per group instead of once per event. A lone event keeps its own deduplication ID (`idOf`),
 * so the stream still drops a repeat sent alone; a group's ID is derived from its events'.
 */
export class GroupPublisher<T> {
  private waiting: Array<Waiting<T>> = [];
  private publishing = 0;

  constructor(
    private readonly send: (data: string, msgID: string) => Promise<PubAck>,
    private readonly idOf: (item: T) => string,
    private readonly maxGroup: number,
    private readonly concurrency: number,
  ) {}

  /** Resolves once the stream has stored every item, with whether each was a repeat it dropped. */
  publish(items: T[]): Promise<boolean[]> {
    const stored = Promise.all(items.map((item) => new Promise<boolean>((resolve, reject) => this.waiting.push({ item, json: JSON.stringify(item), stored: resolve, failed: reject }))));
    this.pump();
    return stored;
  }

  /** Events waiting or being published. */
  get pending(): number {
    return this.waiting.length;
  }

  private pump(): void {
    while (this.publishing < this.concurrency && this.waiting.length > 0) {
      const count = fitInMessage((i) => this.waiting[i].json.length, this.waiting.length, this.maxGroup, maxMessageBytes);
      const group = this.waiting.splice(0, count);
      const data = group.length === 1 ? group[0].json : `[${group.map((w) => w.json).join(",")}]`;
      const id = group.length === 1 ? this.idOf(group[0].item) : groupId(group.map((w) => this.idOf(w.item)));
      this.publishing++;
      this.send(data, id)
        .then(
          (ack) => group.forEach((w) => w.stored(ack.duplicate)),
          (e: unknown) => group.forEach((w) => w.failed(e)),
        )
        .finally(() => {
          this.publishing--;
          this.pump();
        });
    }
  }
}

const groupId = (ids: string[]): string => createHash("sha256").update(ids.join("\n")).digest("base64url");

export const natsUp = (nc: NatsConnection): boolean => !nc.isClosed() && !nc.isDraining();

/** How long a stop waits for the connection to drain before closing it. */
export const drainBoundMs = 2_000;

/**
 * Drains the connection (buffered acks and publishes are flushed), then closes it; a server that
 * no longer answers (its task was stopped with the stack, its machine died) ends the drain after
 * `drainBoundMs`. Without the bound the stop waited for the server until the swarm's stop grace
 * ran out and the task was killed. What was not acknowledged is delivered again.
 */
export async function closeNats(nc: NatsConnection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainBoundMs)));
  await Promise.race([nc.drain().catch(() => undefined), bound]);
  clearTimeout(timer);
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
}

/** Create or update the streams and the durable consumers (idempotent; every role calls it at start). */
async function ensureTopology(nc: NatsConnection, cfg: Config): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const subj = subjects(cfg);
  const streams = [
    { name: cfg.eventsStream, subjects: [subj.raw], consumer: "categoriser" },
    { name: cfg.resultsStream, subjects: [subj.categorised], consumer: "profile-writer" },
  ];
  for (const s of streams) {
    const config = {
      name: s.name,
      subjects: s.subjects,
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.New,
      max_bytes: cfg.streamMaxBytes,
      num_replicas: cfg.streamReplicas,
      duplicate_window: nanos(cfg.duplicateWindowMs),
    };
    try {
      await jsm.streams.info(s.name);
      await jsm.streams.update(s.name, { subjects: config.subjects, max_bytes: config.max_bytes, duplicate_window: config.duplicate_window, discard: config.discard, num_replicas: config.num_replicas });
    } catch (e) {
      if (!isApiError(e, JetStreamApiCodes.StreamNotFound)) throw e;
      try {
        await jsm.streams.add(config);
      } catch (e2) {
        // Another replica may have created it meanwhile.
        if (!isApiError(e2, StreamNameInUse)) throw e2;
      }
    }
    const consumerConfig = {
      durable_name: s.consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(cfg.ackWaitMs),
      max_ack_pending: cfg.maxInFlight * 4,
      max_deliver: -1,
    };
    try {
      await jsm.consumers.info(s.name, s.consumer);
      await jsm.consumers.update(s.name, s.consumer, { ack_wait: consumerConfig.ack_wait, max_ack_pending: consumerConfig.max_ack_pending });
    } catch (e) {
      if (!isApiError(e, JetStreamApiCodes.ConsumerNotFound)) throw e;
      try {
        await jsm.consumers.add(s.name, consumerConfig);
      } catch (e2) {
        if (!isApiError(e2, ConsumerNameInUse, ConsumerAlreadyExists)) throw e2;
      }
    }
  }
}

export interface Worker {
  /** Stop pulling, finish messages being processed, return (nak) buffered ones. */
  stop(): Promise<void>;
  done: Promise<void>;
  inFlight(): number;
}

export interface WorkerLimits {
  /** Messages handed to handlers and not yet done, at most. */
  maxInFlight: number;
  /** Messages per handler call, at most. */
  maxBatch: number;
  /** How long a batch that is not full waits for more messages (0: only those that arrived together). */
  batchLingerMs: number;
}

/**
 * Process messages of a durable consumer in batches: the messages that arrive together (up to
 * `maxBatch`, within `batchLingerMs`) go to one handler call, so that a role can make one round trip for many. At most
 * `maxInFlight` messages are in handlers at once. The handler acks (or terms) each message itself;
 * when it throws, the whole batch is returned for redelivery (a message acked already stays acked).
 */
export async function runWorker(
  js: JetStreamClient,
  stream: string,
  durable: string,
  limits: WorkerLimits,
  handle: (batch: JsMsg[]) => Promise<void>,
): Promise<Worker> {
  const { maxInFlight, maxBatch, batchLingerMs } = limits;
  const consumer = await js.consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: maxInFlight, threshold_messages: Math.floor(maxInFlight / 2) });
  let stopping = false;
  let active = 0;
  let queued: JsMsg[] = [];
  let lingering: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let wake: (() => void) | null = null;
  const slotFree = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const flush = () => {
    if (lingering) {
      clearTimeout(lingering as NodeJS.Timeout);
      clearImmediate(lingering as NodeJS.Immediate);
      lingering = undefined;
    }
    while (queued.length > 0) {
      const batch = queued.slice(0, maxBatch);
      queued = queued.slice(maxBatch);
      handle(batch)
        .catch((e) => {
          log("error", "handler failed; messages returned for redelivery", { messages: batch.length, error: String(e) });
          for (const m of batch) m.nak(1000);
        })
        .finally(() => {
          active -= batch.length;
          slotFree();
        });
    }
  };
  const done = (async () => {
    for await (const m of messages) {
      if (stopping) {
        m.nak();
        continue;
      }
      while (active >= maxInFlight) await new Promise<void>((r) => (wake = r));
      active++;
      queued.push(m);
      // A batch is cut when it is full, or `batchLingerMs` after its first message.
      if (queued.length >= maxBatch) flush();
      else lingering ??= batchLingerMs > 0 ? setTimeout(flush, batchLingerMs) : setImmediate(flush);
    }
  })();
  return {
    inFlight: () => active,
    done,
    async stop() {
      stopping = true;
      await messages.close().catch(() => undefined);
      await done.catch(() => undefined);
      flush();
      while (active > 0) await new Promise((r) => setTimeout(r, 10));
    },
  };
}
