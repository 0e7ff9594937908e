// Client-side routes under /app. The server answers index.html for every /app path that is
// not a file, so each of these URLs can be reloaded or bookmarked.

export const BASE = '/app';

export type SettingsSection = 'websites' | 'agents' | 'canned' | 'notifications' | 'profile' | 'security';
export const SETTINGS_SECTIONS: SettingsSection[] = ['websites', 'agents', 'canned', 'notifications', 'profile', 'security'];

export type Route =
  | { name: 'login' }
  | { name: 'inbox'; conversationId: number | null }
  | { name: 'visitors' }
  | { name: 'settings'; section: SettingsSection };

/** `/app/inbox/12` → `{name: 'inbox', conversationId: 12}`; anything unknown is the inbox. */
export function parseRoute(pathname: string): Route {
  let path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  path = path.replace(/\/+$/, '');
  const parts = path.split('/').filter(Boolean);
  switch (parts[0]) {
    case 'login':
      return { name: 'login' };
    case 'visitors':
      return { name: 'visitors' };
    case 'settings': {
      const section = SETTINGS_SECTIONS.find((s) => s === parts[1]) ?? 'notifications';
      return { name: 'settings', section };
    }
    case 'inbox': {
      const id = parts[1] !== undefined && /^\d{1,15}$/.test(parts[1]) ? Number(parts[1]) : null;
      return { name: 'inbox', conversationId: id };
    }
    default:
      return { name: 'inbox', conversationId: null };
  }
}

export function formatRoute(route: Route): string {
  switch (route.name) {
    case 'login':
      return `${BASE}/login`;
    case 'visitors':
      return `${BASE}/visitors`;
    case 'settings':
      return `${BASE}/settings/${route.section}`;
    case 'inbox':
      return route.conversationId === null ? `${BASE}/inbox` : `${BASE}/inbox/${route.conversationId}`;
  }
}

export function sameRoute(a: Route, b: Route): boolean {
  return formatRoute(a) === formatRoute(b);
}
