// The agent workspace's behaviour without the DOM: the session (sign-in, second factor,
// expiry), the real-time connection through the SDK (cookie `hello`, resume, snapshot on
// `ready`/`resync`), the inbox (filters, pages, live patches, selection and bulk actions), the
// open conversation (history, sends, notes, reactions, receipts, typing, status, labels,
// transfer), the agent's status, notification decisions and preferences, live visitors.
// The Preact UI renders `state` and calls the methods here; the browser-specific effects
// (notifications, sound, favicon, title, history) go through `DeskEnv`, so this file is
// unit-tested with a fake fetch, fake sockets and a manual clock.
import { DeskApi } from './api';
import {
  DEFAULT_FILTER,
  PAGE_SIZE,
  appendPage,
  applyEvent,
  inboxQuery,
  mergeFirstPage,
  neighbour,
  personName,
  replaceConversation,
  rowTitle,
  type InboxFilter,
} from './lib/inbox';
import { looksLikeMarkdown, plainText } from './lib/markdown';
import { badgeCount, decide, mutedNow, preview, tabTitle, type NotifyKind, type Permission } from './lib/notify';
import { DEFAULT_PREFS, clampVolume, isConversationMuted, withConversationMuted, withTemporaryMute } from './lib/prefs';
import { formatRoute, parseRoute, sameRoute, type Route } from './lib/route';
import {
  ConversationStore,
  NatterError,
  RealtimeClient,
  RestClient,
  newClientMsgId,
  wsUrl,
  type Account,
  type AgentPreferences,
  type AgentView,
  type Clock,
  type ConnectionState,
  type ContactContext,
  type ConversationDetail,
  type ConversationStatus,
  type EventPayload,
  type FetchLike,
  type InboxCounts,
  type InboxItem,
  type LabelCount,
  type LiveVisitor,
  type MeEdit,
  type Message,
  type MessageFormat,
  type MessageKind,
  type ServerFrame,
  type SessionView,
  type SocketLike,
  type CannedResponse,
  type WebsiteView,
} from './sdk';

export type AuthPhase = 'loading' | 'signed_out' | 'mfa' | 'enrol' | 'signed_in';

/** What the browser does for the workspace (a fake in tests). */
export interface DeskEnv {
  now(): number;
  /** document.visibilityState === 'visible'. */
  visible(): boolean;
  permission(): Permission;
  requestPermission(): Promise<Permission>;
  notify(n: { title: string; body: string; tag: string; onClick: () => void }): void;
  beep(kind: NotifyKind, volume: number): void;
  setBadge(count: number): void;
  setTitle(title: string): void;
  /** history.pushState / replaceState. */
  navigate(path: string, replace: boolean): void;
  /** Where the browser is now (location.pathname). */
  pathname(): string;
}

export interface DeskDeps {
  /** natter's origin, e.g. `https://chat.example.com` (location.origin in the browser). */
  baseUrl: string;
  env: DeskEnv;
  fetch?: FetchLike;
  socketFactory?: (url: string) => SocketLike;
  clock?: Clock;
  random?: () => number;
  log?: (message: string, detail?: unknown) => void;
}

export interface Offer {
  conversationId: number;
  fromAgent: number;
  note: string | null;
  expiresAt: number;
}

export interface OpenConversation {
  id: number;
  detail: ConversationDetail | null;
  loading: boolean;
  error: string | null;
  /** Older history exists above what is loaded. */
  hasMore: boolean;
  loadingOlder: boolean;
  labels: string[];
  /** The customer (first contact participant). */
  contactId: number | null;
  context: ContactContext | null;
  /** The contact's other conversations (by their email or name), newest first. */
  previous: InboxItem[] | null;
}

export interface Toast {
  id: number;
  text: string;
  kind: 'info' | 'error';
}

export interface DeskState {
  auth: AuthPhase;
  authError: string | null;
  /** The session ended by itself (expired or revoked), not by signing out. */
  expired: boolean;
  busy: boolean;
  ssoWorkspace: number | null;
  me: Account | null;
  route: Route;
  connection: ConnectionState;

  filter: InboxFilter;
  items: InboxItem[];
  nextCursor: string | null;
  listLoading: boolean;
  listError: string | null;
  selection: number[];
  counts: InboxCounts | null;
  labels: LabelCount[];

  open: OpenConversation | null;
  /** Conversation id → the customer typing, until when (ms). */
  typing: Record<number, { accountId: number; until: number }>;
  offers: Offer[];

  canned: CannedResponse[];
  prefs: AgentPreferences;
  agents: AgentView[];
  websites: WebsiteView[];
  /** Display names by account id, learnt from every answer that carries one. */
  names: Record<number, string>;
  visitors: Record<number, LiveVisitor[]>;
  queueWaiting: number;

  permission: Permission;
  visible: boolean;
  /** Attention-worthy events since the tab was hidden. */
  unseen: number;
  toasts: Toast[];
  helpOpen: boolean;
  /** Bumps with every change of conversation data in `store`. */
  version: number;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export const HISTORY_PAGE = 50;
export const TYPING_EXPIRES_MS = 5_000;
export const TYPING_SEND_EVERY_MS = 2_000;
export const POLL_MS = 15_000;
const REFRESH_DEBOUNCE_MS = 250;
const SEARCH_DEBOUNCE_MS = 250;
const SAVE_PREFS_DEBOUNCE_MS = 400;

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isAuthError = (e: unknown) => e instanceof NatterError && e.code === 'unauthenticated';
const isAdmin = (a: Account | null) => a?.role === 'owner' || a?.role === 'admin';

export class Desk {
  state: DeskState;
  readonly store = new ConversationStore();
  readonly api: DeskApi;
  readonly rest: RestClient;
  private readonly deps: DeskDeps;
  private readonly env: DeskEnv;
  private readonly clock: Clock;
  private listeners = new Set<() => void>();
  private csrf: string | null = null;
  private rt: RealtimeClient | null = null;
  /** Bumped by every inbox load: answers to older loads are dropped. */
  private listSeq = 0;
  private openSeq = 0;
  private refreshTimer: unknown = null;
  private countsTimer: unknown = null;
  private searchTimer: unknown = null;
  private prefsTimer: unknown = null;
  private readTimer: unknown = null;
  private pollTimer: unknown = null;
  private blinkTimer: unknown = null;
  private blinkOn = true;
  private typingTimers = new Map<number, unknown>();
  private lastTypingSent = 0;
  private lastBadge = -1;
  private websitesLoadedAt = 0;
  private returnTo: Route | null = null;
  private visitorsTimer: unknown = null;
  private toastSeq = 0;
  /** Conversations I joined by my own action (reply, assign, accept): no "assigned" alert. */
  private selfJoined = new Set<number>();
  /** Conversations already announced as new. */
  private announced = new Set<number>();
  /** Highest seq reported `delivered` per conversation. */
  private deliveredSent = new Map<number, number>();
  /** Kind and format of my unacknowledged sends (the SDK's pending entry has only the body). */
  readonly pendingKinds = new Map<string, { kind: MessageKind; format: MessageFormat }>();

  constructor(deps: DeskDeps) {
    this.deps = deps;
    this.env = deps.env;
    this.clock = deps.clock ?? realClock;
    this.rest = new RestClient({
      baseUrl: deps.baseUrl,
      fetch: deps.fetch,
      credentials: 'same-origin',
      headers: () => (this.csrf ? { 'X-CSRF-Token': this.csrf } : null),
    });
    this.api = new DeskApi(this.rest);
    this.state = {
      auth: 'loading',
      authError: null,
      expired: false,
      busy: false,
      ssoWorkspace: null,
      me: null,
      route: parseRoute(this.env.pathname()),
      connection: 'idle',
      filter: DEFAULT_FILTER,
      items: [],
      nextCursor: null,
      listLoading: false,
      listError: null,
      selection: [],
      counts: null,
      labels: [],
      open: null,
      typing: {},
      offers: [],
      canned: [],
      prefs: DEFAULT_PREFS,
      agents: [],
      websites: [],
      names: {},
      visitors: {},
      queueWaiting: 0,
      permission: this.env.permission(),
      visible: this.env.visible(),
      unseen: 0,
      toasts: [],
      helpOpen: false,
      version: 0,
    };
    this.store.subscribe(() => this.set({ version: this.store.version }));
  }

  // --- state plumbing ------------------------------------------------------------------------

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<DeskState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of [...this.listeners]) l();
  }

  private log(message: string, detail?: unknown): void {
    this.deps.log?.(message, detail);
  }

  get isAdmin(): boolean {
    return isAdmin(this.state.me);
  }

  get myAgent(): AgentView | null {
    const me = this.state.me;
    return me ? (this.state.agents.find((a) => a.account_id === me.id) ?? null) : null;
  }

  nameOf(accountId: number | null | undefined, fallback = 'Someone'): string {
    if (accountId === null || accountId === undefined) return 'natter';
    if (this.state.me && accountId === this.state.me.id) return 'You';
    return this.state.names[accountId] ?? `${fallback} #${accountId}`;
  }

  private learnNames(entries: Iterable<[number, string | null | undefined]>): void {
    let names: Record<number, string> | null = null;
    for (const [id, name] of entries) {
      if (!name || this.state.names[id] === name) continue;
      names ??= { ...this.state.names };
      names[id] = name;
    }
    if (names) this.set({ names });
  }

  /** Saves the signed-in staff member's name and photo; true when saved. */
  async saveProfile(edit: MeEdit): Promise<boolean> {
    const me = await this.act(this.api.editMe(edit), 'Could not save your profile');
    if (!me) return false;
    this.set({ me });
    this.toast('Profile saved');
    return true;
  }

  toast(text: string, kind: Toast['kind'] = 'info'): void {
    const id = ++this.toastSeq;
    this.set({ toasts: [...this.state.toasts.slice(-3), { id, text, kind }] });
    this.clock.setTimeout(() => this.dismissToast(id), kind === 'error' ? 8000 : 4000);
  }

  dismissToast(id: number): void {
    if (this.state.toasts.some((t) => t.id === id)) this.set({ toasts: this.state.toasts.filter((t) => t.id !== id) });
  }

  /** Runs a call; a 401 means the session is over (back to sign-in); other errors propagate. */
  private async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (isAuthError(e) && this.state.auth === 'signed_in') this.expire();
      throw e;
    }
  }

  /** Runs a user action: errors become a toast. */
  private async act<T>(p: Promise<T>, failure: string): Promise<T | null> {
    try {
      return await this.guard(p);
    } catch (e) {
      if (!isAuthError(e)) this.toast(`${failure}: ${errorText(e)}`, 'error');
      return null;
    }
  }

  // --- signing in ----------------------------------------------------------------------------

  /** First thing after the page loads: is there a session already? */
  async boot(): Promise<void> {
    try {
      const view = await this.api.session();
      await this.enterSession(view);
    } catch (e) {
      if (!isAuthError(e)) this.log('session check failed', e);
      this.signedOut(false);
    }
  }

  async login(email: string, password: string): Promise<void> {
    this.set({ busy: true, authError: null });
    try {
      const view = await this.api.login({ email: email.trim(), password, workspace_id: null });
      await this.enterSession(view);
    } catch (e) {
      this.set({ authError: e instanceof NatterError && e.code === 'unauthenticated' ? 'Wrong email or password.' : errorText(e) });
    } finally {
      this.set({ busy: false });
    }
  }

  async submitCode(code: string): Promise<void> {
    this.set({ busy: true, authError: null });
    try {
      const view = await this.api.secondFactor(code.replace(/\s+/g, ''));
      await this.enterSession(view);
    } catch (e) {
      this.set({ authError: e instanceof NatterError && e.code === 'unauthenticated' ? 'That code did not work. Try the next one.' : errorText(e) });
    } finally {
      this.set({ busy: false });
    }
  }

  async logout(): Promise<void> {
    try {
      await this.api.logout();
    } catch (e) {
      this.log('logout failed', e);
    }
    this.signedOut(false);
    this.returnTo = null;
  }

  /** The session ended under us (expired, revoked, signed out elsewhere). */
  expire(): void {
    this.signedOut(true);
  }

  private async enterSession(view: SessionView): Promise<void> {
    this.csrf = view.csrf_token;
    if (view.state === 'mfa' || view.state === 'enrol') {
      this.set({ auth: view.state, me: view.account, authError: null });
      return;
    }
    const me = view.account;
    this.store.me = me.id;
    this.set({ auth: 'signed_in', me, expired: false, authError: null });
    this.learnNames([[me.id, me.name ?? me.email]]);
    const route = this.returnTo ?? (this.state.route.name === 'login' ? ({ name: 'inbox', conversationId: null } as Route) : this.state.route);
    this.returnTo = null;
    this.go(route, true);
    this.startRealtime();
    // The list shows at once; the real-time snapshot (after `ready`) loads it again so that
    // nothing committed in between is missed.
    void this.loadInbox(true).catch(() => {});
    void this.refreshCounts();
    void this.loadSideData();
    this.schedulePoll();
    this.updateChrome();
  }

  private signedOut(expired: boolean): void {
    // Where to go back to after signing in (a bookmarked or reloaded screen).
    if (this.state.route.name !== 'login') this.returnTo = this.state.route;
    this.rt?.stop();
    this.rt = null;
    this.csrf = null;
    this.clock.clearTimeout(this.pollTimer);
    this.clock.clearTimeout(this.readTimer);
    this.store.clear();
    this.selfJoined.clear();
    this.announced.clear();
    this.set({
      auth: 'signed_out',
      expired,
      me: null,
      items: [],
      nextCursor: null,
      selection: [],
      counts: null,
      open: null,
      offers: [],
      typing: {},
      connection: 'offline',
      unseen: 0,
    });
    this.go({ name: 'login' }, true);
    this.updateChrome();
    void this.probeSso();
  }

  /** Offers "Sign in with SSO" when the workspace has it (`?workspace=N`, else workspace 1). */
  private async probeSso(): Promise<void> {
    const m = /[?&]workspace=(\d{1,15})/.exec(typeof location === 'undefined' ? '' : location.search);
    const workspace = m ? Number(m[1]) : 1;
    try {
      const status = await this.api.sso(workspace);
      this.set({ ssoWorkspace: status.enabled ? workspace : null });
    } catch {
      this.set({ ssoWorkspace: null });
    }
  }

  ssoUrl(): string | null {
    return this.state.ssoWorkspace === null ? null : this.api.ssoStartUrl(this.state.ssoWorkspace);
  }

  private async loadSideData(): Promise<void> {
    const tasks: Promise<unknown>[] = [
      this.reloadPrefs(),
      this.reloadCanned(),
      this.reloadLabels(),
      this.reloadAgents(),
      this.reloadWebsites(),
    ];
    await Promise.allSettled(tasks);
  }

  async reloadPrefs(): Promise<void> {
    try {
      const prefs = await this.guard(this.api.preferences());
      this.set({ prefs: { ...DEFAULT_PREFS, ...prefs } });
    } catch (e) {
      this.log('preferences unavailable', e);
    }
  }

  async reloadCanned(): Promise<void> {
    try {
      this.set({ canned: (await this.guard(this.api.canned())).items });
    } catch (e) {
      this.log('canned responses unavailable', e);
    }
  }

  async reloadLabels(): Promise<void> {
    try {
      this.set({ labels: (await this.guard(this.api.labels())).items });
    } catch (e) {
      this.log('labels unavailable', e);
    }
  }

  async reloadAgents(): Promise<void> {
    try {
      this.set({ agents: await this.guard(this.api.agents()) });
    } catch (e) {
      this.log('agents unavailable', e);
    }
  }

  async reloadWebsites(): Promise<void> {
    try {
      this.set({ websites: await this.guard(this.api.websites()) });
    } catch (e) {
      this.log('websites unavailable', e);
    }
  }

  // --- real time -----------------------------------------------------------------------------

  private startRealtime(): void {
    this.rt?.stop();
    const rt = new RealtimeClient({
      url: wsUrl(this.deps.baseUrl),
      token: () => '',
      cookieAuth: true,
      socketFactory: this.deps.socketFactory,
      clock: this.deps.clock,
      random: this.deps.random,
      clientMsgIdPrefix: 'w',
      onSnapshot: () => this.snapshot(),
      onEvent: (payload) => this.onEvent(payload),
      onTyping: (f) => this.onTyping(f.conversation_id, f.account_id),
      onEphemeral: (f) => this.onEphemeral(f),
      onAuthFailure: async () => {
        try {
          await this.api.session();
          return true;
        } catch (e) {
          if (isAuthError(e)) {
            this.expire();
            return false;
          }
          return true;
        }
      },
      log: (m, d) => this.log(`realtime: ${m}`, d),
    });
    rt.onState((s) => {
      const was = this.state.connection;
      this.set({ connection: s });
      if (s !== 'connected') return;
      this.scheduleRead();
      // Resumed: the events are replayed, but what only REST shows (assignees, counts, load)
      // may have changed while we were away.
      if (was === 'reconnecting') {
        this.scheduleRefresh();
        this.scheduleCounts();
        void this.reloadAgents();
      }
    });
    this.rt = rt;
    rt.start();
  }

  /** After `ready` (fresh start) or `resync`: reload what is on screen. */
  private async snapshot(): Promise<void> {
    const open = this.state.open;
    await Promise.all([
      this.guard(this.loadInbox(true)),
      this.refreshCounts(),
      open ? this.loadConversation(open.id, true) : Promise.resolve(),
    ]);
  }

  /** Skips the backoff wait (the browser says it is online again). */
  reconnectNow(): void {
    this.rt?.reconnectNow();
  }

  private onEvent(e: EventPayload): void {
    const me = this.state.me?.id ?? null;
    this.store.apply(e);
    const patched = applyEvent(this.state.items, e, { me, filter: this.state.filter, reading: this.readingId() });
    if (patched.changed) this.set({ items: patched.items });
    if (patched.refresh) this.scheduleRefresh();
    if (e.type !== 'delivered' && e.type !== 'reaction_added' && e.type !== 'reaction_removed') this.scheduleCounts();

    switch (e.type) {
      case 'message_created': {
        const m = e.message;
        const conv = m.conversation_id;
        if (m.sender_id !== null && m.sender_id !== me) {
          this.clearTyping(conv);
          const seq = this.deliveredSent.get(conv) ?? 0;
          if (m.seq > seq && this.rt) {
            this.deliveredSent.set(conv, m.seq);
            this.rt.delivered(conv, m.seq).catch(() => {});
          }
          // Customers' messages, and colleagues' notes (replies by colleagues are not news).
          const fromStaff = this.store.get(conv).participants.get(m.sender_id)?.role === 'agent';
          if ((m.kind === 'text' && !fromStaff) || m.kind === 'note') {
            const who = this.nameOf(m.sender_id, 'Visitor');
            this.attention('new_message', conv, m.kind === 'note' ? `Note from ${who}` : who, plainText(m.body));
          }
        }
        if (this.state.open?.id === conv) this.scheduleRead();
        break;
      }
      case 'participant_joined': {
        const p = e.participant;
        const conv = p.conversation_id;
        if (p.account_id === me) {
          if (!this.selfJoined.has(conv)) {
            const item = this.state.items.find((i) => i.conversation.id === conv);
            this.attention('assigned', conv, 'Assigned to you', item ? rowTitle(item) : `Conversation #${conv}`);
          }
          void this.reloadAgents();
        } else if (this.state.open?.id === conv && this.state.names[p.account_id] === undefined) {
          void this.refreshDetail(conv);
        }
        break;
      }
      case 'participant_left':
        if (e.account_id === me) void this.reloadAgents();
        break;
      case 'conversation_updated':
        break;
      default:
        break;
    }
  }

  private onEphemeral(f: ServerFrame): void {
    switch (f.type) {
      case 'inbox_changed': {
        const c = f.conversation;
        this.store.setConversation(c);
        this.scheduleCounts();
        void this.refreshTop().then(async () => {
          if (this.announced.has(c.id)) return;
          this.announced.add(c.id);
          const find = () => this.state.items.find((i) => i.conversation.id === c.id);
          if (find() && !find()?.last_message) {
            // The chat is announced as it is created; its first message follows at once.
            await new Promise<void>((r) => this.clock.setTimeout(r, 1000));
            await this.refreshTop();
          }
          const item = find();
          const title = item ? `New conversation: ${rowTitle(item)}` : 'New conversation';
          const body = item?.last_message ? plainText(item.last_message.body) : (c.subject ?? 'A visitor started a chat');
          this.attention('new_conversation', c.id, title, body);
        });
        break;
      }
      case 'transfer_offered': {
        const offer: Offer = { conversationId: f.conversation_id, fromAgent: f.from_agent, note: f.note, expiresAt: f.expires_at };
        this.set({ offers: [...this.state.offers.filter((o) => o.conversationId !== f.conversation_id), offer] });
        const remaining = Math.max(0, f.expires_at - this.env.now());
        this.clock.setTimeout(() => this.pruneOffers(), remaining + 50);
        this.attention('assigned', f.conversation_id, `${this.nameOf(f.from_agent, 'Agent')} offers you a conversation`, f.note ?? 'Accept it before the offer expires.');
        break;
      }
      case 'visitor': {
        const list = this.state.visitors[f.website_id];
        if (!list) {
          // Not loaded yet (or a new website): fetch the list, which is the durable truth.
          if (this.state.route.name === 'visitors') {
            this.clock.clearTimeout(this.visitorsTimer);
            this.visitorsTimer = this.clock.setTimeout(() => void this.loadVisitors(), 500);
          }
          break;
        }
        const others = list.filter((v) => v.session.id !== f.visitor.session.id);
        const next = f.action === 'left' ? others : [f.visitor, ...others];
        this.set({ visitors: { ...this.state.visitors, [f.website_id]: next } });
        break;
      }
      case 'queue_length':
        this.set({ queueWaiting: f.waiting.reduce((n, w) => n + w.waiting, 0) });
        this.scheduleCounts();
        break;
      case 'escalated':
        this.toast(`Conversation #${f.conversation_id} has waited ${Math.round(f.waiting_ms / 60000)} min: priority ${f.priority}`);
        break;
      case 'sla_breached':
        this.toast(`Conversation #${f.conversation_id} missed its first-response target`, 'error');
        break;
      default:
        break;
    }
  }

  private pruneOffers(): void {
    const now = this.env.now();
    const offers = this.state.offers.filter((o) => o.expiresAt > now);
    if (offers.length !== this.state.offers.length) this.set({ offers });
  }

  private onTyping(conversationId: number, accountId: number): void {
    if (accountId === this.state.me?.id) return;
    const until = this.env.now() + TYPING_EXPIRES_MS;
    this.set({ typing: { ...this.state.typing, [conversationId]: { accountId, until } } });
    this.clock.clearTimeout(this.typingTimers.get(conversationId));
    this.typingTimers.set(
      conversationId,
      this.clock.setTimeout(() => this.clearTyping(conversationId), TYPING_EXPIRES_MS),
    );
  }

  private clearTyping(conversationId: number): void {
    if (!(conversationId in this.state.typing)) return;
    const typing = { ...this.state.typing };
    delete typing[conversationId];
    this.set({ typing });
  }

  // --- attention: notifications, sounds, title and favicon ------------------------------------

  private readingId(): number | null {
    return this.state.visible ? (this.state.open?.id ?? null) : null;
  }

  private attention(kind: NotifyKind, conversationId: number, title: string, body: string): void {
    const d = decide({
      kind,
      conversationId,
      now: this.env.now(),
      prefs: this.state.prefs,
      visible: this.state.visible,
      openConversationId: this.state.open?.id ?? null,
      permission: this.state.permission,
    });
    if (d.sound) this.env.beep(kind, d.volume);
    if (d.desktop) {
      this.env.notify({
        title,
        body: preview(body),
        tag: `natter-${conversationId}`,
        onClick: () => this.go({ name: 'inbox', conversationId }),
      });
    }
    if (d.unseen) this.set({ unseen: this.state.unseen + 1 });
    this.updateChrome();
  }

  /** The tab became visible or hidden. */
  setVisible(visible: boolean): void {
    this.set({ visible, unseen: visible ? 0 : this.state.unseen });
    if (visible) this.scheduleRead();
    this.updateChrome();
  }

  async requestNotifications(): Promise<void> {
    const permission = await this.env.requestPermission();
    this.set({ permission });
    if (permission === 'granted' && !this.state.prefs.desktop) this.updatePrefs({ ...this.state.prefs, desktop: true });
  }

  private screenName(): string {
    const r = this.state.route;
    if (this.state.auth !== 'signed_in') return 'Sign in';
    if (r.name === 'visitors') return 'Visitors';
    if (r.name === 'settings') return 'Settings';
    return 'Inbox';
  }

  private updateChrome(): void {
    const badge = this.state.auth === 'signed_in' ? badgeCount(this.state.counts) : 0;
    if (badge !== this.lastBadge) {
      this.lastBadge = badge;
      this.env.setBadge(badge);
    }
    const hidden = !this.state.visible;
    const muted = mutedNow(this.state.prefs, this.env.now());
    this.env.setTitle(tabTitle({ screen: this.screenName(), badge, unseen: this.state.unseen, hidden, blinkOn: this.blinkOn, muted }));
    const blinking = hidden && this.state.unseen > 0 && !muted;
    if (blinking && this.blinkTimer === null) {
      this.blinkTimer = this.clock.setTimeout(() => {
        this.blinkTimer = null;
        this.blinkOn = !this.blinkOn;
        this.updateChrome();
      }, 1000);
    } else if (!blinking) {
      this.blinkOn = true;
    }
  }

  // --- routing -------------------------------------------------------------------------------

  go(route: Route, replace = false): void {
    if (this.state.auth !== 'signed_in' && route.name !== 'login') route = { name: 'login' };
    if (this.state.auth === 'signed_in' && route.name === 'login') route = { name: 'inbox', conversationId: null };
    const path = formatRoute(route);
    if (this.env.pathname() !== path) this.env.navigate(path, replace);
    const changed = !sameRoute(route, this.state.route);
    this.set({ route });
    if (route.name === 'inbox' && route.conversationId !== null) {
      if (this.state.open?.id !== route.conversationId) void this.openConversation(route.conversationId);
    } else if (this.state.open && (route.name !== 'inbox' || route.conversationId === null)) {
      this.closeConversation();
    }
    if (route.name === 'visitors' && changed) void this.loadVisitors();
    this.updateChrome();
  }

  /** The browser's back/forward buttons. */
  onLocation(pathname: string): void {
    this.go(parseRoute(pathname), true);
  }

  setHelp(open: boolean): void {
    this.set({ helpOpen: open });
  }

  // --- the inbox -----------------------------------------------------------------------------

  setFilter(patch: Partial<InboxFilter>): void {
    this.set({ filter: { ...this.state.filter, ...patch }, selection: [] });
    void this.loadInbox(true).catch(() => {});
  }

  /** Search as you type: the query goes out once typing pauses. */
  setSearch(q: string): void {
    this.set({ filter: { ...this.state.filter, q } });
    this.clock.clearTimeout(this.searchTimer);
    this.searchTimer = this.clock.setTimeout(() => void this.loadInbox(true).catch(() => {}), SEARCH_DEBOUNCE_MS);
  }

  /** Loads the first page (reset) or the next one. */
  async loadInbox(reset: boolean): Promise<void> {
    if (this.state.auth !== 'signed_in') return;
    if (!reset && (this.state.nextCursor === null || this.state.listLoading)) return;
    const seq = ++this.listSeq;
    const filter = this.state.filter;
    this.set({ listLoading: true, listError: null });
    try {
      const page = await this.guard(this.api.inbox(inboxQuery(filter, reset ? null : this.state.nextCursor, PAGE_SIZE)));
      if (seq !== this.listSeq) return;
      this.learnFromItems(page.items);
      const items = reset ? page.items : appendPage(this.state.items, page.items);
      const ids = new Set(items.map((i) => i.conversation.id));
      this.set({
        items,
        nextCursor: page.next_cursor,
        listLoading: false,
        selection: this.state.selection.filter((id) => ids.has(id)),
      });
    } catch (e) {
      if (seq !== this.listSeq) return;
      this.set({ listLoading: false, listError: errorText(e) });
      throw e;
    }
  }

  loadMore(): void {
    void this.loadInbox(false).catch(() => {});
  }

  /** Refetches the first page and merges it into the loaded rows (live updates). */
  async refreshTop(): Promise<void> {
    if (this.state.auth !== 'signed_in') return;
    const seq = ++this.listSeq;
    const filter = this.state.filter;
    try {
      const page = await this.guard(this.api.inbox(inboxQuery(filter, null, PAGE_SIZE)));
      if (seq !== this.listSeq) return;
      this.learnFromItems(page.items);
      const complete = page.next_cursor === null;
      const items = mergeFirstPage(this.state.items, page.items, filter.sort, complete);
      const ids = new Set(items.map((i) => i.conversation.id));
      this.set({
        items,
        nextCursor: complete ? null : (this.state.nextCursor ?? page.next_cursor),
        listLoading: false,
        selection: this.state.selection.filter((id) => ids.has(id)),
      });
    } catch (e) {
      this.log('inbox refresh failed', e);
    }
  }

  private scheduleRefresh(): void {
    this.clock.clearTimeout(this.refreshTimer);
    this.refreshTimer = this.clock.setTimeout(() => void this.refreshTop(), REFRESH_DEBOUNCE_MS);
  }

  async refreshCounts(): Promise<void> {
    if (this.state.auth !== 'signed_in') return;
    try {
      const counts = await this.guard(this.api.counts());
      this.set({ counts });
      this.updateChrome();
      // A website created since we loaded the list: learn its name.
      const known = new Set(this.state.websites.map((w) => w.id));
      const now = this.env.now();
      if (counts.by_website.some((w) => !known.has(w.website_id)) && now - this.websitesLoadedAt > 10_000) {
        this.websitesLoadedAt = now;
        void this.reloadWebsites();
      }
    } catch (e) {
      this.log('counts unavailable', e);
    }
  }

  private scheduleCounts(): void {
    this.clock.clearTimeout(this.countsTimer);
    this.countsTimer = this.clock.setTimeout(() => void this.refreshCounts(), REFRESH_DEBOUNCE_MS);
  }

  /** Without a live connection the list is polled, so it never goes stale for long. */
  private schedulePoll(): void {
    this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = this.clock.setTimeout(() => {
      if (this.state.auth !== 'signed_in') return;
      const open = this.state.open;
      if (this.state.connection !== 'connected') {
        void this.refreshTop();
        void this.refreshCounts();
      }
      // I receive a conversation's events only while I take part in it.
      if (open && (!this.isParticipant(open.id) || this.state.connection !== 'connected')) void this.fetchNewer(open.id);
      this.schedulePoll();
    }, POLL_MS / 3);
  }

  private learnFromItems(items: InboxItem[]): void {
    const pairs: [number, string | null][] = [];
    for (const i of items) {
      if (i.contact) pairs.push([i.contact.id, personName(i.contact)]);
      for (const a of i.assignees) pairs.push([a.id, a.name ?? a.email]);
    }
    this.learnNames(pairs);
  }

  toggleSelect(id: number): void {
    const sel = this.state.selection;
    this.set({ selection: sel.includes(id) ? sel.filter((x) => x !== id) : [...sel, id] });
  }

  selectAll(on: boolean): void {
    this.set({ selection: on ? this.state.items.slice(0, 100).map((i) => i.conversation.id) : [] });
  }

  async bulk(action: 'resolve' | 'reopen' | 'archive' | 'assign' | 'label' | 'unlabel', extra: { account_id?: number; label?: string } = {}): Promise<void> {
    const ids = this.state.selection.slice(0, 100);
    if (ids.length === 0) return;
    const result = await this.act(
      this.api.bulk({ conversation_ids: ids, action, account_id: extra.account_id ?? null, label: extra.label ?? null }),
      'Bulk action failed',
    );
    if (!result) return;
    const ok = result.results.filter((r) => r.ok).length;
    const failed = result.results.length - ok;
    if (action === 'assign' && (extra.account_id === undefined || extra.account_id === this.state.me?.id)) {
      for (const r of result.results) if (r.ok) this.selfJoined.add(r.conversation_id);
    }
    const verb = { resolve: 'resolved', reopen: 'reopened', archive: 'archived', assign: 'assigned', label: 'labelled', unlabel: 'unlabelled' }[action];
    this.toast(`${ok} ${ok === 1 ? 'conversation' : 'conversations'} ${verb}${failed ? `, ${failed} failed` : ''}`, failed ? 'error' : 'info');
    this.set({ selection: [] });
    await Promise.all([this.loadInbox(true).catch(() => {}), this.refreshCounts(), action.includes('label') ? this.reloadLabels() : null]);
    const open = this.state.open;
    if (open && ids.includes(open.id)) void this.refreshDetail(open.id);
  }

  /** j / k. */
  step(direction: 1 | -1): void {
    const id = neighbour(this.state.items, this.state.open?.id ?? null, direction);
    if (id !== null) this.go({ name: 'inbox', conversationId: id });
  }

  // --- the open conversation -----------------------------------------------------------------

  isParticipant(conversationId: number): boolean {
    const p = this.store.myParticipant(conversationId);
    return p !== null && p.left_at === null;
  }

  async openConversation(id: number): Promise<void> {
    const item = this.state.items.find((i) => i.conversation.id === id);
    this.set({
      open: {
        id,
        detail: null,
        loading: true,
        error: null,
        hasMore: false,
        loadingOlder: false,
        labels: item?.labels ?? [],
        contactId: item?.contact?.id ?? null,
        context: null,
        previous: null,
      },
    });
    await this.loadConversation(id, false);
  }

  private closeConversation(): void {
    this.set({ open: null });
  }

  private patchOpen(id: number, patch: Partial<OpenConversation>): void {
    const open = this.state.open;
    if (!open || open.id !== id) return;
    this.set({ open: { ...open, ...patch } });
  }

  /** Detail and the newest page of history; then the contact's context. */
  private async loadConversation(id: number, again: boolean): Promise<void> {
    const seq = ++this.openSeq;
    try {
      const detail = await this.guard(this.api.conversation(id));
      if (seq !== this.openSeq) return;
      this.store.setDetail(detail);
      this.learnNames(detail.people.map((p) => [p.account_id, p.name]));
      const newest = await this.guard(this.api.history(id, { before: detail.conversation.last_seq + 1, limit: HISTORY_PAGE }));
      if (seq !== this.openSeq) return;
      this.store.upsertMessages(id, newest);
      const customer = detail.participants.find((p) => p.role === 'customer' || p.role === 'buyer');
      const contactId = customer?.account_id ?? this.state.open?.contactId ?? null;
      const hasMore = again ? (this.state.open?.hasMore ?? false) || newest.length >= HISTORY_PAGE : newest.length >= HISTORY_PAGE && (newest[0]?.seq ?? 1) > 1;
      this.patchOpen(id, { detail, loading: false, error: null, hasMore, contactId });
      this.scheduleRead();
      if (contactId !== null && (!again || !this.state.open?.context)) void this.loadContext(id, contactId);
    } catch (e) {
      if (seq !== this.openSeq) return;
      this.patchOpen(id, { loading: false, error: e instanceof NatterError && e.code === 'not_found' ? 'This conversation does not exist or you may not see it.' : errorText(e) });
    }
  }

  private async refreshDetail(id: number): Promise<void> {
    try {
      const detail = await this.guard(this.api.conversation(id));
      this.store.setDetail(detail);
      this.learnNames(detail.people.map((p) => [p.account_id, p.name]));
      this.patchOpen(id, { detail });
    } catch (e) {
      this.log('detail refresh failed', e);
    }
  }

  private async loadContext(id: number, contactId: number): Promise<void> {
    try {
      const context = await this.guard(this.api.contactContext(contactId));
      this.learnNames([[contactId, context.contact.name ?? context.contact.email]]);
      this.patchOpen(id, { context });
      const key = context.contact.email ?? context.contact.name;
      if (key) {
        // TODO(server): a `contact_id` filter on GET /v1/inbox would make this exact.
        const page = await this.guard(this.api.inbox({ q: key.slice(0, 100), limit: 20 }));
        const previous = page.items.filter((i) => i.contact?.id === contactId && i.conversation.id !== id);
        this.patchOpen(id, { previous });
      } else {
        this.patchOpen(id, { previous: [] });
      }
    } catch (e) {
      this.log('contact context unavailable', e);
      this.patchOpen(id, { previous: [] });
    }
  }

  /** Infinite scroll upwards. */
  async loadOlder(): Promise<void> {
    const open = this.state.open;
    if (!open || !open.hasMore || open.loadingOlder) return;
    const oldest = this.store.oldestSeq(open.id);
    if (oldest === null || oldest <= 1) {
      this.patchOpen(open.id, { hasMore: false });
      return;
    }
    this.patchOpen(open.id, { loadingOlder: true });
    try {
      const page = await this.guard(this.api.history(open.id, { before: oldest, limit: HISTORY_PAGE }));
      this.store.upsertMessages(open.id, page);
      this.patchOpen(open.id, { loadingOlder: false, hasMore: page.length >= HISTORY_PAGE && (page[0]?.seq ?? 1) > 1 });
    } catch (e) {
      this.patchOpen(open.id, { loadingOlder: false });
      this.toast(`Could not load older messages: ${errorText(e)}`, 'error');
    }
  }

  /** New messages of a conversation whose events I do not receive (not a participant). */
  private async fetchNewer(id: number): Promise<void> {
    try {
      const after = this.store.newestSeq(id);
      const page = await this.guard(this.api.history(id, { after, limit: HISTORY_PAGE }));
      if (page.length) this.store.upsertMessages(id, page);
    } catch (e) {
      this.log('poll failed', e);
    }
  }

  /** Marks the open conversation read up to its newest message (visible tab only). */
  private scheduleRead(): void {
    this.clock.clearTimeout(this.readTimer);
    this.readTimer = this.clock.setTimeout(() => this.markRead(), 400);
  }

  private markRead(): void {
    const open = this.state.open;
    if (!open || !this.state.visible || !this.rt || this.state.connection !== 'connected') return;
    const mine = this.store.myParticipant(open.id);
    if (!mine || mine.left_at !== null) return;
    const newest = this.store.newestSeq(open.id);
    if (newest > mine.read_seq) {
      this.rt.read(open.id, newest).catch((e) => this.log('read failed', e));
    }
    const at = this.state.items.findIndex((i) => i.conversation.id === open.id);
    const row = this.state.items[at];
    if (row && row.unread > 0) {
      this.set({ items: this.state.items.map((x, i) => (i === at ? { ...x, unread: 0 } : x)) });
      this.scheduleCounts();
    }
  }

  /** Sends a reply (or an internal note) to the open conversation. */
  send(text: string, note: boolean): void {
    const open = this.state.open;
    const body = text.replace(/\s+$/, '');
    if (!open || body.trim() === '') return;
    const kind: MessageKind = note ? 'note' : 'text';
    const format: MessageFormat = looksLikeMarkdown(body) ? 'markdown' : 'plain';
    const cmid = newClientMsgId('w', this.deps.random);
    this.pendingKinds.set(cmid, { kind, format });
    if (!this.isParticipant(open.id)) this.selfJoined.add(open.id);
    this.store.addPending({ client_msg_id: cmid, conversation_id: open.id, body, created_at: this.env.now(), error: null });
    this.transmit(open.id, cmid, body, kind, format);
  }

  /** Retries a failed send with its original client_msg_id (stored once by the server). */
  retry(conversationId: number, cmid: string): void {
    const p = this.store.retryPending(conversationId, cmid);
    const k = this.pendingKinds.get(cmid);
    if (p) this.transmit(conversationId, cmid, p.body, k?.kind ?? 'text', k?.format ?? 'plain');
  }

  private transmit(conversationId: number, cmid: string, body: string, kind: MessageKind, format: MessageFormat): void {
    const done = (message: Message | null, ack: { message_id: number; seq: number; duplicate: boolean }) => {
      this.store.ack({ type: 'ack', ref: null, conversation_id: conversationId, message_id: ack.message_id, seq: ack.seq, duplicate: ack.duplicate }, cmid);
      // The SDK's stand-in is a plain text message; the event (or the REST answer) has the truth.
      const stored = this.store.get(conversationId).messages.get(ack.message_id);
      if (message) this.store.upsertMessages(conversationId, [message]);
      else if (stored && stored.client_msg_id === cmid && (stored.kind !== kind || stored.format !== format)) {
        this.store.upsertMessages(conversationId, [{ ...stored, kind, format }]);
      }
      this.pendingKinds.delete(cmid);
      this.scheduleRead();
    };
    const fail = (e: unknown) => {
      if (isAuthError(e)) this.expire();
      this.store.failPending(conversationId, cmid, errorText(e));
    };
    const rt = this.rt;
    if (rt && rt.state !== 'offline' && rt.state !== 'idle') {
      // Unacknowledged sends are retried after a reconnect with the same client_msg_id.
      rt.send(conversationId, body, { clientMsgId: cmid, kind, format }).then((ack) => done(null, ack), fail);
    } else {
      this.guard(this.api.postMessage(conversationId, { body, kind, format, client_msg_id: cmid })).then(
        (posted) => done(posted.message, { message_id: posted.message.id, seq: posted.message.seq, duplicate: posted.duplicate }),
        fail,
      );
    }
  }

  /** The agent is typing in the composer (throttled; only participants may type). */
  typing(): void {
    const open = this.state.open;
    if (!open || !this.rt || !this.isParticipant(open.id)) return;
    const now = this.env.now();
    if (now - this.lastTypingSent < TYPING_SEND_EVERY_MS) return;
    this.lastTypingSent = now;
    this.rt.typing(open.id);
  }

  async react(messageId: number, emoji: string): Promise<void> {
    const open = this.state.open;
    const me = this.state.me?.id;
    if (!open || me === undefined || !this.rt) return;
    const m = this.store.get(open.id).messages.get(messageId);
    const remove = !!m?.reactions.some((r) => r.emoji === emoji && r.account_id === me);
    try {
      await this.rt.react(open.id, messageId, emoji, remove);
      // Non-participants get no event about it: apply it here (idempotent).
      this.store.apply({ type: remove ? 'reaction_removed' : 'reaction_added', conversation_id: open.id, message_id: messageId, account_id: me, emoji });
    } catch (e) {
      this.toast(`Could not react: ${errorText(e)}`, 'error');
    }
  }

  async setStatus(status: ConversationStatus, id = this.state.open?.id): Promise<void> {
    if (id === undefined) return;
    const c = await this.act(this.api.update(id, { status }), `Could not change the status`);
    if (!c) return;
    this.store.setConversation(c);
    this.set({ items: replaceConversation(this.state.items, c, this.state.filter) });
    this.toast(`Conversation ${status === 'open' ? 'reopened' : status}`);
    this.scheduleCounts();
  }

  async assignToMe(id = this.state.open?.id): Promise<void> {
    const me = this.state.me;
    if (id === undefined || !me) return;
    this.selfJoined.add(id);
    const result = await this.act(this.api.bulk({ conversation_ids: [id], action: 'assign', account_id: me.id, label: null }), 'Could not assign');
    const outcome = result?.results[0];
    if (!outcome) return;
    if (!outcome.ok) {
      this.toast(`Could not assign: ${outcome.code ?? 'failed'}`, 'error');
      return;
    }
    this.toast('Assigned to you');
    await Promise.all([this.refreshDetail(id), this.refreshTop(), this.refreshCounts()]);
  }

  async transfer(toAgent: number, note: string): Promise<boolean> {
    const open = this.state.open;
    if (!open) return false;
    const text = note.trim();
    const ok = await this.act(this.api.transfer(open.id, { to_agent: toAgent, to_team: null, note: text || null }).then(() => true), 'Could not transfer');
    if (ok) this.toast(`Offered to ${this.nameOf(toAgent, 'Agent')}`);
    return !!ok;
  }

  async acceptOffer(conversationId: number): Promise<void> {
    this.selfJoined.add(conversationId);
    const ok = await this.act(this.api.acceptTransfer(conversationId).then(() => true), 'Could not accept');
    this.set({ offers: this.state.offers.filter((o) => o.conversationId !== conversationId) });
    if (!ok) return;
    this.go({ name: 'inbox', conversationId });
    if (this.state.open?.id === conversationId) void this.refreshDetail(conversationId);
    void this.refreshTop();
    void this.refreshCounts();
  }

  async declineOffer(conversationId: number): Promise<void> {
    await this.act(this.api.declineTransfer(conversationId), 'Could not decline');
    this.set({ offers: this.state.offers.filter((o) => o.conversationId !== conversationId) });
  }

  async setLabels(labels: string[]): Promise<void> {
    const open = this.state.open;
    if (!open) return;
    const stored = await this.act(this.api.setLabels(open.id, labels), 'Could not save the labels');
    if (!stored) return;
    this.patchOpen(open.id, { labels: stored.labels });
    this.set({ items: this.state.items.map((i) => (i.conversation.id === open.id ? { ...i, labels: stored.labels } : i)) });
    void this.reloadLabels();
    this.scheduleCounts();
  }

  /** Corrects the open conversation's contact (PATCH /v1/contacts/{id}). */
  async saveContact(fields: { name: string; email: string; phone: string; company: string }): Promise<boolean> {
    const open = this.state.open;
    const ctx = open?.context;
    if (!open || !ctx) return false;
    const verified = ctx.contact.identity === 'verified';
    const clean = (v: string) => v.trim() || null;
    const saved = await this.act(
      this.api.editContact(ctx.contact.id, {
        // A verified contact's name and email belong to the host platform.
        ...(verified ? {} : { name: clean(fields.name), email: clean(fields.email) }),
        phone: clean(fields.phone),
        company: clean(fields.company),
      }),
      'Could not save the contact',
    );
    if (!saved) return false;
    const now = this.state.open;
    if (now && now.id === open.id && now.context) this.patchOpen(open.id, { context: { ...now.context, contact: saved.contact, profile: saved.profile } });
    this.learnNames([[saved.contact.id, saved.contact.name ?? saved.contact.email]]);
    this.set({
      items: this.state.items.map((i) =>
        i.contact?.id === saved.contact.id ? { ...i, contact: { id: saved.contact.id, name: saved.contact.name, email: saved.contact.email } } : i,
      ),
    });
    this.toast('Contact saved');
    return true;
  }

  // --- the agent's status --------------------------------------------------------------------

  async setMyStatus(status: 'online' | 'away' | 'busy' | 'offline'): Promise<void> {
    const me = this.state.me;
    if (!me) return;
    const view = await this.act(this.api.setAgentState(me.id, { status }), 'Could not change your status');
    if (!view) return;
    const others = this.state.agents.filter((a) => a.account_id !== me.id);
    this.set({ agents: [...others, view] });
  }

  // --- preferences ---------------------------------------------------------------------------

  updatePrefs(next: AgentPreferences): void {
    const prefs = { ...next, volume: clampVolume(next.volume) };
    this.set({ prefs });
    this.updateChrome();
    this.clock.clearTimeout(this.prefsTimer);
    this.prefsTimer = this.clock.setTimeout(() => {
      void this.act(this.api.savePreferences(prefs), 'Could not save your preferences');
    }, SAVE_PREFS_DEBOUNCE_MS);
  }

  muteFor(minutes: number | null): void {
    this.updatePrefs(withTemporaryMute(this.state.prefs, this.env.now(), minutes));
    this.toast(minutes === null ? 'Notifications back on' : `Muted for ${minutes >= 60 ? `${minutes / 60} h` : `${minutes} min`}`);
  }

  toggleConversationMute(id = this.state.open?.id): void {
    if (id === undefined) return;
    const muted = !isConversationMuted(this.state.prefs, id);
    this.updatePrefs(withConversationMuted(this.state.prefs, id, muted));
  }

  // --- live visitors -------------------------------------------------------------------------

  async loadVisitors(): Promise<void> {
    await this.reloadWebsites();
    const entries = await Promise.all(
      this.state.websites.map(async (w) => {
        try {
          return [w.id, await this.guard(this.api.visitors(w.id))] as const;
        } catch {
          return [w.id, [] as LiveVisitor[]] as const;
        }
      }),
    );
    this.set({ visitors: Object.fromEntries(entries) });
  }
}
