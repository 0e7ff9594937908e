import { describe, expect, it } from 'vitest';
import { formatRoute, parseRoute } from '../src/lib/route';

describe('routes', () => {
  it('round-trips every screen', () => {
    for (const path of ['/app/login', '/app/inbox', '/app/inbox/42', '/app/visitors', '/app/settings/canned']) {
      expect(formatRoute(parseRoute(path))).toBe(path);
    }
  });
  it('falls back to the inbox', () => {
    expect(parseRoute('/app')).toEqual({ name: 'inbox', conversationId: null });
    expect(parseRoute('/app/nonsense')).toEqual({ name: 'inbox', conversationId: null });
    expect(parseRoute('/app/inbox/abc')).toEqual({ name: 'inbox', conversationId: null });
    expect(parseRoute('/app/settings/bogus')).toEqual({ name: 'settings', section: 'notifications' });
  });
});
