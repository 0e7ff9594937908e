// Entry of the agent workspace (served at /app). Wires the browser to the Desk controller:
// history, visibility, online/offline, Notification API, Web Audio, favicon and title.
import './styles.css';
import { render } from 'preact';
import { Desk, type DeskEnv } from './desk';
import { initialsAvatar, setFaviconBadge } from './lib/favicon';
import type { Permission } from './lib/notify';
import { beep } from './lib/sound';
import { App } from './ui/App';

const permission = (): Permission => (typeof Notification === 'undefined' ? 'unsupported' : Notification.permission);

const env: DeskEnv = {
  now: () => Date.now(),
  visible: () => document.visibilityState === 'visible',
  permission,
  requestPermission: async () => {
    if (typeof Notification === 'undefined') return 'unsupported';
    try {
      return await Notification.requestPermission();
    } catch {
      return permission();
    }
  },
  notify: ({ title, body, tag, onClick }) => {
    if (permission() !== 'granted') return;
    try {
      const who = title.replace(/^(New conversation: |Note from )/, '');
      const n = new Notification(title, { body, tag, icon: initialsAvatar(who) });
      n.onclick = () => {
        window.focus();
        onClick();
        n.close();
      };
    } catch {
      /* e.g. mobile browsers that only allow service-worker notifications */
    }
  },
  beep,
  setBadge: setFaviconBadge,
  setTitle: (t) => {
    if (document.title !== t) document.title = t;
  },
  navigate: (path, replace) => {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
  },
  pathname: () => location.pathname,
};

const desk = new Desk({
  baseUrl: location.origin,
  env,
  log: (m, d) => console.debug('natter:', m, d ?? ''),
});

const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('div'));
render(<App desk={desk} />, root);

window.addEventListener('popstate', () => desk.onLocation(location.pathname));
document.addEventListener('visibilitychange', () => desk.setVisible(document.visibilityState === 'visible'));
window.addEventListener('online', () => desk.reconnectNow());
void desk.boot();
