// Notification preferences: the defaults the server documents, and the small edits the UI
// makes (temporary mute, per-conversation mute). The stored object is AgentPreferences from
// natter_core::desk, saved whole with PUT /v1/me/preferences.
import type { AgentPreferences } from '../sdk';

export const DEFAULT_PREFS: AgentPreferences = {
  desktop: true,
  sounds: { new_conversation: true, new_message: true, assigned: true },
  volume: 70,
  muted_until: null,
  quiet_hours: null,
  muted_conversations: [],
};

export const MUTE_CHOICES = [
  { minutes: 30, label: '30 minutes' },
  { minutes: 60, label: '1 hour' },
  { minutes: 120, label: '2 hours' },
] as const;

/** Mute everything for `minutes` from `now`, or unmute with null. */
export function withTemporaryMute(prefs: AgentPreferences, now: number, minutes: number | null): AgentPreferences {
  return { ...prefs, muted_until: minutes === null ? null : now + minutes * 60_000 };
}

export function withConversationMuted(prefs: AgentPreferences, conversationId: number, muted: boolean): AgentPreferences {
  const others = prefs.muted_conversations.filter((id) => id !== conversationId);
  // The server keeps at most 1,000: drop the oldest.
  const list = muted ? [...others, conversationId].slice(-1000) : others;
  return { ...prefs, muted_conversations: list };
}

export function isConversationMuted(prefs: AgentPreferences, conversationId: number): boolean {
  return prefs.muted_conversations.includes(conversationId);
}

export function clampVolume(v: number): number {
  return Math.max(0, Math.min(100, Math.round(Number.isFinite(v) ? v : 0)));
}
