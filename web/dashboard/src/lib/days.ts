// Dates and times as the workspace shows them: day separators in the history, short times,
// waiting times. Local time of the agent's browser unless a time zone is given.

const pad = (n: number) => String(n).padStart(2, '0');

/** `YYYY-MM-DD` of `ms` in the local time zone (or `timeZone`). */
export function dayKey(ms: number, timeZone?: string): string {
  if (timeZone) {
    const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
    return parts;
  }
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `Today`, `Yesterday`, else e.g. `Mon 3 Mar 2025`. */
export function dayLabel(ms: number, now: number, timeZone?: string): string {
  const key = dayKey(ms, timeZone);
  if (key === dayKey(now, timeZone)) return 'Today';
  if (key === dayKey(now - 86_400_000, timeZone)) return 'Yesterday';
  // Built by hand: ICU versions disagree on commas in `en-GB` dates.
  const [y, m, d] = key.split('-').map(Number) as [number, number, number];
  const weekday = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return `${weekday} ${d} ${MONTHS[m - 1]} ${y}`;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `HH:MM`, 24-hour. */
export function timeOfDay(ms: number, timeZone?: string): string {
  if (timeZone) {
    return new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone }).format(new Date(ms));
  }
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export type DayRow<T> = { kind: 'day'; key: string; label: string } | { kind: 'item'; item: T };

/** Inserts a separator before the first item of each day (items already in time order). */
export function withDaySeparators<T>(items: readonly T[], at: (item: T) => number, now: number, timeZone?: string): DayRow<T>[] {
  const rows: DayRow<T>[] = [];
  let last: string | null = null;
  for (const item of items) {
    const ms = at(item);
    const key = dayKey(ms, timeZone);
    if (key !== last) {
      rows.push({ kind: 'day', key, label: dayLabel(ms, now, timeZone) });
      last = key;
    }
    rows.push({ kind: 'item', item });
  }
  return rows;
}

/** A compact age: `now`, `5m`, `3h`, `2d`. */
export function shortAge(ms: number, now: number): string {
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 60) return 'now';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}
