import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTaxonomy } from "../../src/taxonomy.js";
import { smallTaxonomyRows } from "../helpers/taxonomy.js";
import { creditsFor, currentScores, decay, defaultScoring } from "../../src/scoring.js";

const tax = parseTaxonomy(smallTaxonomyRows.join("\n"));

test("credit to the node and a halving share to each ancestor", () => {
  assert.deepEqual(creditsFor(tax, "3", 1), [
    { nodeId: "3", credit: 1 },
    { nodeId: "2", credit: 0.5 },
    { nodeId: "1", credit: 0.25 },
  ]);
  assert.equal(creditsFor(tax, "1", 0.01)[0].credit, defaultScoring.minCredit);
});

test("a visit at an SCD node or below one credits nothing, not even a parent that is not sensitive", () => {
  assert.deepEqual(creditsFor(tax, "5", 1), []);
  assert.deepEqual(creditsFor(tax, "6", 1), []);
  assert.deepEqual(creditsFor(tax, "4", 1), [{ nodeId: "4", credit: 1 }]);
  assert.deepEqual(creditsFor(tax, "nope", 1), []);
});

test("nodes the deployment names sensitive (by ID or name) credit nothing, with everything below them", () => {
  const named = parseTaxonomy(smallTaxonomyRows.join("\n"), "small", ["tennis"]);
  assert.deepEqual(creditsFor(named, "2", 1), []);
  assert.deepEqual(creditsFor(named, "3", 1), []);
  assert.deepEqual(creditsFor(named, "1", 1), [{ nodeId: "1", credit: 1 }]);
  assert.deepEqual(creditsFor(parseTaxonomy(smallTaxonomyRows.join("\n"), "small", ["3"]), "3", 1), []);
  assert.throws(() => parseTaxonomy(smallTaxonomyRows.join("\n"), "small", ["Tennis", "Politics"]), /no node has the ID or name "Politics"/);
});

test("decay halves per half-life", () => {
  assert.equal(decay(0, 10), 1);
  assert.equal(decay(10, 10), 0.5);
  assert.equal(decay(30, 10), 0.125);
});

test("current scores decay stored values from the epoch, highest first", () => {
  const s = { ...defaultScoring, halfLifeMs: 1000 };
  assert.deepEqual(currentScores(0, [["old", 1], ["new", 4]], 2000, s), [
    { nodeId: "new", credit: 1 },
    { nodeId: "old", credit: 0.25 },
  ]);
});
