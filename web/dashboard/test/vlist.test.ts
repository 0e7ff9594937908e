import { describe, expect, it } from 'vitest';
import { scrollToReveal, shouldLoadMore, visibleRange } from '../src/lib/vlist';

describe('windowed list', () => {
  it('renders only the rows in view plus the overscan', () => {
    expect(visibleRange(0, 760, 76, 10_000, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleRange(76 * 5000, 760, 76, 10_000, 5)).toEqual({ start: 4995, end: 5015 });
    expect(visibleRange(76 * 9995, 760, 76, 10_000, 5)).toEqual({ start: 9990, end: 10_000 });
    expect(visibleRange(0, 760, 76, 0)).toEqual({ start: 0, end: 0 });
  });

  it('stays within a few dozen rows however long the list', () => {
    const r = visibleRange(123_456, 900, 76, 10_000);
    expect(r.end - r.start).toBeLessThan(30);
  });

  it('asks for the next page near the end of what is loaded', () => {
    expect(shouldLoadMore({ start: 20, end: 40 }, 50, true, false)).toBe(true);
    expect(shouldLoadMore({ start: 0, end: 15 }, 50, true, false)).toBe(false);
    expect(shouldLoadMore({ start: 20, end: 40 }, 50, false, false)).toBe(false);
    expect(shouldLoadMore({ start: 20, end: 40 }, 50, true, true)).toBe(false);
  });

  it('scrolls just enough to reveal a row', () => {
    expect(scrollToReveal(0, 300, 600, 76)).toBe(0);
    expect(scrollToReveal(5, 0, 600, 76)).toBe(0);
    expect(scrollToReveal(10, 0, 600, 76)).toBe(11 * 76 - 600);
  });
});
