// Client-side conversation state, updated idempotently from REST snapshots and real-time
// events (docs/protocol.md §3 and §11): messages are upserted by id, cursors only move forward,
// reactions are a set. Re-applying an event, or applying one already in a snapshot, is a no-op.
import type { AckFrame, Conversation, ConversationDetail, EventPayload, Message, Participant } from './types';

/** A message the user sent that the server has not acknowledged yet. */
export interface PendingMessage {
  client_msg_id: string;
  conversation_id: number;
  body: string;
  created_at: number;
  /** Set when the send failed for good (the UI offers a retry). */
  error: string | null;
}

/** What a UI shows for one's own message. */
export type Receipt = 'pending' | 'failed' | 'sent' | 'delivered' | 'read';

export interface ConversationState {
  conversation: Conversation | null;
  participants: Map<number, Participant>;
  /** By message id. */
  messages: Map<number, Message>;
  /** By client_msg_id, in send order. */
  pending: Map<string, PendingMessage>;
}

export type TimelineItem = { kind: 'message'; message: Message } | { kind: 'pending'; pending: PendingMessage };

export class ConversationStore {
  /** The account this client acts as (`ready.account_id`). */
  me: number | null = null;
  private readonly convs = new Map<number, ConversationState>();
  private listeners = new Set<() => void>();
  private _version = 0;

  /** Increases with every change (cheap change detection for UIs). */
  get version(): number {
    return this._version;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this._version++;
    for (const l of [...this.listeners]) l();
  }

  get(conversationId: number): ConversationState {
    let c = this.convs.get(conversationId);
    if (!c) {
      c = { conversation: null, participants: new Map(), messages: new Map(), pending: new Map() };
      this.convs.set(conversationId, c);
    }
    return c;
  }

  has(conversationId: number): boolean {
    return this.convs.has(conversationId);
  }

  ids(): number[] {
    return [...this.convs.keys()];
  }

  /** Forgets everything (a different account, or a full reload). */
  clear(): void {
    this.convs.clear();
    this.changed();
  }

  // --- snapshots -----------------------------------------------------------------------------

  setConversation(conversation: Conversation): void {
    const c = this.get(conversation.id);
    c.conversation = mergeConversation(c.conversation, conversation);
    this.changed();
  }

  /** `GET /v1/conversations/{id}`: the conversation and its active participants. */
  setDetail(detail: ConversationDetail): void {
    const c = this.get(detail.conversation.id);
    c.conversation = mergeConversation(c.conversation, detail.conversation);
    // Names and photos ride along on the participant records (the widget shows the agent's).
    const people = new Map(detail.people.map((person) => [person.account_id, person]));
    for (const p of detail.participants) {
      const merged = mergeParticipant(c.participants.get(p.account_id), p);
      const person = people.get(p.account_id);
      c.participants.set(
        p.account_id,
        person === undefined ? merged : ({ ...merged, name: person.name, avatar_url: person.avatar_url ?? null } as Participant),
      );
    }
    this.changed();
  }

  /** A page of history (any order). */
  upsertMessages(conversationId: number, messages: Message[]): void {
    const c = this.get(conversationId);
    for (const m of messages) this.upsert(c, m);
    this.changed();
  }

  // --- local sends ---------------------------------------------------------------------------

  addPending(p: PendingMessage): void {
    this.get(p.conversation_id).pending.set(p.client_msg_id, p);
    this.changed();
  }

  failPending(conversationId: number, clientMsgId: string, error: string): void {
    const p = this.get(conversationId).pending.get(clientMsgId);
    if (!p) return;
    p.error = error;
    this.changed();
  }

  retryPending(conversationId: number, clientMsgId: string): PendingMessage | null {
    const p = this.get(conversationId).pending.get(clientMsgId);
    if (!p) return null;
    p.error = null;
    this.changed();
    return p;
  }

  /** The server committed a send: the pending entry becomes a message (upserted by id). */
  ack(ack: AckFrame, clientMsgId: string): void {
    const c = this.get(ack.conversation_id);
    const p = c.pending.get(clientMsgId);
    c.pending.delete(clientMsgId);
    if (!c.messages.has(ack.message_id) && p) {
      this.upsert(c, {
        id: ack.message_id,
        conversation_id: ack.conversation_id,
        seq: ack.seq,
        sender_id: this.me,
        kind: 'text',
        format: 'plain',
        body: p.body,
        client_msg_id: clientMsgId,
        created_at: p.created_at,
        edited_at: null,
        deleted_at: null,
        reactions: [],
      });
    }
    this.changed();
  }

  // --- events --------------------------------------------------------------------------------

  /** Applies one durable event; safe to apply twice. Returns true when it changed something. */
  apply(e: EventPayload): boolean {
    switch (e.type) {
      case 'message_created':
      case 'message_edited': {
        const c = this.get(e.message.conversation_id);
        this.upsert(c, e.message);
        break;
      }
      case 'message_deleted': {
        const c = this.get(e.conversation_id);
        const m = c.messages.get(e.message_id);
        if (m) c.messages.set(m.id, { ...m, body: '', deleted_at: m.deleted_at ?? e.deleted_at, reactions: [] });
        break;
      }
      case 'reaction_added':
      case 'reaction_removed': {
        const m = this.get(e.conversation_id).messages.get(e.message_id);
        if (!m) return false;
        const others = m.reactions.filter((r) => !(r.emoji === e.emoji && r.account_id === e.account_id));
        const reactions = e.type === 'reaction_added' ? [...others, { emoji: e.emoji, account_id: e.account_id }] : others;
        this.get(e.conversation_id).messages.set(m.id, { ...m, reactions });
        break;
      }
      case 'read':
      case 'delivered': {
        const c = this.get(e.conversation_id);
        const p = c.participants.get(e.account_id);
        if (!p) return false;
        const read_seq = e.type === 'read' ? Math.max(p.read_seq, e.seq) : p.read_seq;
        const delivered_seq = Math.max(p.delivered_seq, e.seq, read_seq);
        c.participants.set(p.account_id, { ...p, read_seq, delivered_seq });
        break;
      }
      case 'participant_joined': {
        const c = this.get(e.participant.conversation_id);
        const prev = c.participants.get(e.participant.account_id);
        // A rejoin resets the membership; otherwise keep the cursors that moved since.
        c.participants.set(
          e.participant.account_id,
          prev && prev.left_at === null ? mergeParticipant(prev, e.participant) : e.participant,
        );
        break;
      }
      case 'participant_left': {
        const c = this.get(e.conversation_id);
        const p = c.participants.get(e.account_id);
        if (p) c.participants.set(p.account_id, { ...p, left_at: e.left_at });
        break;
      }
      case 'conversation_updated': {
        const c = this.get(e.conversation.id);
        c.conversation = mergeConversation(c.conversation, e.conversation);
        break;
      }
      default:
        return false;
    }
    this.changed();
    return true;
  }

  private upsert(c: ConversationState, m: Message): void {
    const prev = c.messages.get(m.id);
    // A tombstone stays a tombstone even if an older copy of the message is applied later.
    const next = prev && prev.deleted_at !== null && m.deleted_at === null ? prev : m;
    c.messages.set(m.id, next);
    if (m.client_msg_id && m.sender_id !== null && m.sender_id === this.me) c.pending.delete(m.client_msg_id);
    if (c.conversation && m.seq > c.conversation.last_seq) {
      c.conversation = {
        ...c.conversation,
        last_seq: m.seq,
        last_activity_at: Math.max(c.conversation.last_activity_at, m.created_at),
      };
    }
  }

  // --- queries -------------------------------------------------------------------------------

  /** Messages by seq, then the pending ones in send order. */
  timeline(conversationId: number): TimelineItem[] {
    const c = this.convs.get(conversationId);
    if (!c) return [];
    const msgs = [...c.messages.values()].sort((a, b) => a.seq - b.seq);
    const items: TimelineItem[] = msgs.map((message) => ({ kind: 'message', message }));
    for (const pending of c.pending.values()) items.push({ kind: 'pending', pending });
    return items;
  }

  /** The lowest seq loaded (for paging backwards), or null when nothing is loaded. */
  oldestSeq(conversationId: number): number | null {
    const c = this.convs.get(conversationId);
    if (!c || c.messages.size === 0) return null;
    let min = Infinity;
    for (const m of c.messages.values()) min = Math.min(min, m.seq);
    return min;
  }

  newestSeq(conversationId: number): number {
    const c = this.convs.get(conversationId);
    let max = 0;
    if (c) for (const m of c.messages.values()) max = Math.max(max, m.seq);
    return max;
  }

  myParticipant(conversationId: number): Participant | null {
    if (this.me === null) return null;
    return this.convs.get(conversationId)?.participants.get(this.me) ?? null;
  }

  /** Active participants other than me. */
  others(conversationId: number): Participant[] {
    const c = this.convs.get(conversationId);
    if (!c) return [];
    return [...c.participants.values()].filter((p) => p.account_id !== this.me && p.left_at === null);
  }

  /** The receipt of one of my messages: read / delivered by someone else, or just sent. */
  receipt(conversationId: number, message: Message): Receipt {
    let read = 0;
    let delivered = 0;
    for (const p of this.others(conversationId)) {
      read = Math.max(read, p.read_seq);
      delivered = Math.max(delivered, p.delivered_seq, p.read_seq);
    }
    if (read >= message.seq) return 'read';
    if (delivered >= message.seq) return 'delivered';
    return 'sent';
  }

  /** Messages from others after my read cursor (notes and deleted messages excluded). */
  unread(conversationId: number): number {
    const c = this.convs.get(conversationId);
    if (!c) return 0;
    const readSeq = this.myParticipant(conversationId)?.read_seq ?? 0;
    let n = 0;
    for (const m of c.messages.values()) {
      if (m.seq > readSeq && m.sender_id !== this.me && m.kind !== 'note' && m.deleted_at === null) n++;
    }
    return n;
  }
}

function mergeConversation(prev: Conversation | null, next: Conversation): Conversation {
  if (!prev) return next;
  return {
    ...next,
    last_seq: Math.max(prev.last_seq, next.last_seq),
    last_activity_at: Math.max(prev.last_activity_at, next.last_activity_at),
  };
}

function mergeParticipant(prev: Participant | undefined, next: Participant): Participant {
  if (!prev) return next;
  return {
    ...prev,
    ...next,
    read_seq: Math.max(prev.read_seq, next.read_seq),
    delivered_seq: Math.max(prev.delivered_seq, next.delivered_seq, prev.read_seq, next.read_seq),
  };
}
