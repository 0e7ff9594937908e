/** Exponential backoff with jitter, as docs/protocol.md §11 asks (1 s doubling to 60 s). */
export interface BackoffOptions {
  /** First delay (ms). Default 1000. */
  initialMs?: number;
  /** Largest base delay (ms). Default 60000. */
  maxMs?: number;
  /** Extra random share of the base delay, 0..1. Default 0.5 (delay in [base, 1.5 × base)). */
  jitter?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry after a failure):
 * `base = min(initial × 2^attempt, max)`, plus `random() × jitter × base` so that many clients
 * dropped at once (a node restart) do not come back in lockstep.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random, opts: BackoffOptions = {}): number {
  const initial = opts.initialMs ?? 1000;
  const max = opts.maxMs ?? 60000;
  const jitter = opts.jitter ?? 0.5;
  const base = Math.min(max, initial * Math.pow(2, Math.max(0, Math.min(attempt, 30))));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(base + base * jitter * r);
}
