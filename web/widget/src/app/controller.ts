// The widget's behaviour without the DOM: configuration, the visitor session and its token,
// consent, the conversation (REST snapshot + real-time events through the SDK), sends, forms,
// tracking, unread counts and the messages to the loader. The Preact UI only renders `state`
// and calls the methods here, so everything above the network is unit-tested with fakes.
import { OFFLINE_MESSAGE, offlineFields, toOffline, toProfile, validateForm, type FormErrors, type FormValues } from './forms';
import { resolveLocale, translate, type StringKey } from './i18n';
import {
  ConversationStore,
  NatterError,
  RealtimeClient,
  RestClient,
  SseSocket,
  WidgetApi,
  httpReachable,
  newClientMsgId,
  wsUrl,
  type Account,
  type Clock,
  type ConnectionState,
  type EventPayload,
  type FetchLike,
  type FormField,
  type JsonValue,
  type Message,
  type Participant,
  type SocketLike,
  type TrackedEvent,
  type Transport,
  type TypingFrame,
  type VisitorStart,
  type WidgetConfig,
  type WidgetIdentify,
} from './sdk';
import type { WidgetStorage } from './storage';
import type { FromApp, HostEvent, PageView, ToApp } from '../shared/bridge';

export const PAGE_SIZE = 30;
export const ACTIVITY_EVERY_MS = 30_000;
export const TYPING_EXPIRES_MS = 5_000;
export const TYPING_SEND_EVERY_MS = 2_000;

export type InitMessage = Extract<ToApp, { type: 'init' }>;

export type View = 'none' | 'chat' | 'prechat' | 'offline' | 'offline_sent';

/** A participant as the widget reads it: the server may add a display name and a photo. */
export type ParticipantInfo = Participant & { name?: string | null; display_name?: string | null; avatar_url?: string | null };

export interface Agent {
  accountId: number;
  name: string | null;
  avatarUrl: string | null;
}

export interface WidgetState {
  phase: 'loading' | 'ready' | 'unavailable';
  config: WidgetConfig | null;
  locale: string;
  open: boolean;
  connection: ConnectionState;
  /** WebSocket, or SSE + POST where WebSockets do not get through. */
  transport: Transport;
  contact: Account | null;
  conversationId: number | null;
  unread: number;
  typing: Agent | null;
  /** Where the chat stands in the queue while no agent has it. */
  queue: { position: number; estimatedWaitMs: number | null } | null;
  greeting: string | null;
  muted: boolean;
  prechatDone: boolean;
  offlineSent: boolean;
  hasMore: boolean;
  loadingOlder: boolean;
  busy: boolean;
  error: StringKey | null;
  /** Bumps whenever conversation data changes. */
  version: number;
}

export interface ControllerDeps {
  fetch?: FetchLike;
  socketFactory?: (url: string) => SocketLike;
  clock?: Clock;
  random?: () => number;
  storage: WidgetStorage;
  /** Posts to the loader. */
  post: (msg: FromApp) => void;
  beep?: () => void;
  /** Whether the host page is visible now. */
  visible?: () => boolean;
  log?: (message: string, detail?: unknown) => void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class WidgetController {
  state: WidgetState;
  readonly store = new ConversationStore();
  private listeners = new Set<() => void>();
  private readonly deps: ControllerDeps;
  private readonly clock: Clock;

  private init: InitMessage | null = null;
  private rest: RestClient | null = null;
  private api: WidgetApi | null = null;
  private realtime: RealtimeClient | null = null;
  private token: string | null = null;
  private session: Promise<void> | null = null;
  private consentGranted = false;
  private chatStarted = false;
  private localeOverride: string | null = null;
  private page: PageView = { url: '', title: '', referrer: '' };
  private visible = true;
  private lookupConversation = false;
  private creating: Promise<number> | null = null;
  private lastTypingSent = 0;
  private typingTimer: unknown = null;
  private activityTimer: unknown = null;
  private greetTimer: unknown = null;
  private reportedUnread = -1;
  private readSent = 0;
  private deliveredSent = 0;
  private pendingCalls: Extract<ToApp, { type: 'call' }>[] = [];

  constructor(deps: ControllerDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? realClock;
    this.visible = deps.visible ? deps.visible() : true;
    this.state = {
      phase: 'loading',
      config: null,
      locale: 'en',
      open: false,
      connection: 'idle',
      transport: 'websocket',
      contact: null,
      conversationId: null,
      unread: 0,
      typing: null,
      queue: null,
      greeting: null,
      muted: deps.storage.muted(),
      prechatDone: false,
      offlineSent: false,
      hasMore: false,
      loadingOlder: false,
      busy: false,
      error: null,
      version: 0,
    };
    this.store.subscribe(() => this.set({ version: this.store.version }));
  }

  // --- observation ---------------------------------------------------------------------------

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<WidgetState>): void {
    const prev = this.state;
    this.state = { ...prev, ...patch };
    this.refreshUnread();
    for (const l of [...this.listeners]) l();
    if (prev.open !== this.state.open || prev.greeting !== this.state.greeting || prev.config !== this.state.config) {
      this.postLayout();
    }
  }

  t(key: StringKey, vars?: Record<string, string | number>): string {
    return translate(this.state.locale, key, vars);
  }

  private log(message: string, detail?: unknown): void {
    this.deps.log?.(message, detail);
  }

  /** Which screen the open panel shows. */
  get view(): View {
    const s = this.state;
    const c = s.config;
    if (!s.open || !c) return 'none';
    if (s.offlineSent) return 'offline_sent';
    if (s.conversationId === null && this.isOffline) return 'offline';
    if (s.conversationId === null && c.prechat.enabled && c.prechat.fields.length > 0 && !s.prechatDone) return 'prechat';
    return 'chat';
  }

  /** Outside business hours, or nobody online. */
  get isOffline(): boolean {
    const c = this.state.config;
    return !!c && (!c.status.open || c.status.agents_online <= 0);
  }

  get trackingAllowed(): boolean {
    return this.consentGranted;
  }

  get offlineFormFields(): FormField[] {
    return offlineFields(this.state.config?.offline.fields ?? [], this.t('offline_email'));
  }

  // --- start-up ------------------------------------------------------------------------------

  async start(init: InitMessage): Promise<void> {
    this.init = init;
    this.page = init.page;
    this.rest = new RestClient({ baseUrl: init.base, token: () => this.token, fetch: this.deps.fetch });
    this.api = new WidgetApi(this.rest, init.key);
    let config: WidgetConfig;
    try {
      config = await this.api.config();
    } catch (e) {
      // Unknown key, or this page's origin is not allowed: stay invisible.
      this.log('widget configuration unavailable', e);
      this.set({ phase: 'unavailable' });
      return;
    }
    const decided = this.deps.storage.consent();
    this.consentGranted = decided ?? !config.privacy.consent_required;
    this.set({ config, phase: 'ready', locale: resolveLocale(this.localeOverride ?? config.locale) });
    const calls = this.pendingCalls;
    this.pendingCalls = [];
    for (const c of calls) this.handle(c);

    if (this.deps.storage.token() || this.trackingAllowed) await this.ensureSession().catch(() => {});
    if (config.auto_greet && config.auto_greet.text) {
      const text = config.auto_greet.text;
      this.greetTimer = this.clock.setTimeout(() => {
        if (this.state.conversationId === null && !this.state.open) this.set({ greeting: text });
      }, Math.max(0, config.auto_greet.delay_ms));
    }
  }

  /** Creates (or continues) the visitor session once; later calls share it. */
  ensureSession(): Promise<void> {
    if (!this.session) {
      this.session = this.createSession().catch((e: unknown) => {
        this.session = null;
        this.log('visitor session failed', e);
        throw e;
      });
    }
    return this.session;
  }

  private visitorRequest(token: string | null): VisitorStart {
    const init = this.init as InitMessage;
    return {
      ...(token ? { token } : {}),
      page: this.page,
      screen: init.screen,
      language: init.language,
      time_zone: init.timeZone,
      consent: this.consentGranted,
    };
  }

  private async createSession(): Promise<void> {
    const api = this.api as WidgetApi;
    const stored = this.deps.storage.token();
    let session;
    try {
      session = await api.visitor(this.visitorRequest(stored));
    } catch (e) {
      if (!stored || !(e instanceof NatterError) || !['unauthenticated', 'not_found', 'invalid_field'].includes(e.code)) throw e;
      // The stored token is no longer any good: start over as a new visitor.
      this.deps.storage.setToken(null);
      session = await api.visitor(this.visitorRequest(null));
    }
    this.token = session.token;
    this.store.me = session.contact.id;
    if (session.conversation_id !== null) this.chatStarted = true;
    this.persistToken();
    this.set({ contact: session.contact, conversationId: session.conversation_id });
    this.startRealtime();
    this.scheduleActivity();
  }

  private persistToken(): void {
    if (this.token && (this.consentGranted || this.chatStarted)) this.deps.storage.setToken(this.token);
  }

  private startRealtime(): void {
    if (this.realtime) return;
    const init = this.init as InitMessage;
    const rt = new RealtimeClient({
      url: wsUrl(init.base),
      token: () => this.token,
      socketFactory: this.deps.socketFactory,
      // Some company networks and proxies cut WebSockets; the chat then runs over SSE + POST.
      fallbackFactory: (url) => new SseSocket(url, this.deps.fetch),
      // A server that is down fails the WebSocket too; only a reachable one counts as blocked.
      reachable: httpReachable(wsUrl(init.base), this.deps.fetch),
      clock: this.deps.clock,
      random: this.deps.random,
      clientMsgIdPrefix: 'w',
      onReady: (f) => {
        this.store.me = f.account_id;
      },
      onSnapshot: () => this.loadSnapshot(),
      onEvent: (p) => this.onEvent(p),
      onTyping: (f) => this.onTyping(f),
      onEphemeral: (f) => {
        if (f.type === 'queue_position' && f.conversation_id === this.state.conversationId) {
          this.set({ queue: { position: f.position, estimatedWaitMs: f.estimated_wait_ms ?? null } });
        }
      },
      onAuthFailure: () => this.renewToken(),
      log: this.deps.log,
    });
    this.realtime = rt;
    rt.onState((connection) => this.set({ connection, transport: rt.transport }));
    rt.start();
  }

  /** Loads the conversation (fresh start or resync): details, then the newest page. */
  private async loadSnapshot(): Promise<void> {
    const rest = this.rest as RestClient;
    if (this.lookupConversation) {
      this.lookupConversation = false;
      const list = await rest.listConversations({ limit: 20 });
      const open = list.items.find(
        (s) => s.conversation.kind === 'support' && s.conversation.status !== 'resolved' && s.conversation.status !== 'archived',
      );
      this.set({ conversationId: open ? open.conversation.id : null });
      if (open) this.chatStarted = true;
    }
    const id = this.state.conversationId;
    if (id === null) return;
    const detail = await rest.conversation(id);
    this.store.setDetail(detail);
    const page = await rest.history(id, { before: detail.conversation.last_seq + 1, limit: PAGE_SIZE });
    this.store.upsertMessages(id, page);
    this.set({ hasMore: page.length >= PAGE_SIZE && (page[0]?.seq ?? 1) > 1 });
    this.acknowledge();
  }

  private async renewToken(): Promise<boolean> {
    const api = this.api as WidgetApi;
    try {
      const session = await api.visitor(this.visitorRequest(this.token));
      const same = session.contact.id === this.state.contact?.id;
      this.token = session.token;
      this.persistToken();
      if (!same) {
        this.store.clear();
        this.realtime?.resetCursor();
        this.set({ contact: session.contact, conversationId: session.conversation_id });
      }
      return true;
    } catch (e) {
      this.log('token renewal failed', e);
      return false;
    }
  }

  // --- messages from the loader -------------------------------------------------------------

  handle(msg: ToApp): void {
    switch (msg.type) {
      case 'init':
        void this.start(msg);
        return;
      case 'page':
        this.page = msg.page;
        if (this.session && this.trackingAllowed) {
          void this.session.then(() => this.api?.pageview(msg.page)).catch((e) => this.log('page view failed', e));
        }
        return;
      case 'visibility':
        this.visible = msg.visible;
        if (this.session && this.trackingAllowed) void this.api?.activity({ visible: msg.visible }).catch(() => {});
        this.scheduleActivity();
        if (msg.visible) this.acknowledge();
        return;
      case 'exit_intent':
        if (this.session && this.trackingAllowed) void this.api?.activity({ exit_intent: true }).catch(() => {});
        return;
      case 'call':
        if (!this.state.config && msg.method !== 'setLocale') {
          this.pendingCalls.push(msg);
          return;
        }
        this.call(msg.method, msg.args);
        return;
    }
  }

  private call(method: string, args: unknown[]): void {
    const a0 = args[0];
    switch (method) {
      case 'open':
        return this.open();
      case 'close':
        return this.close();
      case 'toggle':
        return this.state.open ? this.close() : this.open();
      case 'setLocale':
        if (typeof a0 === 'string') {
          this.localeOverride = a0;
          this.set({ locale: resolveLocale(a0) });
        }
        return;
      case 'consent':
        return this.setConsent(a0 === true);
      case 'identify':
        if (a0 && typeof a0 === 'object') void this.identify(a0 as Record<string, unknown>).catch((e) => this.log('identify failed', e));
        return;
      case 'track':
        if (typeof a0 === 'string') void this.track(a0, (args[1] as Record<string, unknown>) ?? undefined).catch((e) => this.log('track failed', e));
        return;
    }
  }

  setConsent(granted: boolean): void {
    this.deps.storage.setConsent(granted);
    const had = this.consentGranted;
    this.consentGranted = granted;
    if (granted) {
      const existed = this.session !== null;
      this.persistToken();
      void this.ensureSession()
        .then(() => {
          // The session was made without consent: this page was not recorded yet.
          if (existed && !had) return this.api?.pageview(this.page);
        })
        .catch(() => {});
    } else {
      if (!this.chatStarted) this.deps.storage.setToken(null);
      this.deps.storage.setMuted(null);
    }
    this.scheduleActivity();
  }

  async identify(user: Record<string, unknown>): Promise<void> {
    const str = (v: unknown) => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined);
    const req: WidgetIdentify = {};
    const put = <K extends keyof WidgetIdentify>(k: K, v: WidgetIdentify[K] | undefined) => {
      if (v !== undefined) req[k] = v;
    };
    put('user_id', str(user.id ?? user.user_id));
    put('user_hash', str(user.userHash ?? user.user_hash));
    put('token', str(user.token));
    put('name', str(user.name));
    put('email', str(user.email));
    put('phone', str(user.phone));
    put('company', str(user.company));
    const custom = user.customData ?? user.custom_data;
    if (custom && typeof custom === 'object') req.custom_data = custom as Record<string, JsonValue>;
    await this.ensureSession();
    const res = await (this.api as WidgetApi).identify(req);
    const changed = res.token !== this.token;
    const otherContact = res.contact.id !== this.state.contact?.id;
    // The open socket was authenticated as the contact it had then: a visitor verified in
    // place must reconnect so the server treats the socket as verified (a workspace may
    // refuse unverified senders). Details alone change nothing the socket depends on.
    const verifiedNow = (res.contact.identity === 'verified') !== (this.state.contact?.identity === 'verified');
    this.token = res.token;
    this.persistToken();
    this.set({ contact: res.contact });
    if (changed && otherContact) {
      // A verified user continues their own conversations: start over as that contact.
      this.store.clear();
      this.store.me = res.contact.id;
      this.lookupConversation = true;
      this.set({ conversationId: null, hasMore: false, typing: null });
      this.realtime?.resetCursor();
      this.realtime?.restart();
    } else if (changed && verifiedNow) {
      this.realtime?.restart();
    }
  }

  async track(name: string, properties?: Record<string, unknown>): Promise<void> {
    if (!this.trackingAllowed) return;
    await this.ensureSession();
    const req: TrackedEvent = { name };
    if (properties && typeof properties === 'object') {
      req.properties = properties as Record<string, JsonValue>;
      if (typeof properties.value === 'number') req.value = properties.value;
      if (typeof properties.currency === 'string') req.currency = properties.currency;
    }
    await (this.api as WidgetApi).track(req);
  }

  private scheduleActivity(): void {
    this.clock.clearTimeout(this.activityTimer);
    this.activityTimer = null;
    if (!this.session || !this.trackingAllowed || !this.visible) return;
    this.activityTimer = this.clock.setTimeout(() => {
      this.activityTimer = null;
      if (this.trackingAllowed && this.visible) void this.api?.activity({ visible: true }).catch(() => {});
      this.scheduleActivity();
    }, ACTIVITY_EVERY_MS);
  }

  /** The browser says the network is back: reconnect without waiting for the backoff. */
  reconnectNow(): void {
    this.realtime?.reconnectNow();
  }

  // --- panel ---------------------------------------------------------------------------------

  open(): void {
    if (this.state.open || !this.state.config) return;
    this.set({ open: true, greeting: null });
    this.emit('open', null);
    this.acknowledge();
  }

  close(): void {
    if (!this.state.open) return;
    this.set({ open: false });
    this.emit('close', null);
  }

  dismissGreeting(): void {
    this.clock.clearTimeout(this.greetTimer);
    this.set({ greeting: null });
  }

  setMuted(muted: boolean): void {
    if (this.consentGranted || this.chatStarted) this.deps.storage.setMuted(muted);
    this.set({ muted });
  }

  private emit(name: HostEvent, data: unknown): void {
    this.deps.post({ type: 'event', name, data });
  }

  /** The size of the closed widget is measured by the UI; `reportSize` passes it on. */
  private closedSize = { width: 96, height: 96 };

  reportSize(width: number, height: number): void {
    const w = Math.ceil(width);
    const h = Math.ceil(height);
    if (w === this.closedSize.width && h === this.closedSize.height) return;
    this.closedSize = { width: w, height: h };
    this.postLayout();
  }

  private postLayout(): void {
    const c = this.state.config;
    if (!c || this.state.phase !== 'ready') return;
    this.deps.post({
      type: 'layout',
      open: this.state.open,
      position: c.appearance.position === 'bottom-left' ? 'bottom-left' : 'bottom-right',
      width: this.closedSize.width,
      height: this.closedSize.height,
    });
  }

  // --- conversation --------------------------------------------------------------------------

  agent(accountId: number | null): Agent | null {
    if (accountId === null) return null;
    const id = this.state.conversationId;
    const p = (id === null ? undefined : this.store.get(id).participants.get(accountId)) as ParticipantInfo | undefined;
    return { accountId, name: p?.name ?? p?.display_name ?? null, avatarUrl: p?.avatar_url ?? null };
  }

  /** Agents currently in the conversation. */
  agents(): Agent[] {
    const id = this.state.conversationId;
    if (id === null) return [];
    return this.store
      .others(id)
      .filter((p) => p.role === 'agent' || p.role === 'bot')
      .map((p) => this.agent(p.account_id) as Agent);
  }

  private onEvent(p: EventPayload): void {
    this.store.apply(p);
    const me = this.store.me;
    const current = this.state.conversationId;
    if (p.type === 'participant_joined') {
      const cid = p.participant.conversation_id;
      if (p.participant.account_id === me && current === null) {
        // A conversation started for us (by us on another tab, or by an agent).
        this.chatStarted = true;
        this.persistToken();
        this.set({ conversationId: cid });
        void this.refreshDetail(cid, true);
      } else if (cid === current && p.participant.account_id !== me) {
        void this.refreshDetail(cid, false);
      }
      return;
    }
    if (p.type === 'message_created' && p.message.conversation_id === current && p.message.sender_id !== me) {
      const m = p.message;
      if (this.state.typing && this.state.typing.accountId === m.sender_id) this.set({ typing: null });
      if (m.kind !== 'note') {
        if (!this.state.muted && m.sender_id !== null) this.deps.beep?.();
        const agent = this.agent(m.sender_id);
        this.emit('message', { id: m.id, body: m.body, sender: agent?.name ?? null, created_at: m.created_at });
      }
      this.acknowledge();
    }
  }

  private async refreshDetail(id: number, withHistory: boolean): Promise<void> {
    try {
      const rest = this.rest as RestClient;
      const detail = await rest.conversation(id);
      this.store.setDetail(detail);
      if (withHistory) {
        const page = await rest.history(id, { before: detail.conversation.last_seq + 1, limit: PAGE_SIZE });
        this.store.upsertMessages(id, page);
        this.set({ hasMore: page.length >= PAGE_SIZE && (page[0]?.seq ?? 1) > 1 });
      }
      this.acknowledge();
    } catch (e) {
      this.log('conversation refresh failed', e);
    }
  }

  private onTyping(f: TypingFrame): void {
    if (f.conversation_id !== this.state.conversationId || f.account_id === this.store.me) return;
    this.clock.clearTimeout(this.typingTimer);
    this.set({ typing: this.agent(f.account_id) });
    this.typingTimer = this.clock.setTimeout(() => this.set({ typing: null }), TYPING_EXPIRES_MS);
  }

  /** Newest seq of a message from someone else. */
  private newestIncoming(id: number): number {
    let max = 0;
    for (const m of this.store.get(id).messages.values()) if (m.sender_id !== this.store.me && m.seq > max) max = m.seq;
    return max;
  }

  /** Sends `delivered` for what arrived, and `read` when the visitor can see it. */
  private acknowledge(): void {
    const id = this.state.conversationId;
    const rt = this.realtime;
    if (id === null || !rt || rt.state !== 'connected') return;
    const newest = this.newestIncoming(id);
    if (newest === 0) return;
    const mine = this.store.myParticipant(id);
    if (this.state.open && this.visible) {
      if (newest > Math.max(mine?.read_seq ?? 0, this.readSent)) {
        this.readSent = newest;
        rt.read(id, newest).catch(() => (this.readSent = 0));
      }
    } else if (newest > Math.max(mine?.delivered_seq ?? 0, mine?.read_seq ?? 0, this.deliveredSent)) {
      this.deliveredSent = newest;
      rt.delivered(id, newest).catch(() => (this.deliveredSent = 0));
    }
  }

  private refreshUnread(): void {
    const id = this.state.conversationId;
    const unread = id === null || this.state.open ? 0 : this.store.unread(id);
    if (unread !== this.state.unread) this.state = { ...this.state, unread };
    if (this.state.phase === 'ready' && unread !== this.reportedUnread) {
      this.reportedUnread = unread;
      this.emit('unread', unread);
    }
  }

  /** The conversation for the first message: the existing one, or a new support conversation. */
  private async conversationForSend(): Promise<number> {
    await this.ensureSession();
    const id = this.state.conversationId;
    if (id !== null) return id;
    if (!this.creating) {
      this.creating = (this.rest as RestClient)
        .createConversation({ kind: 'support' })
        .then((d) => {
          this.store.setDetail(d);
          this.chatStarted = true;
          this.persistToken();
          this.set({ conversationId: d.conversation.id, greeting: null });
          return d.conversation.id;
        })
        .finally(() => {
          this.creating = null;
        });
    }
    return this.creating;
  }

  /** Sends a message; resolves false (and sets `error`) when it could not even be queued. */
  async send(text: string): Promise<boolean> {
    const body = text.trim();
    if (!body) return false;
    this.set({ busy: true, error: null });
    let id: number;
    try {
      id = await this.conversationForSend();
    } catch (e) {
      this.log('cannot start the conversation', e);
      this.set({ busy: false, error: 'error_generic' });
      return false;
    }
    this.set({ busy: false });
    this.dispatch(id, newClientMsgId('w', this.deps.random), body);
    return true;
  }

  private dispatch(id: number, clientMsgId: string, body: string): void {
    this.store.addPending({ client_msg_id: clientMsgId, conversation_id: id, body, created_at: this.clock.now(), error: null });
    (this.realtime as RealtimeClient).send(id, body, { clientMsgId }).then(
      (ack) => this.store.ack(ack, clientMsgId),
      (e: unknown) => this.store.failPending(id, clientMsgId, e instanceof Error ? e.message : 'failed'),
    );
  }

  retry(clientMsgId: string): void {
    const id = this.state.conversationId;
    if (id === null) return;
    const p = this.store.retryPending(id, clientMsgId);
    if (!p) return;
    (this.realtime as RealtimeClient).send(id, p.body, { clientMsgId }).then(
      (ack) => this.store.ack(ack, clientMsgId),
      (e: unknown) => this.store.failPending(id, clientMsgId, e instanceof Error ? e.message : 'failed'),
    );
  }

  /** Call on composer input: sends a throttled typing indicator. */
  typing(): void {
    const id = this.state.conversationId;
    const now = this.clock.now();
    if (id === null || !this.realtime || now - this.lastTypingSent < TYPING_SEND_EVERY_MS) return;
    this.lastTypingSent = now;
    this.realtime.typing(id);
  }

  async loadOlder(): Promise<void> {
    const id = this.state.conversationId;
    if (id === null || this.state.loadingOlder || !this.state.hasMore) return;
    const oldest = this.store.oldestSeq(id);
    if (oldest === null || oldest <= 1) {
      this.set({ hasMore: false });
      return;
    }
    this.set({ loadingOlder: true });
    try {
      const page = await (this.rest as RestClient).history(id, { before: oldest, limit: PAGE_SIZE });
      this.store.upsertMessages(id, page);
      this.set({ loadingOlder: false, hasMore: page.length >= PAGE_SIZE && (page[0]?.seq ?? 1) > 1 });
    } catch (e) {
      this.log('history failed', e);
      this.set({ loadingOlder: false });
    }
  }

  /** Messages to show: stored ones by seq, then pending sends. */
  timeline(): ReturnType<ConversationStore['timeline']> {
    const id = this.state.conversationId;
    return id === null ? [] : this.store.timeline(id).filter((i) => i.kind === 'pending' || i.message.kind !== 'note');
  }

  receipt(m: Message): ReturnType<ConversationStore['receipt']> {
    return this.store.receipt(m.conversation_id, m);
  }

  isMine(m: Message): boolean {
    return m.sender_id !== null && m.sender_id === this.store.me;
  }

  // --- forms ---------------------------------------------------------------------------------

  prechatValues(): FormValues {
    const c = this.state.contact;
    const values: FormValues = {};
    for (const f of this.state.config?.prechat.fields ?? []) {
      if (f.kind === 'name' && c?.name) values[f.key] = c.name;
      if (f.kind === 'email' && c?.email) values[f.key] = c.email;
    }
    return values;
  }

  /** Validates and saves the pre-chat form; returns the errors (empty when saved). */
  async submitPrechat(values: FormValues): Promise<FormErrors> {
    const fields = this.state.config?.prechat.fields ?? [];
    const errors = validateForm(fields, values);
    if (Object.keys(errors).length) return errors;
    this.set({ busy: true, error: null });
    try {
      await this.ensureSession();
      this.chatStarted = true;
      this.persistToken();
      const profile = toProfile(fields, values);
      const res = await (this.api as WidgetApi).profile(profile);
      this.set({ busy: false, prechatDone: true, contact: res.contact });
    } catch (e) {
      this.log('pre-chat form failed', e);
      this.set({ busy: false, error: 'error_generic' });
    }
    return {};
  }

  async submitOffline(values: FormValues): Promise<FormErrors> {
    const fields = this.offlineFormFields;
    const all: FormField[] = [...fields, { key: OFFLINE_MESSAGE, kind: 'text', label: this.t('offline_message'), required: true }];
    const errors = validateForm(all, values);
    if (Object.keys(errors).length) return errors;
    this.set({ busy: true, error: null });
    try {
      await this.ensureSession();
      const res = await (this.api as WidgetApi).offline(toOffline(fields, values));
      this.chatStarted = true;
      this.persistToken();
      this.set({ busy: false, offlineSent: true, conversationId: res.conversation_id });
    } catch (e) {
      this.log('offline form failed', e);
      this.set({ busy: false, error: 'error_generic' });
    }
    return {};
  }
}
