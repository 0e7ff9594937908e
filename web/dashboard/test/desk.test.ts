// The Desk controller against a fake server (fetch routed by method and path) and a fake
// socket: sign-in with a second factor, cookie auth on the socket, session expiry, live
// inbox updates with notifications, notes, bulk actions.
import { describe, expect, it } from 'vitest';
import { Desk, type DeskEnv } from '../src/desk';
import type { FetchLike } from '../src/sdk';
import { FakeSocket, ManualClock, flush } from '../../sdk/test/fakes';
import { item } from './helpers';

type Handler = (body: unknown, url: URL, init: RequestInit) => { status?: number; body?: unknown } | unknown;

const me = { id: 1, workspace_id: 1, kind: 'staff', role: 'agent', identity: null, external_id: null, name: 'Alice', email: 'alice@x.test', created_at: 0 };
const counts = { all: 1, mine: 0, unassigned: 1, unread_mine: 0, by_website: [], by_label: [] };

function setup(routes: Record<string, Handler> = {}) {
  const calls: { method: string; path: string; body: unknown; headers: Record<string, string> }[] = [];
  const table: Record<string, Handler> = {
    'GET /v1/auth/session': () => ({ status: 401, body: { code: 'unauthenticated', message: 'sign in' } }),
    'GET /v1/auth/sso/1': () => ({ enabled: false }),
    'GET /v1/inbox': () => ({ items: [item(5, 100)], next_cursor: null }),
    'GET /v1/inbox/counts': () => counts,
    'GET /v1/me/preferences': () => ({ desktop: true, sounds: { new_conversation: true, new_message: true, assigned: true }, volume: 50, muted_until: null, quiet_hours: null, muted_conversations: [] }),
    'GET /v1/canned-responses': () => ({ items: [] }),
    'GET /v1/labels': () => ({ items: [] }),
    'GET /v1/agents': () => [],
    'GET /v1/websites': () => [],
    ...routes,
  };
  const fetch: FetchLike = async (input, init = {}) => {
    const url = new URL(input);
    const method = init.method ?? 'GET';
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    calls.push({ method, path: url.pathname, body, headers: (init.headers ?? {}) as Record<string, string> });
    const h = table[`${method} ${url.pathname}`];
    if (!h) return new Response(JSON.stringify({ code: 'not_found', message: 'no route' }), { status: 404 });
    const out = h(body, url, init) as { status?: number; body?: unknown };
    const wrapped = out && typeof out === 'object' && ('status' in out || 'body' in out) ? out : { status: 200, body: out };
    return new Response(wrapped.body === undefined ? null : JSON.stringify(wrapped.body), { status: wrapped.status ?? 200 });
  };
  const clock = new ManualClock();
  const sockets: FakeSocket[] = [];
  const seen = { notes: [] as { title: string; body: string }[], beeps: [] as string[], badges: [] as number[], titles: [] as string[], paths: [] as string[] };
  let path = '/app/inbox';
  let visible = true;
  const env: DeskEnv = {
    now: () => clock.now(),
    visible: () => visible,
    permission: () => 'granted',
    requestPermission: async () => 'granted',
    notify: (n) => seen.notes.push({ title: n.title, body: n.body }),
    beep: (k) => seen.beeps.push(k),
    setBadge: (n) => seen.badges.push(n),
    setTitle: (t) => seen.titles.push(t),
    navigate: (p) => {
      path = p;
      seen.paths.push(p);
    },
    pathname: () => path,
  };
  const desk = new Desk({
    baseUrl: 'https://natter.test',
    env,
    fetch,
    clock,
    random: () => 0.5,
    socketFactory: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
  });
  const sock = () => sockets[sockets.length - 1] as FakeSocket;
  const settle = async () => {
    for (let i = 0; i < 10; i++) await flush();
  };
  return { desk, calls, clock, sockets, sock, seen, settle, setVisible: (v: boolean) => (visible = v), table };
}

/** The last element (lib es2020 has no Array#at). */
function last<T>(xs: readonly T[]): T | undefined {
  return xs[xs.length - 1];
}

const active = { account: me, state: 'active', csrf_token: 'csrf-1' };

describe('Desk: signing in', () => {
  it('signs in with a password and a TOTP code, then says hello with the cookie', async () => {
    const t = setup({
      'POST /v1/auth/login': () => ({ account: me, state: 'mfa', csrf_token: 'csrf-1' }),
      'POST /v1/auth/second-factor': (b) => ((b as { code: string }).code === '123456' ? active : { status: 401, body: { code: 'unauthenticated', message: 'bad code' } }),
    });
    await t.desk.boot();
    expect(t.desk.state.auth).toBe('signed_out');
    expect(last(t.seen.paths)).toBe('/app/login');

    await t.desk.login('alice@x.test', 'pw');
    expect(t.desk.state.auth).toBe('mfa');
    await t.desk.submitCode('000000');
    expect(t.desk.state.auth).toBe('mfa');
    expect(t.desk.state.authError).toMatch(/code/);

    await t.desk.submitCode('123 456');
    expect(t.desk.state.auth).toBe('signed_in');
    expect(last(t.seen.paths)).toBe('/app/inbox');
    // The second-factor write carried the CSRF token of the half-open session.
    const sf = last(t.calls.filter((c) => c.path === '/v1/auth/second-factor'));
    expect(sf?.headers['X-CSRF-Token']).toBe('csrf-1');
    expect(sf?.body).toEqual({ code: '123456' });

    t.sock().open();
    expect(t.sock().sent[0]).toEqual({ type: 'hello', token: '', v: 1 });
    t.sock().receive({ type: 'ready', v: 1, account_id: 1, workspace_id: 1, head_event_id: 10, heartbeat_ms: 25000, resumed: false });
    await t.settle();
    expect(t.desk.state.connection).toBe('connected');
    expect(t.desk.state.items.map((i) => i.conversation.id)).toEqual([5]);
  });

  it('saves the signed-in agent\'s name and photo and shows the answer, or a toast on refusal', async () => {
    const t = setup({
      'GET /v1/auth/session': () => active,
      'PATCH /v1/me': (b) =>
        (b as { avatar_url?: string }).avatar_url === 'ftp://x'
          ? { status: 400, body: { code: 'invalid_field', message: 'avatar_url must be an http(s) URL of at most 2048 bytes' } }
          : { ...me, ...(b as object) },
    });
    await t.desk.boot();
    expect(await t.desk.saveProfile({ name: 'Alice Agent', avatar_url: 'https://cdn.test/alice.png' })).toBe(true);
    expect(last(t.calls)).toMatchObject({ method: 'PATCH', path: '/v1/me', body: { name: 'Alice Agent', avatar_url: 'https://cdn.test/alice.png' } });
    expect(last(t.calls)?.headers['X-CSRF-Token']).toBe('csrf-1');
    expect(t.desk.state.me).toMatchObject({ name: 'Alice Agent', avatar_url: 'https://cdn.test/alice.png' });
    expect(await t.desk.saveProfile({ avatar_url: 'ftp://x' })).toBe(false);
    expect(t.desk.state.me?.avatar_url).toBe('https://cdn.test/alice.png');
    expect(last(t.desk.state.toasts)?.text).toMatch(/avatar_url must be/);
  });

  it('goes back to sign-in when the session expires', async () => {
    const t = setup({ 'GET /v1/auth/session': () => active });
    await t.desk.boot();
    expect(t.desk.state.auth).toBe('signed_in');
    t.table['GET /v1/inbox'] = () => ({ status: 401, body: { code: 'unauthenticated', message: 'session expired' } });
    await t.desk.loadInbox(true).catch(() => {});
    expect(t.desk.state.auth).toBe('signed_out');
    expect(t.desk.state.expired).toBe(true);
    expect(last(t.seen.paths)).toBe('/app/login');
    expect(t.sock().closed).not.toBeNull();
  });
});

describe('Desk: live inbox and notifications', () => {
  async function signedIn(routes: Record<string, Handler> = {}) {
    const t = setup({ 'GET /v1/auth/session': () => active, ...routes });
    await t.desk.boot();
    t.sock().open();
    t.sock().receive({ type: 'ready', v: 1, account_id: 1, workspace_id: 1, head_event_id: 10, heartbeat_ms: 25000, resumed: false });
    await t.settle();
    return t;
  }

  it('a new chat while the tab is hidden notifies, blinks the title and updates the badge', async () => {
    let inbox = [item(5, 100)];
    let c = counts;
    const t = await signedIn({
      'GET /v1/inbox': () => ({ items: inbox, next_cursor: null }),
      'GET /v1/inbox/counts': () => c,
    });
    t.desk.setVisible(false);
    t.setVisible(false);
    inbox = [item(9, 200, { last_message: { seq: 1, kind: 'text', sender_id: 109, body: 'Where is **my** order?', created_at: 200 } }), ...inbox];
    c = { ...counts, all: 2, unassigned: 2 };
    t.sock().receive({ type: 'inbox_changed', conversation: inbox[0]!.conversation });
    t.clock.advance(300);
    await t.settle();
    expect(t.desk.state.items.map((i) => i.conversation.id)).toEqual([9, 5]);
    expect(t.seen.notes).toEqual([{ title: 'New conversation: C9', body: 'Where is my order?' }]);
    expect(t.seen.beeps).toEqual(['new_conversation']);
    expect(last(t.seen.badges)).toBe(2);
    expect(last(t.seen.titles)).toBe('(1) New messages – natter');
    t.clock.advance(1000);
    expect(last(t.seen.titles)).toBe('(2) Inbox – natter');
    // Back on the tab: no more "New messages".
    t.desk.setVisible(true);
    expect(last(t.seen.titles)).toBe('(2) Inbox – natter');
    // The same conversation is announced once.
    t.sock().receive({ type: 'inbox_changed', conversation: inbox[0]!.conversation });
    t.clock.advance(300);
    await t.settle();
    expect(t.seen.notes).toHaveLength(1);
  });

  it('sends internal notes as kind note and shows them until acknowledged', async () => {
    const detail = {
      conversation: item(5, 100).conversation,
      participants: [
        { conversation_id: 5, account_id: 1, role: 'agent', visibility: 'full', history_from_seq: 1, joined_at: 0, left_at: null, read_seq: 1, delivered_seq: 1 },
        { conversation_id: 5, account_id: 105, role: 'customer', visibility: 'full', history_from_seq: 1, joined_at: 0, left_at: null, read_seq: 1, delivered_seq: 1 },
      ],
      people: [{ account_id: 105, kind: 'contact', name: 'Ann' }],
    };
    const t = await signedIn({
      'GET /v1/conversations/5': () => detail,
      'GET /v1/conversations/5/messages': () => [],
      'GET /v1/contacts/105/context': () => ({ status: 404, body: { code: 'not_found', message: 'x' } }),
    });
    t.desk.go({ name: 'inbox', conversationId: 5 });
    await t.settle();
    expect(t.desk.state.open?.detail).not.toBeNull();
    t.desk.send('VIP customer, be nice', true);
    const frame = t.sock().ofType('send')[0];
    expect(frame).toMatchObject({ type: 'send', conversation_id: 5, kind: 'note', format: 'plain', body: 'VIP customer, be nice' });
    expect(t.desk.store.timeline(5)).toHaveLength(1);
    t.sock().receive({ type: 'ack', ref: frame!.ref as string, conversation_id: 5, message_id: 77, seq: 2, duplicate: false });
    await t.settle();
    const [only] = t.desk.store.timeline(5);
    expect(only).toMatchObject({ kind: 'message', message: { id: 77, kind: 'note' } });
  });

  it('bulk resolve posts the selection and reloads the list', async () => {
    let bulkBody: unknown = null;
    const t = await signedIn({
      'GET /v1/inbox': () => ({ items: [item(5, 100), item(6, 90)], next_cursor: null }),
      'POST /v1/conversations/bulk': (b) => {
        bulkBody = b;
        return { results: [{ conversation_id: 5, ok: true, code: null }, { conversation_id: 6, ok: true, code: null }] };
      },
    });
    t.desk.toggleSelect(5);
    t.desk.toggleSelect(6);
    await t.desk.bulk('resolve');
    expect(bulkBody).toEqual({ conversation_ids: [5, 6], action: 'resolve', account_id: null, label: null });
    expect(t.desk.state.selection).toEqual([]);
    expect(last(t.desk.state.toasts)?.text).toBe('2 conversations resolved');
    const bulkCall = t.calls.find((c) => c.path === '/v1/conversations/bulk');
    expect(bulkCall?.headers['X-CSRF-Token']).toBe('csrf-1');
  });

  it('shows the customer typing for five seconds, and alerts "assigned" only when someone else assigned me', async () => {
    const t = await signedIn();
    t.sock().receive({ type: 'typing', conversation_id: 5, account_id: 105 });
    expect(t.desk.state.typing[5]).toMatchObject({ accountId: 105 });
    t.clock.advance(5_001);
    expect(t.desk.state.typing[5]).toBeUndefined();

    const joined = (conv: number, id: number) => ({
      type: 'event',
      id,
      at: 1,
      data: {
        type: 'participant_joined',
        participant: { conversation_id: conv, account_id: 1, role: 'agent', visibility: 'full', history_from_seq: 1, joined_at: 0, left_at: null, read_seq: 0, delivered_seq: 0 },
      },
    });
    t.sock().receive(joined(5, 11));
    await t.settle();
    expect(t.seen.beeps).toEqual(['assigned']);
    // Accepting a transfer myself: no alert for the join that follows.
    t.table['POST /v1/conversations/6/transfer/accept'] = () => ({ status: 204 });
    t.table['GET /v1/conversations/6'] = () => ({ status: 404, body: { code: 'not_found', message: 'x' } });
    await t.desk.acceptOffer(6);
    t.sock().receive(joined(6, 12));
    await t.settle();
    expect(t.seen.beeps).toEqual(['assigned']);
  });

  it('a temporary mute silences the sound of a new message', async () => {
    const t = await signedIn();
    const msg = (id: number, seq: number) => ({
      type: 'event',
      id,
      at: 1,
      data: {
        type: 'message_created',
        message: { id: 900 + seq, conversation_id: 5, seq, sender_id: 105, kind: 'text', format: 'plain', body: 'hello?', client_msg_id: null, created_at: 1, edited_at: null, deleted_at: null, reactions: [] },
      },
    });
    t.sock().receive(msg(20, 2));
    expect(t.seen.beeps).toEqual(['new_message']);
    t.desk.muteFor(30);
    t.sock().receive(msg(21, 3));
    expect(t.seen.beeps).toEqual(['new_message']);
    // (Expiry by time is covered in notify.test.ts.)
    t.desk.muteFor(null);
    t.sock().receive(msg(22, 4));
    expect(t.seen.beeps).toEqual(['new_message', 'new_message']);
    // The preferences were saved (debounced).
    t.clock.advance(500);
    await t.settle();
    const saved = t.calls.filter((c) => c.method === 'PUT' && c.path === '/v1/me/preferences');
    expect(saved.length).toBeGreaterThan(0);
  });
});

