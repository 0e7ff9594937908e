// The small markdown dialect of the composer: **bold**, *italic* / _italic_, `code`,
// [links](https://…), bare URLs, bullet and numbered lists, paragraphs and line breaks.
// It parses into a tree that the UI renders with Preact elements — never through innerHTML —
// so any HTML in a message stays text, and only http(s) and mailto links become links.

export type Inline =
  | { t: 'text'; v: string }
  | { t: 'b'; c: Inline[] }
  | { t: 'i'; c: Inline[] }
  | { t: 'code'; v: string }
  | { t: 'a'; href: string; c: Inline[] }
  | { t: 'br' };

export type Block = { t: 'p'; c: Inline[] } | { t: 'ul'; items: Inline[][] } | { t: 'ol'; start: number; items: Inline[][] };

const BULLET = /^ {0,3}[-*+] +(.*)$/;
const NUMBERED = /^ {0,3}(\d{1,9})[.)] +(.*)$/;
const URL_AT = /^https?:\/\/[^\s<>"]+/i;
const PUNCT = /[!-/:-@[-`{-~]/;

/** The link target if it is safe to follow (http, https, mailto), else null. */
export function safeHref(url: string): string | null {
  const u = url.trim();
  if (/^https?:\/\/[^\s]+$/i.test(u)) return u;
  if (/^mailto:[^\s]+$/i.test(u)) return u;
  return null;
}

/** True when the text uses any markup this dialect knows (to send it as `markdown`). */
export function looksLikeMarkdown(text: string): boolean {
  return /(\*\*|__)[^\s]|(^|[\s(])[*_][^\s*_]|`[^`]+`|\[[^\]]+\]\([^)]+\)|^ {0,3}([-*+]|\d+[.)]) +\S/m.test(text);
}

export function parseMarkdown(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let para: string[] = [];
  const flush = () => {
    if (para.length) {
      const c: Inline[] = [];
      para.forEach((line, i) => {
        if (i > 0) c.push({ t: 'br' });
        c.push(...parseInline(line));
      });
      blocks.push({ t: 'p', c });
      para = [];
    }
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.trim() === '') {
      flush();
      i++;
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = NUMBERED.exec(line);
    if (bullet) {
      flush();
      const items: Inline[][] = [];
      while (i < lines.length) {
        const m = BULLET.exec(lines[i] ?? '');
        if (!m) break;
        items.push(parseInline(m[1] ?? ''));
        i++;
      }
      blocks.push({ t: 'ul', items });
      continue;
    }
    if (numbered) {
      flush();
      const items: Inline[][] = [];
      const start = Number(numbered[1]);
      while (i < lines.length) {
        const m = NUMBERED.exec(lines[i] ?? '');
        if (!m) break;
        items.push(parseInline(m[2] ?? ''));
        i++;
      }
      blocks.push({ t: 'ol', start, items });
      continue;
    }
    para.push(line);
    i++;
  }
  flush();
  return blocks;
}

const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);

export function parseInline(s: string, depth = 0): Inline[] {
  const out: Inline[] = [];
  let buf = '';
  const text = (v: string) => {
    buf += v;
  };
  const push = (node: Inline) => {
    if (buf) {
      out.push({ t: 'text', v: buf });
      buf = '';
    }
    out.push(node);
  };
  let i = 0;
  while (i < s.length) {
    const ch = s[i] as string;
    const next = s[i + 1];
    if (ch === '\\' && next !== undefined && PUNCT.test(next)) {
      text(next);
      i += 2;
      continue;
    }
    if (ch === '`') {
      const end = s.indexOf('`', i + 1);
      if (end > i + 1) {
        push({ t: 'code', v: s.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if ((ch === '*' || ch === '_') && depth < 8) {
      const double = next === ch;
      const marker = double ? ch + ch : ch;
      const from = i + marker.length;
      const openOk = s[from] !== undefined && !/\s/.test(s[from] as string) && !(ch === '_' && isWordChar(s[i - 1]));
      if (openOk) {
        let end = s.indexOf(marker, from);
        // A single marker must not be the start of a double one (`*a **b** c*`).
        while (!double && end !== -1 && s[end + 1] === ch) end = s.indexOf(marker, end + 2);
        if (end > from && !/\s/.test(s[end - 1] as string) && !(ch === '_' && isWordChar(s[end + marker.length]))) {
          const inner = parseInline(s.slice(from, end), depth + 1);
          push(double ? { t: 'b', c: inner } : { t: 'i', c: inner });
          i = end + marker.length;
          continue;
        }
      }
    }
    if (ch === '[') {
      const close = s.indexOf('](', i + 1);
      const end = close === -1 ? -1 : s.indexOf(')', close + 2);
      if (close > i + 1 && end !== -1) {
        const href = safeHref(s.slice(close + 2, end));
        if (href) {
          push({ t: 'a', href, c: parseInline(s.slice(i + 1, close), depth + 1) });
          i = end + 1;
          continue;
        }
      }
    }
    if ((ch === 'h' || ch === 'H') && !isWordChar(s[i - 1])) {
      const m = URL_AT.exec(s.slice(i));
      if (m) {
        let url = m[0];
        while (/[.,;:!?)'\]]$/.test(url)) url = url.slice(0, -1);
        push({ t: 'a', href: url, c: [{ t: 'text', v: url }] });
        i += url.length;
        continue;
      }
    }
    text(ch);
    i++;
  }
  if (buf) out.push({ t: 'text', v: buf });
  return out;
}

/** The plain text of a message (previews, notifications): markup removed. */
export function plainText(text: string): string {
  const walk = (nodes: Inline[]): string =>
    nodes.map((n) => (n.t === 'text' || n.t === 'code' ? n.v : n.t === 'br' ? ' ' : walk(n.c))).join('');
  return parseMarkdown(text)
    .map((b) => (b.t === 'p' ? walk(b.c) : b.items.map((it) => walk(it)).join(', ')))
    .join(' ')
    .trim();
}
