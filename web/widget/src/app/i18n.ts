// UI strings. English is complete and the fallback; a locale table may leave keys out.
export const en = {
  open_chat: 'Open chat',
  close_chat: 'Close chat',
  minimize: 'Close',
  chat_with: 'Chat with {name}',
  unread: '{n} unread messages',
  online: 'We’re online',
  queue_position: 'You’re number {n} in line',
  queue_wait: 'about {m} min',
  queue_no_agent: 'an agent will be with you when one is available',
  away: 'We’re away',
  back_at: 'Back {time}',
  welcome_default: 'Hi! How can we help?',
  messages: 'Messages',
  load_older: 'Load earlier messages',
  loading: 'Loading…',
  composer_placeholder: 'Write a message…',
  composer_label: 'Message',
  send: 'Send',
  emoji: 'Insert emoji',
  emoji_picker: 'Emoji',
  mute: 'Mute sounds',
  unmute: 'Unmute sounds',
  you: 'You',
  agent: 'Agent',
  status_pending: 'Sending…',
  status_failed: 'Not sent.',
  retry: 'Retry',
  status_sent: 'Sent',
  status_delivered: 'Delivered',
  status_read: 'Read',
  typing: '{name} is typing…',
  someone: 'Someone',
  prechat_intro: 'Before we start, tell us a little about you.',
  start_chat: 'Start chat',
  required: 'Required',
  optional: '(optional)',
  err_required: 'Please fill this in.',
  err_email: 'Please enter a valid email address.',
  err_phone: 'Please enter a valid phone number.',
  offline_title: 'Leave us a message',
  offline_default: 'We’re not around right now. Leave a message and we’ll get back to you by email.',
  offline_email: 'Email',
  offline_message: 'Message',
  offline_send: 'Send message',
  offline_sent: 'Thanks! We got your message and will reply by email.',
  sending: 'Sending…',
  reconnecting: 'Reconnecting…',
  offline_conn: 'You’re offline. Messages will be sent when the connection is back.',
  error_generic: 'Something went wrong. Please try again.',
  greeting_dismiss: 'Dismiss',
  new_message: 'New message from {name}',
};

export type StringKey = keyof typeof en;
export type LocaleTable = Partial<Record<StringKey, string>>;

const tables: Record<string, LocaleTable> = { en };

/** Registers (or extends) a locale table, e.g. `registerLocale('de', {...})`. */
export function registerLocale(locale: string, table: LocaleTable): void {
  tables[locale.toLowerCase()] = { ...tables[locale.toLowerCase()], ...table };
}

/** The best table for `locale`: exact (`pt-br`), then language (`pt`), then English. */
export function resolveLocale(locale: string | null | undefined): string {
  const l = (locale || 'en').toLowerCase().replace('_', '-');
  if (tables[l]) return l;
  const lang = l.split('-')[0] ?? 'en';
  return tables[lang] ? lang : 'en';
}

export function translate(locale: string, key: StringKey, vars?: Record<string, string | number>): string {
  const s = tables[resolveLocale(locale)]?.[key] ?? en[key];
  return vars ? s.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m)) : s;
}
