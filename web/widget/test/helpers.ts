import { FakeSocket, ManualClock, flush } from '../../sdk/test/fakes';
import { WidgetController, type InitMessage } from '../src/app/controller';
import type { Account, Conversation, ConversationDetail, Message, Participant, Person, WidgetConfig } from '../src/app/sdk';
import { memoryStorage, WidgetStorage } from '../src/app/storage';
import type { FromApp } from '../src/shared/bridge';

export { FakeSocket, ManualClock, flush };

export function config(over: Partial<WidgetConfig> = {}): WidgetConfig {
  return {
    key: 'wk_test',
    name: 'Acme Support',
    appearance: {
      primary_color: '#4F46E5',
      position: 'bottom-right',
      logo_url: null,
      welcome_text: 'Hi there 👋',
      launcher_text: 'Chat with us',
      show_agent_photos: true,
    },
    prechat: { enabled: false, fields: [] },
    auto_greet: null,
    offline: { text: 'Leave a message', fields: [] },
    privacy: { consent_required: false, ip_mode: 'full' },
    locale: 'en',
    status: { open: true, agents_online: 2, next_open_at: null },
    ...over,
  };
}

export const contact: Account = {
  id: 7,
  workspace_id: 1,
  kind: 'contact',
  role: null,
  identity: 'anonymous',
  external_id: null,
  name: null,
  email: null,
  created_at: 1,
} as Account;

export function conversation(id: number, last_seq: number): Conversation {
  return {
    id,
    workspace_id: 1,
    kind: 'support',
    status: 'open',
    subject: null,
    listing: null,
    last_seq,
    last_activity_at: 1,
    created_at: 1,
    updated_at: 1,
  } as Conversation;
}

export function participant(conversation_id: number, account_id: number, role: Participant['role'], extra: Record<string, unknown> = {}): Participant {
  return {
    conversation_id,
    account_id,
    role,
    visibility: 'full',
    history_from_seq: 1,
    joined_at: 1,
    left_at: null,
    read_seq: 0,
    delivered_seq: 0,
    ...extra,
  } as Participant;
}

/** A `GET /v1/conversations/{id}` answer. */
export function detail(conversation: Conversation, participants: Participant[], people: Person[] = []): ConversationDetail {
  return { conversation, participants, people };
}

export function message(conversation_id: number, seq: number, sender_id: number | null, body = `m${seq}`, client_msg_id: string | null = null): Message {
  return {
    id: 1000 + seq,
    conversation_id,
    seq,
    sender_id,
    kind: 'text',
    format: 'plain',
    body,
    client_msg_id,
    created_at: seq,
    edited_at: null,
    deleted_at: null,
    reactions: [],
  };
}

export interface Call {
  method: string;
  path: string;
  query: string;
  auth: string | null;
  body: unknown;
}

type Handler = (call: Call) => { status: number; body?: unknown } | undefined;

/** A fake natter server at the HTTP level: routes by "METHOD /path" with the query stripped. */
export class FakeServer {
  calls: Call[] = [];
  routes = new Map<string, Handler>();

  on(route: string, handler: Handler | { status: number; body?: unknown }): this {
    this.routes.set(route, typeof handler === 'function' ? handler : () => handler);
    return this;
  }

  fetch = async (url: string, init?: RequestInit): Promise<Response> => {
    const u = new URL(url);
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const call: Call = {
      method: init?.method ?? 'GET',
      path: u.pathname,
      query: u.search,
      auth: headers.Authorization ?? null,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    this.calls.push(call);
    const handler = this.routes.get(`${call.method} ${call.path}`);
    const res = handler?.(call) ?? { status: 404, body: { code: 'not_found', message: `no route ${call.method} ${call.path}` } };
    return new Response(res.status === 204 || res.body === undefined ? null : JSON.stringify(res.body), { status: res.status });
  };

  called(route: string): Call[] {
    return this.calls.filter((c) => `${c.method} ${c.path}` === route);
  }
}

export const init: InitMessage = {
  type: 'init',
  base: 'https://natter.test',
  key: 'wk_test',
  page: { url: 'https://shop.test/products', title: 'Products', referrer: 'https://google.com/' },
  screen: { width: 1440, height: 900 },
  language: 'en-GB',
  timeZone: 'Europe/London',
};

export interface Harness {
  c: WidgetController;
  server: FakeServer;
  clock: ManualClock;
  sockets: FakeSocket[];
  sock: () => FakeSocket;
  posted: FromApp[];
  storage: WidgetStorage;
  kv: ReturnType<typeof memoryStorage>;
  beeps: number;
  /** Opens the latest socket and answers hello with ready, then lets the snapshot load. */
  connect: (head?: number, resumed?: boolean) => Promise<void>;
  events: (name: string) => unknown[];
}

export function standardServer(cfg: WidgetConfig = config(), opts: { conversationId?: number | null; history?: Message[]; lastSeq?: number } = {}): FakeServer {
  const s = new FakeServer();
  const cid = opts.conversationId ?? null;
  s.on('GET /v1/widget/wk_test', { status: 200, body: cfg });
  s.on('POST /v1/widget/wk_test/visitors', { status: 200, body: { contact, token: 'nct_visitor', expires_at: 9, session_id: 1, conversation_id: cid } });
  s.on('POST /v1/conversations', { status: 201, body: detail(conversation(12, 0), [participant(12, 7, 'customer')]) });
  s.on('GET /v1/conversations/12', { status: 200, body: detail(conversation(12, 0), [participant(12, 7, 'customer'), participant(12, 2, 'agent', { name: 'Sam' })]) });
  s.on('GET /v1/conversations/12/messages', { status: 200, body: [] });
  if (cid !== null) {
    s.on(`GET /v1/conversations/${cid}`, {
      status: 200,
      body: detail(conversation(cid, opts.lastSeq ?? 0), [participant(cid, 7, 'customer'), participant(cid, 2, 'agent', { name: 'Sam', avatar_url: 'https://x.test/sam.png' })]),
    });
    s.on(`GET /v1/conversations/${cid}/messages`, { status: 200, body: opts.history ?? [] });
  }
  for (const p of ['pageviews', 'activity', 'events']) s.on(`POST /v1/widget/wk_test/${p}`, { status: 204 });
  return s;
}

export async function harness(server: FakeServer = standardServer(), opts: { stored?: Record<string, string>; visible?: boolean } = {}): Promise<Harness> {
  const clock = new ManualClock();
  const sockets: FakeSocket[] = [];
  const posted: FromApp[] = [];
  const kv = memoryStorage();
  for (const [k, v] of Object.entries(opts.stored ?? {})) kv.setItem(k, v);
  const storage = new WidgetStorage(kv, 'wk_test');
  const h: Harness = {
    c: null as unknown as WidgetController,
    server,
    clock,
    sockets,
    sock: () => {
      const s = sockets[sockets.length - 1];
      if (!s) throw new Error('no socket yet');
      return s;
    },
    posted,
    storage,
    kv,
    beeps: 0,
    connect: async (head = 100, resumed = false) => {
      h.sock().open();
      h.sock().receive({ type: 'ready', v: 1, account_id: 7, workspace_id: 1, head_event_id: head, heartbeat_ms: 25000, resumed });
      await settle();
    },
    events: (name) => posted.filter((p) => p.type === 'event' && p.name === name).map((p) => (p as { data: unknown }).data),
  };
  h.c = new WidgetController({
    fetch: server.fetch,
    socketFactory: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    clock,
    random: () => 0,
    storage,
    post: (m) => posted.push(m),
    beep: () => void h.beeps++,
    visible: () => opts.visible ?? true,
  });
  return h;
}

/** Lets fetches and promise chains complete. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setTimeout(r, 0));
}
