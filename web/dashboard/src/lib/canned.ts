// Canned responses in the composer: typing `/` and a shortcut at the start of a word opens a
// menu of matches; choosing one replaces the `/shortcut` with the response's body.
import type { CannedResponse } from '../sdk';

export interface CannedQuery {
  /** Index of the `/`. */
  start: number;
  /** What follows the `/` up to the caret (lower-cased). */
  query: string;
}

/** The `/word` that ends at the caret, if the `/` starts the text or follows whitespace. */
export function cannedQuery(text: string, caret: number): CannedQuery | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)\/([a-z0-9_-]{0,32})$/i.exec(before);
  if (!m) return null;
  const query = (m[2] ?? '').toLowerCase();
  return { start: caret - query.length - 1, query };
}

/** Shortcuts starting with the query first, then those containing it (or whose title does). */
export function cannedMatches(list: readonly CannedResponse[], query: string, max = 8): CannedResponse[] {
  const q = query.toLowerCase();
  const prefix: CannedResponse[] = [];
  const other: CannedResponse[] = [];
  for (const c of list) {
    const s = c.shortcut.toLowerCase();
    if (s.startsWith(q)) prefix.push(c);
    else if (q && (s.includes(q) || c.title.toLowerCase().includes(q))) other.push(c);
  }
  const byShortcut = (a: CannedResponse, b: CannedResponse) => a.shortcut.localeCompare(b.shortcut);
  return [...prefix.sort(byShortcut), ...other.sort(byShortcut)].slice(0, max);
}

/** Replaces `/query` with the body; the caret lands after it. */
export function applyCanned(text: string, caret: number, q: CannedQuery, body: string): { text: string; caret: number } {
  const next = text.slice(0, q.start) + body + text.slice(caret);
  return { text: next, caret: q.start + body.length };
}
