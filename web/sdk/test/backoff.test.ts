import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff';

describe('backoffDelay', () => {
  it('doubles from 1 s and caps the base at 60 s', () => {
    const zero = () => 0;
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map((a) => backoffDelay(a, zero))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000,
    ]);
  });

  it('keeps jitter within [base, base × (1 + jitter))', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, Math.random);
      expect(d).toBeGreaterThanOrEqual(8000);
      expect(d).toBeLessThan(12000);
    }
    expect(backoffDelay(0, () => 1, { jitter: 0.2 })).toBe(1200);
  });

  it('honours custom bounds and tolerates odd inputs', () => {
    expect(backoffDelay(2, () => 0, { initialMs: 100, maxMs: 300 })).toBe(300);
    expect(backoffDelay(-3, () => 0)).toBe(1000);
    expect(backoffDelay(10_000, () => 0)).toBe(60000);
    expect(backoffDelay(0, () => 7)).toBe(1500);
  });
});
