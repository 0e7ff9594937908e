// The SSE fallback (docs/protocol.md §10) behind the same `SocketLike` face as a WebSocket, so
// `RealtimeClient` runs one algorithm over either transport: server frames come from
// `GET /v1/events` (read with fetch, which can send the token in a header and report the
// status, unlike `EventSource`), client frames go one per `POST /v1/frames`, whose answer (ack,
// ok, pong, or an error body) is handed back as the frame the WebSocket would have sent.
// Liveness: every chunk of the stream (keep-alive comments included) is a sign of life; POST
// answers are not, since they only prove the client can reach the server, not the reverse.
import { CloseCode, type SocketLike } from './realtime';
import { resolveFetch, type FetchLike } from './rest';

/** `wss://host/prefix/v1/ws` → `https://host/prefix`. */
export function httpBase(socketUrl: string): string {
  return socketUrl.replace(/^ws(s?):/i, 'http$1:').replace(/\/v1\/ws\/?$/, '');
}

interface Frame {
  type?: unknown;
  ref?: unknown;
  token?: unknown;
  last_event_id?: unknown;
}

export interface SseOptions {
  /** A POST with no answer after this long ends the connection (1006). Default 20000. */
  postTimeoutMs?: number;
}

/**
 * A probe for `RealtimeOptions.reachable`: whether `GET /healthz` of the server behind the
 * socket URL answers 200 within `timeoutMs`.
 */
export function httpReachable(socketUrl: string, fetchImpl?: FetchLike, timeoutMs = 5000): () => Promise<boolean> {
  const url = `${httpBase(socketUrl)}/healthz`;
  return async () => {
    const f = resolveFetch(fetchImpl);
    if (!f) return false;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const res = await f(url, { cache: 'no-store', signal: abort.signal });
      return res.ok;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
}

export class SseSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown; answer?: boolean }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  private readonly base: string;
  private readonly fetchImpl: FetchLike;
  private readonly abort = new AbortController();
  private readonly postTimeoutMs: number;
  private token = '';
  private ended = false;
  /** Client frames are posted one after another, so they reach the server in order. */
  private outbox: Promise<void> = Promise.resolve();

  constructor(url: string, fetchImpl?: FetchLike, options: SseOptions = {}) {
    this.base = httpBase(url);
    this.postTimeoutMs = options.postTimeoutMs ?? 20000;
    const f = resolveFetch(fetchImpl);
    if (!f) throw new Error('SseSocket: no fetch implementation');
    this.fetchImpl = f;
    // Nothing to wait for before `hello`: the stream itself opens when hello names the token.
    void Promise.resolve().then(() => {
      if (!this.ended) this.onopen?.({});
    });
  }

  send(data: string): void {
    if (this.ended) return;
    let frame: Frame;
    try {
      frame = JSON.parse(data) as Frame;
    } catch {
      return;
    }
    if (frame.type === 'hello') {
      this.token = typeof frame.token === 'string' ? frame.token : '';
      void this.stream(typeof frame.last_event_id === 'number' ? frame.last_event_id : null);
      return;
    }
    this.outbox = this.outbox.then(() => this.post(frame, data));
  }

  close(): void {
    // Like `WebSocket.close()` after `safeClose` cleared the handlers: nobody is told.
    this.ended = true;
    this.abort.abort();
  }

  private headers(): Record<string, string> {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  private async stream(lastEventId: number | null): Promise<void> {
    const query = lastEventId === null ? '' : `?last_event_id=${lastEventId}`;
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}/v1/events${query}`, {
        headers: { ...this.headers(), Accept: 'text/event-stream' },
        cache: 'no-store',
        credentials: 'same-origin',
        signal: this.abort.signal,
      });
    } catch {
      this.end(CloseCode.ABNORMAL, 'the event stream failed');
      return;
    }
    if (!res.ok || !res.body) {
      this.end(await refusalCode(res), `the event stream was refused (${res.status})`);
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    let data: string[] = [];
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // Bytes arrived, whatever they turn out to be: the stream is alive.
        if (!this.ended) this.onmessage?.({ data: null });
        pending += decoder.decode(value, { stream: true });
        const lines = pending.split(/\r\n|\r|\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') {
            // A blank line ends an event: one server frame per `data:` block.
            if (data.length) this.deliver(data.join('\n'));
            data = [];
          } else if (line.startsWith('data:')) {
            data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
          }
          // `id:` lines repeat the event id the frame already carries; `:` lines keep alive.
        }
      }
    } catch {
      // Aborted by close(), or the network dropped the stream: either way it has ended.
    }
    this.end(CloseCode.ABNORMAL, 'the event stream ended');
  }

  private async post(frame: Frame, data: string): Promise<void> {
    if (this.ended) return;
    let res: Response;
    let text: string;
    // Its own abort, so that a POST that hangs (a proxy holding it) is given up on in time;
    // close() still aborts it through the connection's signal.
    const abort = new AbortController();
    const cancel = () => abort.abort();
    this.abort.signal.addEventListener('abort', cancel);
    const timer = setTimeout(cancel, this.postTimeoutMs);
    try {
      res = await this.fetchImpl(`${this.base}/v1/frames`, {
        method: 'POST',
        headers: { ...this.headers(), 'Content-Type': 'application/json' },
        body: data,
        credentials: 'same-origin',
        signal: abort.signal,
      });
      text = await res.text();
    } catch {
      // Whether the server got it is unknown: end the connection, so unacknowledged sends
      // go again (with their client_msg_id) once the client has reconnected and resumed.
      this.end(CloseCode.ABNORMAL, abort.signal.aborted ? 'a frame got no answer in time' : 'a frame could not be posted');
      return;
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', cancel);
    }
    if (res.ok) {
      this.deliver(text, true);
      return;
    }
    const body = parseError(text);
    if (res.status === 401) {
      this.end(CloseCode.UNAUTHENTICATED, body.message);
    } else if (body.code === 'origin_not_allowed') {
      this.end(CloseCode.ORIGIN_NOT_ALLOWED, body.message);
    } else {
      // A refused frame: the error frame the WebSocket would have answered with.
      const ref = typeof frame.ref === 'string' ? frame.ref : null;
      this.deliver(JSON.stringify({ type: 'error', ref, code: body.code, message: body.message }), true);
    }
  }

  private deliver(data: string, answer = false): void {
    if (!this.ended) this.onmessage?.(answer ? { data, answer } : { data });
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.abort.abort();
    this.onclose?.({ code, reason });
  }
}

function parseError(text: string): { code: string; message: string } {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') {
      return { code: body.code, message: typeof body.message === 'string' ? body.message : body.code };
    }
  } catch {
    /* not JSON: a proxy's page */
  }
  return { code: 'internal', message: text.slice(0, 200) || 'the request failed' };
}

/** The close code a WebSocket would have closed with for a refused stream. */
async function refusalCode(res: Response): Promise<number> {
  if (res.status === 401) return CloseCode.UNAUTHENTICATED;
  if (res.status === 403) {
    const body = parseError(await res.text().catch(() => ''));
    if (body.code === 'origin_not_allowed') return CloseCode.ORIGIN_NOT_ALLOWED;
  }
  return CloseCode.ABNORMAL;
}
