import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadTaxonomy, parseTaxonomy, TaxonomyError } from "../../src/taxonomy.js";
import { officialTaxonomyFile, servicesDir } from "../helpers/labelled.js";

const sample = [
  "Relational ID System\t\t\tTiered Categories\t\t\t\tExtension",
  "Unique ID\tParent\tName\tTier 1\tTier 2\tTier 3\tTier 4\t",
  "1\t\tSports\tSports\t\t\t\t",
  "2\t1\tTennis\tSports\tTennis\t\t\t",
  "3\t\tHealth\tHealth\t\t\t\tSCD",
  "4\t3\tConditions\tHealth\tConditions\t\t\t",
  "5\t2\tGrand Slams\tSports\tTennis\tGrand Slams\t\t",
].join("\r\n");

test("parses the TSV layout: parents, paths, tiers, SCD inherited", () => {
  const t = parseTaxonomy(sample);
  assert.equal(t.size, 5);
  assert.deepEqual(t.get("5")!.path, ["Sports", "Tennis", "Grand Slams"]);
  assert.equal(t.get("5")!.tier, 3);
  assert.equal(t.get("3")!.scd, true);
  assert.equal(t.get("4")!.scd, false);
  assert.equal(t.get("4")!.sensitive, true, "below an SCD node is sensitive too");
  assert.deepEqual(t.ancestors("5").map((n) => n.id), ["2", "1"]);
  assert.equal(t.root("5")!.id, "1");
  assert.deepEqual(t.roots.map((r) => r.id), ["1", "3"]);
});

test("resolves knowledge keys by name and by path, ignoring case and &/and", () => {
  const t = parseTaxonomy(sample);
  assert.deepEqual(t.resolve("tennis").map((n) => n.id), ["2"]);
  assert.deepEqual(t.resolve("Sports > Tennis").map((n) => n.id), ["2"]);
  assert.deepEqual(t.resolve("Tennis > Grand Slams").map((n) => n.id), ["5"]);
  assert.deepEqual(t.resolve("Nope"), []);
});

test("rejects broken files with the line at fault", () => {
  assert.throws(() => parseTaxonomy("a\tb\n"), TaxonomyError);
  assert.throws(() => parseTaxonomy(sample + "\r\n6\t99\tOrphan\t\t\t\t\t"), /line|:\d+: node 6 names parent 99/);
  assert.throws(() => parseTaxonomy(sample + "\r\n2\t1\tAgain\t\t\t\t\t"), /duplicate Unique ID 2/);
});

test("the project's default taxonomy parses and has SCD nodes", () => {
  const t = loadTaxonomy(join(servicesDir, "taxonomy/default-taxonomy.tsv"));
  assert.ok(t.size > 100);
  assert.ok([...t.nodes.values()].some((n) => n.scd));
});

test("the official IAB Content Taxonomy 3.1 parses (704 nodes, 37 tier-1)", { skip: !existsSync(officialTaxonomyFile) && process.env.CI !== "true" && "official taxonomy file not present" }, () => {
  const t = loadTaxonomy(officialTaxonomyFile);
  assert.equal(t.size, 704);
  assert.equal(t.roots.length, 37);
  assert.ok([...t.nodes.values()].filter((n) => n.scd).length > 10);
});

test("Politics is found by name in both the default taxonomy and IAB 3.1, with its children", () => {
  const ours = loadTaxonomy(join(servicesDir, "taxonomy/default-taxonomy.tsv"), ["Politics"]);
  const politics = [...ours.nodes.values()].filter((n) => n.name === "Politics");
  assert.equal(politics.length, 1);
  assert.ok(politics.every((n) => n.sensitive));
  assert.ok([...ours.nodes.values()].filter((n) => ours.isWithin(n.id, politics[0].id)).every((n) => n.sensitive));
  const iab = loadTaxonomy(officialTaxonomyFile, ["Politics"]);
  assert.equal(iab.get("386")!.sensitive, true);
  assert.equal(iab.get("387")!.sensitive, true, "Elections, below Politics");
  assert.equal(loadTaxonomy(officialTaxonomyFile).get("387")!.sensitive, false, "only when named");
});
