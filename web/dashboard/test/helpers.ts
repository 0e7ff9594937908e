import type { InboxItem } from '../src/sdk';

/** An inbox row for conversation `id` with its last activity at `activity`. */
export function item(id: number, activity: number, over: Partial<InboxItem> = {}): InboxItem {
  return {
    conversation: {
      id,
      workspace_id: 1,
      kind: 'support',
      status: 'open',
      subject: null,
      listing: null,
      website_id: 1,
      last_seq: 1,
      last_activity_at: activity,
      created_at: 0,
      updated_at: 0,
    },
    labels: [],
    contact: { id: 100 + id, name: `C${id}`, email: null },
    assignees: [],
    unread: 0,
    last_message: null,
    ...over,
  };
}
