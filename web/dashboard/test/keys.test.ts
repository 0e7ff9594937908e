import { describe, expect, it } from 'vitest';
import { isTyping, shortcutFor } from '../src/lib/keys';

const body = { tag: 'BODY' };

describe('shortcuts', () => {
  it('maps single keys outside fields', () => {
    expect(shortcutFor({ key: 'j' }, body)).toBe('next');
    expect(shortcutFor({ key: 'k' }, body)).toBe('prev');
    expect(shortcutFor({ key: 'a' }, body)).toBe('assign_me');
    expect(shortcutFor({ key: 'r' }, body)).toBe('resolve');
    expect(shortcutFor({ key: '/' }, body)).toBe('focus_search');
    expect(shortcutFor({ key: '?' }, body)).toBe('help');
    expect(shortcutFor({ key: 'q' }, body)).toBeNull();
  });

  it('never fires while typing, except Escape', () => {
    for (const target of [{ tag: 'TEXTAREA' }, { tag: 'INPUT', type: 'text' }, { tag: 'INPUT', type: 'search' }, { tag: 'DIV', editable: true }, { tag: 'SELECT' }]) {
      expect(shortcutFor({ key: 'r' }, target)).toBeNull();
      expect(shortcutFor({ key: '/' }, target)).toBeNull();
      expect(shortcutFor({ key: 'Escape' }, target)).toBe('escape');
    }
    expect(isTyping({ tag: 'INPUT', type: 'checkbox' })).toBe(false);
    expect(shortcutFor({ key: 'j' }, { tag: 'INPUT', type: 'checkbox' })).toBe('next');
  });

  it('leaves modified keys to the browser', () => {
    expect(shortcutFor({ key: 'r', ctrlKey: true }, body)).toBeNull();
    expect(shortcutFor({ key: 'k', metaKey: true }, body)).toBeNull();
  });
});
