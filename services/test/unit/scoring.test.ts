import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTaxonomy } from "../../src/taxonomy.js";
import { applyVisit, creditsFor, currentScores, decay, defaultScoring, emptyProfile } from "../../src/scoring.js";

const tax = parseTaxonomy([
  "Unique ID\tParent\tName\tTier 1\tTier 2\tTier 3\tTier 4\tExtension",
  "1\t\tSports\tSports\t\t\t\t",
  "2\t1\tTennis\tSports\tTennis\t\t\t",
  "3\t2\tGrand Slams\tSports\tTennis\tGrand Slams\t\t",
  "4\t\tHealth\tHealth\t\t\t\t",
  "5\t4\tConditions\tHealth\tConditions\t\t\tSCD",
  "6\t5\tAllergies\tHealth\tConditions\tAllergies\t\t",
].join("\n"));

test("credit to the node and a halving share to each ancestor", () => {
  assert.deepEqual(creditsFor(tax, "3", 1), [
    { nodeId: "3", credit: 1 },
    { nodeId: "2", credit: 0.5 },
    { nodeId: "1", credit: 0.25 },
  ]);
  assert.equal(creditsFor(tax, "1", 0.01)[0].credit, defaultScoring.minCredit);
});

test("SCD nodes and nodes below them are never credited", () => {
  assert.deepEqual(creditsFor(tax, "5", 1), [{ nodeId: "4", credit: 0.5 }]);
  assert.deepEqual(creditsFor(tax, "6", 1), [{ nodeId: "4", credit: 0.25 }]);
  assert.deepEqual(creditsFor(tax, "nope", 1), []);
});

test("decay halves per half-life", () => {
  assert.equal(decay(0, 10), 1);
  assert.equal(decay(10, 10), 0.5);
  assert.equal(decay(30, 10), 0.125);
});

test("a visit counts once per event id", () => {
  const p = emptyProfile();
  const c = creditsFor(tax, "2", 1);
  assert.equal(applyVisit(p, "e1", 1000, c), true);
  assert.equal(applyVisit(p, "e1", 1000, c), false);
  assert.equal(p.events, 1);
  assert.equal(p.scores.get("2"), 1);
});

test("newer visits weigh more; current scores decay from the epoch", () => {
  const s = { ...defaultScoring, halfLifeMs: 1000 };
  const p = emptyProfile();
  applyVisit(p, "a", 0, [{ nodeId: "old", credit: 1 }], s);
  applyVisit(p, "b", 2000, [{ nodeId: "new", credit: 1 }], s);
  const now = currentScores(p.epoch!, [...p.scores], 2000, s);
  assert.deepEqual(now.map((x) => x.nodeId), ["new", "old"]);
  assert.equal(now[0].credit, 1);
  assert.equal(now[1].credit, 0.25);
});

test("rebases the epoch long after it without changing current scores", () => {
  const s = { ...defaultScoring, halfLifeMs: 1 };
  const p = emptyProfile();
  applyVisit(p, "a", 0, [{ nodeId: "x", credit: 1 }], s);
  applyVisit(p, "b", 100, [{ nodeId: "y", credit: 1 }], s);
  assert.equal(p.epoch, 100);
  assert.equal(currentScores(p.epoch!, [...p.scores], 100, s)[0].credit, 1);
});

test("keeps the top N", () => {
  const s = { ...defaultScoring, topN: 2 };
  const p = emptyProfile();
  applyVisit(p, "a", 0, [{ nodeId: "x", credit: 3 }, { nodeId: "y", credit: 2 }, { nodeId: "z", credit: 1 }], s);
  assert.deepEqual([...p.scores.keys()].sort(), ["x", "y"]);
});
