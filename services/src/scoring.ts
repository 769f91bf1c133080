// Interest scores: credit for a categorised visit, partial credit to ancestors,
// exponential time decay. The profile store (store.ts) keeps scores relative
// to a per-user reference time ("epoch"): a stored value s means
// s * 2^(-(now - epoch) / halfLife) now, so adding a visit never needs to touch
// the user's other scores, and the order of stored values is the order of
// current scores. Its Lua script adds the credits and trims to the top N.
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
 * full credit, each ancestor `ancestorShare` of the one below. A visit placed at
 * a sensitive node credits nothing at all: crediting its parent ("Health" for a
 * page on depression) would still record what it was about.
 */
export function creditsFor(tax: Taxonomy, nodeId: string, confidence: number, s: ScoringSettings = defaultScoring): Credit[] {
  const node = tax.get(nodeId);
  if (!node || node.sensitive) return [];
  let c = Math.max(s.minCredit, Math.min(1, confidence));
  const out: Credit[] = [{ nodeId, credit: round(c) }];
  for (const a of tax.ancestors(nodeId)) {
    c *= s.ancestorShare;
    if (c > 0) out.push({ nodeId: a.id, credit: round(c) });
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

/** Current scores, highest first. */
export function currentScores(epoch: number, stored: Array<[string, number]>, now: number, s: ScoringSettings = defaultScoring): Credit[] {
  const f = decay(now - epoch, s.halfLifeMs);
  return stored
    .map(([nodeId, v]) => ({ nodeId, credit: v * f }))
    .sort((a, b) => b.credit - a.credit);
}
