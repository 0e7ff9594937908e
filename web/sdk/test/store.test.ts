import { describe, expect, it } from 'vitest';
import { ConversationStore } from '../src/store';
import type { Conversation, EventPayload, Message, Participant } from '../src/types';

const conv: Conversation = {
  id: 12,
  workspace_id: 1,
  kind: 'support',
  status: 'open',
  subject: null,
  listing: null,
  last_seq: 2,
  last_activity_at: 10,
  created_at: 1,
  updated_at: 1,
} as Conversation;

function part(account_id: number, role: Participant['role'], read_seq = 0, delivered_seq = 0): Participant {
  return {
    conversation_id: 12,
    account_id,
    role,
    visibility: 'full',
    history_from_seq: 1,
    joined_at: 1,
    left_at: null,
    read_seq,
    delivered_seq,
  };
}

function msg(seq: number, sender_id: number | null, extra: Partial<Message> = {}): Message {
  return {
    id: 100 + seq,
    conversation_id: 12,
    seq,
    sender_id,
    kind: 'text',
    format: 'plain',
    body: `m${seq}`,
    client_msg_id: null,
    created_at: seq,
    edited_at: null,
    deleted_at: null,
    reactions: [],
    ...extra,
  };
}

function last<T>(xs: T[]): T | undefined {
  return xs[xs.length - 1];
}

function fresh() {
  const s = new ConversationStore();
  s.me = 7;
  s.setDetail({ conversation: conv, participants: [part(7, 'customer'), part(2, 'agent')], people: [] });
  s.upsertMessages(12, [msg(1, 7), msg(2, 2)]);
  return s;
}

describe('ConversationStore', () => {
  it('upserts messages by id, so snapshot + replayed event stay one message', () => {
    const s = fresh();
    const e: EventPayload = { type: 'message_created', message: msg(2, 2) };
    s.apply(e);
    s.apply(e);
    expect(s.timeline(12)).toHaveLength(2);
  });

  it('puts the names and photos of a detail\'s people on its participants', () => {
    const s = fresh();
    s.setDetail({
      conversation: conv,
      participants: [part(7, 'customer'), part(2, 'agent')],
      people: [
        { account_id: 2, kind: 'staff', name: 'Sam', avatar_url: 'https://cdn.test/sam.png' },
        { account_id: 7, kind: 'contact', name: null, avatar_url: null },
      ],
    });
    expect(s.get(12).participants.get(2)).toMatchObject({ role: 'agent', name: 'Sam', avatar_url: 'https://cdn.test/sam.png' });
    expect(s.get(12).participants.get(7)).toMatchObject({ role: 'customer', name: null, avatar_url: null });
  });

  it('orders by seq whatever the arrival order, and pages backwards', () => {
    const s = fresh();
    s.upsertMessages(12, [msg(5, 2), msg(4, 7)]);
    expect(s.timeline(12).map((i) => (i.kind === 'message' ? i.message.seq : -1))).toEqual([1, 2, 4, 5]);
    expect(s.oldestSeq(12)).toBe(1);
    expect(s.newestSeq(12)).toBe(5);
    expect(s.get(12).conversation?.last_seq).toBe(5);
  });

  it('edits replace, deletes tombstone and clear reactions, and a late copy does not resurrect', () => {
    const s = fresh();
    s.apply({ type: 'reaction_added', conversation_id: 12, message_id: 102, account_id: 7, emoji: '👍' });
    s.apply({ type: 'reaction_added', conversation_id: 12, message_id: 102, account_id: 7, emoji: '👍' });
    expect(s.get(12).messages.get(102)?.reactions).toEqual([{ emoji: '👍', account_id: 7 }]);
    s.apply({ type: 'message_edited', message: msg(2, 2, { body: 'edited', edited_at: 5, reactions: [{ emoji: '👍', account_id: 7 }] }) });
    expect(s.get(12).messages.get(102)?.body).toBe('edited');
    s.apply({ type: 'message_deleted', conversation_id: 12, message_id: 102, seq: 2, deleted_at: 9 });
    expect(s.get(12).messages.get(102)).toMatchObject({ body: '', deleted_at: 9, reactions: [] });
    s.apply({ type: 'message_edited', message: msg(2, 2, { body: 'edited' }) });
    expect(s.get(12).messages.get(102)?.body).toBe('');
    s.apply({ type: 'reaction_removed', conversation_id: 12, message_id: 101, account_id: 7, emoji: '👍' });
  });

  it('moves cursors forward only; read implies delivered', () => {
    const s = fresh();
    s.apply({ type: 'delivered', conversation_id: 12, account_id: 2, seq: 1 });
    expect(s.receipt(12, msg(1, 7))).toBe('delivered');
    s.apply({ type: 'read', conversation_id: 12, account_id: 2, seq: 1 });
    expect(s.receipt(12, msg(1, 7))).toBe('read');
    s.apply({ type: 'read', conversation_id: 12, account_id: 2, seq: 0 });
    expect(s.get(12).participants.get(2)).toMatchObject({ read_seq: 1, delivered_seq: 1 });
    expect(s.receipt(12, msg(3, 7))).toBe('sent');
  });

  it('counts unread messages from others after my read cursor', () => {
    const s = fresh();
    s.apply({ type: 'message_created', message: msg(3, 2) });
    s.apply({ type: 'message_created', message: msg(4, 2, { kind: 'note' }) });
    expect(s.unread(12)).toBe(2);
    s.apply({ type: 'read', conversation_id: 12, account_id: 7, seq: 3 });
    expect(s.unread(12)).toBe(0);
  });

  it('turns a pending send into a message on ack and drops it when message_created comes first', () => {
    const s = fresh();
    s.addPending({ client_msg_id: 'w-1', conversation_id: 12, body: 'hi', created_at: 50, error: null });
    expect(last(s.timeline(12))).toMatchObject({ kind: 'pending' });
    s.ack({ type: 'ack', ref: 's1', conversation_id: 12, message_id: 103, seq: 3, duplicate: false }, 'w-1');
    expect(last(s.timeline(12))).toMatchObject({ kind: 'message', message: { id: 103, body: 'hi', sender_id: 7 } });
    s.apply({ type: 'message_created', message: msg(3, 7, { body: 'hi', client_msg_id: 'w-1' }) });
    expect(s.timeline(12)).toHaveLength(3);

    s.addPending({ client_msg_id: 'w-2', conversation_id: 12, body: 'again', created_at: 51, error: null });
    s.apply({ type: 'message_created', message: msg(4, 7, { body: 'again', client_msg_id: 'w-2' }) });
    s.ack({ type: 'ack', ref: 's2', conversation_id: 12, message_id: 104, seq: 4, duplicate: false }, 'w-2');
    expect(s.timeline(12).filter((i) => i.kind === 'pending')).toHaveLength(0);
    expect(s.timeline(12)).toHaveLength(4);
  });

  it('tracks membership and conversation updates', () => {
    const s = fresh();
    s.apply({ type: 'participant_joined', participant: part(3, 'agent') });
    expect(s.others(12).map((p) => p.account_id)).toEqual([2, 3]);
    s.apply({ type: 'participant_left', conversation_id: 12, account_id: 2, left_at: 5 });
    expect(s.others(12).map((p) => p.account_id)).toEqual([3]);
    s.apply({ type: 'conversation_updated', conversation: { ...conv, status: 'resolved', last_seq: 1 } });
    expect(s.get(12).conversation).toMatchObject({ status: 'resolved', last_seq: 2 });
  });

  it('notifies subscribers on change', () => {
    const s = fresh();
    let n = 0;
    const off = s.subscribe(() => n++);
    s.apply({ type: 'message_created', message: msg(3, 2) });
    off();
    s.apply({ type: 'message_created', message: msg(4, 2) });
    expect(n).toBe(1);
  });
});
