// Validation of page-visit events posted to the collector.

export interface PageVisit {
  eventId: string;
  userId: string;
  url: string;
  title?: string;
  keywords?: string[];
  referrer?: string;
  /** Time of the visit, ms since the epoch (the collector's clock when absent). */
  timestamp: number;
  /** When the collector accepted the event, ms since the epoch. */
  receivedAt: number;
}

export interface ValidationLimits {
  maxBatch: number;
  maxUrlLength: number;
  maxTitleLength: number;
  maxKeywords: number;
  maxKeywordLength: number;
  maxIdLength: number;
  /** How far in the future a timestamp may lie (clock skew), ms. */
  maxFutureSkewMs: number;
}

export const defaultLimits: ValidationLimits = {
  maxBatch: 1000,
  maxUrlLength: 2048,
  maxTitleLength: 1000,
  maxKeywords: 50,
  maxKeywordLength: 100,
  maxIdLength: 128,
  maxFutureSkewMs: 24 * 3600 * 1000,
};

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const ID_RE = /^[A-Za-z0-9._:@\-]+$/;
const MIN_TS = Date.UTC(2000, 0, 1);

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function checkId(v: unknown, field: string, limits: ValidationLimits, errs: string[]): string | undefined {
  if (v === undefined || v === null || v === "") {
    errs.push(`${field}: required`);
    return undefined;
  }
  if (typeof v !== "string") {
    errs.push(`${field}: must be a string`);
    return undefined;
  }
  if (v.length > limits.maxIdLength) {
    errs.push(`${field}: longer than ${limits.maxIdLength} characters`);
    return undefined;
  }
  if (!ID_RE.test(v)) {
    errs.push(`${field}: only letters, digits and . _ : @ - are allowed`);
    return undefined;
  }
  return v;
}

function checkUrl(v: unknown, field: string, required: boolean, limits: ValidationLimits, errs: string[]): string | undefined {
  if (v === undefined || v === null || v === "") {
    if (required) errs.push(`${field}: required`);
    return undefined;
  }
  if (typeof v !== "string") {
    errs.push(`${field}: must be a string`);
    return undefined;
  }
  if (v.length > limits.maxUrlLength) {
    errs.push(`${field}: longer than ${limits.maxUrlLength} characters`);
    return undefined;
  }
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    errs.push(`${field}: not an absolute URL`);
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    errs.push(`${field}: must use http or https`);
    return undefined;
  }
  return v;
}

function checkTimestamp(v: unknown, now: number, limits: ValidationLimits, errs: string[]): number {
  if (v === undefined || v === null) return now;
  let t: number;
  if (typeof v === "number") {
    t = v;
  } else if (typeof v === "string" && v.trim() !== "") {
    t = /^\d+$/.test(v.trim()) ? Number(v) : Date.parse(v);
  } else {
    errs.push("timestamp: must be an ISO 8601 string or milliseconds since the epoch");
    return now;
  }
  if (!Number.isFinite(t)) {
    errs.push("timestamp: not a valid date");
    return now;
  }
  if (t < MIN_TS) {
    errs.push("timestamp: before 2000-01-01 (milliseconds since the epoch expected)");
    return now;
  }
  if (t > now + limits.maxFutureSkewMs) {
    errs.push("timestamp: too far in the future");
    return now;
  }
  return Math.round(t);
}

/** Validate one event object. Field errors are prefixed with `prefix`. */
export function validateEvent(
  input: unknown,
  now: number,
  limits: ValidationLimits = defaultLimits,
  prefix = "",
): Validated<PageVisit> {
  if (!isObject(input)) return { ok: false, errors: [`${prefix || "event"}: must be a JSON object`] };
  const errs: string[] = [];
  const eventId = checkId(input.eventId, "eventId", limits, errs);
  const userId = checkId(input.userId, "userId", limits, errs);
  const url = checkUrl(input.url, "url", true, limits, errs);
  const referrer = checkUrl(input.referrer, "referrer", false, limits, errs);
  let title: string | undefined;
  if (input.title !== undefined && input.title !== null) {
    if (typeof input.title !== "string") errs.push("title: must be a string");
    else if (input.title.length > limits.maxTitleLength) errs.push(`title: longer than ${limits.maxTitleLength} characters`);
    else if (input.title.trim() !== "") title = input.title;
  }
  let keywords: string[] | undefined;
  if (input.keywords !== undefined && input.keywords !== null) {
    let list: unknown[] | undefined;
    if (typeof input.keywords === "string") list = input.keywords.split(",");
    else if (Array.isArray(input.keywords)) list = input.keywords;
    else errs.push("keywords: must be an array of strings or a comma-separated string");
    if (list) {
      if (list.length > limits.maxKeywords) errs.push(`keywords: more than ${limits.maxKeywords} entries`);
      else if (!list.every((k) => typeof k === "string")) errs.push("keywords: every entry must be a string");
      else if (list.some((k) => (k as string).length > limits.maxKeywordLength)) {
        errs.push(`keywords: an entry is longer than ${limits.maxKeywordLength} characters`);
      } else {
        keywords = (list as string[]).map((k) => k.trim()).filter((k) => k !== "");
        if (keywords.length === 0) keywords = undefined;
      }
    }
  }
  const timestamp = checkTimestamp(input.timestamp, now, limits, errs);
  if (errs.length) return { ok: false, errors: errs.map((e) => (prefix ? `${prefix}.${e}` : e)) };
  const ev: PageVisit = { eventId: eventId!, userId: userId!, url: url!, timestamp, receivedAt: now };
  if (title !== undefined) ev.title = title;
  if (keywords !== undefined) ev.keywords = keywords;
  if (referrer !== undefined) ev.referrer = referrer;
  return { ok: true, value: ev };
}

/**
 * Validate a request body: one event object, an array of events, or
 * `{ "events": [...] }`. A batch is accepted or rejected as a whole.
 */
export function validateBody(
  body: unknown,
  now: number,
  limits: ValidationLimits = defaultLimits,
): Validated<PageVisit[]> {
  let list: unknown[];
  let batch = true;
  if (Array.isArray(body)) list = body;
  else if (isObject(body) && Array.isArray(body.events)) list = body.events;
  else if (isObject(body)) {
    list = [body];
    batch = false;
  } else return { ok: false, errors: ["body: must be an event object, an array of events or {\"events\": [...]}"] };
  if (list.length === 0) return { ok: false, errors: ["body: the batch is empty"] };
  if (list.length > limits.maxBatch) return { ok: false, errors: [`body: more than ${limits.maxBatch} events in one batch`] };
  const out: PageVisit[] = [];
  const errors: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const r = validateEvent(list[i], now, limits, batch ? `events[${i}]` : "");
    if (r.ok) out.push(r.value);
    else {
      errors.push(...r.errors);
      if (errors.length >= 20) {
        errors.push("(further errors omitted)");
        break;
      }
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: out };
}
