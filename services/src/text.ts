// Tokenising and light stemming shared by the knowledge index and the categoriser.

/** Lower-case ASCII-folded words of a text (letters and digits). */
export function words(text: string): string[] {
  return text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .replace(/'s\b/g, "")
    .replace(/&/g, " and ")
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
}

/** A very light English stemmer: folds plurals so "recipes" and "recipe" meet. */
export function stem(w: string): string {
  if (w.length <= 3) return w;
  if (w.endsWith("ies") && w.length > 4) return w.slice(0, -3) + "y";
  if (w.endsWith("sses")) return w.slice(0, -2);
  if (w.endsWith("ches") || w.endsWith("shes") || w.endsWith("xes")) return w.slice(0, -2);
  if (w.endsWith("s") && !w.endsWith("ss") && !w.endsWith("us") && !w.endsWith("is")) return w.slice(0, -1);
  return w;
}

/** Words of a text, stemmed, with stop words and noise (numbers, ids) removed. */
export function terms(text: string, stop: ReadonlySet<string>, synonyms?: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    if (w.length < 2 || w.length > 30) continue;
    if (/^\d+$/.test(w)) continue;
    if (/\d/.test(w) && w.length > 8) continue; // ids, hashes
    if (stop.has(w)) continue;
    const s = stem(w);
    if (stop.has(s)) continue;
    const syn = synonyms?.get(s);
    if (syn) out.push(...syn.split(" "));
    else out.push(s);
  }
  return out;
}

/** Normalised key of a keyword phrase, in the same space as `terms` output. */
export function phraseKey(phrase: string, stop: ReadonlySet<string>, synonyms?: ReadonlyMap<string, string>): string {
  const parts: string[] = [];
  const ws = words(phrase);
  const kept = ws.filter((w) => !stop.has(w) && !stop.has(stem(w)));
  for (const w of kept.length ? kept : ws) {
    const s = stem(w);
    const syn = synonyms?.get(s);
    parts.push(...(syn ? syn.split(" ") : [s]));
  }
  return parts.join(" ");
}
