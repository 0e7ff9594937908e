import { describe, expect, it } from 'vitest';
import { CloseCode, RealtimeClient } from '../src/realtime';
import { SseSocket, httpBase, httpReachable } from '../src/sse';
import { FakeSocket, ManualClock, flush, msgEvent, ready } from './fakes';

/** A `text/event-stream` body the test writes to, chunk by chunk. */
function eventStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const enc = new TextEncoder();
  return {
    body,
    write: (text: string) => controller.enqueue(enc.encode(text)),
    end: () => controller.close(),
  };
}

interface Call {
  url: string;
  method: string;
  auth: string | null;
  body: string | null;
}

/** A fake server for the two SSE endpoints; `answer` decides each POST's response. */
function sseServer(answer: (frame: Record<string, unknown>) => Response, streamStatus = 200) {
  const calls: Call[] = [];
  const stream = eventStream();
  const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
    const headers = (init?.headers ?? {}) as Record<string, string>;
    calls.push({ url, method: init?.method ?? 'GET', auth: headers.Authorization ?? null, body: (init?.body as string) ?? null });
    if (url.includes('/v1/events')) {
      if (streamStatus !== 200) return new Response(JSON.stringify({ code: 'unauthenticated', message: 'no' }), { status: streamStatus });
      return new Response(stream.body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    }
    return answer(JSON.parse(String(init?.body)) as Record<string, unknown>);
  };
  return { calls, stream, fetch };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setTimeout(r, 0));
}

describe('SseSocket', () => {
  it('derives the HTTP base from the socket URL', () => {
    expect(httpBase('wss://chat.example.com/v1/ws')).toBe('https://chat.example.com');
    expect(httpBase('ws://127.0.0.1:8080/natter/v1/ws')).toBe('http://127.0.0.1:8080/natter');
  });

  it('opens the stream at hello with the token in a header and the cursor, and splits it into frames', async () => {
    const server = sseServer(() => new Response('{}'));
    const socket = new SseSocket('wss://natter.test/v1/ws', server.fetch);
    const frames: unknown[] = [];
    socket.onmessage = (e) => typeof e.data === 'string' && frames.push(JSON.parse(e.data));
    let opened = false;
    socket.onopen = () => void (opened = true);
    await settle();
    expect(opened).toBe(true);
    socket.send(JSON.stringify({ type: 'hello', token: 'nct_v', v: 1, last_event_id: 40 }));
    await settle();
    expect(server.calls[0]).toMatchObject({ url: 'https://natter.test/v1/events?last_event_id=40', method: 'GET', auth: 'Bearer nct_v' });
    // Frames may be cut anywhere by the network; keep-alive comments and ids are not frames.
    const text = `data: ${JSON.stringify(ready(41, true))}\n\n:\n\nid: 41\ndata: ${JSON.stringify(msgEvent(41, 3))}\n\n`;
    server.stream.write(text.slice(0, 37));
    server.stream.write(text.slice(37, 90));
    server.stream.write(text.slice(90));
    await settle();
    expect(frames).toEqual([ready(41, true), msgEvent(41, 3)]);
  });

  it('posts client frames one at a time, in order, and hands back the answers, refusals as error frames', async () => {
    // The first POST is slow: the second must not overtake it.
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const server = sseServer((frame) =>
      frame.type === 'send'
        ? new Response(JSON.stringify({ type: 'ack', ref: frame.ref, conversation_id: 12, message_id: 9, seq: 1, duplicate: false }))
        : new Response(JSON.stringify({ code: 'not_found', message: 'message not found' }), { status: 404 }),
    );
    const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
      const res = server.fetch(url, init);
      if (String(init?.body ?? '').includes('"send"')) await firstHeld;
      return res;
    };
    const socket = new SseSocket('wss://natter.test/v1/ws', fetch);
    const frames: Record<string, unknown>[] = [];
    const answers: boolean[] = [];
    socket.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      frames.push(JSON.parse(e.data) as Record<string, unknown>);
      answers.push(e.answer === true);
    };
    socket.send(JSON.stringify({ type: 'hello', token: 'nct_v', v: 1 }));
    socket.send(JSON.stringify({ type: 'send', ref: 's1', conversation_id: 12, client_msg_id: 'w-1', body: 'hi' }));
    socket.send(JSON.stringify({ type: 'react', ref: 'r2', conversation_id: 12, message_id: 77, emoji: '👍' }));
    await settle();
    expect(server.calls.filter((c) => c.method === 'POST').map((c) => JSON.parse(String(c.body)).type)).toEqual(['send']);
    expect(frames).toEqual([]);
    releaseFirst();
    await settle();
    const posts = server.calls.filter((c) => c.method === 'POST');
    expect(posts.map((c) => [c.url, c.auth, JSON.parse(String(c.body)).type])).toEqual([
      ['https://natter.test/v1/frames', 'Bearer nct_v', 'send'],
      ['https://natter.test/v1/frames', 'Bearer nct_v', 'react'],
    ]);
    expect(frames).toEqual([
      { type: 'ack', ref: 's1', conversation_id: 12, message_id: 9, seq: 1, duplicate: false },
      { type: 'error', ref: 'r2', code: 'not_found', message: 'message not found' },
    ]);
    // Answers to the client's own POSTs are marked: they prove nothing about the stream.
    expect(answers).toEqual([true, true]);
  });

  it('reports every chunk of the stream, keep-alive comments included, as a sign of life', async () => {
    const server = sseServer(() => new Response('{}'));
    const socket = new SseSocket('wss://natter.test/v1/ws', server.fetch);
    const seen: unknown[] = [];
    socket.onmessage = (e) => seen.push(e.data);
    socket.send(JSON.stringify({ type: 'hello', token: 'nct_v', v: 1 }));
    await settle();
    server.stream.write(':\n\n');
    await settle();
    expect(seen).toEqual([null]);
    server.stream.write(`data: ${JSON.stringify(ready(3))}\n\n`);
    await settle();
    expect(seen).toEqual([null, null, JSON.stringify(ready(3))]);
  });

  it('ends the connection like the server would when a POST is refused for the token (4001) or the page (4004)', async () => {
    const closes: number[] = [];
    for (const [status, code] of [
      [401, 'unauthenticated'],
      [403, 'origin_not_allowed'],
    ] as const) {
      const server = sseServer(() => new Response(JSON.stringify({ code, message: code }), { status }));
      const socket = new SseSocket('wss://natter.test/v1/ws', server.fetch);
      const frames: unknown[] = [];
      socket.onmessage = (e) => typeof e.data === 'string' && frames.push(e.data);
      socket.onclose = (e) => closes.push(e.code);
      socket.send(JSON.stringify({ type: 'hello', token: 'nct_v', v: 1 }));
      socket.send(JSON.stringify({ type: 'ping', ref: 'p1' }));
      await settle();
      expect(frames).toEqual([]);
    }
    expect(closes).toEqual([CloseCode.UNAUTHENTICATED, CloseCode.ORIGIN_NOT_ALLOWED]);
  });

  it('gives up on a POST that gets no answer in time, and ends the connection so sends are retried', async () => {
    const server = sseServer(() => new Response('{}'));
    let aborted = false;
    // A proxy that holds the POST forever: only the abort signal ends it.
    const fetch = (url: string, init?: RequestInit): Promise<Response> => {
      if (init?.method !== 'POST') return server.fetch(url, init);
      return new Promise((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(new DOMException('aborted', 'AbortError'));
        });
      });
    };
    const socket = new SseSocket('wss://natter.test/v1/ws', fetch, { postTimeoutMs: 30 });
    const closes: { code: number; reason: string }[] = [];
    socket.onclose = (e) => closes.push(e);
    socket.send(JSON.stringify({ type: 'hello', token: 'nct_v', v: 1 }));
    socket.send(JSON.stringify({ type: 'send', ref: 's1', conversation_id: 12, client_msg_id: 'w-1', body: 'hi' }));
    await settle();
    expect(closes).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    await settle();
    expect(aborted).toBe(true);
    expect(closes).toEqual([{ code: CloseCode.ABNORMAL, reason: 'a frame got no answer in time' }]);
  });

  it('probes the server with GET /healthz for reachability', async () => {
    const urls: string[] = [];
    const up = httpReachable('wss://natter.test/x/v1/ws', async (url) => {
      urls.push(url);
      return new Response('ok');
    });
    const down = httpReachable('wss://natter.test/v1/ws', async () => new Response('bad gateway', { status: 502 }));
    const refused = httpReachable('wss://natter.test/v1/ws', async () => {
      throw new TypeError('connection refused');
    });
    expect([await up(), await down(), await refused()]).toEqual([true, false, false]);
    expect(urls).toEqual(['https://natter.test/x/healthz']);
  });

  it('closes like a WebSocket would: 4001 for a refused token, 1006 when the stream ends', async () => {
    const refused = sseServer(() => new Response('{}'), 401);
    const a = new SseSocket('wss://natter.test/v1/ws', refused.fetch);
    const closes: number[] = [];
    a.onclose = (e) => closes.push(e.code);
    a.send(JSON.stringify({ type: 'hello', token: 'nct_old', v: 1 }));
    await settle();
    expect(closes).toEqual([CloseCode.UNAUTHENTICATED]);

    const ok = sseServer(() => new Response('{}'));
    const b = new SseSocket('wss://natter.test/v1/ws', ok.fetch);
    b.onclose = (e) => closes.push(e.code);
    b.send(JSON.stringify({ type: 'hello', token: 'nct_v', v: 1 }));
    await settle();
    ok.stream.end();
    await settle();
    expect(closes).toEqual([CloseCode.UNAUTHENTICATED, CloseCode.ABNORMAL]);
  });
});

describe('RealtimeClient: the fallback transport', () => {
  function setup(reachable?: () => Promise<boolean>) {
    const clock = new ManualClock();
    const sockets: FakeSocket[] = [];
    const fallbacks: FakeSocket[] = [];
    const client = new RealtimeClient({
      reachable,
      url: 'wss://natter.test/v1/ws',
      token: () => 'nct_a',
      socketFactory: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      fallbackFactory: (url) => {
        const s = new FakeSocket(url);
        fallbacks.push(s);
        return s;
      },
      clock,
      random: () => 0,
    });
    /** Runs the next timer only (the reconnect's backoff). */
    const next = () => clock.advance(clock.pending()[0] ?? 0);
    /** The socket ends as `code` before saying anything; the client probes, then reconnects. */
    const dies = async (socket: FakeSocket | undefined, code: number = CloseCode.ABNORMAL) => {
      socket?.serverClose(code);
      await flush();
      next();
    };
    return { client, clock, sockets, fallbacks, next, dies };
  }

  it('switches after two WebSocket attempts die before the server says anything, and stays', async () => {
    const t = setup();
    t.client.start();
    t.sockets[0]?.serverClose(CloseCode.ABNORMAL);
    t.next();
    expect(t.sockets).toHaveLength(2);
    expect(t.client.transport).toBe('websocket');
    // The second attempt hangs (a proxy that swallows the upgrade) until the connect timeout.
    t.sockets[1]?.open();
    t.clock.advance(15_000);
    t.next();
    expect(t.client.transport).toBe('fallback');
    expect(t.sockets).toHaveLength(2);
    const f = t.fallbacks[0] as FakeSocket;
    f.open();
    expect(f.sent[0]).toEqual({ type: 'hello', token: 'nct_a', v: 1 });
    f.receive(ready(10));
    await flush();
    expect(t.client.state).toBe('connected');
    // A dropped fallback connection reconnects over the fallback again.
    f.serverClose(CloseCode.ABNORMAL);
    t.next();
    expect(t.fallbacks).toHaveLength(2);
    expect(t.sockets).toHaveLength(2);
  });

  it('keeps the WebSocket when the server itself closed it, or after it once answered', async () => {
    const t = setup();
    t.client.start();
    // The server answered (ready), then the connection dropped: not a blocked network.
    t.sockets[0]?.open();
    t.sockets[0]?.receive(ready(5));
    await flush();
    t.sockets[0]?.serverClose(CloseCode.ABNORMAL);
    t.next();
    // A server going away names itself with its close code.
    t.sockets[1]?.serverClose(CloseCode.GOING_AWAY);
    t.next();
    t.sockets[2]?.serverClose(CloseCode.ABNORMAL);
    t.next();
    expect(t.sockets).toHaveLength(4);
    expect(t.client.transport).toBe('websocket');
    expect(t.fallbacks).toHaveLength(0);
  });

  it('does not give up on WebSockets while the server is down (a restart fails plain HTTP too)', async () => {
    let up = false;
    const t = setup(async () => up);
    t.client.start();
    for (let i = 0; i < 3; i++) {
      await t.dies(t.sockets[i]);
    }
    expect(t.client.transport).toBe('websocket');
    expect(t.sockets).toHaveLength(4);
    expect(t.fallbacks).toHaveLength(0);
    // The server is back and answers HTTP, but a proxy cuts the upgrade: now it counts.
    up = true;
    await t.dies(t.sockets[3]);
    expect(t.client.transport).toBe('websocket');
    await t.dies(t.sockets[4]);
    expect(t.client.transport).toBe('fallback');
    expect(t.fallbacks).toHaveLength(1);
  });

  it('forgets earlier silent failures once the server closes with a code of its own', async () => {
    const t = setup(async () => true);
    t.client.start();
    await t.dies(t.sockets[0]);
    // The server restarts: it says so (1001); this is no proxy.
    await t.dies(t.sockets[1], CloseCode.GOING_AWAY);
    await t.dies(t.sockets[2]);
    expect(t.client.transport).toBe('websocket');
    expect(t.sockets).toHaveLength(4);
  });

  it('tries the WebSocket again when a fallback connection ends long after the switch', async () => {
    const t = setup(async () => true);
    t.client.start();
    await t.dies(t.sockets[0]);
    await t.dies(t.sockets[1]);
    expect(t.client.transport).toBe('fallback');
    const f = t.fallbacks[0] as FakeSocket;
    f.open();
    f.receive(ready(10, false, 600_000));
    await flush();
    t.clock.advance(301_000);
    f.serverClose(CloseCode.ABNORMAL);
    t.next();
    expect(t.client.transport).toBe('websocket');
    expect(t.sockets).toHaveLength(3);
    // Still blocked: one more silent failure is enough to go back.
    await t.dies(t.sockets[2]);
    expect(t.client.transport).toBe('fallback');
    expect(t.fallbacks).toHaveLength(2);
  });

  it('notices a stalled event stream although POST answers (pongs) keep coming', async () => {
    const answered = new Set<unknown>();
    const answerPings = (f: FakeSocket) => {
      for (const p of f.ofType('ping').filter((x) => !answered.has(x.ref))) {
        answered.add(p.ref);
        f.answer({ type: 'pong', ref: String(p.ref) });
      }
    };
    const t = setup(async () => true);
    t.client.start();
    await t.dies(t.sockets[0]);
    await t.dies(t.sockets[1]);
    const f = t.fallbacks[0] as FakeSocket;
    f.open();
    f.receive(ready(10, false, 1000));
    await flush();
    expect(t.client.state).toBe('connected');
    // Keep-alive comments on the stream keep the connection up for as long as they come.
    for (let i = 0; i < 10; i++) {
      t.clock.advance(900);
      f.pulse();
      answerPings(f);
    }
    expect(t.fallbacks).toHaveLength(1);
    expect(f.closed).toBeNull();
    // The stream stalls; every ping is still answered over POST.
    for (let i = 0; i < 12; i++) {
      t.clock.advance(250);
      answerPings(f);
    }
    expect(f.closed).not.toBeNull();
    expect(t.client.state).toBe('reconnecting');
  });
});
