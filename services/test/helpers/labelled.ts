// The labelled URL set and the tier-1 / tier-2 scoring used by the accuracy tests.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Taxonomy } from "../../src/taxonomy.js";

export interface Labelled {
  url: string;
  title?: string;
  keywords?: string[];
  tier1: string;
  tier2?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
export const servicesDir = resolve(here, "../..");
export const repoRoot = resolve(servicesDir, "..");
/** The official IAB Content Taxonomy 3.1 file, read from beside the repository (never copied into it). */
export const officialTaxonomyFile = process.env.OFFICIAL_TAXONOMY_FILE ?? resolve(repoRoot, "../shared/data/iab-content-taxonomy-3.1.tsv");
export const defaultLabelledFile = join(servicesDir, "test/data/labelled-urls.jsonl");

export function loadLabelled(file = process.env.LABELLED_URLS_FILE ?? defaultLabelledFile): Labelled[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
    .map((l) => JSON.parse(l) as Labelled);
}

export interface Score {
  total: number;
  tier1Correct: number;
  tier2Total: number;
  tier2Correct: number;
  tier1Accuracy: number;
  tier2Accuracy: number;
  misses: string[];
}

const norm = (s: string) => s.toLowerCase().replace(/&/g, "and").replace(/[^a-z0-9]+/g, " ").trim();

/** Score predicted node ids (null = unmatched) against labels by tier-1 and tier-2 names. */
export function score(tax: Taxonomy, items: Labelled[], predicted: Array<string | null>): Score {
  let t1 = 0;
  let t2 = 0;
  let t2n = 0;
  const misses: string[] = [];
  items.forEach((it, i) => {
    const id = predicted[i];
    const path = id ? tax.get(id)?.path ?? [] : [];
    const ok1 = path.length > 0 && norm(path[0]) === norm(it.tier1);
    if (ok1) t1++;
    if (it.tier2) {
      t2n++;
      if (path.length > 1 && norm(path[1]) === norm(it.tier2)) t2++;
    }
    if (!ok1 || (it.tier2 && !(path.length > 1 && norm(path[1]) === norm(it.tier2)))) {
      misses.push(`${it.url} -> ${path.join(" > ") || "(unmatched)"} (want ${it.tier1}${it.tier2 ? " > " + it.tier2 : ""})`);
    }
  });
  return {
    total: items.length,
    tier1Correct: t1,
    tier2Total: t2n,
    tier2Correct: t2,
    tier1Accuracy: items.length ? t1 / items.length : 0,
    tier2Accuracy: t2n ? t2 / t2n : 0,
    misses,
  };
}
