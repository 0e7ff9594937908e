import { describe, expect, it } from 'vitest';
import { NatterError } from '../src/errors';
import { RealtimeClient, wsUrl, type ConnectionState, type RealtimeOptions } from '../src/realtime';
import type { EventPayload } from '../src/types';
import { FakeSocket, ManualClock, flush, msgEvent, ready } from './fakes';

function setup(over: Partial<RealtimeOptions> = {}) {
  const clock = new ManualClock();
  const sockets: FakeSocket[] = [];
  const events: { id: number; payload: EventPayload }[] = [];
  const states: ConnectionState[] = [];
  const snapshots: number[] = [];
  let token = 'nct_a';
  const client = new RealtimeClient({
    url: 'wss://natter.test/v1/ws',
    token: () => token,
    socketFactory: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    clock,
    random: () => 0,
    onEvent: (payload, frame) => events.push({ id: frame.id, payload }),
    onSnapshot: async (head) => {
      snapshots.push(head);
    },
    ...over,
  });
  client.onState((s) => states.push(s));
  const sock = () => {
    const s = sockets[sockets.length - 1];
    if (!s) throw new Error('no socket');
    return s;
  };
  /** Opens the latest socket and answers hello with ready; resolves once live. */
  const connect = async (head: number, resumed = false) => {
    sock().open();
    sock().receive(ready(head, resumed));
    await flush();
  };
  return { client, clock, sockets, sock, events, states, snapshots, connect, setToken: (t: string) => (token = t) };
}

describe('wsUrl', () => {
  it('turns the http(s) base into the ws(s) endpoint', () => {
    expect(wsUrl('https://chat.example.com/')).toBe('wss://chat.example.com/v1/ws');
    expect(wsUrl('http://127.0.0.1:8080/natter')).toBe('ws://127.0.0.1:8080/natter/v1/ws');
  });
});

describe('RealtimeClient: connecting and the cursor', () => {
  it('sends hello without a cursor on a fresh start, then snapshots at the head', async () => {
    const t = setup();
    t.client.start();
    expect(t.client.state).toBe('connecting');
    t.sock().open();
    expect(t.sock().sent[0]).toEqual({ type: 'hello', token: 'nct_a', v: 1 });
    t.sock().receive(ready(40));
    expect(t.client.state).toBe('connecting'); // snapshot still loading
    await flush();
    expect(t.snapshots).toEqual([40]);
    expect(t.client.cursor).toBe(40);
    expect(t.client.state).toBe('connected');
    expect(t.client.accountId).toBe(7);
  });

  it('with cookieAuth, says hello with an empty token instead of going offline', async () => {
    const t = setup({ token: () => null, cookieAuth: true });
    t.client.start();
    t.sock().open();
    expect(t.sock().sent[0]).toEqual({ type: 'hello', token: '', v: 1 });
    t.sock().receive(ready(5));
    await flush();
    expect(t.client.state).toBe('connected');
  });

  it('without a token and without cookieAuth, stays offline', () => {
    const t = setup({ token: () => '' });
    t.client.start();
    expect(t.sockets).toHaveLength(0);
    expect(t.client.state).toBe('offline');
  });

  it('buffers events while the snapshot loads and applies them after it, in order', async () => {
    let release!: () => void;
    const t = setup({ onSnapshot: () => new Promise<void>((r) => (release = r)) });
    t.client.start();
    t.sock().open();
    t.sock().receive(ready(40));
    t.sock().receive(msgEvent(41, 1));
    t.sock().receive(msgEvent(43, 2));
    expect(t.events).toEqual([]);
    release();
    await flush();
    expect(t.events.map((e) => e.id)).toEqual([41, 43]);
    expect(t.client.cursor).toBe(43);
  });

  it('drops events at or below the cursor (dedupe by event id)', async () => {
    const t = setup();
    t.client.start();
    await t.connect(40);
    t.sock().receive(msgEvent(39, 1));
    t.sock().receive(msgEvent(40, 1));
    t.sock().receive(msgEvent(42, 2));
    t.sock().receive(msgEvent(42, 2));
    t.sock().receive(msgEvent(45, 3));
    expect(t.events.map((e) => e.id)).toEqual([42, 45]);
    expect(t.client.cursor).toBe(45);
  });

  it('ignores ids that jump (per-account streams are not consecutive)', async () => {
    const t = setup();
    t.client.start();
    await t.connect(1);
    t.sock().receive(msgEvent(8, 1));
    t.sock().receive(msgEvent(10, 2));
    expect(t.events.map((e) => e.id)).toEqual([8, 10]);
  });

  it('resumes after a drop with last_event_id = cursor and no new snapshot', async () => {
    const t = setup();
    t.client.start();
    await t.connect(40);
    t.sock().receive(msgEvent(44, 1));
    t.sock().serverClose(1006);
    expect(t.client.state).toBe('reconnecting');
    expect(t.sockets).toHaveLength(1);
    t.clock.advance(1000);
    expect(t.sockets).toHaveLength(2);
    t.sock().open();
    expect(t.sock().sent[0]).toEqual({ type: 'hello', token: 'nct_a', v: 1, last_event_id: 44 });
    t.sock().receive(ready(50, true));
    await flush();
    expect(t.snapshots).toEqual([40]);
    expect(t.client.state).toBe('connected');
    t.sock().receive(msgEvent(47, 2));
    expect(t.events.map((e) => e.id)).toEqual([44, 47]);
    expect(t.states).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });

  it('handles resync like a fresh start on the same connection (one snapshot)', async () => {
    const t = setup({ initialCursor: 5 });
    t.client.start();
    t.sock().open();
    expect(t.sock().sent[0]).toMatchObject({ last_event_id: 5 });
    t.sock().receive(ready(900, false));
    t.sock().receive({ type: 'resync', head_event_id: 900, reason: 'the cursor is older than the events this server keeps' });
    t.sock().receive(msgEvent(901, 1));
    await flush();
    expect(t.snapshots).toEqual([900]);
    expect(t.events.map((e) => e.id)).toEqual([901]);
    expect(t.client.cursor).toBe(901);
  });

  it('a failed snapshot drops the connection and retries with backoff, keeping no cursor', async () => {
    let fail = true;
    const t = setup({
      onSnapshot: async () => {
        if (fail) throw new Error('rest down');
      },
    });
    t.client.start();
    t.sock().open();
    t.sock().receive(ready(40));
    await flush();
    expect(t.sock().closed).not.toBeNull();
    expect(t.client.cursor).toBeNull();
    fail = false;
    t.clock.advance(1000);
    expect(t.sockets).toHaveLength(2);
    t.sock().open();
    expect(t.sock().sent[0]).not.toHaveProperty('last_event_id');
    t.sock().receive(ready(41));
    await flush();
    expect(t.client.state).toBe('connected');
    expect(t.client.cursor).toBe(41);
  });

  it('ignores callbacks of a socket it already replaced', async () => {
    const t = setup();
    t.client.start();
    await t.connect(40);
    const old = t.sock();
    t.client.restart();
    old.receive(msgEvent(41, 1));
    old.serverClose(1006);
    expect(t.events).toEqual([]);
    expect(t.sockets).toHaveLength(2);
    expect(t.client.state).toBe('reconnecting');
  });
});

describe('RealtimeClient: close codes and backoff', () => {
  it('backs off exponentially (1 s, 2 s, 4 s …) and resets after a success', async () => {
    const t = setup();
    t.client.start();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      t.sock().serverClose(1006);
      delays.push(t.clock.pending()[0] ?? -1);
      t.clock.advance(delays[i] ?? 0);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000]);
    await t.connect(1);
    t.sock().serverClose(1001, 'server_shutdown');
    expect(t.clock.pending()[0]).toBe(1000);
  });

  it('adds jitter within [base, 1.5 × base)', () => {
    const t = setup({ random: () => 0.999 });
    t.client.start();
    t.sock().serverClose(1006);
    expect(t.clock.pending()[0]).toBe(1499);
  });

  it('goes offline on 4004 origin_not_allowed', () => {
    const t = setup();
    t.client.start();
    t.sock().open();
    t.sock().serverClose(4004, 'origin_not_allowed');
    expect(t.client.state).toBe('offline');
    t.clock.advance(120000);
    expect(t.sockets).toHaveLength(1);
  });

  it('reconnects at once after 4008 slow_consumer', async () => {
    const t = setup();
    t.client.start();
    await t.connect(1);
    t.sock().serverClose(4008, 'slow_consumer');
    expect(t.sockets).toHaveLength(2);
  });

  it('goes offline on 4003 unsupported_version', async () => {
    const t = setup();
    t.client.start();
    t.sock().open();
    t.sock().serverClose(4003, 'unsupported_version');
    expect(t.client.state).toBe('offline');
    t.clock.advance(120000);
    expect(t.sockets).toHaveLength(1);
  });

  it('asks for a new token on 4001 and reconnects with it', async () => {
    const t = setup({
      onAuthFailure: async () => {
        t.setToken('nct_b');
        return true;
      },
    });
    t.client.start();
    t.sock().open();
    t.sock().serverClose(4001, 'unauthenticated');
    await flush();
    t.clock.advance(1000);
    t.sock().open();
    expect(t.sock().sent[0]).toMatchObject({ type: 'hello', token: 'nct_b' });
  });

  it('goes offline on 4001 when no new token can be had', async () => {
    const t = setup({ onAuthFailure: async () => false });
    t.client.start();
    t.sock().serverClose(4001, 'revoked');
    await flush();
    expect(t.client.state).toBe('offline');
  });

  it('drops a connection that gets no ready in time', () => {
    const t = setup({ connectTimeoutMs: 5000 });
    t.client.start();
    t.sock().open();
    t.clock.advance(5000);
    expect(t.sockets[0]?.closed).not.toBeNull();
    t.clock.advance(1000);
    expect(t.sockets).toHaveLength(2);
  });

  it('reconnectNow skips the backoff wait', () => {
    const t = setup();
    t.client.start();
    t.sock().serverClose(1006);
    expect(t.sockets).toHaveLength(1);
    t.client.reconnectNow();
    expect(t.sockets).toHaveLength(2);
  });
});

describe('RealtimeClient: heartbeats', () => {
  it('pings after heartbeat_ms without outgoing traffic and reconnects after two silent heartbeats', async () => {
    const t = setup();
    t.client.start();
    t.sock().open();
    t.sock().receive(ready(1, false, 4000));
    await flush();
    t.clock.advance(4000);
    const ping = t.sock().ofType('ping')[0];
    expect(ping).toBeDefined();
    t.sock().receive({ type: 'pong', ref: ping?.ref as string });
    t.clock.advance(7000);
    expect(t.sockets).toHaveLength(1);
    t.clock.advance(1000); // 8 s since the pong
    expect(t.sockets[0]?.closed).not.toBeNull();
    expect(t.client.state).toBe('reconnecting');
  });
});

describe('RealtimeClient: sends', () => {
  it('queues a send while connecting and sends it once live, resolving on ack', async () => {
    const t = setup();
    t.client.start();
    const p = t.client.send(12, 'hello', { clientMsgId: 'w-1' });
    t.sock().open();
    expect(t.sock().ofType('send')).toEqual([]);
    t.sock().receive(ready(1));
    await flush();
    const send = t.sock().ofType('send')[0];
    expect(send).toMatchObject({ conversation_id: 12, client_msg_id: 'w-1', body: 'hello' });
    t.sock().receive({ type: 'ack', ref: send?.ref as string, conversation_id: 12, message_id: 5, seq: 3, duplicate: false });
    await expect(p).resolves.toMatchObject({ message_id: 5, seq: 3 });
    expect(t.client.pendingCount).toBe(0);
  });

  it('retries an unacknowledged send after reconnecting with the same client_msg_id', async () => {
    const t = setup();
    t.client.start();
    await t.connect(1);
    const p = t.client.send(12, 'are you there?');
    const first = t.sock().ofType('send')[0];
    expect(first?.client_msg_id).toMatch(/^c-/);
    t.sock().serverClose(1006);
    t.clock.advance(1000);
    await t.connect(2, true);
    const again = t.sock().ofType('send');
    expect(again).toHaveLength(1);
    expect(again[0]?.client_msg_id).toBe(first?.client_msg_id);
    expect(again[0]?.ref).not.toBe(first?.ref);
    // A late ack for the first attempt's ref on the old socket means nothing now.
    t.sock().receive({ type: 'ack', ref: again[0]?.ref as string, conversation_id: 12, message_id: 9, seq: 4, duplicate: true });
    await expect(p).resolves.toMatchObject({ message_id: 9, duplicate: true });
  });

  it('keeps several unacknowledged sends in order across a reconnect', async () => {
    const t = setup();
    t.client.start();
    await t.connect(1);
    void t.client.send(12, 'one', { clientMsgId: 'a' });
    void t.client.send(12, 'two', { clientMsgId: 'b' });
    t.sock().serverClose(1001, 'server_shutdown');
    t.clock.advance(1000);
    await t.connect(2, true);
    expect(t.sock().ofType('send').map((f) => f.client_msg_id)).toEqual(['a', 'b']);
  });

  it('retries on unavailable and fails for good on other codes', async () => {
    const t = setup();
    t.client.start();
    await t.connect(1);
    const ok = t.client.send(12, 'x', { clientMsgId: 'u1' });
    const s1 = t.sock().ofType('send')[0];
    t.sock().receive({ type: 'error', ref: s1?.ref as string, code: 'unavailable', message: 'db down' });
    expect(t.client.pendingCount).toBe(1);
    t.clock.advance(1000);
    const s2 = t.sock().ofType('send')[1];
    expect(s2?.client_msg_id).toBe('u1');
    t.sock().receive({ type: 'ack', ref: s2?.ref as string, conversation_id: 12, message_id: 1, seq: 1, duplicate: false });
    await expect(ok).resolves.toBeTruthy();

    const bad = t.client.send(12, ' ', { clientMsgId: 'u2' });
    const s3 = t.sock().ofType('send')[2];
    t.sock().receive({ type: 'error', ref: s3?.ref as string, code: 'invalid_field', message: 'body must not be empty' });
    await expect(bad).rejects.toMatchObject({ code: 'invalid_field' });
    expect(t.client.pendingCount).toBe(0);
  });

  it('resolves read/delivered on ok and rejects them when not connected', async () => {
    const t = setup();
    t.client.start();
    await expect(t.client.read(12, 3)).rejects.toBeInstanceOf(NatterError);
    await t.connect(1);
    const r = t.client.read(12, 3);
    const frame = t.sock().ofType('read')[0];
    expect(frame).toMatchObject({ conversation_id: 12, seq: 3 });
    t.sock().receive({ type: 'ok', ref: frame?.ref as string });
    await expect(r).resolves.toBeUndefined();
    const d = t.client.delivered(12, 9);
    const df = t.sock().ofType('delivered')[0];
    t.sock().receive({ type: 'error', ref: df?.ref as string, code: 'not_found', message: 'conversation not found' });
    await expect(d).rejects.toMatchObject({ code: 'not_found' });
  });

  it('stop() rejects pending sends and stays offline', async () => {
    const t = setup();
    t.client.start();
    const p = t.client.send(12, 'x');
    t.client.stop();
    await expect(p).rejects.toMatchObject({ code: 'closed' });
    expect(t.client.state).toBe('offline');
    t.clock.advance(100000);
    expect(t.sockets).toHaveLength(1);
  });

  it('forwards typing frames without touching the cursor', async () => {
    const typing: number[] = [];
    const t = setup({ onTyping: (f) => typing.push(f.account_id) });
    t.client.start();
    await t.connect(10);
    t.sock().receive({ type: 'typing', conversation_id: 12, account_id: 2 });
    expect(typing).toEqual([2]);
    expect(t.client.cursor).toBe(10);
    t.client.typing(12);
    expect(t.sock().last()).toEqual({ type: 'typing', conversation_id: 12 });
  });
});
