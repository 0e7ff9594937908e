// The inbox list: filters → query parameters of GET /v1/inbox, merging a refreshed first page
// into what is loaded, and patching rows from real-time events between refreshes.
import type { Conversation, EventPayload, InboxItem, InboxParams, InboxPerson } from '../sdk';

export type ViewName = 'all' | 'mine' | 'unassigned';
export type SortName = 'activity' | 'waiting';
export type StatusName = 'open' | 'pending' | 'resolved' | 'archived';
export const STATUSES: StatusName[] = ['open', 'pending', 'resolved', 'archived'];

export interface InboxFilter {
  view: ViewName;
  website_id: number | null;
  /** null: every status. */
  status: StatusName | null;
  label: string | null;
  /** Search text (sent when 1–100 characters after trimming). */
  q: string;
  sort: SortName;
}

export const DEFAULT_FILTER: InboxFilter = { view: 'all', website_id: null, status: 'open', label: null, q: '', sort: 'activity' };
export const PAGE_SIZE = 50;

/** The query string of `GET /v1/inbox` for a filter and a page (defaults left out). */
export function inboxQuery(f: InboxFilter, cursor: string | null = null, limit = PAGE_SIZE): InboxParams {
  const q = f.q.trim().slice(0, 100);
  const query: InboxParams = {};
  if (f.view !== 'all') query.view = f.view;
  if (f.website_id !== null) query.website_id = f.website_id;
  if (f.status !== null) query.status = f.status;
  if (f.label !== null) query.label = f.label;
  if (q) query.q = q;
  if (f.sort !== 'activity') query.sort = f.sort;
  if (cursor) query.cursor = cursor;
  query.limit = limit;
  return query;
}

export function sameFilter(a: InboxFilter, b: InboxFilter): boolean {
  return (
    a.view === b.view &&
    a.website_id === b.website_id &&
    a.status === b.status &&
    a.label === b.label &&
    a.q.trim() === b.q.trim() &&
    a.sort === b.sort
  );
}

/**
 * Merges a freshly fetched first page into the loaded rows. The page is the truth about the
 * top of the list; loaded rows beyond it stay (without duplicates) as long as they sort after
 * the page's last row. `complete`: the page is the whole list (no next cursor).
 */
export function mergeFirstPage(loaded: readonly InboxItem[], page: readonly InboxItem[], sort: SortName, complete: boolean): InboxItem[] {
  if (complete || page.length === 0) return [...page];
  const ids = new Set(page.map((i) => i.conversation.id));
  const last = page[page.length - 1] as InboxItem;
  const edge = last.conversation.last_activity_at;
  const rest = loaded.filter((i) => {
    if (ids.has(i.conversation.id)) return false;
    const t = i.conversation.last_activity_at;
    return sort === 'activity' ? t <= edge : t >= edge;
  });
  return [...page, ...rest];
}

/** Appends a next page, skipping rows already loaded (activity can move rows between pages). */
export function appendPage(loaded: readonly InboxItem[], page: readonly InboxItem[]): InboxItem[] {
  const ids = new Set(loaded.map((i) => i.conversation.id));
  return [...loaded, ...page.filter((i) => !ids.has(i.conversation.id))];
}

export interface EventContext {
  me: number | null;
  filter: InboxFilter;
  /** The conversation on screen in a visible tab (its messages are read as they come). */
  reading: number | null;
}

export interface Patched {
  items: InboxItem[];
  /** The rows changed. */
  changed: boolean;
  /** The event concerns something the rows cannot show without a refetch. */
  refresh: boolean;
}

function mergeConversation(prev: Conversation, next: Conversation): Conversation {
  return {
    ...next,
    last_seq: Math.max(prev.last_seq, next.last_seq),
    last_activity_at: Math.max(prev.last_activity_at, next.last_activity_at),
  };
}

/** Applies a durable event to the rows (idempotent for messages: by seq). */
export function applyEvent(items: readonly InboxItem[], e: EventPayload, ctx: EventContext): Patched {
  const id =
    e.type === 'message_created' || e.type === 'message_edited'
      ? e.message.conversation_id
      : e.type === 'participant_joined'
        ? e.participant.conversation_id
        : e.type === 'conversation_updated'
          ? e.conversation.id
          : e.conversation_id;
  const at = items.findIndex((i) => i.conversation.id === id);
  const unchanged: Patched = { items: items as InboxItem[], changed: false, refresh: false };
  switch (e.type) {
    case 'message_created': {
      if (at < 0) return { ...unchanged, refresh: true };
      const item = items[at] as InboxItem;
      const m = e.message;
      if (m.seq <= item.conversation.last_seq && item.last_message && item.last_message.seq >= m.seq) return unchanged;
      const counts = m.sender_id !== ctx.me && m.kind !== 'note' && m.kind !== 'event' && ctx.reading !== id;
      const next: InboxItem = {
        ...item,
        conversation: {
          ...item.conversation,
          last_seq: Math.max(item.conversation.last_seq, m.seq),
          last_activity_at: Math.max(item.conversation.last_activity_at, m.created_at),
        },
        last_message: { seq: m.seq, kind: m.kind, sender_id: m.sender_id, body: m.body.slice(0, 140), created_at: m.created_at },
        unread: counts ? item.unread + 1 : item.unread,
      };
      const rest = items.filter((_, i) => i !== at);
      const list = ctx.filter.sort === 'activity' ? [next, ...rest] : items.map((x, i) => (i === at ? next : x));
      return { items: list, changed: true, refresh: false };
    }
    case 'read': {
      if (at < 0 || e.account_id !== ctx.me) return unchanged;
      const item = items[at] as InboxItem;
      if (item.unread === 0 || e.seq < item.conversation.last_seq) return unchanged;
      return { items: items.map((x, i) => (i === at ? { ...x, unread: 0 } : x)), changed: true, refresh: false };
    }
    case 'conversation_updated': {
      if (at < 0) return { ...unchanged, refresh: true };
      const item = items[at] as InboxItem;
      const conversation = mergeConversation(item.conversation, e.conversation);
      if (ctx.filter.status !== null && conversation.status !== ctx.filter.status) {
        return { items: items.filter((_, i) => i !== at), changed: true, refresh: false };
      }
      return { items: items.map((x, i) => (i === at ? { ...x, conversation } : x)), changed: true, refresh: false };
    }
    case 'participant_joined':
    case 'participant_left':
      // Assignees changed (and with them the mine/unassigned views): refetch.
      return { ...unchanged, refresh: true };
    default:
      return unchanged;
  }
}

/** A row's conversation replaced (after a PATCH), dropped when it left the status filter. */
export function replaceConversation(items: readonly InboxItem[], c: Conversation, filter: InboxFilter): InboxItem[] {
  const out: InboxItem[] = [];
  for (const item of items) {
    if (item.conversation.id !== c.id) out.push(item);
    else if (filter.status === null || c.status === filter.status) out.push({ ...item, conversation: mergeConversation(item.conversation, c) });
  }
  return out;
}

export function personName(p: InboxPerson | null | undefined, fallback = 'Visitor'): string {
  if (!p) return fallback;
  return p.name || p.email || `${fallback} #${p.id}`;
}

/** What a row is called: the contact, else the subject, else the conversation number. */
export function rowTitle(item: InboxItem): string {
  if (item.contact) return personName(item.contact);
  return item.conversation.subject || `Conversation #${item.conversation.id}`;
}

/** The next/previous conversation for j/k (the first one when none is open). */
export function neighbour(items: readonly InboxItem[], current: number | null, step: 1 | -1): number | null {
  if (items.length === 0) return null;
  const at = current === null ? -1 : items.findIndex((i) => i.conversation.id === current);
  if (at < 0) return (items[0] as InboxItem).conversation.id;
  const next = Math.max(0, Math.min(items.length - 1, at + step));
  return (items[next] as InboxItem).conversation.id;
}
