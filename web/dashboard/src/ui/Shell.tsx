// The signed-in frame: top bar (search, connection, notifications, status), the always-visible
// connection banner, the sidebar of inbox views with counts, the screen of the route, toasts,
// transfer offers, and the keyboard shortcuts.
import { useEffect, useRef } from 'preact/hooks';
import type { Desk } from '../desk';
import { STATUSES, type StatusName, type ViewName } from '../lib/inbox';
import { shortcutFor, SHORTCUTS } from '../lib/keys';
import { mutedNow } from '../lib/notify';
import { MUTE_CHOICES } from '../lib/prefs';
import { useDesk, useNow } from './hooks';
import { ContextPanel } from './ContextPanel';
import { ConversationPane } from './Conversation';
import { InboxPane } from './Inbox';
import { SettingsPage } from './Settings';
import { VisitorsPage } from './Visitors';

const STATUS_LABEL: Record<StatusName, string> = { open: 'Open', pending: 'Pending', resolved: 'Resolved', archived: 'Archived' };
const CONNECTION_LABEL = {
  idle: 'Starting',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
} as const;

export function Shell({ desk }: { desk: Desk }) {
  const s = useDesk(desk);
  const search = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      const target = {
        tag: t?.tagName ?? '',
        editable: !!t?.isContentEditable,
        type: t instanceof HTMLInputElement ? t.type : undefined,
      };
      const sc = shortcutFor(e, target);
      if (!sc) return;
      const st = desk.state;
      const open = st.open?.id;
      switch (sc) {
        case 'escape':
          if (st.helpOpen) desk.setHelp(false);
          else if (t && t !== document.body) t.blur();
          return;
        case 'next':
          desk.step(1);
          break;
        case 'prev':
          desk.step(-1);
          break;
        case 'assign_me':
          if (open !== undefined) void desk.assignToMe();
          break;
        case 'resolve':
          if (open !== undefined) void desk.setStatus('resolved');
          break;
        case 'reopen':
          if (open !== undefined) void desk.setStatus('open');
          break;
        case 'archive':
          if (open !== undefined) void desk.setStatus('archived');
          break;
        case 'toggle_select':
          if (open !== undefined) desk.toggleSelect(open);
          break;
        case 'focus_search':
          if (st.route.name !== 'inbox') desk.go({ name: 'inbox', conversationId: null });
          setTimeout(() => search.current?.focus(), 0);
          break;
        case 'focus_composer':
          document.querySelector<HTMLTextAreaElement>('[data-testid="composer"]')?.focus();
          break;
        case 'help':
          desk.setHelp(!st.helpOpen);
          break;
      }
      e.preventDefault();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [desk]);

  return (
    <div class="shell" data-testid="app-shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <TopBar desk={desk} searchRef={search} />
      <ConnectionBanner desk={desk} />
      <div class="body">
        <Sidebar desk={desk} />
        <main id="main" class={`main main-${s.route.name}`}>
          {s.route.name === 'inbox' ? (
            <>
              <InboxPane desk={desk} />
              <ConversationPane desk={desk} />
              {s.open ? <ContextPanel desk={desk} /> : null}
            </>
          ) : s.route.name === 'visitors' ? (
            <VisitorsPage desk={desk} />
          ) : s.route.name === 'settings' ? (
            <SettingsPage desk={desk} section={s.route.section} />
          ) : null}
        </main>
      </div>
      <Offers desk={desk} />
      <Toasts desk={desk} />
      {s.helpOpen ? <Help desk={desk} /> : null}
    </div>
  );
}

function TopBar({ desk, searchRef }: { desk: Desk; searchRef: { current: HTMLInputElement | null } }) {
  const s = desk.state;
  const now = useNow(15_000);
  const agent = desk.myAgent;
  const muted = mutedNow(s.prefs, now);
  return (
    <header class="topbar">
      <a
        class="brand"
        href="/app/inbox"
        onClick={(e) => {
          e.preventDefault();
          desk.go({ name: 'inbox', conversationId: null });
        }}
      >
        natter
      </a>
      <div class="search">
        <input
          ref={searchRef}
          type="search"
          data-testid="search"
          aria-label="Search conversations by subject, name or email"
          placeholder="Search conversations  ( / )"
          value={s.filter.q}
          onInput={(e) => {
            if (s.route.name !== 'inbox') desk.go({ name: 'inbox', conversationId: null });
            desk.setSearch(e.currentTarget.value);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Escape' && s.filter.q) {
              desk.setSearch('');
              e.stopPropagation();
            }
          }}
        />
      </div>
      <span class={`conn conn-${s.connection}`} data-testid="connection-state" data-state={s.connection} role="status" aria-live="polite">
        <span class="dot" aria-hidden="true" />
        {CONNECTION_LABEL[s.connection]}
      </span>
      {s.permission === 'default' ? (
        <button type="button" class="small" data-testid="notify-permission" onClick={() => void desk.requestNotifications()}>
          Enable desktop notifications
        </button>
      ) : null}
      <label class="inline">
        <span class="sr-only">Notifications</span>
        <select
          data-testid="mute-menu"
          aria-label="Mute notifications"
          value=""
          onChange={(e) => {
            const v = e.currentTarget.value;
            e.currentTarget.value = '';
            if (v === 'off') desk.muteFor(null);
            else if (v) desk.muteFor(Number(v));
          }}
        >
          <option value="" disabled>
            {muted ? (s.prefs.muted_until && s.prefs.muted_until > now ? `Muted until ${new Date(s.prefs.muted_until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : 'Quiet hours: muted') : 'Notifications on'}
          </option>
          {MUTE_CHOICES.map((c) => (
            <option key={c.minutes} value={String(c.minutes)}>
              Mute for {c.label}
            </option>
          ))}
          {s.prefs.muted_until ? <option value="off">Unmute</option> : null}
        </select>
      </label>
      <label class="inline status">
        <span class={`dot status-${agent?.status ?? 'offline'}`} aria-hidden="true" />
        <span class="sr-only">Your status</span>
        <select
          data-testid="status-select"
          aria-label="Your status"
          value={agent?.status ?? 'offline'}
          onChange={(e) => void desk.setMyStatus(e.currentTarget.value as 'online' | 'away' | 'busy' | 'offline')}
        >
          <option value="online">Online</option>
          <option value="away">Away</option>
          <option value="busy">Busy</option>
          <option value="offline">Offline</option>
        </select>
      </label>
      <span class="capacity" data-testid="capacity" title="Open chats / capacity">
        {agent ? `${agent.load}/${agent.capacity} chats` : '–'}
      </span>
      <span class="me" title={s.me?.email ?? ''}>
        {s.me?.name ?? s.me?.email}
      </span>
      <button type="button" class="small" data-testid="signout" onClick={() => void desk.logout()}>
        Sign out
      </button>
    </header>
  );
}

function ConnectionBanner({ desk }: { desk: Desk }) {
  const c = desk.state.connection;
  if (c === 'connected' || c === 'idle') return null;
  const text =
    c === 'connecting'
      ? 'Connecting to natter…'
      : c === 'reconnecting'
        ? 'Connection lost. Reconnecting… Messages you send now go out when it is back.'
        : 'Offline: live updates are paused; the inbox refreshes every few seconds.';
  return (
    <div class={`banner banner-${c}`} data-testid="connection-banner" data-state={c} role="alert">
      {text}
      {c !== 'connecting' ? (
        <button type="button" class="small" onClick={() => desk.reconnectNow()}>
          Retry now
        </button>
      ) : null}
    </div>
  );
}

function Count({ n, testid }: { n: number | undefined; testid: string }) {
  return (
    <span class="count" data-testid={testid} data-count={n ?? 0}>
      {n ?? ''}
    </span>
  );
}

function Sidebar({ desk }: { desk: Desk }) {
  const s = desk.state;
  const f = s.filter;
  const inInbox = s.route.name === 'inbox';
  const views: { view: ViewName; label: string; n: number | undefined }[] = [
    { view: 'mine', label: 'Mine', n: s.counts?.mine },
    { view: 'unassigned', label: 'Unassigned', n: s.counts?.unassigned },
    { view: 'all', label: 'All', n: s.counts?.all },
  ];
  const toInbox = (patch: Parameters<Desk['setFilter']>[0]) => {
    if (!inInbox) desk.go({ name: 'inbox', conversationId: null });
    desk.setFilter(patch);
  };
  const siteName = (id: number) => s.websites.find((w) => w.id === id)?.name ?? `Website #${id}`;
  return (
    <nav class="sidebar" aria-label="Inbox views">
      <h2 class="side-h">Inbox</h2>
      <ul>
        {views.map((v) => (
          <li key={v.view}>
            <button
              type="button"
              class="side-item"
              data-testid={`view-${v.view}`}
              aria-pressed={inInbox && f.view === v.view && f.website_id === null && f.label === null}
              onClick={() => toInbox({ view: v.view, website_id: null, label: null })}
            >
              {v.label}
              {v.view === 'mine' && s.counts && s.counts.unread_mine > 0 ? (
                <span class="unread-dot" title={`${s.counts.unread_mine} with unread messages`} data-testid="unread-mine">
                  {s.counts.unread_mine}
                </span>
              ) : null}
              <Count n={v.n} testid={`count-${v.view}`} />
            </button>
          </li>
        ))}
      </ul>
      <h2 class="side-h">Status</h2>
      <ul>
        {STATUSES.map((st) => (
          <li key={st}>
            <button type="button" class="side-item" data-testid={`status-${st}`} aria-pressed={inInbox && f.status === st} onClick={() => toInbox({ status: st })}>
              {STATUS_LABEL[st]}
            </button>
          </li>
        ))}
        <li>
          <button type="button" class="side-item" data-testid="status-any" aria-pressed={inInbox && f.status === null} onClick={() => toInbox({ status: null })}>
            Any status
          </button>
        </li>
      </ul>
      {s.counts && s.counts.by_website.length > 0 ? (
        <>
          <h2 class="side-h">Websites</h2>
          <ul>
            {s.counts.by_website.map((w) => (
              <li key={w.website_id}>
                <button
                  type="button"
                  class="side-item"
                  data-testid={`website-${w.website_id}`}
                  aria-pressed={inInbox && f.website_id === w.website_id}
                  onClick={() => toInbox({ website_id: f.website_id === w.website_id ? null : w.website_id })}
                >
                  {siteName(w.website_id)}
                  <Count n={w.count} testid={`count-website-${w.website_id}`} />
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {s.counts && s.counts.by_label.length > 0 ? (
        <>
          <h2 class="side-h">Labels</h2>
          <ul>
            {s.counts.by_label.map((l) => (
              <li key={l.label}>
                <button
                  type="button"
                  class="side-item"
                  data-testid={`label-${l.label}`}
                  aria-pressed={inInbox && f.label === l.label}
                  onClick={() => toInbox({ label: f.label === l.label ? null : l.label })}
                >
                  <span class="label-dot" aria-hidden="true" />
                  {l.label}
                  <Count n={l.count} testid={`count-label-${l.label}`} />
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h2 class="side-h">Workspace</h2>
      <ul>
        <li>
          <button type="button" class="side-item" data-testid="nav-inbox" aria-current={inInbox ? 'page' : undefined} onClick={() => desk.go({ name: 'inbox', conversationId: s.open?.id ?? null })}>
            Conversations
          </button>
        </li>
        <li>
          <button type="button" class="side-item" data-testid="nav-visitors" aria-current={s.route.name === 'visitors' ? 'page' : undefined} onClick={() => desk.go({ name: 'visitors' })}>
            Live visitors
          </button>
        </li>
        <li>
          <button
            type="button"
            class="side-item"
            data-testid="nav-settings"
            aria-current={s.route.name === 'settings' ? 'page' : undefined}
            onClick={() => desk.go({ name: 'settings', section: 'notifications' })}
          >
            Settings
          </button>
        </li>
      </ul>
      {s.queueWaiting > 0 ? (
        <p class="queue" data-testid="queue-waiting">
          {s.queueWaiting} waiting in queue
        </p>
      ) : null}
      <button type="button" class="link help-link" onClick={() => desk.setHelp(true)}>
        Keyboard shortcuts (?)
      </button>
    </nav>
  );
}

function Offers({ desk }: { desk: Desk }) {
  const s = desk.state;
  const now = useNow(1000);
  const live = s.offers.filter((o) => o.expiresAt > now);
  if (live.length === 0) return null;
  return (
    <div class="offers" aria-live="assertive">
      {live.map((o) => (
        <div key={o.conversationId} class="offer" role="alertdialog" aria-label="Transfer offer" data-testid="transfer-offer" data-conversation={o.conversationId}>
          <strong>{desk.nameOf(o.fromAgent, 'Agent')}</strong> offers you conversation #{o.conversationId}
          {o.note ? <p class="offer-note">“{o.note}”</p> : null}
          <p class="muted">{Math.max(0, Math.ceil((o.expiresAt - now) / 1000))} s left</p>
          <div class="row">
            <button type="button" class="primary small" data-testid="offer-accept" onClick={() => void desk.acceptOffer(o.conversationId)}>
              Accept
            </button>
            <button type="button" class="small" data-testid="offer-decline" onClick={() => void desk.declineOffer(o.conversationId)}>
              Decline
            </button>
          </div>
        </div>
      ))}
    </div>
  );
}

function Toasts({ desk }: { desk: Desk }) {
  const toasts = desk.state.toasts;
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} data-testid="toast">
          {t.text}
          <button type="button" class="x" aria-label="Dismiss" onClick={() => desk.dismissToast(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

function Help({ desk }: { desk: Desk }) {
  return (
    <div class="modal-back" onClick={() => desk.setHelp(false)}>
      <div class="modal" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" data-testid="shortcuts-help" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        <table>
          <tbody>
            {SHORTCUTS.map((k) => (
              <tr key={k.keys}>
                <td>
                  <kbd>{k.keys}</kbd>
                </td>
                <td>{k.what}</td>
              </tr>
            ))}
            <tr>
              <td>
                <kbd>Enter</kbd> / <kbd>Shift+Enter</kbd>
              </td>
              <td>In the composer: send / new line</td>
            </tr>
            <tr>
              <td>
                <kbd>/</kbd>shortcut
              </td>
              <td>In the composer: insert a canned response</td>
            </tr>
          </tbody>
        </table>
        <button type="button" class="primary" onClick={() => desk.setHelp(false)} autoFocus>
          Close
        </button>
      </div>
    </div>
  );
}
