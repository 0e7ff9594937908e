// When the workspace gets the agent's attention, and how: pure decisions over the agent's
// preferences, the time and whether the tab is visible. The browser side (Notification API,
// Web Audio, favicon, document.title) only executes what these functions say.
import type { AgentPreferences, InboxCounts, QuietHours } from '../sdk';
import { isConversationMuted } from './prefs';

/** The three sounds the agent can switch on and off. */
export type NotifyKind = 'new_conversation' | 'new_message' | 'assigned';

export type Permission = 'granted' | 'denied' | 'default' | 'unsupported';

export interface NotifyInput {
  kind: NotifyKind;
  conversationId: number;
  now: number;
  prefs: AgentPreferences;
  /** The tab is visible (document.visibilityState). */
  visible: boolean;
  /** The conversation open on screen, if any. */
  openConversationId: number | null;
  permission: Permission;
}

export interface NotifyDecision {
  /** Show a desktop notification. */
  desktop: boolean;
  /** Play the kind's sound, at `volume` (0..1). */
  sound: boolean;
  volume: number;
  /** Count it in the hidden tab's "(n) New messages" title. */
  unseen: boolean;
}

const SILENT: NotifyDecision = { desktop: false, sound: false, volume: 0, unseen: false };

/** Minutes after midnight of `HH:MM`, or null. */
function minutes(hhmm: string): number | null {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 24 || min > 59 || (h === 24 && min > 0)) return null;
  return h * 60 + min;
}

/** The wall-clock minutes after midnight at `now` in `timeZone` (local zone when invalid). */
export function localMinutes(now: number, timeZone: string): number {
  try {
    const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(
      new Date(now),
    );
    const h = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
    const m = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
    return (h % 24) * 60 + m;
  } catch {
    const d = new Date(now);
    return d.getHours() * 60 + d.getMinutes();
  }
}

/** Inside the do-not-disturb hours? `start` after `end` spans midnight; equal means never. */
export function inQuietHours(now: number, quiet: QuietHours | null): boolean {
  if (!quiet) return false;
  const start = minutes(quiet.start);
  const end = minutes(quiet.end);
  if (start === null || end === null || start === end) return false;
  const t = localMinutes(now, quiet.time_zone);
  return start < end ? t >= start && t < end : t >= start || t < end;
}

/** Temporarily muted, or in quiet hours: no sound, no desktop notification. */
export function mutedNow(prefs: AgentPreferences, now: number): boolean {
  return (prefs.muted_until !== null && prefs.muted_until > now) || inQuietHours(now, prefs.quiet_hours);
}

/**
 * Whether and how an event gets the agent's attention:
 * - the open conversation in a visible tab needs nothing (the agent is looking at it);
 * - a hidden tab counts the event for the blinking title, whatever the mutes;
 * - a temporary mute, quiet hours, or a muted conversation silence sound and desktop;
 * - sound follows the per-kind switch and the volume (0 is off);
 * - desktop notifications only while the tab is hidden, when wanted and permitted.
 */
export function decide(input: NotifyInput): NotifyDecision {
  const { prefs, visible } = input;
  if (visible && input.openConversationId === input.conversationId && input.kind === 'new_message') return SILENT;
  const unseen = !visible;
  if (mutedNow(prefs, input.now) || isConversationMuted(prefs, input.conversationId)) {
    return { ...SILENT, unseen };
  }
  const volume = Math.max(0, Math.min(100, prefs.volume)) / 100;
  const sound = prefs.sounds[input.kind] && volume > 0;
  const desktop = !visible && prefs.desktop && input.permission === 'granted';
  return { desktop, sound, volume: sound ? volume : 0, unseen };
}

/**
 * The favicon badge: conversations waiting for the agent — their own with unread messages,
 * plus the unassigned ones nobody has picked up.
 */
export function badgeCount(counts: InboxCounts | null): number {
  if (!counts) return 0;
  return Math.max(0, counts.unread_mine) + Math.max(0, counts.unassigned);
}

/** What the favicon badge shows: nothing, `1`…`99`, or `99+`. */
export function badgeText(n: number): string {
  if (n <= 0) return '';
  return n > 99 ? '99+' : String(n);
}

export interface TitleInput {
  /** The screen, e.g. `Inbox`. */
  screen: string;
  badge: number;
  /** Attention-worthy events since the tab was hidden. */
  unseen: number;
  hidden: boolean;
  /** The blink phase (alternates every second while hidden with unseen events). */
  blinkOn: boolean;
  /** Muted: the title does not blink. */
  muted: boolean;
}

export const APP_NAME = 'natter';

/** `(3) New messages – natter` blinking with the plain title while hidden; else `(n) Inbox – natter`. */
export function tabTitle(t: TitleInput): string {
  const plain = `${t.badge > 0 ? `(${badgeText(t.badge)}) ` : ''}${t.screen} – ${APP_NAME}`;
  if (t.hidden && t.unseen > 0) {
    const alert = `(${t.unseen}) New messages – ${APP_NAME}`;
    if (t.muted) return alert;
    return t.blinkOn ? alert : plain;
  }
  return plain;
}

/** A short preview for a notification body. */
export function preview(text: string, max = 120): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}
