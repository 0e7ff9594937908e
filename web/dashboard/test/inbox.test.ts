import { describe, expect, it } from 'vitest';
import { DEFAULT_FILTER, appendPage, applyEvent, inboxQuery, mergeFirstPage, neighbour, replaceConversation } from '../src/lib/inbox';
import type { EventPayload, InboxItem, Message } from '../src/sdk';
import { item } from './helpers';


function message(conv: number, seq: number, sender: number, kind: Message['kind'] = 'text'): EventPayload {
  return {
    type: 'message_created',
    message: {
      id: conv * 1000 + seq,
      conversation_id: conv,
      seq,
      sender_id: sender,
      kind,
      format: 'plain',
      body: `m${seq}`,
      client_msg_id: null,
      created_at: 5000 + seq,
      edited_at: null,
      deleted_at: null,
      reactions: [],
    },
  };
}

const ids = (items: InboxItem[]) => items.map((i) => i.conversation.id);
const ctx = { me: 1, filter: DEFAULT_FILTER, reading: null };

describe('inbox query', () => {
  it('sends only what differs from the defaults', () => {
    expect(inboxQuery(DEFAULT_FILTER)).toEqual({ status: 'open', limit: 50 });
    expect(
      inboxQuery({ view: 'mine', website_id: 3, status: null, label: 'vip', q: '  ann ', sort: 'waiting' }, 'cur', 20),
    ).toEqual({ view: 'mine', website_id: 3, label: 'vip', q: 'ann', sort: 'waiting', cursor: 'cur', limit: 20 });
    expect(inboxQuery({ ...DEFAULT_FILTER, q: 'x'.repeat(150) }).q).toHaveLength(100);
  });
});

describe('merging pages', () => {
  it('a refreshed first page replaces the top and keeps older loaded rows', () => {
    const loaded = [item(1, 90), item(2, 80), item(3, 70), item(4, 60), item(5, 50)];
    const page = [item(9, 100), item(1, 95), item(2, 80)];
    expect(ids(mergeFirstPage(loaded, page, 'activity', false))).toEqual([9, 1, 2, 3, 4, 5]);
  });
  it('a complete first page is the whole list', () => {
    expect(ids(mergeFirstPage([item(1, 1), item(2, 2)], [item(2, 3)], 'activity', true))).toEqual([2]);
  });
  it('waiting order keeps rows that sort after the page', () => {
    const loaded = [item(1, 10), item(2, 20), item(3, 30)];
    expect(ids(mergeFirstPage(loaded, [item(1, 10), item(2, 20)], 'waiting', false))).toEqual([1, 2, 3]);
  });
  it('a next page skips rows already loaded', () => {
    expect(ids(appendPage([item(1, 9), item(2, 8)], [item(2, 8), item(3, 7)]))).toEqual([1, 2, 3]);
  });
});

describe('live patches', () => {
  it('a message from someone else moves the row up, previews it and counts it unread', () => {
    const items = [item(1, 90), item(2, 80)];
    const r = applyEvent(items, message(2, 2, 50), ctx);
    expect(ids(r.items)).toEqual([2, 1]);
    expect(r.items[0]).toMatchObject({ unread: 1, last_message: { seq: 2, body: 'm2' } });
    // Applying it again changes nothing.
    const again = applyEvent(r.items, message(2, 2, 50), ctx);
    expect(again.changed).toBe(false);
  });

  it('my own messages, notes and the conversation I am reading do not count as unread', () => {
    const items = [item(2, 80)];
    expect(applyEvent(items, message(2, 2, 1), ctx).items[0]?.unread).toBe(0);
    expect(applyEvent(items, message(2, 2, 50, 'note'), ctx).items[0]?.unread).toBe(0);
    expect(applyEvent(items, message(2, 2, 50), { ...ctx, reading: 2 }).items[0]?.unread).toBe(0);
  });

  it('an unknown conversation or a membership change asks for a refresh', () => {
    expect(applyEvent([item(1, 1)], message(9, 1, 50), ctx).refresh).toBe(true);
    const joined: EventPayload = {
      type: 'participant_joined',
      participant: { conversation_id: 1, account_id: 1, role: 'agent', visibility: 'full', history_from_seq: 1, joined_at: 0, left_at: null, read_seq: 0, delivered_seq: 0 },
    };
    expect(applyEvent([item(1, 1)], joined, ctx).refresh).toBe(true);
  });

  it('my read cursor clears the unread count', () => {
    const items = [item(1, 1, { unread: 3 })];
    expect(applyEvent(items, { type: 'read', conversation_id: 1, account_id: 1, seq: 1 }, ctx).items[0]?.unread).toBe(0);
    expect(applyEvent(items, { type: 'read', conversation_id: 1, account_id: 7, seq: 1 }, ctx).changed).toBe(false);
  });

  it('a status change drops the row from a view of another status', () => {
    const items = [item(1, 1), item(2, 2)];
    const resolved = { ...item(1, 1).conversation, status: 'resolved' as const };
    expect(ids(applyEvent(items, { type: 'conversation_updated', conversation: resolved }, ctx).items)).toEqual([2]);
    expect(ids(applyEvent(items, { type: 'conversation_updated', conversation: resolved }, { ...ctx, filter: { ...DEFAULT_FILTER, status: null } }).items)).toEqual([1, 2]);
    expect(ids(replaceConversation(items, resolved, DEFAULT_FILTER))).toEqual([2]);
  });
});

describe('j / k', () => {
  it('moves through the list and stops at its ends', () => {
    const items = [item(1, 3), item(2, 2), item(3, 1)];
    expect(neighbour(items, null, 1)).toBe(1);
    expect(neighbour(items, 1, 1)).toBe(2);
    expect(neighbour(items, 3, 1)).toBe(3);
    expect(neighbour(items, 1, -1)).toBe(1);
    expect(neighbour([], null, 1)).toBeNull();
  });
});
