// The categorisation cascade: domain table, then URL tokens, then title and
// keywords, each stage adding evidence to taxonomy nodes; stops as soon as the
// evidence is specific and one-sided enough.
//
// The matching knowledge (keyword lists, synonyms, domain table) is keyed by
// node name or by a path of names, so it applies to whichever taxonomy file is
// configured: keys that the taxonomy lacks are skipped.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { normaliseName, Taxonomy } from "./taxonomy.js";
import { phraseKey, stem, terms, words } from "./text.js";

export interface Knowledge {
  /** Node key -> keyword phrases. */
  keywords: Record<string, string[]>;
  /** Domain, or domain + path prefix ("bbc.co.uk/sport"), -> node key. */
  domains: Record<string, string>;
  /** Word -> canonical word(s) it stands for. */
  synonyms: Record<string, string>;
  /** Words that carry no meaning for categorisation. */
  stopwords: string[];
  /** Node keys whose own names (and their descendants' names) are not used as keywords. */
  noAutoName: string[];
}

export function loadKnowledge(dir: string): Knowledge {
  const read = (f: string) => JSON.parse(readFileSync(join(dir, f), "utf8"));
  const strip = <T>(o: Record<string, T>) => {
    const out: Record<string, T> = {};
    for (const [k, v] of Object.entries(o)) if (!k.startsWith("_")) out[k] = v;
    return out;
  };
  const settings = read("settings.json");
  return {
    keywords: strip(read("keywords.json")),
    domains: strip(read("domains.json")),
    synonyms: strip(read("synonyms.json")),
    stopwords: settings.stopwords,
    noAutoName: settings.noAutoName,
  };
}

export type Stage = "domain" | "url" | "text";

export interface Match {
  nodeId: string;
  name: string;
  path: string[];
  confidence: number;
  stage: Stage;
}

export interface Options {
  /** Weights of one hit per source. */
  weights: { domain: number; host: number; path: number; title: number; keyword: number };
  /** Least total evidence for a match. */
  minScore: number;
  /** Confidence at which the cascade stops early. */
  stopConfidence: number;
  /** Share of the children's evidence that one child needs to be chosen over its parent. */
  descendShare: number;
}

export const defaultOptions: Options = {
  weights: { domain: 4, host: 1.5, path: 1, title: 1.5, keyword: 2 },
  minScore: 1,
  stopConfidence: 0.75,
  descendShare: 0.55,
};

interface Hit {
  nodeId: string;
  weight: number;
}

export interface EventText {
  url: string;
  title?: string;
  keywords?: string[];
}

const HOST_NOISE = new Set(["www", "m", "mobile", "amp", "en", "blog", "blogs", "news", "web", "app", "com", "org", "net", "co", "uk", "io", "gov", "edu", "de", "fr", "au", "ca", "us", "info", "tv"]);

export class Categoriser {
  private readonly stop: Set<string>;
  private readonly synonyms: Map<string, string>;
  /** Phrase key -> nodes it votes for. */
  private readonly index = new Map<string, Hit[]>();
  /** Keys without spaces (joined phrases) of 5+ letters, for scanning compound host names. */
  private readonly compounds: Array<[string, Hit[]]> = [];
  private readonly domainTable = new Map<string, string[]>();
  private readonly hostCache = new Map<string, Hit[]>();
  private maxPhrase = 1;
  readonly unresolvedKeys: string[] = [];

  constructor(
    readonly taxonomy: Taxonomy,
    knowledge: Knowledge,
    readonly options: Options = defaultOptions,
  ) {
    this.stop = new Set(knowledge.stopwords.map((w) => w.toLowerCase()));
    this.synonyms = new Map(Object.entries(knowledge.synonyms).map(([k, v]) => [stem(k.toLowerCase()), phraseKey(v, this.stop)]));

    // Node names as keywords, except where the knowledge says they mislead.
    const noAuto = new Set<string>();
    for (const key of knowledge.noAutoName) for (const n of taxonomy.resolve(key)) noAuto.add(n.id);
    for (const n of taxonomy.nodes.values()) {
      if (noAuto.has(n.id) || taxonomy.ancestors(n.id).some((a) => noAuto.has(a.id))) continue;
      this.add(n.name, n.id, 1);
      const parts = normaliseName(n.name).split(/ and |,/).map((p) => p.trim()).filter((p) => p.length > 2);
      if (parts.length > 1) for (const p of parts) this.add(p, n.id, 0.6);
    }
    for (const [key, list] of Object.entries(knowledge.keywords)) {
      const nodes = taxonomy.resolve(key);
      if (nodes.length === 0) {
        this.unresolvedKeys.push(key);
        continue;
      }
      for (const kw of list) for (const n of nodes) this.add(kw, n.id, 1);
    }
    for (const [domain, key] of Object.entries(knowledge.domains)) {
      const nodes = taxonomy.resolve(key);
      if (nodes.length === 0) {
        this.unresolvedKeys.push(key);
        continue;
      }
      this.domainTable.set(domain.toLowerCase().replace(/^www\./, "").replace(/\/+$/, ""), nodes.map((n) => n.id));
    }
    // One phrase votes once per top-level category: a word listed both for a
    // category and for one of its subcategories goes to the deeper node only,
    // so that large subtrees do not win by counting the same word twice.
    for (const [k, hits] of this.index) {
      const perRoot = new Map<string, Hit>();
      for (const h of hits) {
        const r = taxonomy.root(h.nodeId)!.id;
        const cur = perRoot.get(r);
        const depth = (id: string) => taxonomy.get(id)!.tier;
        if (!cur || h.weight > cur.weight || (h.weight === cur.weight && depth(h.nodeId) > depth(cur.nodeId))) perRoot.set(r, h);
      }
      const deduped = [...perRoot.values()];
      this.index.set(k, deduped);
      if (!k.includes(" ") && k.length >= 5) this.compounds.push([k, deduped]);
    }
  }

  private add(phrase: string, nodeId: string, weight: number): void {
    const key = phraseKey(phrase, this.stop, this.synonyms);
    if (!key) return;
    const n = key.split(" ").length;
    this.maxPhrase = Math.max(this.maxPhrase, n);
    const put = (k: string, w: number) => {
      const list = this.index.get(k) ?? [];
      const prev = list.find((h) => h.nodeId === nodeId);
      if (prev) prev.weight = Math.max(prev.weight, w);
      else list.push({ nodeId, weight: w });
      this.index.set(k, list);
    };
    // Longer phrases are more specific.
    put(key, weight * (n > 1 ? 1.3 : 1));
    if (n > 1) {
      const joined = key.replace(/ /g, "");
      if (joined.length >= 6) put(joined, weight);
    }
  }

  /** Hits for a list of terms, matching phrases of up to maxPhrase words. Each key counts once. */
  private match(ts: string[], into: Map<string, number>, weight: number): void {
    const seen = new Set<string>();
    for (let i = 0; i < ts.length; i++) {
      for (let n = Math.min(this.maxPhrase, ts.length - i); n >= 1; n--) {
        const key = n === 1 ? ts[i] : ts.slice(i, i + n).join(" ");
        const hits = this.index.get(key);
        if (!hits || seen.has(key)) continue;
        seen.add(key);
        for (const h of hits) into.set(h.nodeId, (into.get(h.nodeId) ?? 0) + h.weight * weight);
      }
    }
  }

  private hostHits(labels: string[]): Hit[] {
    const cacheKey = labels.join(".");
    const cached = this.hostCache.get(cacheKey);
    if (cached) return cached;
    const acc = new Map<string, number>();
    const ts = labels.flatMap((l) => terms(l.replace(/-/g, " "), this.stop, this.synonyms));
    this.match(ts, acc, 1);
    // Compound labels ("golfdigest", "allrecipes"): find known words inside them.
    for (const label of labels) {
      if (label.length < 6) continue;
      const flat = label.replace(/-/g, "");
      for (const [k, hits] of this.compounds) {
        if (k.length < flat.length && flat.includes(k)) {
          for (const h of hits) acc.set(h.nodeId, Math.max(acc.get(h.nodeId) ?? 0, h.weight * 0.8));
        }
      }
    }
    const out = [...acc].map(([nodeId, weight]) => ({ nodeId, weight }));
    if (this.hostCache.size > 20000) this.hostCache.clear();
    this.hostCache.set(cacheKey, out);
    return out;
  }

  private domainLookup(host: string, path: string): string[] | undefined {
    const segs = path.split("/").filter((s) => s !== "").map((s) => s.toLowerCase());
    const labels = host.split(".");
    for (let i = 0; i < labels.length - 1; i++) {
      const d = labels.slice(i).join(".");
      // Most specific first: domain + path prefix.
      for (let k = Math.min(segs.length, 2); k >= 1; k--) {
        const hit = this.domainTable.get(`${d}/${segs.slice(0, k).join("/")}`);
        if (hit) return hit;
      }
      const hit = this.domainTable.get(d);
      if (hit) return hit;
    }
    return undefined;
  }

  /** Evidence in favour of each node, and the decision it leads to. */
  private decide(scores: Map<string, number>, stage: Stage): Match | null {
    const sub = new Map<string, number>();
    let total = 0;
    for (const [id, s] of scores) {
      if (s <= 0) continue;
      total += s;
      sub.set(id, (sub.get(id) ?? 0) + s);
      for (const a of this.taxonomy.ancestors(id)) sub.set(a.id, (sub.get(a.id) ?? 0) + s);
    }
    if (total < this.options.minScore) return null;
    let best: string | null = null;
    let bestScore = 0;
    for (const r of this.taxonomy.roots) {
      const s = sub.get(r.id) ?? 0;
      if (s > bestScore) {
        best = r.id;
        bestScore = s;
      }
    }
    if (best === null) return null;
    let cur = best;
    for (;;) {
      const kids = this.taxonomy.children.get(cur) ?? [];
      let kidTotal = 0;
      let bestKid: string | null = null;
      let bestKidScore = 0;
      for (const k of kids) {
        const s = sub.get(k.id) ?? 0;
        kidTotal += s;
        if (s > bestKidScore) {
          bestKid = k.id;
          bestKidScore = s;
        }
      }
      if (bestKid === null || bestKidScore < this.options.descendShare * kidTotal || bestKidScore < 0.5) break;
      cur = bestKid;
    }
    const share = bestScore / total;
    const strength = 1 - Math.exp(-total / 2.5);
    const node = this.taxonomy.get(cur)!;
    return {
      nodeId: node.id,
      name: node.name,
      path: node.path,
      confidence: Math.round(share * strength * 1000) / 1000,
      stage,
    };
  }

  categorise(ev: EventText): Match | null {
    let u: URL;
    try {
      u = new URL(ev.url);
    } catch {
      return null;
    }
    const w = this.options.weights;
    const host = u.hostname.toLowerCase().replace(/^www\./, "");
    const scores = new Map<string, number>();
    const confident = (m: Match | null) =>
      m !== null && m.confidence >= this.options.stopConfidence && m.path.length >= 2;

    // Stage 1: the domain table.
    const dom = this.domainLookup(host, decodeSafe(u.pathname));
    if (dom) for (const id of dom) scores.set(id, (scores.get(id) ?? 0) + w.domain / dom.length);

    // Stage 2: URL tokens: host labels and path segments.
    const labels = host.split(".").filter((l) => !HOST_NOISE.has(l));
    for (const h of this.hostHits(labels)) scores.set(h.nodeId, (scores.get(h.nodeId) ?? 0) + h.weight * w.host);
    const pathTerms = terms(decodeSafe(u.pathname).replace(/\.[a-z0-9]{2,5}$/i, ""), this.stop, this.synonyms);
    this.match(pathTerms, scores, w.path);
    const afterUrl = this.decide(scores, dom ? "domain" : "url");
    if (confident(afterUrl) && !ev.title && !ev.keywords) return afterUrl;
    if (confident(afterUrl) && (afterUrl!.confidence >= 0.9 || pathTerms.length >= 3)) return afterUrl;

    // Stage 3: title and keywords.
    if (ev.title) this.match(terms(ev.title, this.stop, this.synonyms), scores, w.title);
    if (ev.keywords) {
      for (const k of ev.keywords) this.match(terms(k, this.stop, this.synonyms), scores, w.keyword / Math.max(1, Math.sqrt(ev.keywords.length / 3)));
    }
    return this.decide(scores, ev.title || ev.keywords ? "text" : dom ? "domain" : "url");
  }
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export { words };
