import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Categoriser, loadKnowledge, type Knowledge } from "../../src/categorise.js";
import { loadTaxonomy, parseTaxonomy } from "../../src/taxonomy.js";
import { loadLabelled, officialTaxonomyFile, score, servicesDir } from "../helpers/labelled.js";

const tax = parseTaxonomy([
  "Unique ID\tParent\tName\tTier 1\tTier 2\tTier 3\tTier 4\tExtension",
  "S\t\tSports\tSports\t\t\t\t",
  "ST\tS\tTennis\tSports\tTennis\t\t\t",
  "SG\tS\tGolf\tSports\tGolf\t\t\t",
  "F\t\tFood & Drink\tFood & Drink\t\t\t\t",
  "FC\tF\tCooking\tFood & Drink\tCooking\t\t\t",
].join("\n"));
const knowledge: Knowledge = {
  keywords: { Tennis: ["wimbledon", "grand slam"], Cooking: ["recipe"], "Sports > Golf": ["birdie"] },
  domains: { "tennis.example": "Tennis", "food.example/recipes": "Cooking" },
  synonyms: { recipies: "recipe" },
  stopwords: ["the", "www", "com"],
  noAutoName: [],
};
const c = new Categoriser(tax, knowledge);

test("stage 1: the domain table, with path prefixes", () => {
  assert.equal(c.categorise({ url: "https://www.tennis.example/x" })?.nodeId, "ST");
  const m = c.categorise({ url: "https://food.example/recipes/123" });
  assert.equal(m?.nodeId, "FC");
  assert.equal(m?.stage, "domain");
});

test("stage 2: URL tokens, including words inside compound host names", () => {
  assert.equal(c.categorise({ url: "https://x.org/news/wimbledon-final" })?.nodeId, "ST");
  assert.equal(c.categorise({ url: "https://bestrecipes.net/" })?.nodeId, "FC");
});

test("stage 3: title and keywords, node names, synonyms and plurals", () => {
  assert.equal(c.categorise({ url: "https://x.org/a/1", title: "Three easy recipies" })?.nodeId, "FC");
  assert.equal(c.categorise({ url: "https://x.org/a/1", keywords: ["golf"] })?.nodeId, "SG");
  assert.equal(c.categorise({ url: "https://x.org/a/1", title: "A birdie at the last" })?.nodeId, "SG");
});

test("confidence falls with mixed evidence; no evidence is unmatched", () => {
  const clear = c.categorise({ url: "https://x.org/tennis", title: "Wimbledon grand slam" })!;
  const mixed = c.categorise({ url: "https://x.org/tennis", title: "recipe for cooking" })!;
  assert.ok(clear.confidence > mixed.confidence);
  assert.equal(c.categorise({ url: "https://x.org/a/b/123" }), null);
});

test("keys missing from the taxonomy are skipped and reported", () => {
  const c2 = new Categoriser(tax, { ...knowledge, keywords: { Nope: ["x"] } });
  assert.deepEqual(c2.unresolvedKeys, ["Nope"]);
});

test("the shipped knowledge with the default taxonomy", () => {
  const c3 = new Categoriser(loadTaxonomy(join(servicesDir, "taxonomy/default-taxonomy.tsv")), loadKnowledge(join(servicesDir, "knowledge")));
  assert.deepEqual(c3.categorise({ url: "https://www.espn.com/nba/story/_/id/1/x" })?.path, ["Sports", "Basketball"]);
});

test("labelled set against the official IAB 3.1 taxonomy (categoriser alone): tier-1 >= 80%", { skip: !existsSync(officialTaxonomyFile) && process.env.CI !== "true" && "official taxonomy file not present" }, () => {
  const t = loadTaxonomy(officialTaxonomyFile);
  const cat = new Categoriser(t, loadKnowledge(join(servicesDir, "knowledge")));
  const items = loadLabelled();
  const s = score(t, items, items.map((it) => cat.categorise(it)?.nodeId ?? null));
  const urlOnly = score(t, items, items.map((it) => cat.categorise({ url: it.url })?.nodeId ?? null));
  console.log(`categoriser on ${s.total} labelled URLs: tier-1 ${(100 * s.tier1Accuracy).toFixed(1)}%, tier-2 ${(100 * s.tier2Accuracy).toFixed(1)}% (of ${s.tier2Total}); URL only: tier-1 ${(100 * urlOnly.tier1Accuracy).toFixed(1)}%, tier-2 ${(100 * urlOnly.tier2Accuracy).toFixed(1)}%`);
  assert.ok(items.length >= 40);
  assert.ok(new Set(items.map((i) => i.tier1)).size >= 12);
  assert.ok(s.tier1Accuracy >= 0.8, `tier-1 accuracy ${s.tier1Accuracy}\n${s.misses.join("\n")}`);
});
