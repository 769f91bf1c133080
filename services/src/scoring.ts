// Interest scores: credit for a categorised visit, partial credit to ancestors,
// exponential time decay, top-N trimming. The profile store keeps scores
// relative to a per-user reference time ("epoch"): a stored value s means
// s * 2^(-(now - epoch) / halfLife) now, so adding a visit never needs to touch
// the user's other scores, and the order of stored values is the order of
// current scores. The Lua script in store.ts applies the same rules atomically.
import type { Taxonomy } from "./taxonomy.js";

export interface ScoringSettings {
  /** Half-life of an interest, ms. */
  halfLifeMs: number;
  /** Share of a node's credit passed to its parent (and so on upwards). */
  ancestorShare: number;
  /** Interests kept per user. */
  topN: number;
  /** Least credit for a visit whatever the confidence. */
  minCredit: number;
}

export const defaultScoring: ScoringSettings = {
  halfLifeMs: 14 * 24 * 3600 * 1000,
  ancestorShare: 0.5,
  topN: 20,
  minCredit: 0.25,
};

export interface Credit {
  nodeId: string;
  credit: number;
}

/**
 * Credits for one visit placed at `nodeId` with `confidence`: the node gets the
 * full credit, each ancestor `ancestorShare` of the one below. Sensitive nodes
 * (SCD-flagged, or below an SCD node) get nothing; their non-sensitive
 * ancestors keep their share.
 */
export function creditsFor(tax: Taxonomy, nodeId: string, confidence: number, s: ScoringSettings = defaultScoring): Credit[] {
  const node = tax.get(nodeId);
  if (!node) return [];
  const base = Math.max(s.minCredit, Math.min(1, confidence));
  const out: Credit[] = [];
  let c = base;
  if (!node.sensitive) out.push({ nodeId, credit: round(c) });
  for (const a of tax.ancestors(nodeId)) {
    c *= s.ancestorShare;
    if (!a.sensitive && c > 0) out.push({ nodeId: a.id, credit: round(c) });
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Decay factor over `dtMs`. */
export function decay(dtMs: number, halfLifeMs: number): number {
  return Math.pow(2, -dtMs / halfLifeMs);
}

/** In-memory model of one stored profile, mirroring the Lua script (used by tests and as its specification). */
export interface StoredProfile {
  epoch: number | null;
  scores: Map<string, number>;
  seen: Set<string>;
  events: number;
}

export function emptyProfile(): StoredProfile {
  return { epoch: null, scores: new Map(), seen: new Set(), events: 0 };
}

/** Rebase when stored values would grow past 2^REBASE_EXP. */
export const REBASE_EXP = 64;

/** Apply one visit; returns false (and changes nothing) for an event id seen before. */
export function applyVisit(p: StoredProfile, eventId: string, ts: number, credits: Credit[], s: ScoringSettings = defaultScoring): boolean {
  if (p.seen.has(eventId)) return false;
  p.seen.add(eventId);
  p.events++;
  if (p.epoch === null) p.epoch = ts;
  let exp = (ts - p.epoch) / s.halfLifeMs;
  if (exp > REBASE_EXP) {
    const f = Math.pow(2, -exp);
    for (const [k, v] of p.scores) p.scores.set(k, v * f);
    p.epoch = ts;
    exp = 0;
  }
  const mult = Math.pow(2, exp);
  for (const c of credits) p.scores.set(c.nodeId, (p.scores.get(c.nodeId) ?? 0) + c.credit * mult);
  if (p.scores.size > s.topN) {
    const keep = [...p.scores].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1)).slice(0, s.topN);
    p.scores = new Map(keep);
  }
  return true;
}

/** Current scores, highest first. */
export function currentScores(epoch: number, stored: Array<[string, number]>, now: number, s: ScoringSettings = defaultScoring): Credit[] {
  const f = decay(now - epoch, s.halfLifeMs);
  return stored
    .map(([nodeId, v]) => ({ nodeId, credit: v * f }))
    .sort((a, b) => b.credit - a.credit);
}
