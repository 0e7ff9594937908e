import type { Clock, SocketLike } from '../src/realtime';
import type { ServerFrame } from '../src/types';

/** A socket the test drives: it records what the client sent and lets the test answer. */
export class FakeSocket implements SocketLike {
  sent: Record<string, unknown>[] = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown; answer?: boolean }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }

  // --- test side ---
  open(): void {
    this.onopen?.({});
  }
  receive(frame: ServerFrame | Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  /** A frame that answers the client's own request (as the fallback's POST answers do). */
  answer(frame: ServerFrame | Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame), answer: true });
  }
  /** A sign of life with no frame (the fallback's keep-alive comment). */
  pulse(): void {
    this.onmessage?.({ data: null });
  }
  serverClose(code: number, reason = ''): void {
    this.onclose?.({ code, reason });
  }
  ofType(type: string): Record<string, unknown>[] {
    return this.sent.filter((f) => f.type === type);
  }
  last(): Record<string, unknown> | undefined {
    return this.sent[this.sent.length - 1];
  }
}

/** A manual clock: timers fire only when the test advances time. */
export class ManualClock implements Clock {
  private t = 1_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }
  /** Delays of the timers now pending, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

/** Lets promise continuations run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

export function ready(head: number, resumed = false, heartbeat_ms = 25000): ServerFrame {
  return { type: 'ready', v: 1, account_id: 7, workspace_id: 1, head_event_id: head, heartbeat_ms, resumed };
}

export function msgEvent(id: number, seq: number, opts: { sender?: number; cmid?: string; conv?: number } = {}): ServerFrame {
  return {
    type: 'event',
    id,
    at: 1,
    data: {
      type: 'message_created',
      message: {
        id: 100 + seq,
        conversation_id: opts.conv ?? 12,
        seq,
        sender_id: opts.sender ?? 2,
        kind: 'text',
        format: 'plain',
        body: `m${seq}`,
        client_msg_id: opts.cmid ?? null,
        created_at: 1,
        edited_at: null,
        deleted_at: null,
        reactions: [],
      },
    },
  };
}
