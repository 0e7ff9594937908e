// The conversation list: sort, select for bulk actions, and the windowed rows.
import { useState } from 'preact/hooks';
import type { Desk } from '../desk';
import { shortAge } from '../lib/days';
import { personName, rowTitle, type SortName } from '../lib/inbox';
import { plainText } from '../lib/markdown';
import type { InboxItem } from '../sdk';
import { useNow } from './hooks';
import { VirtualList } from './VirtualList';

export const ROW_HEIGHT = 76;

export function InboxPane({ desk }: { desk: Desk }) {
  const s = desk.state;
  const now = useNow(30_000);
  const openId = s.open?.id ?? null;
  const activeIndex = openId === null ? -1 : s.items.findIndex((i) => i.conversation.id === openId);
  const allSelected = s.items.length > 0 && s.selection.length >= Math.min(100, s.items.length);
  return (
    <section class="inbox" aria-label="Conversations" data-testid="inbox">
      <div class="inbox-head">
        <input
          type="checkbox"
          data-testid="select-all"
          aria-label="Select all loaded conversations (up to 100)"
          checked={allSelected}
          onChange={(e) => desk.selectAll(e.currentTarget.checked)}
        />
        <span class="inbox-title" data-testid="inbox-title">
          {title(desk)}
        </span>
        <label class="inline">
          <span class="sr-only">Sort</span>
          <select data-testid="sort" aria-label="Sort conversations" value={s.filter.sort} onChange={(e) => desk.setFilter({ sort: e.currentTarget.value as SortName })}>
            <option value="activity">Latest activity</option>
            <option value="waiting">Waiting longest</option>
          </select>
        </label>
      </div>
      {s.selection.length > 0 ? <BulkBar desk={desk} /> : null}
      {s.listError ? (
        <p class="error" role="alert">
          {s.listError}
        </p>
      ) : null}
      <VirtualList
        testid="inbox-list"
        label="Conversations"
        items={s.items}
        rowHeight={ROW_HEIGHT}
        keyOf={(i: InboxItem) => i.conversation.id}
        activeIndex={activeIndex}
        hasMore={s.nextCursor !== null}
        loading={s.listLoading}
        onLoadMore={() => desk.loadMore()}
        empty={<p class="empty">{s.filter.q ? 'No conversation matches your search.' : 'Nothing here. Enjoy the calm.'}</p>}
        renderRow={(item: InboxItem) => <Row desk={desk} item={item} now={now} active={item.conversation.id === openId} selected={s.selection.includes(item.conversation.id)} />}
      />
    </section>
  );
}

function title(desk: Desk): string {
  const f = desk.state.filter;
  const parts = [f.view === 'mine' ? 'Mine' : f.view === 'unassigned' ? 'Unassigned' : 'All'];
  if (f.status) parts.push(f.status);
  if (f.website_id !== null) parts.push(desk.state.websites.find((w) => w.id === f.website_id)?.name ?? `website ${f.website_id}`);
  if (f.label) parts.push(`#${f.label}`);
  return parts.join(' · ');
}

function Row({ desk, item, now, active, selected }: { desk: Desk; item: InboxItem; now: number; active: boolean; selected: boolean }) {
  const c = item.conversation;
  const last = item.last_message;
  const me = desk.state.me?.id;
  const name = rowTitle(item);
  const lastText = last ? (last.body ? plainText(last.body) : 'Message deleted') : (c.subject ?? 'No messages yet');
  const prefix = last ? (last.kind === 'note' ? 'Note: ' : last.sender_id === me ? 'You: ' : '') : '';
  const assignees = item.assignees.map((a) => (a.id === me ? 'You' : personName(a, 'Agent'))).join(', ');
  return (
    <div
      class={`irow${active ? ' active' : ''}${item.unread > 0 ? ' unread' : ''}${selected ? ' selected' : ''}`}
      data-testid="inbox-row"
      data-id={c.id}
      data-unread={item.unread}
      data-status={c.status}
      aria-current={active ? 'true' : undefined}
    >
      <input
        type="checkbox"
        class="row-check"
        data-testid="row-select"
        aria-label={`Select the conversation with ${name}`}
        checked={selected}
        onClick={(e) => e.stopPropagation()}
        onChange={() => desk.toggleSelect(c.id)}
      />
      <button type="button" class="row-main" onClick={() => desk.go({ name: 'inbox', conversationId: c.id })} aria-label={`${name}: ${lastText}${item.unread ? `, ${item.unread} unread` : ''}`}>
        <span class="row-top">
          <span class="row-name">{name}</span>
          <span class="row-age" title={new Date(c.last_activity_at).toLocaleString()}>
            {shortAge(c.last_activity_at, now)}
          </span>
        </span>
        <span class="row-preview">
          {prefix}
          {lastText}
        </span>
        <span class="row-meta">
          {c.status !== 'open' ? <span class={`chip st-${c.status}`}>{c.status}</span> : null}
          {item.labels.slice(0, 2).map((l) => (
            <span key={l} class="chip label">
              {l}
            </span>
          ))}
          {assignees ? <span class="row-assignee">{assignees}</span> : <span class="row-assignee muted">Unassigned</span>}
          {item.unread > 0 ? (
            <span class="badge" data-testid="row-unread" aria-hidden="true">
              {item.unread}
            </span>
          ) : null}
        </span>
      </button>
    </div>
  );
}

function BulkBar({ desk }: { desk: Desk }) {
  const s = desk.state;
  const [label, setLabel] = useState('');
  const others = s.agents.filter((a) => a.account_id !== s.me?.id);
  return (
    <div class="bulk" role="toolbar" aria-label="Bulk actions" data-testid="bulk-bar">
      <span data-testid="bulk-count">{s.selection.length} selected</span>
      <button type="button" class="small" data-testid="bulk-resolve" onClick={() => void desk.bulk('resolve')}>
        Resolve
      </button>
      <button type="button" class="small" data-testid="bulk-archive" onClick={() => void desk.bulk('archive')}>
        Archive
      </button>
      <button type="button" class="small" data-testid="bulk-reopen" onClick={() => void desk.bulk('reopen')}>
        Reopen
      </button>
      <button type="button" class="small" data-testid="bulk-assign-me" onClick={() => void desk.bulk('assign')}>
        Assign to me
      </button>
      {others.length > 0 ? (
        <select
          class="small"
          data-testid="bulk-assign"
          aria-label="Assign to an agent"
          value=""
          onChange={(e) => {
            const id = Number(e.currentTarget.value);
            e.currentTarget.value = '';
            if (id) void desk.bulk('assign', { account_id: id });
          }}
        >
          <option value="">Assign to…</option>
          {others.map((a) => (
            <option key={a.account_id} value={String(a.account_id)}>
              {desk.nameOf(a.account_id, 'Agent')}
            </option>
          ))}
        </select>
      ) : null}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (label.trim()) void desk.bulk('label', { label: label.trim() });
          setLabel('');
        }}
      >
        <input class="small" data-testid="bulk-label" aria-label="Label to add" placeholder="Add label" value={label} list="known-labels" onInput={(e) => setLabel(e.currentTarget.value)} />
        <datalist id="known-labels">
          {s.labels.map((l) => (
            <option key={l.label} value={l.label} />
          ))}
        </datalist>
      </form>
      <button type="button" class="small link" onClick={() => desk.selectAll(false)}>
        Clear
      </button>
    </div>
  );
}
