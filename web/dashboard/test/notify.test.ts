import { describe, expect, it } from 'vitest';
import { badgeCount, badgeText, decide, inQuietHours, tabTitle, type NotifyInput } from '../src/lib/notify';
import { DEFAULT_PREFS, withConversationMuted, withTemporaryMute } from '../src/lib/prefs';

// 2025-01-15 12:00 UTC (a Wednesday).
const NOON = Date.UTC(2025, 0, 15, 12, 0);

const input = (over: Partial<NotifyInput> = {}): NotifyInput => ({
  kind: 'new_message',
  conversationId: 7,
  now: NOON,
  prefs: DEFAULT_PREFS,
  visible: false,
  openConversationId: null,
  permission: 'granted',
  ...over,
});

describe('decide', () => {
  it('a hidden tab gets a desktop notification, a sound at the volume, and an unseen count', () => {
    expect(decide(input())).toEqual({ desktop: true, sound: true, volume: 0.7, unseen: true });
  });

  it('the conversation being read in a visible tab needs nothing', () => {
    expect(decide(input({ visible: true, openConversationId: 7 }))).toEqual({ desktop: false, sound: false, volume: 0, unseen: false });
  });

  it('a visible tab plays the sound but shows no desktop notification', () => {
    expect(decide(input({ visible: true, openConversationId: 3 }))).toMatchObject({ desktop: false, sound: true, unseen: false });
  });

  it('no desktop notification without permission or when switched off', () => {
    expect(decide(input({ permission: 'default' })).desktop).toBe(false);
    expect(decide(input({ permission: 'denied' })).desktop).toBe(false);
    expect(decide(input({ prefs: { ...DEFAULT_PREFS, desktop: false } })).desktop).toBe(false);
  });

  it('sounds follow the per-event switch and the volume', () => {
    const prefs = { ...DEFAULT_PREFS, sounds: { ...DEFAULT_PREFS.sounds, new_message: false } };
    expect(decide(input({ prefs })).sound).toBe(false);
    expect(decide(input({ prefs, kind: 'assigned' })).sound).toBe(true);
    expect(decide(input({ prefs: { ...DEFAULT_PREFS, volume: 0 } })).sound).toBe(false);
  });

  it('a temporary mute silences everything until it ends, but the hidden tab still counts', () => {
    const prefs = withTemporaryMute(DEFAULT_PREFS, NOON, 30);
    expect(decide(input({ prefs }))).toEqual({ desktop: false, sound: false, volume: 0, unseen: true });
    expect(decide(input({ prefs, now: NOON + 31 * 60_000 })).sound).toBe(true);
  });

  it('a muted conversation is silent; others are not', () => {
    const prefs = withConversationMuted(DEFAULT_PREFS, 7, true);
    expect(decide(input({ prefs })).sound).toBe(false);
    expect(decide(input({ prefs, conversationId: 8 })).sound).toBe(true);
    expect(withConversationMuted(prefs, 7, false).muted_conversations).toEqual([]);
  });

  it('quiet hours silence notifications inside the window only', () => {
    const prefs = { ...DEFAULT_PREFS, quiet_hours: { start: '11:00', end: '13:00', time_zone: 'UTC' } };
    expect(decide(input({ prefs })).desktop).toBe(false);
    expect(decide(input({ prefs, now: NOON + 2 * 3_600_000 })).desktop).toBe(true);
  });
});

describe('inQuietHours', () => {
  it('handles windows across midnight and time zones', () => {
    const night = { start: '22:00', end: '07:00', time_zone: 'UTC' };
    expect(inQuietHours(Date.UTC(2025, 0, 15, 23, 30), night)).toBe(true);
    expect(inQuietHours(Date.UTC(2025, 0, 15, 6, 59), night)).toBe(true);
    expect(inQuietHours(Date.UTC(2025, 0, 15, 7, 0), night)).toBe(false);
    // 12:00 UTC is 21:00 in Tokyo.
    expect(inQuietHours(NOON, { start: '20:00', end: '22:00', time_zone: 'Asia/Tokyo' })).toBe(true);
    expect(inQuietHours(NOON, { start: '09:00', end: '09:00', time_zone: 'UTC' })).toBe(false);
    expect(inQuietHours(NOON, null)).toBe(false);
  });
});

describe('badge and title', () => {
  it('counts my unread conversations and the unassigned ones', () => {
    expect(badgeCount(null)).toBe(0);
    expect(badgeCount({ all: 9, mine: 4, unassigned: 2, unread_mine: 1, by_website: [], by_label: [] })).toBe(3);
    expect(badgeText(0)).toBe('');
    expect(badgeText(7)).toBe('7');
    expect(badgeText(250)).toBe('99+');
  });

  it('blinks "(n) New messages – natter" while hidden with unseen events', () => {
    const base = { screen: 'Inbox', badge: 2, unseen: 3, hidden: true, muted: false };
    expect(tabTitle({ ...base, blinkOn: true })).toBe('(3) New messages – natter');
    expect(tabTitle({ ...base, blinkOn: false })).toBe('(2) Inbox – natter');
    expect(tabTitle({ ...base, blinkOn: false, muted: true })).toBe('(3) New messages – natter');
    expect(tabTitle({ ...base, hidden: false, blinkOn: true })).toBe('(2) Inbox – natter');
    expect(tabTitle({ ...base, badge: 0, unseen: 0, blinkOn: true })).toBe('Inbox – natter');
  });
});
