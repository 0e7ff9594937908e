import { describe, expect, it } from 'vitest';
import { applyCanned, cannedMatches, cannedQuery } from '../src/lib/canned';
import type { CannedResponse } from '../src/sdk';

const canned = (shortcut: string, title = shortcut, body = `body of ${shortcut}`): CannedResponse => ({
  id: shortcut.length,
  shortcut,
  title,
  body,
  shared: true,
  owner_id: null,
  created_at: 0,
  updated_at: 0,
});

describe('canned responses', () => {
  it('finds the /shortcut being typed at the caret', () => {
    expect(cannedQuery('/th', 3)).toEqual({ start: 0, query: 'th' });
    expect(cannedQuery('Hi /Ref', 7)).toEqual({ start: 3, query: 'ref' });
    expect(cannedQuery('Hi /', 4)).toEqual({ start: 3, query: '' });
    expect(cannedQuery('a/b', 3)).toBeNull(); // not at a word start
    expect(cannedQuery('/thanks and', 11)).toBeNull(); // the caret left the word
    expect(cannedQuery('https://x', 9)).toBeNull();
  });

  it('ranks shortcut prefixes before other matches', () => {
    const list = [canned('refund', 'Refund policy'), canned('thanks'), canned('hours', 'Opening hours'), canned('thx')];
    expect(cannedMatches(list, 'th').map((c) => c.shortcut)).toEqual(['thanks', 'thx']);
    expect(cannedMatches(list, 'policy').map((c) => c.shortcut)).toEqual(['refund']);
    expect(cannedMatches(list, '').map((c) => c.shortcut)).toEqual(['hours', 'refund', 'thanks', 'thx']);
  });

  it('replaces the /shortcut with the body and puts the caret after it', () => {
    const q = cannedQuery('Hello /tha world', 10);
    expect(q).toEqual({ start: 6, query: 'tha' });
    expect(applyCanned('Hello /tha world', 10, q!, 'Thank you!')).toEqual({ text: 'Hello Thank you! world', caret: 16 });
  });
});
