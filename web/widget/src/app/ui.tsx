// The widget's UI (Preact). It renders the controller's state and calls its methods; no logic
// that matters lives here. `data-testid`s are for the unit and end-to-end tests.
import type { TargetedEvent } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Agent, WidgetController } from './controller';
import { OFFLINE_MESSAGE, type FormErrors, type FormValues } from './forms';
import type { StringKey } from './i18n';
import type { FormField, Message, Receipt, TimelineItem } from './sdk';
import { contrastOn, primaryText, safeColor } from './styles';

/** Re-renders the caller on every controller change. */
function useWidget(c: WidgetController) {
  const [, force] = useState(0);
  const rendered = c.state;
  useLayoutEffect(() => {
    const off = c.subscribe(() => force((n) => n + 1));
    // A change between this render and the subscription would otherwise be missed.
    if (c.state !== rendered) force((n) => n + 1);
    return off;
  }, [c]);
  return c.state;
}

const EMOJIS: [string, string][] = [
  ['😀', 'grinning face'],
  ['😂', 'face with tears of joy'],
  ['😊', 'smiling face'],
  ['😍', 'heart eyes'],
  ['😉', 'winking face'],
  ['🤔', 'thinking face'],
  ['😮', 'surprised face'],
  ['😢', 'crying face'],
  ['😡', 'angry face'],
  ['👍', 'thumbs up'],
  ['👎', 'thumbs down'],
  ['👏', 'clapping hands'],
  ['🙏', 'folded hands'],
  ['👋', 'waving hand'],
  ['🎉', 'party popper'],
  ['❤️', 'red heart'],
  ['🔥', 'fire'],
  ['✅', 'check mark'],
  ['❌', 'cross mark'],
  ['⭐', 'star'],
];

const Icon = {
  chat: (
    <svg viewBox="0 0 24 24" aria-hidden="true" fill="currentColor">
      <path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z" />
    </svg>
  ),
  close: (
    <svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round">
      <path d="M6 6l12 12M18 6L6 18" />
    </svg>
  ),
  send: (
    <svg viewBox="0 0 24 24" aria-hidden="true" fill="currentColor">
      <path d="M3 20.5l18-8.5L3 3.5 3 10l12 2-12 2z" />
    </svg>
  ),
  sound: (
    <svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <path d="M11 5L6 9H3v6h3l5 4z" fill="currentColor" />
      <path d="M15.5 8.5a5 5 0 0 1 0 7M18.5 5.5a9 9 0 0 1 0 13" />
    </svg>
  ),
  smile: (
    <svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round">
      <circle cx="12" cy="12" r="9" />
      <path d="M8.5 14.5a4.5 4.5 0 0 0 7 0M9 9.5h.01M15 9.5h.01" />
    </svg>
  ),
  muted: (
    <svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <path d="M11 5L6 9H3v6h3l5 4z" fill="currentColor" />
      <path d="M16 9l5 6M21 9l-5 6" />
    </svg>
  ),
};

export function App({ c }: { c: WidgetController }) {
  const s = useWidget(c);
  const primary = safeColor(s.config?.appearance.primary_color);
  useLayoutEffect(() => {
    const root = document.documentElement;
    root.style.setProperty('--nt-primary', primary);
    root.style.setProperty('--nt-on-primary', contrastOn(primary));
    root.style.setProperty('--nt-primary-text', primaryText(primary));
    root.lang = s.locale;
  }, [primary, s.locale]);
  if (s.phase !== 'ready' || !s.config) return null;
  return s.open ? <Panel c={c} /> : <Closed c={c} />;
}

let focusLauncherOnMount = false;

function Closed({ c }: { c: WidgetController }) {
  const s = c.state;
  const cfg = s.config;
  const box = useRef<HTMLDivElement>(null);
  const launcher = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const report = () => c.reportSize(el.offsetWidth + 32, el.offsetHeight + 32);
    report();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(report);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    if (focusLauncherOnMount) {
      focusLauncherOnMount = false;
      launcher.current?.focus();
    }
  }, []);
  if (!cfg) return null;
  const left = cfg.appearance.position === 'bottom-left';
  const label = s.unread > 0 ? `${c.t('open_chat')} (${c.t('unread', { n: s.unread })})` : c.t('open_chat');
  return (
    <div ref={box} class={`closed ${left ? 'left' : 'right'}`}>
      {s.greeting && (
        <div class="bubble" data-testid="greeting" role="status">
          <span onClick={() => c.open()}>{s.greeting}</span>
          <button type="button" class="x" aria-label={c.t('greeting_dismiss')} data-testid="greeting-dismiss" onClick={() => c.dismissGreeting()}>
            ×
          </button>
        </div>
      )}
      <button
        ref={launcher}
        type="button"
        class="launcher"
        data-testid="launcher"
        aria-label={label}
        aria-expanded="false"
        aria-haspopup="dialog"
        onClick={() => c.open()}
      >
        {Icon.chat}
        {cfg.appearance.launcher_text ? <span>{cfg.appearance.launcher_text}</span> : null}
        {s.unread > 0 && (
          <span class="badge" data-testid="unread-badge" aria-hidden="true">
            {s.unread > 99 ? '99+' : s.unread}
          </span>
        )}
      </button>
    </div>
  );
}

function Panel({ c }: { c: WidgetController }) {
  const s = c.state;
  const cfg = s.config;
  const panel = useRef<HTMLDivElement>(null);
  const view = c.view;
  useEffect(() => {
    const el = panel.current?.querySelector<HTMLElement>('[data-autofocus]') ?? panel.current?.querySelector<HTMLElement>('button');
    el?.focus();
  }, [view]);
  if (!cfg) return null;
  const online = cfg.status.open && cfg.status.agents_online > 0;
  const close = () => {
    focusLauncherOnMount = true;
    c.close();
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && !e.defaultPrevented) {
      e.preventDefault();
      close();
    }
  };
  return (
    <div ref={panel} class="panel" role="dialog" aria-labelledby="nt-title" data-testid="panel" data-view={view} data-transport={s.transport} onKeyDown={onKeyDown}>
      <header class="head">
        {cfg.appearance.logo_url ? <img src={cfg.appearance.logo_url} alt="" data-testid="logo" /> : null}
        <div class="t">
          <h1 id="nt-title">{cfg.name}</h1>
          <div class="st" data-testid="agent-status" data-online={online ? 'true' : 'false'}>
            <span class={`dot${online ? ' on' : ''}`} aria-hidden="true" />
            {online ? c.t('online') : c.t('away')}
          </div>
        </div>
        <button
          type="button"
          class="icon"
          data-testid="mute-toggle"
          aria-pressed={s.muted ? 'true' : 'false'}
          aria-label={s.muted ? c.t('unmute') : c.t('mute')}
          onClick={() => c.setMuted(!s.muted)}
        >
          {s.muted ? Icon.muted : Icon.sound}
        </button>
        <button type="button" class="icon" data-testid="close" aria-label={c.t('close_chat')} onClick={close}>
          {Icon.close}
        </button>
      </header>
      {s.connection === 'reconnecting' || s.connection === 'offline' ? (
        <div class="banner" role="status" data-testid="connection-banner">
          {s.connection === 'offline' ? c.t('offline_conn') : c.t('reconnecting')}
        </div>
      ) : null}
      {s.error ? (
        <div class="banner err" role="alert" data-testid="error-banner">
          {c.t(s.error)}
        </div>
      ) : null}
      {view === 'prechat' ? (
        <div class="body">
          <Form
            c={c}
            testid="prechat"
            intro={c.t('prechat_intro')}
            fields={cfg.prechat.fields}
            initial={c.prechatValues()}
            submitLabel={c.t('start_chat')}
            onSubmit={(v) => c.submitPrechat(v)}
          />
        </div>
      ) : view === 'offline' ? (
        <div class="body">
          <Form
            c={c}
            testid="offline"
            intro={cfg.offline.text || c.t('offline_default')}
            fields={c.offlineFormFields}
            initial={c.prechatValues()}
            message
            submitLabel={c.t('offline_send')}
            onSubmit={(v) => c.submitOffline(v)}
          />
        </div>
      ) : view === 'offline_sent' ? (
        <div class="body">
          <div class="done" role="status" data-testid="offline-sent">
            {c.t('offline_sent')}
          </div>
        </div>
      ) : (
        <Chat c={c} />
      )}
    </div>
  );
}

function senderKind(c: WidgetController, m: Message): 'visitor' | 'agent' | 'system' {
  if (m.sender_id === null || m.kind === 'system' || m.kind === 'event') return 'system';
  return c.isMine(m) ? 'visitor' : 'agent';
}

function Chat({ c }: { c: WidgetController }) {
  const s = c.state;
  const cfg = s.config;
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const prev = useRef<{ first: string | null; height: number }>({ first: null, height: 0 });
  const items = c.timeline();
  const firstKey = items[0] ? itemKey(c, items[0]) : null;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const p = prev.current;
    if (p.first !== null && firstKey !== p.first && el.scrollHeight > p.height && !stick.current) {
      // Older messages were prepended: keep what the reader was looking at in place.
      el.scrollTop += el.scrollHeight - p.height;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
    prev.current = { first: firstKey, height: el.scrollHeight };
  });

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 40 && s.hasMore && !s.loadingOlder) void c.loadOlder();
  };

  if (!cfg) return null;
  let lastSender: number | null | undefined = undefined;
  return (
    <>
      <div class="body" ref={scroller} onScroll={onScroll}>
        <div class="welcome" data-testid="welcome">
          {cfg.appearance.welcome_text || c.t('welcome_default')}
        </div>
        {s.conversationId === null && cfg.auto_greet?.text ? (
          <div class="msg agent" data-testid="auto-greet">
            <div class="txt">{cfg.auto_greet.text}</div>
          </div>
        ) : null}
        {s.hasMore ? (
          <button type="button" class="more" data-testid="load-older" disabled={s.loadingOlder} onClick={() => void c.loadOlder()}>
            {s.loadingOlder ? c.t('loading') : c.t('load_older')}
          </button>
        ) : null}
        <div role="log" aria-live="polite" aria-label={c.t('messages')}>
        <ol class="log" data-testid="message-list">
          {items.map((item) => {
            if (item.kind === 'pending') {
              const p = item.pending;
              lastSender = c.state.contact?.id;
              return (
                <li key={itemKey(c, item)} class="msg visitor" data-testid="message" data-sender="visitor" data-status={p.error ? 'failed' : 'pending'}>
                  <div class="txt">{p.body}</div>
                  <div class="meta">
                    {p.error ? (
                      <>
                        <span>{c.t('status_failed')}</span>
                        <button type="button" data-testid="retry" onClick={() => c.retry(p.client_msg_id)}>
                          {c.t('retry')}
                        </button>
                      </>
                    ) : (
                      <span>{c.t('status_pending')}</span>
                    )}
                  </div>
                </li>
              );
            }
            const m = item.message;
            const kind = senderKind(c, m);
            const showWho = kind === 'agent' && m.sender_id !== lastSender;
            lastSender = m.sender_id;
            const agent = kind === 'agent' ? c.agent(m.sender_id) : null;
            const receipt: Receipt | null = kind === 'visitor' ? c.receipt(m) : null;
            return (
              <li
                key={itemKey(c, item)}
                class={`msg ${kind}${m.deleted_at !== null ? ' deleted' : ''}`}
                data-testid="message"
                data-sender={kind}
                data-seq={m.seq}
                data-status={receipt ?? undefined}
              >
                {showWho && agent ? <Who c={c} agent={agent} /> : null}
                <div class="txt" title={new Date(m.created_at).toLocaleString()}>
                  {m.deleted_at !== null ? '—' : m.body}
                </div>
                {receipt ? <Mark c={c} receipt={receipt} /> : null}
              </li>
            );
          })}
        </ol>
        </div>
      </div>
      {s.queue && c.agents().length === 0 ? (
        <div class="queue" data-testid="queue-position" role="status" aria-live="polite">
          {c.t('queue_position', { n: String(s.queue.position) })}
          {' · '}
          {s.queue.estimatedWaitMs === null
            ? c.t('queue_no_agent')
            : c.t('queue_wait', { m: String(Math.max(1, Math.ceil(s.queue.estimatedWaitMs / 60000))) })}
        </div>
      ) : null}
      <div class="typing" aria-live="polite">
        {s.typing ? (
          <span data-testid="typing-indicator">{c.t('typing', { name: s.typing.name ?? c.t('agent') })}</span>
        ) : null}
      </div>
      <Composer c={c} />
    </>
  );
}

/** A pending send and the message it becomes share a key, so the element stays in place. */
function itemKey(c: WidgetController, item: TimelineItem): string {
  if (item.kind === 'pending') return `p:${item.pending.client_msg_id}`;
  const m = item.message;
  return m.client_msg_id && c.isMine(m) ? `p:${m.client_msg_id}` : `m:${m.id}`;
}

function Who({ c, agent }: { c: WidgetController; agent: Agent }) {
  const photos = c.state.config?.appearance.show_agent_photos;
  return (
    <div class="who">
      {photos && agent.avatarUrl ? <img src={agent.avatarUrl} alt="" data-testid="agent-photo" /> : null}
      <span data-testid="agent-name">{agent.name ?? c.t('agent')}</span>
    </div>
  );
}

const MARK: Record<Receipt, [string, StringKey]> = {
  pending: ['…', 'status_pending'],
  failed: ['!', 'status_failed'],
  sent: ['✓', 'status_sent'],
  delivered: ['✓✓', 'status_delivered'],
  read: ['✓✓', 'status_read'],
};

function Mark({ c, receipt }: { c: WidgetController; receipt: Receipt }) {
  const [glyph, key] = MARK[receipt];
  return (
    <div class={`meta ${receipt}`} data-testid="receipt">
      <span aria-hidden="true">{glyph}</span>
      <span class="sr">{c.t(key)}</span>
    </div>
  );
}

function Composer({ c }: { c: WidgetController }) {
  const [text, setText] = useState('');
  const [picker, setPicker] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const emojiButton = useRef<HTMLButtonElement>(null);
  const busy = c.state.busy;

  const submit = async (e?: Event) => {
    e?.preventDefault();
    const value = text;
    if (!value.trim() || busy) return;
    setText('');
    setPicker(false);
    const ok = await c.send(value);
    if (!ok) setText(value);
    area.current?.focus();
  };

  const insert = (emoji: string) => {
    const el = area.current;
    const start = el ? el.selectionStart : text.length;
    const end = el ? el.selectionEnd : text.length;
    const next = text.slice(0, start) + emoji + text.slice(end);
    setText(next);
    setPicker(false);
    requestAnimationFrameSafe(() => {
      if (!el) return;
      el.focus();
      el.selectionStart = el.selectionEnd = start + emoji.length;
    });
  };

  const rows = Math.min(5, Math.max(1, text.split('\n').length));
  return (
    <form class="foot" onSubmit={submit} data-testid="composer-form">
      <button
        ref={emojiButton}
        type="button"
        class="icon"
        data-testid="emoji-button"
        aria-label={c.t('emoji')}
        aria-expanded={picker ? 'true' : 'false'}
        aria-controls="nt-emojis"
        onClick={() => setPicker(!picker)}
      >
        {Icon.smile}
      </button>
      {picker ? (
        <div
          id="nt-emojis"
          class="emojis"
          role="group"
          aria-label={c.t('emoji_picker')}
          data-testid="emoji-picker"
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.preventDefault();
              setPicker(false);
              emojiButton.current?.focus();
            }
          }}
        >
          {EMOJIS.map(([emoji, name], i) => (
            <button type="button" aria-label={name} onClick={() => insert(emoji)} ref={i === 0 ? focusOnMount : undefined}>
              {emoji}
            </button>
          ))}
        </div>
      ) : null}
      <label class="sr" for="nt-composer">
        {c.t('composer_label')}
      </label>
      <textarea
        ref={area}
        id="nt-composer"
        data-testid="composer"
        data-autofocus=""
        rows={rows}
        placeholder={c.t('composer_placeholder')}
        value={text}
        onInput={(e) => {
          setText((e.currentTarget as HTMLTextAreaElement).value);
          c.typing();
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) void submit(e);
        }}
      />
      <button type="submit" class="icon send" data-testid="send-button" aria-label={c.t('send')} disabled={!text.trim() || busy}>
        {Icon.send}
      </button>
    </form>
  );
}

function focusOnMount(el: HTMLButtonElement | null): void {
  if (el && el.ownerDocument.activeElement !== el) el.focus();
}

function requestAnimationFrameSafe(fn: () => void): void {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(fn);
  else setTimeout(fn, 0);
}

interface FormProps {
  c: WidgetController;
  testid: 'prechat' | 'offline';
  intro: string;
  fields: FormField[];
  initial: FormValues;
  /** Adds the required message box (offline form). */
  message?: boolean;
  submitLabel: string;
  onSubmit: (values: FormValues) => Promise<FormErrors>;
}

function Form({ c, testid, intro, fields, initial, message, submitLabel, onSubmit }: FormProps) {
  const [values, setValues] = useState<FormValues>(initial);
  const [errors, setErrors] = useState<FormErrors>({});
  const form = useRef<HTMLFormElement>(null);
  const all: FormField[] = message ? [...fields, { key: OFFLINE_MESSAGE, kind: 'text', label: c.t('offline_message'), required: true }] : fields;

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs = await onSubmit(values);
    setErrors(errs);
    const first = all.find((f) => errs[f.key]);
    if (first) form.current?.querySelector<HTMLElement>(`#nt-f-${cssId(first.key)}`)?.focus();
  };

  return (
    <form ref={form} class="form" noValidate onSubmit={submit} data-testid={`${testid}-form`}>
      <p>{intro}</p>
      {all.map((f, i) => {
        const id = `nt-f-${cssId(f.key)}`;
        const err = errors[f.key];
        const isMessage = f.key === OFFLINE_MESSAGE;
        const common = {
          id,
          name: f.key,
          value: values[f.key] ?? '',
          'aria-invalid': !!err,
          'aria-required': f.required,
          'aria-describedby': err ? `${id}-e` : undefined,
          'data-testid': `${testid}-field-${isMessage ? 'message' : f.key}`,
          'data-autofocus': i === 0 ? '' : undefined,
          onInput: (e: TargetedEvent<HTMLInputElement | HTMLTextAreaElement>) =>
            setValues({ ...values, [f.key]: e.currentTarget.value }),
        };
        return (
          <div class="field" key={f.key}>
            <label for={id}>
              {f.label} {f.required ? null : <small>{c.t('optional')}</small>}
            </label>
            {isMessage ? (
              <textarea {...common} />
            ) : (
              <input
                {...common}
                type={(f.kind === 'email' ? 'email' : f.kind === 'phone' ? 'tel' : 'text') as 'text'}
                autoComplete={f.kind === 'email' ? 'email' : f.kind === 'phone' ? 'tel' : f.kind === 'name' ? 'name' : 'off'}
              />
            )}
            {err ? (
              <span class="e" id={`${id}-e`} data-testid={`${testid}-error-${isMessage ? 'message' : f.key}`}>
                {c.t(err)}
              </span>
            ) : null}
          </div>
        );
      })}
      <button type="submit" class="primary" data-testid={`${testid}-submit`} disabled={c.state.busy}>
        {c.state.busy ? c.t('sending') : submitLabel}
      </button>
    </form>
  );
}

function cssId(key: string): string {
  return key.replace(/[^A-Za-z0-9_-]/g, '_');
}

