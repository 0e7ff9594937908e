// The open conversation: header with actions (assign, transfer, resolve/reopen, archive, mute,
// labels), the history with day separators and infinite scroll upwards, receipts, reactions,
// the customer's typing indicator, and the composer (markdown with live preview, notes,
// canned responses by `/shortcut`, Enter to send).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Desk } from '../desk';
import { applyCanned, cannedMatches, cannedQuery, type CannedQuery } from '../lib/canned';
import { timeOfDay, withDaySeparators } from '../lib/days';
import { Markdown } from '../lib/markdown-view';
import { isConversationMuted } from '../lib/prefs';
import type { CannedResponse, Message, PendingMessage, TimelineItem } from '../sdk';

export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '🙏'];

export function ConversationPane({ desk }: { desk: Desk }) {
  const s = desk.state;
  const open = s.open;
  if (!open) {
    return (
      <section class="conversation empty-conv" aria-label="Conversation">
        <div class="placeholder">
          <h2>Select a conversation</h2>
          <p>
            <kbd>j</kbd> / <kbd>k</kbd> move through the list, <kbd>/</kbd> searches, <kbd>?</kbd> shows every shortcut.
          </p>
        </div>
      </section>
    );
  }
  const c = desk.store.get(open.id).conversation;
  return (
    <section class="conversation" aria-label="Conversation" data-testid="conversation" data-id={open.id} data-status={c?.status ?? ''}>
      <Header desk={desk} />
      {open.error ? (
        <p class="error" role="alert" data-testid="conversation-error">
          {open.error}
        </p>
      ) : (
        <>
          <Timeline desk={desk} />
          <Typing desk={desk} />
          <Composer desk={desk} key={open.id} />
        </>
      )}
    </section>
  );
}

function Header({ desk }: { desk: Desk }) {
  const s = desk.state;
  const open = s.open;
  const [transferOpen, setTransferOpen] = useState(false);
  if (!open) return null;
  const c = desk.store.get(open.id).conversation;
  const participant = desk.isParticipant(open.id);
  const staff = [...desk.store.get(open.id).participants.values()].filter((p) => p.left_at === null && p.role === 'agent');
  const contactName = open.context?.contact.name ?? open.context?.contact.email ?? (open.contactId !== null ? desk.nameOf(open.contactId, 'Visitor') : null);
  const title = contactName ?? c?.subject ?? `Conversation #${open.id}`;
  const status = c?.status ?? 'open';
  const muted = isConversationMuted(s.prefs, open.id);
  return (
    <header class="conv-head">
      <div class="conv-title-row">
        <h2 class="conv-title" data-testid="conv-title">
          {title}
        </h2>
        <span class={`chip st-${status}`} data-testid="conv-status">
          {status}
        </span>
        <span class="muted assignees" data-testid="conv-assignees">
          {staff.length ? staff.map((p) => desk.nameOf(p.account_id, 'Agent')).join(', ') : 'Unassigned'}
        </span>
      </div>
      <div class="conv-actions" role="toolbar" aria-label="Conversation actions">
        {!participant ? (
          <button type="button" class="small primary" data-testid="action-assign-me" onClick={() => void desk.assignToMe()} title="Assign to me (a)">
            Assign to me
          </button>
        ) : null}
        <button type="button" class="small" data-testid="action-transfer" onClick={() => setTransferOpen(true)}>
          Transfer
        </button>
        {status === 'resolved' || status === 'archived' ? (
          <button type="button" class="small" data-testid="action-reopen" onClick={() => void desk.setStatus('open')} title="Reopen (o)">
            Reopen
          </button>
        ) : (
          <button type="button" class="small" data-testid="action-resolve" onClick={() => void desk.setStatus('resolved')} title="Resolve (r)">
            Resolve
          </button>
        )}
        {status !== 'archived' ? (
          <button type="button" class="small" data-testid="action-archive" onClick={() => void desk.setStatus('archived')} title="Archive (e)">
            Archive
          </button>
        ) : null}
        <button type="button" class="small" data-testid="action-mute-conv" aria-pressed={muted} onClick={() => desk.toggleConversationMute()}>
          {muted ? 'Muted' : 'Mute'}
        </button>
      </div>
      <Labels desk={desk} />
      {transferOpen ? <TransferDialog desk={desk} onClose={() => setTransferOpen(false)} /> : null}
    </header>
  );
}

function Labels({ desk }: { desk: Desk }) {
  const open = desk.state.open;
  const [text, setText] = useState('');
  if (!open) return null;
  const labels = open.labels;
  return (
    <div class="labels" data-testid="labels-editor">
      {labels.map((l) => (
        <span key={l} class="chip label" data-testid="label-chip">
          {l}
          <button type="button" class="x" aria-label={`Remove label ${l}`} onClick={() => void desk.setLabels(labels.filter((x) => x !== l))}>
            ×
          </button>
        </span>
      ))}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          const l = text.trim();
          if (l && !labels.some((x) => x.toLowerCase() === l.toLowerCase())) void desk.setLabels([...labels, l]);
          setText('');
        }}
      >
        <input class="small label-input" data-testid="label-input" aria-label="Add a label" placeholder="+ label" list="known-labels-conv" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <datalist id="known-labels-conv">
          {desk.state.labels.map((l) => (
            <option key={l.label} value={l.label} />
          ))}
        </datalist>
      </form>
    </div>
  );
}

function TransferDialog({ desk, onClose }: { desk: Desk; onClose: () => void }) {
  const s = desk.state;
  const others = s.agents.filter((a) => a.account_id !== s.me?.id);
  const [to, setTo] = useState<number>(others[0]?.account_id ?? 0);
  const [note, setNote] = useState('');
  return (
    <div class="modal-back" onClick={onClose}>
      <div class="modal" role="dialog" aria-modal="true" aria-label="Transfer the conversation" data-testid="transfer-dialog" onClick={(e) => e.stopPropagation()}>
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            if (to) void desk.transfer(to, note).then((ok) => ok && onClose());
          }}
          onKeyDown={(e) => e.key === 'Escape' && onClose()}
        >
          <h2>Transfer to an agent</h2>
          {others.length === 0 ? <p>No other agent in this workspace.</p> : null}
          <label>
            Agent
            <select data-testid="transfer-agent" value={String(to)} onChange={(e) => setTo(Number(e.currentTarget.value))} autoFocus>
              {others.map((a) => (
                <option key={a.account_id} value={String(a.account_id)}>
                  {desk.nameOf(a.account_id, 'Agent')} — {a.status}, {a.load}/{a.capacity} chats
                </option>
              ))}
            </select>
          </label>
          <label>
            Note for them (optional, kept as an internal note)
            <textarea data-testid="transfer-note" rows={3} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          <div class="row">
            <button type="submit" class="primary" data-testid="transfer-submit" disabled={!to}>
              Offer the conversation
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}

type Row = { kind: 'message'; message: Message } | { kind: 'pending'; pending: PendingMessage };

function Timeline({ desk }: { desk: Desk }) {
  const s = desk.state;
  const open = s.open;
  const ref = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prev = useRef<{ first: number; last: number; height: number; id: number } | null>(null);
  const id = open?.id ?? 0;
  const items: TimelineItem[] = useMemo(() => desk.store.timeline(id), [desk, id, s.version]);
  const now = Date.now();
  const rows = withDaySeparators<Row>(items, (t) => (t.kind === 'message' ? t.message.created_at : t.pending.created_at), now);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const first = items[0]?.kind === 'message' ? items[0].message.seq : 0;
    const last = items.length;
    const p = prev.current;
    if (!p || p.id !== id) {
      el.scrollTop = el.scrollHeight;
    } else if (first < p.first && p.first !== 0) {
      // Older messages arrived above: keep what the agent was reading in place.
      el.scrollTop += el.scrollHeight - p.height;
    } else if (last !== p.last && atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    prev.current = { first, last, height: el.scrollHeight, id };
  });

  if (!open) return null;
  const me = s.me?.id;
  return (
    <div
      ref={ref}
      class="timeline"
      role="log"
      aria-label="Messages"
      aria-live="polite"
      data-testid="timeline"
      onScroll={(e) => {
        const el = e.currentTarget as HTMLDivElement;
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        if (el.scrollTop < 120) void desk.loadOlder();
      }}
    >
      {open.loading ? <p class="muted center">Loading…</p> : null}
      {open.hasMore ? (
        <button type="button" class="link center" data-testid="load-older" onClick={() => void desk.loadOlder()} disabled={open.loadingOlder}>
          {open.loadingOlder ? 'Loading…' : 'Load older messages'}
        </button>
      ) : null}
      {rows.map((r) =>
        r.kind === 'day' ? (
          <div key={`d${r.key}`} class="day" data-testid="day-separator" role="separator">
            <span>{r.label}</span>
          </div>
        ) : r.item.kind === 'message' ? (
          <MessageView key={`m${r.item.message.id}`} desk={desk} m={r.item.message} mine={r.item.message.sender_id === me} />
        ) : (
          <PendingView key={`p${r.item.pending.client_msg_id}`} desk={desk} p={r.item.pending} />
        ),
      )}
    </div>
  );
}

function Receipt({ state }: { state: string }) {
  const text = state === 'read' ? '✓✓' : state === 'delivered' ? '✓✓' : state === 'sent' ? '✓' : state === 'failed' ? '!' : '…';
  return (
    <span class={`receipt r-${state}`} data-testid="receipt" data-state={state} title={state} aria-label={state}>
      {text}
    </span>
  );
}

function MessageView({ desk, m, mine }: { desk: Desk; m: Message; mine: boolean }) {
  const [picker, setPicker] = useState(false);
  const open = desk.state.open;
  if (!open) return null;
  if (m.kind === 'system' || m.kind === 'event') {
    return (
      <div class="sys" data-testid="message" data-kind={m.kind} data-seq={m.seq}>
        {m.body} · {timeOfDay(m.created_at)}
      </div>
    );
  }
  const staff = m.sender_id !== null && desk.store.get(open.id).participants.get(m.sender_id)?.role === 'agent';
  const side = mine || staff || m.kind === 'note' ? 'right' : 'left';
  const receipt = mine && m.kind !== 'note' ? desk.store.receipt(open.id, m) : null;
  const grouped = new Map<string, number[]>();
  for (const r of m.reactions) grouped.set(r.emoji, [...(grouped.get(r.emoji) ?? []), r.account_id]);
  const me = desk.state.me?.id;
  return (
    <div class={`msg ${side} k-${m.kind}`} data-testid="message" data-kind={m.kind} data-mine={String(mine)} data-seq={m.seq} data-id={m.id} data-status={receipt ?? undefined}>
      <div class="msg-meta">
        <span class="who">{m.kind === 'note' ? `${desk.nameOf(m.sender_id, 'Agent')} · internal note` : desk.nameOf(m.sender_id, 'Visitor')}</span>
        <time dateTime={new Date(m.created_at).toISOString()}>{timeOfDay(m.created_at)}</time>
        {m.edited_at ? <span class="muted">edited</span> : null}
      </div>
      <div class="bubble">
        {m.deleted_at ? <em class="muted">Message deleted</em> : m.format === 'markdown' ? <Markdown text={m.body} /> : <div class="plain">{m.body}</div>}
      </div>
      <div class="msg-foot">
        {[...grouped.entries()].map(([emoji, who]) => (
          <button
            type="button"
            key={emoji}
            class={`reaction${me !== undefined && who.includes(me) ? ' mine' : ''}`}
            data-testid="reaction"
            aria-label={`${emoji} ${who.length}`}
            onClick={() => void desk.react(m.id, emoji)}
          >
            {emoji} {who.length}
          </button>
        ))}
        {!m.deleted_at ? (
          <span class="react-wrap">
            <button type="button" class="react-btn" data-testid="react-button" aria-label="Add a reaction" aria-expanded={picker} onClick={() => setPicker(!picker)}>
              ☺
            </button>
            {picker ? (
              <span class="picker" role="menu" data-testid="emoji-picker">
                {QUICK_EMOJI.map((e) => (
                  <button
                    type="button"
                    role="menuitem"
                    key={e}
                    aria-label={`React with ${e}`}
                    onClick={() => {
                      setPicker(false);
                      void desk.react(m.id, e);
                    }}
                  >
                    {e}
                  </button>
                ))}
              </span>
            ) : null}
          </span>
        ) : null}
        {receipt ? <Receipt state={receipt} /> : null}
      </div>
    </div>
  );
}

function PendingView({ desk, p }: { desk: Desk; p: PendingMessage }) {
  const k = desk.pendingKinds.get(p.client_msg_id);
  const note = k?.kind === 'note';
  return (
    <div class={`msg right ${note ? 'k-note' : 'k-text'} pending`} data-testid="message" data-kind={k?.kind ?? 'text'} data-mine="true" data-status={p.error ? 'failed' : 'pending'}>
      <div class="msg-meta">
        <span class="who">{note ? 'You · internal note' : 'You'}</span>
      </div>
      <div class="bubble">{k?.format === 'markdown' ? <Markdown text={p.body} /> : <div class="plain">{p.body}</div>}</div>
      <div class="msg-foot">
        {p.error ? (
          <>
            <span class="error">Not sent: {p.error}</span>
            <button type="button" class="small" data-testid="retry" onClick={() => desk.retry(p.conversation_id, p.client_msg_id)}>
              Retry
            </button>
          </>
        ) : (
          <Receipt state="pending" />
        )}
      </div>
    </div>
  );
}

function Typing({ desk }: { desk: Desk }) {
  const open = desk.state.open;
  const t = open ? desk.state.typing[open.id] : undefined;
  return (
    <div class="typing" aria-live="polite" data-testid={t ? 'typing-indicator' : undefined}>
      {t ? `${desk.nameOf(t.accountId, 'Visitor')} is typing…` : ''}
    </div>
  );
}

/** Drafts survive switching conversations (kept in memory for the session). */
const drafts = new Map<number, { text: string; note: boolean }>();

function Composer({ desk }: { desk: Desk }) {
  const s = desk.state;
  const open = s.open;
  const id = open?.id ?? 0;
  const draft = drafts.get(id);
  const [text, setText] = useState(draft?.text ?? '');
  const [note, setNote] = useState(draft?.note ?? false);
  const [preview, setPreview] = useState(false);
  const [query, setQuery] = useState<CannedQuery | null>(null);
  const [index, setIndex] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  const matches: CannedResponse[] = query ? cannedMatches(s.canned, query.query) : [];
  const menuOpen = query !== null && matches.length > 0;

  useEffect(() => {
    drafts.set(id, { text, note });
  }, [id, text, note]);

  const update = (next: string, caret: number) => {
    setText(next);
    const q = cannedQuery(next, caret);
    setQuery(q);
    setIndex(0);
  };

  const choose = (c: CannedResponse) => {
    const el = ref.current;
    if (!el || !query) return;
    const r = applyCanned(text, el.selectionStart ?? text.length, query, c.body);
    setText(r.text);
    setQuery(null);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(r.caret, r.caret);
    });
  };

  const send = () => {
    if (!text.trim()) return;
    desk.send(text, note);
    setText('');
    setQuery(null);
    drafts.delete(id);
  };

  const wrap = (before: string, after: string, placeholder: string) => {
    const el = ref.current;
    if (!el) return;
    const a = el.selectionStart ?? text.length;
    const b = el.selectionEnd ?? a;
    const inner = text.slice(a, b) || placeholder;
    const next = text.slice(0, a) + before + inner + after + text.slice(b);
    setText(next);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(a + before.length, a + before.length + inner.length);
    });
  };

  const list = () => {
    const el = ref.current;
    if (!el) return;
    const a = el.selectionStart ?? text.length;
    const lineStart = text.lastIndexOf('\n', a - 1) + 1;
    const next = text.slice(0, lineStart) + '- ' + text.slice(lineStart);
    setText(next);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(a + 2, a + 2);
    });
  };

  if (!open) return null;
  const participant = desk.isParticipant(open.id);
  return (
    <div class={`composer${note ? ' note-mode' : ''}`}>
      <div class="composer-tabs" role="tablist" aria-label="Message type">
        <button type="button" role="tab" aria-selected={!note} data-testid="composer-mode-reply" onClick={() => setNote(false)}>
          Reply
        </button>
        <button type="button" role="tab" aria-selected={note} data-testid="composer-mode-note" onClick={() => setNote(true)}>
          Internal note
        </button>
        <span class="spacer" />
        <button type="button" class="fmt" aria-label="Bold" title="Bold" onClick={() => wrap('**', '**', 'bold')}>
          <strong>B</strong>
        </button>
        <button type="button" class="fmt" aria-label="Italic" title="Italic" onClick={() => wrap('_', '_', 'italic')}>
          <em>I</em>
        </button>
        <button type="button" class="fmt" aria-label="Link" title="Link" onClick={() => wrap('[', '](https://)', 'text')}>
          Link
        </button>
        <button type="button" class="fmt" aria-label="List" title="Bulleted list" onClick={list}>
          • List
        </button>
        <button type="button" class="fmt" data-testid="composer-preview-toggle" aria-pressed={preview} onClick={() => setPreview(!preview)}>
          Preview
        </button>
      </div>
      {note ? <p class="note-hint">Only your team sees internal notes.</p> : !participant ? <p class="note-hint muted">Replying assigns you to this conversation.</p> : null}
      <div class="composer-box">
        <textarea
          ref={ref}
          data-testid="composer"
          aria-label={note ? 'Write an internal note' : 'Write a reply'}
          aria-autocomplete="list"
          aria-expanded={menuOpen}
          aria-controls={menuOpen ? 'canned-menu' : undefined}
          rows={3}
          placeholder={note ? 'Internal note — only your team sees this' : 'Reply… (Enter sends, Shift+Enter for a new line, / for canned responses)'}
          value={text}
          onInput={(e) => {
            const el = e.currentTarget;
            update(el.value, el.selectionStart ?? el.value.length);
            if (!note) desk.typing();
          }}
          onKeyDown={(e) => {
            if (menuOpen) {
              if (e.key === 'ArrowDown') {
                e.preventDefault();
                setIndex((index + 1) % matches.length);
                return;
              }
              if (e.key === 'ArrowUp') {
                e.preventDefault();
                setIndex((index - 1 + matches.length) % matches.length);
                return;
              }
              if (e.key === 'Enter' || e.key === 'Tab') {
                e.preventDefault();
                const c = matches[index];
                if (c) choose(c);
                return;
              }
              if (e.key === 'Escape') {
                e.preventDefault();
                e.stopPropagation();
                setQuery(null);
                return;
              }
            }
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            }
          }}
          onClick={(e) => {
            const el = e.currentTarget;
            setQuery(cannedQuery(el.value, el.selectionStart ?? 0));
          }}
        />
        {menuOpen ? (
          <ul class="canned-menu" id="canned-menu" role="listbox" aria-label="Canned responses" data-testid="canned-menu">
            {matches.map((c, i) => (
              <li
                key={c.id}
                role="option"
                aria-selected={i === index}
                data-testid="canned-option"
                data-shortcut={c.shortcut}
                class={i === index ? 'active' : ''}
                onMouseDown={(e) => {
                  e.preventDefault();
                  choose(c);
                }}
              >
                <span class="sc">/{c.shortcut}</span> <span class="t">{c.title}</span>
                <span class="b">{c.body.slice(0, 80)}</span>
              </li>
            ))}
          </ul>
        ) : null}
        <button type="button" class="primary send" data-testid="send-button" onClick={send} disabled={!text.trim()}>
          {note ? 'Add note' : 'Send'}
        </button>
      </div>
      {preview && text.trim() ? (
        <div class="preview" data-testid="composer-preview" aria-label="Preview">
          <Markdown text={text} />
        </div>
      ) : null}
    </div>
  );
}
