// The real-time connection: docs/protocol.md §11 ("Client algorithm") in code. Transport
// details (the socket, the clock, randomness) are injected so the state logic is unit-tested
// without a network; browsers get `WebSocket`, `setTimeout` and `Math.random` by default.
import { backoffDelay, type BackoffOptions } from './backoff';
import { NatterError } from './errors';
import type {
  AckFrame,
  ClientFrame,
  EventFrame,
  EventPayload,
  MessageFormat,
  MessageKind,
  ReadyFrame,
  ServerFrame,
  TypingFrame,
} from './types';

/** The protocol version this SDK speaks (crates/core `PROTOCOL_VERSION`). */
export const PROTOCOL_VERSION = 1;

/** WebSocket close codes (crates/core `protocol::close`). */
export const CloseCode = {
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  TOO_BIG: 1009,
  UNAUTHENTICATED: 4001,
  HELLO_REQUIRED: 4002,
  UNSUPPORTED_VERSION: 4003,
  /** A widget visitor's socket from a page outside the website's allowed domains. */
  ORIGIN_NOT_ALLOWED: 4004,
  SLOW_CONSUMER: 4008,
  IDLE_TIMEOUT: 4009,
} as const;

/**
 * `connecting`: first connection attempt (until the state is loaded and live).
 * `connected`: live. `reconnecting`: lost, retrying (backoff) or resuming.
 * `offline`: stopped; it will not retry by itself (stopped by the app, token refused with no
 * replacement, the server does not speak this protocol version, or the page's origin is not
 * allowed for the widget's website).
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** Which transport the connection uses: the WebSocket, or the fallback (SSE + POST). */
export type Transport = 'websocket' | 'fallback';

/** The subset of the browser WebSocket the client uses (a fake in tests). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  /**
   * `answer` marks a frame that came back as the answer to a request of the client's own (the
   * fallback's POSTs): it is processed like any frame but says nothing about whether the
   * server can still reach the client, so it does not count for liveness. A `data` that is not
   * a string is a sign of life with no frame (the fallback's keep-alive comments).
   */
  onmessage: ((ev: { data: unknown; answer?: boolean }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const defaultClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface RealtimeOptions {
  /** `ws(s)://host/v1/ws`; see `wsUrl()`. */
  url: string;
  /** The current token (staff `nat_…` or contact `nct_…`), read at every connect. */
  token: () => string | null | undefined;
  /**
   * Authenticate with the session cookie instead of a token: `hello` carries an empty
   * `token` and the server reads the cookie of the (same-origin) WebSocket upgrade. Without
   * this, a missing token means `offline`. Default false.
   */
  cookieAuth?: boolean;
  /** Default: `new WebSocket(url)`. */
  socketFactory?: (url: string) => SocketLike;
  /**
   * The transport for networks where WebSockets do not get through (e.g. `SseSocket`): used
   * once `fallbackAfter` WebSocket attempts in a row failed before the server said anything
   * while the server answered plain HTTP (`reachable`). Without it, the client keeps retrying
   * the WebSocket.
   */
  fallbackFactory?: (url: string) => SocketLike;
  /** Silent WebSocket failures in a row before `fallbackFactory` takes over. Default 2. */
  fallbackAfter?: number;
  /**
   * Whether the server answers plain HTTP right now (e.g. `GET /healthz`). A silent WebSocket
   * failure counts toward the fallback only when it does: a server that is down or restarting
   * fails both, and is no reason to give up on WebSockets. Without it, every silent failure
   * counts.
   */
  reachable?: () => Promise<boolean>;
  /**
   * On the fallback, a connection that ends this long after the switch tries the WebSocket
   * again (one more silent failure goes back to the fallback). Default 300000 (5 minutes).
   */
  websocketRetryMs?: number;
  /**
   * Load state over REST (fresh start, or after `resync`). Called after `ready`, while the
   * socket keeps being read and events are buffered; the cursor becomes `headEventId` once it
   * resolves, then the buffered events are applied. A rejection drops the connection and
   * retries with backoff.
   */
  onSnapshot?: (headEventId: number) => Promise<void>;
  /** A durable event, in order, never twice (ids at or below the cursor are dropped). */
  onEvent?: (payload: EventPayload, frame: EventFrame) => void;
  onTyping?: (frame: TypingFrame) => void;
  /** Other ephemeral frames (queue position, staff notifications …), as they come. */
  onEphemeral?: (frame: ServerFrame) => void;
  onReady?: (frame: ReadyFrame) => void;
  /** The cursor moved (persist it here if the app persists state). */
  onCursor?: (cursor: number) => void;
  /**
   * Close 4001: obtain a new token (so that `token()` returns it) and resolve `true` to
   * reconnect, or `false` to go offline.
   */
  onAuthFailure?: () => Promise<boolean>;
  /** Resume from this cursor (the last event id the app processed), or null for a fresh start. */
  initialCursor?: number | null;
  backoff?: BackoffOptions;
  random?: () => number;
  clock?: Clock;
  /** No `ready` within this long after connecting: drop and retry. Default 15000. */
  connectTimeoutMs?: number;
  /** Prefix of generated `client_msg_id`s. Default `c`. */
  clientMsgIdPrefix?: string;
  log?: (message: string, detail?: unknown) => void;
}

export interface SendOptions {
  /** Idempotency key; generated when absent. Reuse it to retry the same message. */
  clientMsgId?: string;
  kind?: MessageKind;
  format?: MessageFormat;
}

interface PendingSend {
  clientMsgId: string;
  conversationId: number;
  body: string;
  kind?: MessageKind;
  format?: MessageFormat;
  /** The `ref` of the attempt in flight on the current socket, or null when not in flight. */
  ref: string | null;
  attempts: number;
  retryTimer: unknown;
  resolve: (ack: AckFrame) => void;
  reject: (err: NatterError) => void;
}

interface PendingRequest {
  resolve: () => void;
  reject: (err: NatterError) => void;
}

type Phase = 'hello' | 'snapshot' | 'live';

/** `https://host/prefix` → `wss://host/prefix/v1/ws`. */
export function wsUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/^http(s?):/i, 'ws$1:') + '/v1/ws';
}

/** A `client_msg_id`: ≤ 64 bytes of printable ASCII without spaces. */
export function newClientMsgId(prefix = 'c', random: () => number = Math.random): string {
  const rnd = Math.floor(random() * 0x7fffffff).toString(36);
  return `${prefix}-${Date.now().toString(36)}-${rnd}-${(++msgCounter).toString(36)}`.slice(0, 64);
}
let msgCounter = 0;

export class RealtimeClient {
  private readonly opts: RealtimeOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly factory: (url: string) => SocketLike;

  private _state: ConnectionState = 'idle';
  private _cursor: number | null;
  private stateListeners = new Set<(s: ConnectionState) => void>();

  private ws: SocketLike | null = null;
  /** Bumped for every socket; callbacks of an older socket are ignored. */
  private generation = 0;
  private _transport: Transport = 'websocket';
  /** Whether the current socket has delivered anything (a proxy that eats WebSockets never does). */
  private heard = false;
  /** WebSocket attempts in a row that ended before the server said anything. */
  private silentFailures = 0;
  /** When the client last switched to the fallback (clock ms). */
  private fallbackSince = 0;
  private phase: Phase = 'hello';
  private buffer: EventFrame[] = [];
  private snapshotHead: number | null = null;
  private snapshotRun = 0;
  private everLive = false;
  private stopped = true;

  private attempt = 0;
  private authRetries = 0;
  private reconnectTimer: unknown = null;
  private connectTimer: unknown = null;
  private heartbeatTimer: unknown = null;
  private heartbeatMs = 25000;
  private lastSent = 0;
  private lastReceived = 0;

  private refSeq = 0;
  private sends = new Map<string, PendingSend>();
  private requests = new Map<string, PendingRequest>();

  /** The account of the current connection (`ready.account_id`). */
  accountId: number | null = null;

  constructor(opts: RealtimeOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? defaultClock;
    this.random = opts.random ?? Math.random;
    this._cursor = opts.initialCursor ?? null;
    this.factory =
      opts.socketFactory ??
      ((url: string) => {
        if (typeof WebSocket === 'undefined') throw new Error('no WebSocket in this environment');
        return new WebSocket(url) as unknown as SocketLike;
      });
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** The id of the last event processed (the resume cursor). */
  get cursor(): number | null {
    return this._cursor;
  }

  /**
   * The transport in use: the fallback once WebSockets do not get through; from time to time
   * (`websocketRetryMs`) a reconnect tries the WebSocket again.
   */
  get transport(): Transport {
    return this._transport;
  }

  /** Number of sends not yet acknowledged. */
  get pendingCount(): number {
    return this.sends.size;
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onState(listener: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Connects (again). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  /** Closes and stays offline; unacknowledged sends fail with `closed`. */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.generation++;
    if (ws) safeClose(ws, 1000, 'client stopped');
    this.failRequests();
    for (const p of this.sends.values()) {
      this.clock.clearTimeout(p.retryTimer);
      p.reject(new NatterError('closed', 'the connection was stopped'));
    }
    this.sends.clear();
    this.setState('offline');
  }

  /** Skips the backoff wait (e.g. when the browser reports it is online again). */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.ws === null) {
      this.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.connect();
    }
  }

  /** Drops the current socket and reconnects at once, resuming (e.g. after a token change). */
  restart(): void {
    if (this.stopped) return;
    this.dropSocket();
    this.connect();
  }

  /** Forgets the cursor: the next connection starts fresh and loads a new snapshot. */
  resetCursor(): void {
    this._cursor = null;
  }

  /**
   * Sends a message. Resolves with the `ack` once the server committed it (possibly after
   * reconnecting: unacknowledged sends are retried with the same `client_msg_id`, so a
   * message is stored once). Rejects only on a non-retryable `error`, or on `stop()`.
   */
  send(conversationId: number, body: string, options: SendOptions = {}): Promise<AckFrame> {
    const clientMsgId = options.clientMsgId ?? newClientMsgId(this.opts.clientMsgIdPrefix, this.random);
    const existing = this.sends.get(clientMsgId);
    if (existing) {
      return new Promise((resolve, reject) => {
        const prevResolve = existing.resolve;
        const prevReject = existing.reject;
        existing.resolve = (a) => (prevResolve(a), resolve(a));
        existing.reject = (e) => (prevReject(e), reject(e));
      });
    }
    return new Promise<AckFrame>((resolve, reject) => {
      const p: PendingSend = {
        clientMsgId,
        conversationId,
        body,
        kind: options.kind,
        format: options.format,
        ref: null,
        attempts: 0,
        retryTimer: null,
        resolve,
        reject,
      };
      this.sends.set(clientMsgId, p);
      if (this.isLive()) this.transmit(p);
    });
  }

  /** Ephemeral typing indicator; dropped when not connected. */
  typing(conversationId: number): void {
    if (!this.isLive()) return;
    this.sendFrame({ type: 'typing', conversation_id: conversationId });
  }

  read(conversationId: number, seq: number): Promise<void> {
    return this.request({ type: 'read', conversation_id: conversationId, seq });
  }

  delivered(conversationId: number, seq: number): Promise<void> {
    return this.request({ type: 'delivered', conversation_id: conversationId, seq });
  }

  react(conversationId: number, messageId: number, emoji: string, remove = false): Promise<void> {
    return this.request({ type: 'react', conversation_id: conversationId, message_id: messageId, emoji, remove });
  }

  ping(): Promise<void> {
    return this.request({ type: 'ping' });
  }

  // --- internals ---------------------------------------------------------------------------

  private isLive(): boolean {
    return this.ws !== null && this.phase === 'live' && this._state === 'connected';
  }

  private setState(s: ConnectionState): void {
    if (this._state === s) return;
    this._state = s;
    for (const l of [...this.stateListeners]) {
      try {
        l(s);
      } catch (e) {
        this.log('state listener failed', e);
      }
    }
  }

  private log(message: string, detail?: unknown): void {
    this.opts.log?.(message, detail);
  }

  private nextRef(prefix: string): string {
    return `${prefix}${++this.refSeq}`;
  }

  private request(frame: Exclude<ClientFrame, { type: 'hello' | 'send' | 'typing' }>): Promise<void> {
    if (!this.isLive()) return Promise.reject(new NatterError('closed', 'not connected'));
    const ref = this.nextRef(frame.type[0] ?? 'r');
    return new Promise<void>((resolve, reject) => {
      this.requests.set(ref, { resolve, reject });
      this.sendFrame({ ...frame, ref });
    });
  }

  private sendFrame(frame: ClientFrame): void {
    const ws = this.ws;
    if (!ws) return;
    try {
      ws.send(JSON.stringify(frame));
      this.lastSent = this.clock.now();
    } catch (e) {
      this.log('send failed', e);
    }
  }

  private transmit(p: PendingSend): void {
    this.clock.clearTimeout(p.retryTimer);
    p.retryTimer = null;
    p.ref = this.nextRef('s');
    p.attempts++;
    const frame: ClientFrame = {
      type: 'send',
      ref: p.ref,
      conversation_id: p.conversationId,
      client_msg_id: p.clientMsgId,
      body: p.body,
    };
    if (p.kind) frame.kind = p.kind;
    if (p.format) frame.format = p.format;
    this.sendFrame(frame);
  }

  private connect(): void {
    if (this.stopped) return;
    this.clearTimers();
    const token = this.opts.token() || (this.opts.cookieAuth ? '' : null);
    if (token === null) {
      this.log('no token: offline');
      this.setState('offline');
      this.stopped = true;
      return;
    }
    const gen = ++this.generation;
    this.phase = 'hello';
    this.buffer = [];
    this.snapshotHead = null;
    this.setState(this.everLive ? 'reconnecting' : 'connecting');
    let ws: SocketLike;
    this.heard = false;
    if (this._transport === 'fallback' && this.clock.now() - this.fallbackSince >= (this.opts.websocketRetryMs ?? 300000)) {
      // Networks change (a laptop leaves the office proxy): try the WebSocket once more.
      this.log('trying the WebSocket again');
      this._transport = 'websocket';
      this.silentFailures = Math.max(0, (this.opts.fallbackAfter ?? 2) - 1);
    }
    try {
      const fallback = this.opts.fallbackFactory;
      ws = this._transport === 'fallback' && fallback ? fallback(this.opts.url) : this.factory(this.opts.url);
    } catch (e) {
      this.log('cannot open socket', e);
      this.reconnectAfterFailure(true);
      return;
    }
    this.ws = ws;
    this.lastReceived = this.clock.now();
    ws.onopen = () => {
      if (gen !== this.generation) return;
      const hello: ClientFrame = { type: 'hello', token, v: PROTOCOL_VERSION };
      if (this._cursor !== null) hello.last_event_id = this._cursor;
      this.sendFrame(hello);
    };
    ws.onmessage = (ev) => {
      if (gen !== this.generation) return;
      this.onData(ev.data, ev.answer === true);
    };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.onClosed(ev.code, ev.reason);
    };
    ws.onerror = (ev) => {
      if (gen !== this.generation) return;
      this.log('socket error', ev);
    };
    this.connectTimer = this.clock.setTimeout(() => {
      if (gen !== this.generation || this.phase === 'live') return;
      this.log('no ready in time: dropping the connection');
      const silent = !this.heard;
      this.dropSocket();
      this.reconnectAfterFailure(silent);
    }, this.opts.connectTimeoutMs ?? 15000);
  }

  /**
   * Schedules the next attempt after a connection failed. A `silent` failure is a WebSocket
   * attempt that ended before the server said anything (refused, cut by a proxy, or hung):
   * it counts when the server answers plain HTTP meanwhile (`reachable`), and after
   * `fallbackAfter` in a row later connections use the fallback transport. The reconnect is
   * scheduled once that is decided, unless the client was stopped or restarted meanwhile.
   */
  private reconnectAfterFailure(silent: boolean): void {
    if (!silent || this._transport !== 'websocket' || !this.opts.fallbackFactory) {
      this.scheduleReconnect();
      return;
    }
    const probe = this.opts.reachable;
    if (!probe) {
      this.countSilentFailure();
      this.scheduleReconnect();
      return;
    }
    const gen = this.generation;
    const decided = (reachable: boolean) => {
      if (this.stopped || gen !== this.generation) return;
      if (reachable) this.countSilentFailure();
      this.scheduleReconnect();
    };
    let p: Promise<boolean>;
    try {
      p = probe();
    } catch {
      p = Promise.resolve(false);
    }
    p.then(decided, () => decided(false));
  }

  private countSilentFailure(): void {
    this.silentFailures++;
    if (this.silentFailures >= (this.opts.fallbackAfter ?? 2)) {
      this.log('WebSockets do not get through: switching to the fallback transport');
      this._transport = 'fallback';
      this.fallbackSince = this.clock.now();
      this.silentFailures = 0;
      // Straight to the fallback: the backoff was for a transport that is now given up.
      this.attempt = 0;
    }
  }

  /** Forgets the current socket (its late callbacks are ignored) and closes it. */
  private dropSocket(): void {
    const ws = this.ws;
    this.ws = null;
    this.generation++;
    this.clearTimers();
    this.phase = 'hello';
    this.buffer = [];
    this.releaseInFlight();
    if (ws) safeClose(ws, 1000, 'client reconnecting');
  }

  private releaseInFlight(): void {
    for (const p of this.sends.values()) p.ref = null;
    this.failRequests();
  }

  private failRequests(): void {
    const reqs = [...this.requests.values()];
    this.requests.clear();
    for (const r of reqs) r.reject(new NatterError('closed', 'the connection closed'));
  }

  private clearTimers(): void {
    this.clock.clearTimeout(this.reconnectTimer);
    this.clock.clearTimeout(this.connectTimer);
    this.clock.clearTimeout(this.heartbeatTimer);
    this.reconnectTimer = this.connectTimer = this.heartbeatTimer = null;
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.random, this.opts.backoff);
    this.setState(this.everLive ? 'reconnecting' : 'connecting');
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private goOffline(why: string): void {
    this.log(`offline: ${why}`);
    this.stopped = true;
    this.clearTimers();
    this.setState('offline');
  }

  private onClosed(code: number, reason: string): void {
    // Closes with a code of natter's own (4001, 1001 …) come from the server, not a proxy.
    const silent = !this.heard && (code === CloseCode.ABNORMAL || code === 1002 || code === 1015);
    if (!silent && this._transport === 'websocket') this.silentFailures = 0;
    this.ws = null;
    this.generation++;
    this.clearTimers();
    this.phase = 'hello';
    this.buffer = [];
    this.releaseInFlight();
    if (this.stopped) return;
    this.log(`closed ${code} ${reason}`);
    switch (code) {
      case CloseCode.UNAUTHENTICATED: {
        const renew = this.opts.onAuthFailure;
        if (!renew || this.authRetries >= 3) {
          this.goOffline('token refused');
          return;
        }
        this.authRetries++;
        this.setState('reconnecting');
        const gen = this.generation;
        renew().then(
          (ok) => {
            if (this.stopped || gen !== this.generation) return;
            if (ok) this.scheduleReconnect();
            else this.goOffline('token refused');
          },
          (e) => {
            this.log('token renewal failed', e);
            if (this.stopped || gen !== this.generation) return;
            this.scheduleReconnect();
          },
        );
        return;
      }
      case CloseCode.UNSUPPORTED_VERSION:
        this.goOffline('unsupported protocol version');
        return;
      case CloseCode.ORIGIN_NOT_ALLOWED:
        this.goOffline('this page is not an allowed origin of the website');
        return;
      case CloseCode.SLOW_CONSUMER:
        this.connect();
        return;
      default:
        this.reconnectAfterFailure(silent);
    }
  }

  private onData(data: unknown, answer = false): void {
    if (!answer) this.lastReceived = this.clock.now();
    this.heard = true;
    if (this._transport === 'websocket') this.silentFailures = 0;
    if (typeof data !== 'string') return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      this.log('unparsable frame', data);
      return;
    }
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;

    if (frame.type === 'ready') {
      this.onReady(frame);
      return;
    }
    switch (frame.type) {
      case 'resync':
        if (this.snapshotHead !== frame.head_event_id) this.beginSnapshot(frame.head_event_id);
        return;
      case 'event':
        if (this.phase === 'live') this.applyEvent(frame);
        else this.buffer.push(frame);
        return;
      case 'typing':
        this.safe(() => this.opts.onTyping?.(frame));
        return;
      case 'ack':
        this.onAck(frame);
        return;
      case 'ok':
      case 'pong':
        this.settle(frame.ref, null);
        return;
      case 'error':
        this.onError(frame.ref, new NatterError(frame.code, frame.message));
        return;
      default:
        this.safe(() => this.opts.onEphemeral?.(frame));
        return;
    }
  }

  private onReady(frame: ReadyFrame): void {
    if (this.phase !== 'hello') return;
    this.accountId = frame.account_id;
    if (frame.heartbeat_ms > 0) this.heartbeatMs = frame.heartbeat_ms;
    this.authRetries = 0;
    this.safe(() => this.opts.onReady?.(frame));
    if (this._cursor === null || !frame.resumed) {
      // Fresh start, or a cursor the server could not honour (a `resync` with the same head
      // follows): load the state now, buffering events meanwhile.
      this.beginSnapshot(frame.head_event_id);
    } else {
      this.goLive();
    }
  }

  private beginSnapshot(head: number): void {
    this.phase = 'snapshot';
    this.snapshotHead = head;
    const gen = this.generation;
    const run = ++this.snapshotRun;
    const load = this.opts.onSnapshot ? this.opts.onSnapshot(head) : Promise.resolve();
    Promise.resolve(load).then(
      () => {
        if (gen !== this.generation || run !== this.snapshotRun) return;
        this._cursor = head;
        this.safe(() => this.opts.onCursor?.(head));
        const buffered = this.buffer;
        this.buffer = [];
        this.phase = 'live';
        for (const f of buffered) this.applyEvent(f);
        this.goLive();
      },
      (e) => {
        if (gen !== this.generation || run !== this.snapshotRun) return;
        this.log('snapshot failed', e);
        this.dropSocket();
        this.scheduleReconnect();
      },
    );
  }

  private goLive(): void {
    this.phase = 'live';
    this.clock.clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.attempt = 0;
    this.everLive = true;
    this.setState('connected');
    // Unacknowledged sends go again with their original client_msg_id (stored once).
    for (const p of [...this.sends.values()]) if (p.ref === null && p.retryTimer === null) this.transmit(p);
    this.armHeartbeat();
  }

  private applyEvent(frame: EventFrame): void {
    if (this._cursor !== null && frame.id <= this._cursor) return;
    this.safe(() => this.opts.onEvent?.(frame.data, frame));
    this._cursor = frame.id;
    this.safe(() => this.opts.onCursor?.(frame.id));
  }

  private onAck(frame: AckFrame): void {
    for (const p of this.sends.values()) {
      if (p.ref !== null && p.ref === frame.ref) {
        this.sends.delete(p.clientMsgId);
        this.clock.clearTimeout(p.retryTimer);
        p.resolve(frame);
        return;
      }
    }
  }

  private settle(ref: string | null, err: NatterError | null): void {
    if (ref === null) return;
    const r = this.requests.get(ref);
    if (!r) return;
    this.requests.delete(ref);
    if (err) r.reject(err);
    else r.resolve();
  }

  private onError(ref: string | null, err: NatterError): void {
    if (ref === null) {
      this.log('error frame', err);
      return;
    }
    for (const p of this.sends.values()) {
      if (p.ref === ref) {
        p.ref = null;
        if (err.code === 'unavailable' || err.code === 'internal' || err.code === 'rate_limited') {
          // Retry later with the same client_msg_id.
          const delay = backoffDelay(Math.max(0, p.attempts - 1), this.random, this.opts.backoff);
          p.retryTimer = this.clock.setTimeout(() => {
            p.retryTimer = null;
            if (this.sends.get(p.clientMsgId) === p && this.isLive()) this.transmit(p);
          }, delay);
        } else {
          this.sends.delete(p.clientMsgId);
          p.reject(err);
        }
        return;
      }
    }
    this.settle(ref, err);
  }

  private armHeartbeat(): void {
    this.clock.clearTimeout(this.heartbeatTimer);
    const tick = Math.max(250, Math.min(5000, Math.floor(this.heartbeatMs / 4)));
    const gen = this.generation;
    this.heartbeatTimer = this.clock.setTimeout(() => {
      if (gen !== this.generation || this.phase !== 'live') return;
      const now = this.clock.now();
      if (now - this.lastReceived >= 2 * this.heartbeatMs) {
        this.log('no frame for two heartbeats: reconnecting');
        this.dropSocket();
        this.scheduleReconnect();
        return;
      }
      if (now - this.lastSent >= this.heartbeatMs) {
        const ref = this.nextRef('p');
        // The pong (or its absence) is what the liveness check above looks at.
        this.requests.set(ref, { resolve: () => {}, reject: () => {} });
        this.sendFrame({ type: 'ping', ref });
      }
      this.armHeartbeat();
    }, tick);
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log('handler failed', e);
    }
  }
}

function safeClose(ws: SocketLike, code: number, reason: string): void {
  try {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    ws.close(code, reason);
  } catch {
    /* already closed */
  }
}
