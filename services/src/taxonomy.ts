// Parsing of taxonomy files in the IAB Content Taxonomy 3.x TSV format.
//
// Layout of the format: tab-separated, optional CRLF line endings, one or more
// header rows (the one that names the columns starts with "Unique ID"), then one
// row per node: Unique ID, Parent, Name, Tier 1..Tier 4, Extension. An
// Extension containing "SCD" marks Special Category Data (sensitive) nodes; a
// deployment may name more (political opinions are special category data too,
// GDPR Art. 9, and the IAB file does not flag them).
import { readFileSync } from "node:fs";

export interface TaxonomyNode {
  id: string;
  parentId: string | null;
  name: string;
  /** Names from tier 1 down to this node. */
  path: string[];
  /** 1 for top-level nodes. */
  tier: number;
  /** Flagged SCD in the file. */
  scd: boolean;
  /** Flagged SCD, or named sensitive by the deployment, itself or above: a visit placed here credits nothing. */
  sensitive: boolean;
}

export class TaxonomyError extends Error {}

export class Taxonomy {
  readonly nodes = new Map<string, TaxonomyNode>();
  readonly children = new Map<string, TaxonomyNode[]>();
  readonly roots: TaxonomyNode[] = [];
  private readonly byName = new Map<string, TaxonomyNode[]>();
  private readonly byPath = new Map<string, TaxonomyNode>();

  constructor(nodes: TaxonomyNode[]) {
    for (const n of nodes) {
      this.nodes.set(n.id, n);
      const key = normaliseName(n.name);
      const list = this.byName.get(key) ?? [];
      list.push(n);
      list.sort((a, b) => a.tier - b.tier);
      this.byName.set(key, list);
      this.byPath.set(n.path.map(normaliseName).join(">"), n);
      if (n.parentId === null) this.roots.push(n);
      else {
        const c = this.children.get(n.parentId) ?? [];
        c.push(n);
        this.children.set(n.parentId, c);
      }
    }
  }

  get size(): number {
    return this.nodes.size;
  }

  get(id: string): TaxonomyNode | undefined {
    return this.nodes.get(id);
  }

  /** Ancestors of a node, nearest first (the node itself excluded). */
  ancestors(id: string): TaxonomyNode[] {
    const out: TaxonomyNode[] = [];
    let cur = this.nodes.get(id);
    while (cur && cur.parentId !== null) {
      const p = this.nodes.get(cur.parentId);
      if (!p) break;
      out.push(p);
      cur = p;
    }
    return out;
  }

  /** The tier-1 node above (or equal to) a node. */
  root(id: string): TaxonomyNode | undefined {
    const n = this.nodes.get(id);
    if (!n) return undefined;
    const a = this.ancestors(id);
    return a.length ? a[a.length - 1] : n;
  }

  /**
   * Resolve a knowledge key to nodes. A key is a node name ("Tennis") or a path
   * of names separated by ">" ("Sports > Tennis"); the match ignores case,
   * "&"/"and" and punctuation. A bare name that several nodes share resolves to
   * all of them (shallowest first).
   */
  resolve(key: string): TaxonomyNode[] {
    if (key.includes(">")) {
      const parts = key.split(">").map(normaliseName);
      const exact = this.byPath.get(parts.join(">"));
      if (exact) return [exact];
      // A path whose last parts match (e.g. "Tennis" under any parent named "Sports").
      const last = this.byName.get(parts[parts.length - 1]) ?? [];
      return last.filter((n) => {
        const p = n.path.map(normaliseName);
        return parts.every((x, i) => p[p.length - parts.length + i] === x);
      });
    }
    return this.byName.get(normaliseName(key)) ?? [];
  }

  /** Whether `id` is `ancestorId` or below it. */
  isWithin(id: string, ancestorId: string): boolean {
    if (id === ancestorId) return true;
    return this.ancestors(id).some((a) => a.id === ancestorId);
  }
}

export function normaliseName(s: string): string {
  return s
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/&/g, " and ")
    .replace(/[^a-z0-9]+/g, " ")
    .trim();
}

function splitRow(line: string): string[] {
  return line.split("\t").map((c) => c.trim());
}

/**
 * Parse the text of a taxonomy TSV file. Throws TaxonomyError naming the line on bad input.
 * `sensitive`: node IDs or names (every node of that name) that are sensitive besides the SCD
 * ones, with everything below them; one that names no node is an error.
 */
export function parseTaxonomy(text: string, source = "taxonomy", sensitive: string[] = []): Taxonomy {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let headerIdx = -1;
  for (let i = 0; i < Math.min(lines.length, 10); i++) {
    if (/^unique\s*id$/i.test(splitRow(lines[i])[0] ?? "")) {
      headerIdx = i;
      break;
    }
  }
  if (headerIdx < 0) throw new TaxonomyError(`${source}: no header row starting with "Unique ID" in the first 10 lines`);
  const header = splitRow(lines[headerIdx]).map((h) => h.toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const idCol = 0;
  const parentCol = col("parent");
  const nameCol = col("name");
  if (parentCol < 0 || nameCol < 0) throw new TaxonomyError(`${source}: header row lacks "Parent" or "Name" columns`);
  let extCol = col("extension");
  if (extCol < 0) {
    for (let i = 0; i < headerIdx && extCol < 0; i++) {
      extCol = splitRow(lines[i]).findIndex((h) => /^extension$/i.test(h));
    }
  }
  if (extCol < 0) {
    const tiers = header.map((h, i) => (/^tier\s*\d+$/.test(h) ? i : -1)).filter((i) => i >= 0);
    extCol = tiers.length ? Math.max(...tiers) + 1 : -1;
  }

  interface Raw { id: string; parentId: string | null; name: string; scd: boolean; line: number }
  const raws: Raw[] = [];
  const seen = new Set<string>();
  for (let i = headerIdx + 1; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    const cells = splitRow(lines[i]);
    const id = cells[idCol] ?? "";
    const name = cells[nameCol] ?? "";
    if (!id) throw new TaxonomyError(`${source}:${i + 1}: empty Unique ID`);
    if (!name) throw new TaxonomyError(`${source}:${i + 1}: node ${id} has no Name`);
    if (seen.has(id)) throw new TaxonomyError(`${source}:${i + 1}: duplicate Unique ID ${id}`);
    seen.add(id);
    const ext = extCol >= 0 ? cells[extCol] ?? "" : "";
    raws.push({ id, parentId: cells[parentCol] || null, name, scd: /\bSCD\b/i.test(ext), line: i + 1 });
  }
  if (raws.length === 0) throw new TaxonomyError(`${source}: no nodes`);
  const rawById = new Map(raws.map((r) => [r.id, r]));
  const named = sensitiveIds(raws, sensitive, source);
  for (const r of raws) {
    if (r.parentId !== null && !rawById.has(r.parentId)) {
      throw new TaxonomyError(`${source}:${r.line}: node ${r.id} names parent ${r.parentId}, which is not in the file`);
    }
  }
  const built = new Map<string, TaxonomyNode>();
  const build = (r: Raw, depth: number): TaxonomyNode => {
    const done = built.get(r.id);
    if (done) return done;
    if (depth > 50) throw new TaxonomyError(`${source}:${r.line}: parent cycle at node ${r.id}`);
    const parent = r.parentId === null ? null : build(rawById.get(r.parentId)!, depth + 1);
    const node: TaxonomyNode = {
      id: r.id,
      parentId: r.parentId,
      name: r.name,
      path: parent ? [...parent.path, r.name] : [r.name],
      tier: parent ? parent.tier + 1 : 1,
      scd: r.scd,
      sensitive: r.scd || named.has(r.id) || (parent?.sensitive ?? false),
    };
    built.set(r.id, node);
    return node;
  };
  return new Taxonomy(raws.map((r) => build(r, 0)));
}

/** The IDs of the nodes that `entries` name, by ID or by name. */
function sensitiveIds(raws: Array<{ id: string; name: string }>, entries: string[], source: string): Set<string> {
  const ids = new Set<string>();
  const unknown: string[] = [];
  for (const entry of entries) {
    const matched = raws.filter((r) => r.id === entry || normaliseName(r.name) === normaliseName(entry));
    if (matched.length === 0) unknown.push(entry);
    for (const r of matched) ids.add(r.id);
  }
  if (unknown.length > 0) throw new TaxonomyError(`${source}: no node has the ID or name ${unknown.map((u) => JSON.stringify(u)).join(", ")} (listed as sensitive)`);
  return ids;
}

export function loadTaxonomy(file: string, sensitive: string[] = []): Taxonomy {
  return parseTaxonomy(readFileSync(file, "utf8"), file, sensitive);
}
