import { describe, expect, it } from 'vitest';
import { dayLabel, shortAge, withDaySeparators } from '../src/lib/days';

const at = (d: number, h: number) => Date.UTC(2025, 2, d, h);

describe('day separators', () => {
  it('puts one separator before the first message of each day', () => {
    const msgs = [at(3, 9), at(3, 17), at(4, 8), at(6, 10)];
    const rows = withDaySeparators(msgs, (m) => m, at(6, 12), 'UTC');
    expect(rows.map((r) => (r.kind === 'day' ? r.label : 'm'))).toEqual(['Mon 3 Mar 2025', 'm', 'm', 'Tue 4 Mar 2025', 'm', 'Today', 'm']);
  });

  it('says Yesterday', () => {
    expect(dayLabel(at(5, 23), at(6, 1), 'UTC')).toBe('Yesterday');
  });

  it('follows the time zone for where a day ends', () => {
    // 23:30 UTC on the 3rd is already the 4th in Berlin.
    const rows = withDaySeparators([Date.UTC(2025, 2, 3, 22), Date.UTC(2025, 2, 3, 23, 30)], (m) => m, at(9, 0), 'Europe/Berlin');
    expect(rows.filter((r) => r.kind === 'day')).toHaveLength(2);
  });

  it('formats short ages', () => {
    const now = at(6, 12);
    expect(shortAge(now - 10_000, now)).toBe('now');
    expect(shortAge(now - 5 * 60_000, now)).toBe('5m');
    expect(shortAge(now - 3 * 3_600_000, now)).toBe('3h');
    expect(shortAge(now - 3 * 86_400_000, now)).toBe('3d');
  });
});
