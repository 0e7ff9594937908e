import { useEffect, useState } from 'preact/hooks';
import type { Desk, DeskState } from '../desk';

/** Re-renders the component whenever the desk's state changes. */
export function useDesk(desk: Desk): DeskState {
  const [, force] = useState(0);
  useEffect(() => desk.subscribe(() => force((n) => n + 1)), [desk]);
  return desk.state;
}

/** A clock that ticks every `ms` (relative times, offer countdowns). */
export function useNow(ms = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
