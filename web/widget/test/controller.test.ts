import { describe, expect, it } from 'vitest';
import { ACTIVITY_EVERY_MS, TYPING_EXPIRES_MS } from '../src/app/controller';
import { OFFLINE_MESSAGE } from '../src/app/forms';
import { config, contact, conversation, detail, harness, init, message, participant, settle, standardServer } from './helpers';

const TOKEN_KEY = 'natter:wk_test:token';

function agentMessageEvent(id: number, conv: number, seq: number, body = 'Hello from Sam') {
  return { type: 'event', id, at: 1, data: { type: 'message_created', message: message(conv, seq, 2, body) } } as const;
}

describe('WidgetController: start-up and consent', () => {
  it('loads the configuration, starts a visitor session and stores the token', async () => {
    const h = await harness();
    await h.c.start(init);
    expect(h.c.state.phase).toBe('ready');
    expect(h.c.state.locale).toBe('en');
    const [visitor] = h.server.called('POST /v1/widget/wk_test/visitors');
    expect(visitor?.auth).toBeNull();
    expect(visitor?.body).toEqual({
      page: init.page,
      screen: init.screen,
      language: 'en-GB',
      time_zone: 'Europe/London',
      consent: true,
    });
    expect(h.kv.getItem(TOKEN_KEY)).toBe('nct_visitor');
    expect(h.sockets).toHaveLength(1);
    expect(h.sock().url).toBe('wss://natter.test/v1/ws');
    expect(h.posted).toContainEqual({ type: 'layout', open: false, position: 'bottom-right', width: 96, height: 96 });
    h.sock().open();
    expect(h.sock().sent[0]).toEqual({ type: 'hello', token: 'nct_visitor', v: 1 });
  });

  it('stays invisible when the configuration is refused (unknown key or origin not allowed)', async () => {
    const server = standardServer();
    server.on('GET /v1/widget/wk_test', { status: 403, body: { code: 'origin_not_allowed', message: 'nope' } });
    const h = await harness(server);
    await h.c.start(init);
    expect(h.c.state.phase).toBe('unavailable');
    expect(h.posted.filter((p) => p.type === 'layout')).toEqual([]);
    expect(server.called('POST /v1/widget/wk_test/visitors')).toEqual([]);
  });

  it('in consent-required mode stores nothing and sends no page views before consent', async () => {
    const h = await harness(standardServer(config({ privacy: { consent_required: true, ip_mode: 'truncated' } })));
    await h.c.start(init);
    expect(h.server.called('POST /v1/widget/wk_test/visitors')).toEqual([]);
    h.c.handle({ type: 'page', page: { url: 'https://shop.test/cart', title: 'Cart', referrer: init.page.url }, duration_ms: 5 });
    await h.c.track('added_to_cart', { value: 5 });
    await settle();
    expect(h.server.called('POST /v1/widget/wk_test/pageviews')).toEqual([]);
    expect(h.server.called('POST /v1/widget/wk_test/events')).toEqual([]);
    expect(h.kv.data.size).toBe(0);

    h.c.handle({ type: 'call', method: 'consent', args: [true] });
    await settle();
    const [visitor] = h.server.called('POST /v1/widget/wk_test/visitors');
    expect(visitor?.body).toMatchObject({ consent: true, page: { url: 'https://shop.test/cart' } });
    expect(h.kv.getItem(TOKEN_KEY)).toBe('nct_visitor');
    expect(h.kv.getItem('natter:wk_test:consent')).toBe('1');
  });

  it('in consent-required mode keeps the token once a chat starts (strictly necessary)', async () => {
    const h = await harness(standardServer(config({ privacy: { consent_required: true, ip_mode: 'none' } })));
    await h.c.start(init);
    h.c.open();
    const sent = h.c.send('Hi, I need help');
    await settle();
    expect(await sent).toBe(true);
    expect(h.server.called('POST /v1/widget/wk_test/visitors')[0]?.body).toMatchObject({ consent: false });
    expect(h.kv.getItem(TOKEN_KEY)).toBe('nct_visitor');
    expect(h.kv.getItem('natter:wk_test:consent')).toBeNull();
  });

  it('withdrawing consent removes the stored token when no chat was started', async () => {
    const h = await harness();
    await h.c.start(init);
    expect(h.kv.getItem(TOKEN_KEY)).toBe('nct_visitor');
    h.c.setConsent(false);
    expect(h.kv.getItem(TOKEN_KEY)).toBeNull();
    expect(h.kv.getItem('natter:wk_test:consent')).toBe('0');
  });

  it('replays host calls made before the configuration arrived', async () => {
    const h = await harness();
    h.c.handle({ type: 'call', method: 'open', args: [] });
    h.c.handle({ type: 'call', method: 'setLocale', args: ['fr-FR'] });
    await h.c.start(init);
    expect(h.c.state.open).toBe(true);
    expect(h.events('open')).toHaveLength(1);
  });
});

describe('WidgetController: continuing a conversation', () => {
  it('resumes with the stored token and loads the newest page after ready', async () => {
    const history = [message(12, 4, 2, 'earlier answer'), message(12, 5, 7, 'my question')];
    const h = await harness(standardServer(config(), { conversationId: 12, history, lastSeq: 5 }), {
      stored: { [TOKEN_KEY]: 'nct_old' },
    });
    await h.c.start(init);
    expect(h.server.called('POST /v1/widget/wk_test/visitors')[0]?.body).toMatchObject({ token: 'nct_old' });
    expect(h.c.state.conversationId).toBe(12);
    // Snapshot only after ready (protocol §3).
    expect(h.server.called('GET /v1/conversations/12')).toEqual([]);
    await h.connect(100);
    const [page] = h.server.called('GET /v1/conversations/12/messages');
    expect(page?.query).toBe('?before=6&limit=30');
    expect(page?.auth).toBe('Bearer nct_visitor');
    expect(h.c.timeline().map((i) => (i.kind === 'message' ? i.message.body : ''))).toEqual(['earlier answer', 'my question']);
    expect(h.c.agent(2)).toEqual({ accountId: 2, name: 'Sam', avatarUrl: 'https://x.test/sam.png' });
  });

  it('starts over as a new visitor when the stored token is refused', async () => {
    const server = standardServer();
    server.on('POST /v1/widget/wk_test/visitors', (call) =>
      (call.body as { token?: string }).token
        ? { status: 401, body: { code: 'unauthenticated', message: 'expired' } }
        : { status: 200, body: { contact: { id: 8 }, token: 'nct_new', expires_at: 1, session_id: 2, conversation_id: null } },
    );
    const h = await harness(server, { stored: { [TOKEN_KEY]: 'nct_expired' } });
    await h.c.start(init);
    expect(server.called('POST /v1/widget/wk_test/visitors')).toHaveLength(2);
    expect(h.kv.getItem(TOKEN_KEY)).toBe('nct_new');
  });

  it('pages older history with before = the oldest loaded seq', async () => {
    const history = Array.from({ length: 30 }, (_, i) => message(12, 31 + i, 2));
    const h = await harness(standardServer(config(), { conversationId: 12, history, lastSeq: 60 }));
    await h.c.start(init);
    await h.connect();
    expect(h.c.state.hasMore).toBe(true);
    h.server.on('GET /v1/conversations/12/messages', { status: 200, body: [message(12, 29, 7), message(12, 30, 2)] });
    await h.c.loadOlder();
    expect(h.server.called('GET /v1/conversations/12/messages')[1]?.query).toBe('?before=31&limit=30');
    expect(h.c.state.hasMore).toBe(false);
    expect(h.c.timeline()).toHaveLength(32);
  });
});

describe('WidgetController: messaging', () => {
  it('creates the support conversation on the first message and sends it with a client_msg_id', async () => {
    const h = await harness();
    await h.c.start(init);
    await h.connect();
    h.c.open();
    const ok = await h.c.send('  Where is my order?  ');
    expect(ok).toBe(true);
    expect(h.server.called('POST /v1/conversations')[0]?.body).toEqual({ kind: 'support' });
    const send = h.sock().ofType('send')[0];
    expect(send).toMatchObject({ conversation_id: 12, body: 'Where is my order?' });
    expect(String(send?.client_msg_id)).toMatch(/^w-/);
    expect(h.c.timeline()).toMatchObject([{ kind: 'pending' }]);
    h.sock().receive({ type: 'ack', ref: send?.ref as string, conversation_id: 12, message_id: 500, seq: 1, duplicate: false });
    await settle();
    expect(h.c.timeline()).toMatchObject([{ kind: 'message', message: { id: 500, body: 'Where is my order?' } }]);
    // The event of our own message changes nothing visible.
    h.sock().receive({
      type: 'event',
      id: 101,
      at: 1,
      data: { type: 'message_created', message: { ...message(12, 1, 7, 'Where is my order?', String(send?.client_msg_id)), id: 500 } },
    });
    expect(h.c.timeline()).toHaveLength(1);
    expect(h.beeps).toBe(0);
  });

  it('resends an unacknowledged message after a reconnect, with the same client_msg_id', async () => {
    const h = await harness();
    await h.c.start(init);
    await h.connect();
    await h.c.send('hello?');
    const first = h.sock().ofType('send')[0];
    h.sock().serverClose(1006);
    h.clock.advance(1000);
    await h.connect(105, true);
    const again = h.sock().ofType('send')[0];
    expect(again?.client_msg_id).toBe(first?.client_msg_id);
    h.sock().receive({ type: 'ack', ref: again?.ref as string, conversation_id: 12, message_id: 7, seq: 1, duplicate: true });
    await settle();
    expect(h.c.timeline()).toMatchObject([{ kind: 'message', message: { id: 7 } }]);
  });

  it('marks a send failed on a refusal and retries it on demand', async () => {
    const h = await harness();
    await h.c.start(init);
    await h.connect();
    await h.c.send('x'.repeat(10));
    const s1 = h.sock().ofType('send')[0];
    h.sock().receive({ type: 'error', ref: s1?.ref as string, code: 'forbidden', message: 'no' });
    await settle();
    const [item] = h.c.timeline();
    expect(item).toMatchObject({ kind: 'pending', pending: { error: 'no' } });
    h.c.retry(String(s1?.client_msg_id));
    expect(h.sock().ofType('send')[1]?.client_msg_id).toBe(s1?.client_msg_id);
  });

  it('keeps the composer text when the conversation cannot be created', async () => {
    const server = standardServer();
    server.on('POST /v1/conversations', { status: 503, body: { code: 'unavailable', message: 'db' } });
    const h = await harness(server);
    await h.c.start(init);
    await h.connect();
    expect(await h.c.send('hi')).toBe(false);
    expect(h.c.state.error).toBe('error_generic');
  });

  it('on an agent message: beeps, tells the host, counts unread while closed and sends delivered', async () => {
    const h = await harness(standardServer(config(), { conversationId: 12, lastSeq: 0 }));
    await h.c.start(init);
    await h.connect(100);
    h.sock().receive(agentMessageEvent(101, 12, 1));
    await settle();
    expect(h.beeps).toBe(1);
    expect(h.events('message')).toEqual([{ id: 1001, body: 'Hello from Sam', sender: 'Sam', created_at: 1 }]);
    expect(h.c.state.unread).toBe(1);
    expect(h.events('unread')).toContain(1);
    expect(h.sock().ofType('delivered')[0]).toMatchObject({ conversation_id: 12, seq: 1 });

    h.c.open();
    expect(h.c.state.unread).toBe(0);
    expect(h.sock().ofType('read')[0]).toMatchObject({ conversation_id: 12, seq: 1 });

    h.c.setMuted(true);
    h.sock().receive(agentMessageEvent(102, 12, 2, 'again'));
    expect(h.beeps).toBe(1);
    expect(h.kv.getItem('natter:wk_test:muted')).toBe('1');
  });

  it('shows the agent typing and hides it after 5 s or when their message arrives', async () => {
    const h = await harness(standardServer(config(), { conversationId: 12, lastSeq: 0 }));
    await h.c.start(init);
    await h.connect();
    h.sock().receive({ type: 'typing', conversation_id: 12, account_id: 2 });
    expect(h.c.state.typing).toEqual({ accountId: 2, name: 'Sam', avatarUrl: 'https://x.test/sam.png' });
    h.clock.advance(TYPING_EXPIRES_MS);
    expect(h.c.state.typing).toBeNull();
    h.sock().receive({ type: 'typing', conversation_id: 12, account_id: 2 });
    h.sock().receive(agentMessageEvent(101, 12, 1));
    expect(h.c.state.typing).toBeNull();
  });

  it('shows the queue position the server announces for this chat, and ignores other chats', async () => {
    const h = await harness(standardServer(config(), { conversationId: 12, lastSeq: 0 }));
    await h.c.start(init);
    await h.connect();
    h.sock().receive({ type: 'queue_position', conversation_id: 99, position: 7, estimated_wait_ms: null });
    expect(h.c.state.queue).toBeNull();
    h.sock().receive({ type: 'queue_position', conversation_id: 12, position: 3, estimated_wait_ms: 240000 });
    expect(h.c.state.queue).toEqual({ position: 3, estimatedWaitMs: 240000 });
    h.sock().receive({ type: 'queue_position', conversation_id: 12, position: 1, estimated_wait_ms: null });
    expect(h.c.state.queue).toEqual({ position: 1, estimatedWaitMs: null });
  });

  it('sends typing at most every 2 s', async () => {
    const h = await harness(standardServer(config(), { conversationId: 12 }));
    await h.c.start(init);
    await h.connect();
    h.c.typing();
    h.c.typing();
    h.clock.advance(2000);
    h.c.typing();
    expect(h.sock().ofType('typing')).toHaveLength(2);
  });

  it('receipts follow the agent cursors', async () => {
    const h = await harness(standardServer(config(), { conversationId: 12, history: [message(12, 1, 7, 'hi')], lastSeq: 1 }));
    await h.c.start(init);
    await h.connect();
    const mine = () => {
      const item = h.c.timeline()[0];
      if (item?.kind !== 'message') throw new Error('no message');
      return h.c.receipt(item.message);
    };
    expect(mine()).toBe('sent');
    h.sock().receive({ type: 'event', id: 101, at: 1, data: { type: 'delivered', conversation_id: 12, account_id: 2, seq: 1 } });
    expect(mine()).toBe('delivered');
    h.sock().receive({ type: 'event', id: 102, at: 1, data: { type: 'read', conversation_id: 12, account_id: 2, seq: 1 } });
    expect(mine()).toBe('read');
  });

  it('adopts a conversation an agent starts with the visitor', async () => {
    const h = await harness();
    await h.c.start(init);
    await h.connect();
    h.sock().receive({ type: 'event', id: 101, at: 1, data: { type: 'participant_joined', participant: participant(12, 7, 'customer') } });
    await settle();
    expect(h.c.state.conversationId).toBe(12);
    expect(h.server.called('GET /v1/conversations/12')).toHaveLength(1);
  });
});

describe('WidgetController: forms', () => {
  const prechat = config({
    prechat: {
      enabled: true,
      fields: [
        { key: 'name', kind: 'name', label: 'Name', required: true },
        { key: 'email', kind: 'email', label: 'Email', required: true },
        { key: 'phone', kind: 'phone', label: 'Phone', required: false },
        { key: 'order', kind: 'text', label: 'Order number', required: false },
      ],
    },
  });

  it('shows the pre-chat form first, validates it, and saves the profile', async () => {
    const server = standardServer(prechat);
    server.on('PUT /v1/widget/wk_test/profile', (call) => ({ status: 200, body: { contact: { ...call.body as object, id: 7 } } }));
    const h = await harness(server);
    await h.c.start(init);
    h.c.open();
    expect(h.c.view).toBe('prechat');
    expect(await h.c.submitPrechat({ name: '', email: 'nope', phone: '12' })).toEqual({
      name: 'err_required',
      email: 'err_email',
      phone: 'err_phone',
    });
    expect(server.called('PUT /v1/widget/wk_test/profile')).toEqual([]);
    expect(await h.c.submitPrechat({ name: ' Ada ', email: 'ada@example.com', phone: '+44 20 7946 0000', order: 'A-42' })).toEqual({});
    expect(server.called('PUT /v1/widget/wk_test/profile')[0]).toMatchObject({
      auth: 'Bearer nct_visitor',
      body: { name: 'Ada', email: 'ada@example.com', phone: '+44 20 7946 0000', fields: { order: 'A-42' } },
    });
    expect(h.c.view).toBe('chat');
  });

  it('skips the pre-chat form for a visitor who already has a conversation', async () => {
    const h = await harness(standardServer(prechat, { conversationId: 12 }));
    await h.c.start(init);
    h.c.open();
    expect(h.c.view).toBe('chat');
  });

  it('shows the offline form when nobody is online and sends it', async () => {
    const server = standardServer(
      config({
        status: { open: true, agents_online: 0, next_open_at: null },
        offline: { text: 'Leave a message', fields: [{ key: 'name', kind: 'name', label: 'Name', required: false }] },
      }),
    );
    server.on('POST /v1/widget/wk_test/offline', { status: 200, body: { conversation_id: 33 } });
    const h = await harness(server);
    await h.c.start(init);
    h.c.open();
    expect(h.c.view).toBe('offline');
    expect(h.c.offlineFormFields.map((f) => f.key)).toEqual(['__email', 'name']);
    expect(await h.c.submitOffline({ __email: 'x' })).toEqual({ __email: 'err_email', [OFFLINE_MESSAGE]: 'err_required' });
    expect(await h.c.submitOffline({ __email: 'bo@example.com', name: 'Bo', [OFFLINE_MESSAGE]: 'Call me back' })).toEqual({});
    expect(server.called('POST /v1/widget/wk_test/offline')[0]?.body).toEqual({ email: 'bo@example.com', name: 'Bo', message: 'Call me back' });
    expect(h.c.view).toBe('offline_sent');
    expect(h.kv.getItem(TOKEN_KEY)).toBe('nct_visitor');
  });

  it('outside business hours is offline too', async () => {
    const h = await harness(standardServer(config({ status: { open: false, agents_online: 3, next_open_at: 5 } })));
    await h.c.start(init);
    h.c.open();
    expect(h.c.view).toBe('offline');
  });
});

describe('WidgetController: identify, track and activity', () => {
  it('maps identify() onto the endpoint and switches to a verified contact', async () => {
    const server = standardServer();
    server.on('POST /v1/widget/wk_test/identify', { status: 200, body: { contact: { id: 99, name: 'Ada' }, token: 'nct_verified', expires_at: 1 } });
    server.on('GET /v1/conversations', {
      status: 200,
      body: {
        items: [
          { conversation: { ...conversation(40, 3), status: 'resolved' }, me: participant(40, 99, 'customer'), unread: 0 },
          { conversation: conversation(41, 2), me: participant(41, 99, 'customer'), unread: 0 },
        ],
        next_cursor: null,
      },
    });
    server.on('GET /v1/conversations/41', { status: 200, body: detail(conversation(41, 2), [participant(41, 99, 'customer')]) });
    server.on('GET /v1/conversations/41/messages', { status: 200, body: [message(41, 1, 99), message(41, 2, 2)] });
    const h = await harness(server);
    await h.c.start(init);
    await h.connect();
    h.c.handle({
      type: 'call',
      method: 'identify',
      args: [{ id: 'u-1', userHash: 'abc', email: 'ada@example.com', name: 'Ada', phone: '1', company: 'ACME', customData: { plan: 'pro' } }],
    });
    await settle();
    expect(server.called('POST /v1/widget/wk_test/identify')[0]).toMatchObject({
      auth: 'Bearer nct_visitor',
      body: { user_id: 'u-1', user_hash: 'abc', email: 'ada@example.com', name: 'Ada', phone: '1', company: 'ACME', custom_data: { plan: 'pro' } },
    });
    expect(h.kv.getItem(TOKEN_KEY)).toBe('nct_verified');
    expect(h.sockets).toHaveLength(2);
    h.sock().open();
    expect(h.sock().sent[0]).toEqual({ type: 'hello', token: 'nct_verified', v: 1 });
    h.sock().receive({ type: 'ready', v: 1, account_id: 99, workspace_id: 1, head_event_id: 300, heartbeat_ms: 25000, resumed: false });
    await settle();
    expect(h.c.state.conversationId).toBe(41);
    expect(h.c.timeline()).toHaveLength(2);
  });

  it('identify() with only details keeps the visitor, the open chat and its socket', async () => {
    const server = standardServer();
    server.on('POST /v1/widget/wk_test/identify', {
      status: 200,
      body: { contact: { ...contact, name: 'Ann', email: 'ann@example.com', identity: 'identified' }, token: 'nct_visitor_2', expires_at: 9 },
    });
    const h = await harness(server);
    await h.c.start(init);
    await h.connect();
    h.c.open();
    await h.c.send('Where is my order?');
    const send = h.sock().ofType('send')[0];
    h.c.handle({ type: 'call', method: 'identify', args: [{ name: 'Ann', email: 'ann@example.com' }] });
    await settle();
    expect(server.called('POST /v1/widget/wk_test/identify')[0]?.body).toEqual({ name: 'Ann', email: 'ann@example.com' });
    h.sock().receive({ type: 'ack', ref: send?.ref as string, conversation_id: 12, message_id: 500, seq: 1, duplicate: false });
    await settle();
    expect(h.c.state.conversationId).toBe(12);
    expect(h.c.state.contact?.name).toBe('Ann');
    expect(h.c.timeline()).toMatchObject([{ kind: 'message', message: { id: 500, body: 'Where is my order?' } }]);
    expect(h.kv.getItem(TOKEN_KEY)).toBe('nct_visitor_2');
    expect(server.called('GET /v1/conversations')).toEqual([]);
    // The same socket carried the send and its ack: nothing reconnected.
    expect(h.sockets).toHaveLength(1);
  });

  it('identify() that verifies the visitor in place keeps the chat and reconnects the socket as verified', async () => {
    const server = standardServer();
    server.on('POST /v1/widget/wk_test/identify', {
      status: 200,
      body: { contact: { ...contact, name: 'Ann', identity: 'verified', external_id: 'u-7' }, token: 'nct_visitor_v', expires_at: 9 },
    });
    const h = await harness(server);
    await h.c.start(init);
    await h.connect();
    h.c.open();
    await h.c.send('Where is my order?');
    const send = h.sock().ofType('send')[0];
    h.sock().receive({ type: 'ack', ref: send?.ref as string, conversation_id: 12, message_id: 500, seq: 1, duplicate: false });
    await settle();
    h.c.handle({ type: 'call', method: 'identify', args: [{ id: 'u-7', userHash: 'f00d', name: 'Ann' }] });
    await settle();
    // A new socket, authenticated with the verified token, resuming (not starting over).
    expect(h.sockets).toHaveLength(2);
    h.sock().open();
    expect(h.sock().sent[0]).toMatchObject({ type: 'hello', token: 'nct_visitor_v', v: 1 });
    expect(h.sock().sent[0]?.last_event_id).toEqual(expect.any(Number));
    expect(h.c.state.conversationId).toBe(12);
    expect(h.c.state.contact?.identity).toBe('verified');
    expect(h.c.timeline()).toMatchObject([{ kind: 'message', message: { id: 500, body: 'Where is my order?' } }]);
    expect(server.called('GET /v1/conversations')).toEqual([]);
  });

  it('track() posts the event with value and currency', async () => {
    const h = await harness();
    await h.c.start(init);
    await h.c.track('purchase', { value: 42.5, currency: 'GBP', sku: 'X' });
    expect(h.server.called('POST /v1/widget/wk_test/events')[0]?.body).toEqual({
      name: 'purchase',
      properties: { value: 42.5, currency: 'GBP', sku: 'X' },
      value: 42.5,
      currency: 'GBP',
    });
  });

  it('posts SPA page views, exit intent, and activity every 30 s while visible', async () => {
    const h = await harness();
    await h.c.start(init);
    const page = { url: 'https://shop.test/pricing', title: 'Pricing', referrer: init.page.url };
    h.c.handle({ type: 'page', page, duration_ms: 1200 });
    h.c.handle({ type: 'exit_intent' });
    await settle();
    expect(h.server.called('POST /v1/widget/wk_test/pageviews')[0]?.body).toEqual(page);
    expect(h.server.called('POST /v1/widget/wk_test/activity')[0]?.body).toEqual({ exit_intent: true });
    h.clock.advance(ACTIVITY_EVERY_MS * 2);
    await settle();
    expect(h.server.called('POST /v1/widget/wk_test/activity').slice(1).map((c) => c.body)).toEqual([{ visible: true }, { visible: true }]);
    h.c.handle({ type: 'visibility', visible: false });
    h.clock.advance(ACTIVITY_EVERY_MS * 3);
    await settle();
    expect(h.server.called('POST /v1/widget/wk_test/activity').slice(3).map((c) => c.body)).toEqual([{ visible: false }]);
  });

  it('shows the auto-greeting after the configured delay, unless a chat exists', async () => {
    const h = await harness(standardServer(config({ auto_greet: { text: 'Need a hand?', delay_ms: 4000 } })));
    await h.c.start(init);
    h.clock.advance(3999);
    expect(h.c.state.greeting).toBeNull();
    h.clock.advance(1);
    expect(h.c.state.greeting).toBe('Need a hand?');
    h.c.open();
    expect(h.c.state.greeting).toBeNull();

    const h2 = await harness(standardServer(config({ auto_greet: { text: 'Need a hand?', delay_ms: 10 } }), { conversationId: 12 }));
    await h2.c.start(init);
    h2.clock.advance(10);
    expect(h2.c.state.greeting).toBeNull();
  });

  it('reports the layout when opening and closing', async () => {
    const h = await harness(standardServer(config({ appearance: { ...config().appearance, position: 'bottom-left' } })));
    await h.c.start(init);
    h.c.reportSize(180.4, 88);
    h.c.open();
    h.c.close();
    const layouts = h.posted.filter((p) => p.type === 'layout');
    expect(layouts.slice(-3)).toEqual([
      { type: 'layout', open: false, position: 'bottom-left', width: 181, height: 88 },
      { type: 'layout', open: true, position: 'bottom-left', width: 181, height: 88 },
      { type: 'layout', open: false, position: 'bottom-left', width: 181, height: 88 },
    ]);
    expect(h.events('open')).toHaveLength(1);
    expect(h.events('close')).toHaveLength(1);
  });
});
