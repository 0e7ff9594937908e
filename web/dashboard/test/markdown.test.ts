import { describe, expect, it } from 'vitest';
import { looksLikeMarkdown, parseInline, parseMarkdown, plainText, safeHref } from '../src/lib/markdown';

describe('markdown', () => {
  it('parses bold, italic, code and links inside a paragraph', () => {
    expect(parseMarkdown('Hi **Ann**, see _this_ and `x` at [docs](https://a.test/d).')).toEqual([
      {
        t: 'p',
        c: [
          { t: 'text', v: 'Hi ' },
          { t: 'b', c: [{ t: 'text', v: 'Ann' }] },
          { t: 'text', v: ', see ' },
          { t: 'i', c: [{ t: 'text', v: 'this' }] },
          { t: 'text', v: ' and ' },
          { t: 'code', v: 'x' },
          { t: 'text', v: ' at ' },
          { t: 'a', href: 'https://a.test/d', c: [{ t: 'text', v: 'docs' }] },
          { t: 'text', v: '.' },
        ],
      },
    ]);
  });

  it('makes bullet and numbered lists, paragraphs and line breaks', () => {
    const blocks = parseMarkdown('Steps:\n1. open\n2. *click*\n\n- a\n- b\nline one\nline two');
    expect(blocks.map((b) => b.t)).toEqual(['p', 'ol', 'ul', 'p']);
    expect(blocks[1]).toMatchObject({ t: 'ol', start: 1, items: [[{ t: 'text', v: 'open' }], [{ t: 'i' }]] });
    expect(blocks[3]).toEqual({ t: 'p', c: [{ t: 'text', v: 'line one' }, { t: 'br' }, { t: 'text', v: 'line two' }] });
  });

  it('keeps HTML as text and refuses javascript: links', () => {
    expect(parseMarkdown('<script>alert(1)</script>')).toEqual([{ t: 'p', c: [{ t: 'text', v: '<script>alert(1)</script>' }] }]);
    expect(parseInline('[x](javascript:alert(1))')).toEqual([{ t: 'text', v: '[x](javascript:alert(1))' }]);
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('data:text/html,hi')).toBeNull();
    expect(safeHref('mailto:a@b.test')).toBe('mailto:a@b.test');
  });

  it('links bare URLs without trailing punctuation', () => {
    expect(parseInline('go to https://shop.test/x?y=1.')).toEqual([
      { t: 'text', v: 'go to ' },
      { t: 'a', href: 'https://shop.test/x?y=1', c: [{ t: 'text', v: 'https://shop.test/x?y=1' }] },
      { t: 'text', v: '.' },
    ]);
  });

  it('leaves snake_case words and lone stars alone', () => {
    expect(parseInline('my_var_name 2 * 3')).toEqual([{ t: 'text', v: 'my_var_name 2 * 3' }]);
    expect(parseInline('\\*not italic\\*')).toEqual([{ t: 'text', v: '*not italic*' }]);
  });

  it('tells markdown from plain text', () => {
    expect(looksLikeMarkdown('**bold**')).toBe(true);
    expect(looksLikeMarkdown('- item')).toBe(true);
    expect(looksLikeMarkdown('see [x](https://a.test)')).toBe(true);
    expect(looksLikeMarkdown('Hello, where is my order?')).toBe(false);
    expect(looksLikeMarkdown('2 * 3 = 6')).toBe(false);
  });

  it('gives plain text for previews', () => {
    expect(plainText('**Hi** _there_\n- a\n- b')).toBe('Hi there a, b');
  });
});
