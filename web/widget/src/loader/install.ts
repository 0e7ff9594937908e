// The loader behind /widget.js: tiny, no dependencies. It exposes `window.Natter`, replays the
// calls queued by the install snippet, creates the widget's iframe (about:srcdoc, so every
// request the app makes carries the host page's Origin, which the server checks against the
// website's allowed domains) and sizes it, and reports page views, visibility and exit intent.
import {
  FULLSCREEN_BELOW,
  PANEL,
  isEnvelope,
  wrap,
  type ApiMethod,
  type FromApp,
  type HostEvent,
  type PageView,
  type ToApp,
} from '../shared/bridge';

type Listener = (data: unknown) => void;

export interface NatterApi {
  (method: string, ...args: unknown[]): void;
  identify(user: Record<string, unknown>): void;
  track(event: string, properties?: Record<string, unknown>): void;
  open(): void;
  close(): void;
  toggle(): void;
  on(event: HostEvent, fn: Listener): void;
  off(event: HostEvent, fn: Listener): void;
  setLocale(locale: string): void;
  consent(granted: boolean): void;
  /** Set once the loader ran (a second copy of the script does nothing). */
  loaded: true;
  /** The snippet's queue (emptied once replayed). */
  q?: ArrayLike<unknown>[];
}

type Queued = { q?: ArrayLike<unknown>[]; loaded?: boolean };

const FORWARDED: ApiMethod[] = ['identify', 'track', 'open', 'close', 'toggle', 'setLocale', 'consent'];

/** The directory of the script's URL without the trailing slash: `https://h/x/widget.js` → `https://h/x`. */
export function baseOf(src: string): string {
  return src.replace(/[?#].*$/, '').replace(/\/[^/]*$/, '');
}

export interface Installed {
  api: NatterApi;
  frame: HTMLIFrameElement;
}

export function install(w: Window & { Natter?: unknown }, script: HTMLScriptElement | null, appPath: string): Installed | null {
  const d = w.document;
  const previous = w.Natter as Queued | undefined;
  if (previous && previous.loaded) return null;

  const el =
    script && script.src
      ? script
      : (d.querySelector('script[data-key][src*="widget.js"]') as HTMLScriptElement | null);
  const src = el ? el.src : '';
  const key = (el && el.getAttribute('data-key')) || (src.match(/[?&]key=([^&#]+)/) || [])[1];
  if (!src || !key) {
    console.warn('natter: widget.js needs a data-key attribute');
    return null;
  }
  const base = baseOf(src);
  const origin = w.location.origin;

  // --- the iframe --------------------------------------------------------------------------
  const frame = d.createElement('iframe');
  frame.title = 'Chat';
  frame.setAttribute('data-natter-widget', '');
  frame.setAttribute('allow', 'autoplay');
  frame.style.cssText =
    'position:fixed;bottom:0;right:0;border:0;margin:0;padding:0;z-index:2147483000;' +
    'background:transparent;color-scheme:normal;max-width:100%;max-height:100%;' +
    // Laid out (so the app can measure its launcher) but invisible and click-through until
    // the app reports its first layout.
    'width:320px;height:200px;visibility:hidden;pointer-events:none';
  frame.srcdoc =
    '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    '</head><body><script src="' +
    (base + '/' + appPath).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;') +
    '"></script></body></html>';

  let appReady = false;
  let outbox: ToApp[] = [];
  const listeners: { [k: string]: Listener[] } = {};
  let layout: Extract<FromApp, { type: 'layout' }> | null = null;

  const post = (m: ToApp) => {
    const target = frame.contentWindow;
    if (!appReady || !target) {
      outbox.push(m);
      return;
    }
    target.postMessage(wrap(m), origin);
  };

  const applyLayout = () => {
    if (!layout) return;
    const s = frame.style;
    const vw = w.innerWidth;
    const vh = w.innerHeight;
    const left = layout.position === 'bottom-left';
    s.visibility = 'visible';
    s.pointerEvents = 'auto';
    s.top = 'auto';
    s.left = s.right = 'auto';
    if (layout.open && vw < FULLSCREEN_BELOW) {
      s.top = s.left = s.right = s.bottom = '0';
      s.width = s.height = '100%';
    } else if (layout.open) {
      const m = PANEL.margin;
      s.bottom = m + 'px';
      s[left ? 'left' : 'right'] = m + 'px';
      s.width = Math.min(PANEL.width, vw - 2 * m) + 'px';
      s.height = Math.min(PANEL.height, vh - 2 * m) + 'px';
    } else {
      s.bottom = '0';
      s[left ? 'left' : 'right'] = '0';
      s.width = Math.min(layout.width, vw) + 'px';
      s.height = Math.min(layout.height, vh) + 'px';
    }
  };

  const emit = (name: string, data: unknown) => {
    for (const fn of (listeners[name] || []).slice()) {
      try {
        fn(data);
      } catch (e) {
        console.error(e);
      }
    }
  };

  w.addEventListener('message', (e: MessageEvent) => {
    if (e.source !== frame.contentWindow || e.origin !== origin || !isEnvelope(e.data)) return;
    const m = e.data as unknown as FromApp;
    if (m.type === 'hello') {
      appReady = true;
      post({
        type: 'init',
        base,
        key,
        page: currentPage(d.referrer),
        screen: { width: w.screen.width, height: w.screen.height },
        language: w.navigator.language || 'en',
        timeZone: timeZone(),
      });
      const queued = outbox;
      outbox = [];
      queued.forEach(post);
    } else if (m.type === 'layout') {
      layout = m;
      applyLayout();
    } else if (m.type === 'event') {
      emit(m.name, m.data);
    }
  });
  w.addEventListener('resize', applyLayout);

  // --- the API -------------------------------------------------------------------------------
  const call = (method: string, args: unknown[]) => {
    if (method === 'on' || method === 'off') {
      const [name, fn] = args as [string, Listener];
      if (typeof fn !== 'function') return;
      const list = (listeners[name] = listeners[name] || []);
      if (method === 'on') list.push(fn);
      else listeners[name] = list.filter((f) => f !== fn);
      return;
    }
    if (FORWARDED.indexOf(method as ApiMethod) < 0) {
      console.warn('natter: unknown method ' + method);
      return;
    }
    let clean: unknown[];
    try {
      // Only plain data crosses to the app (functions, DOM nodes … are dropped).
      clean = JSON.parse(JSON.stringify(args === undefined ? [] : args)) as unknown[];
    } catch {
      return;
    }
    post({ type: 'call', method: method as ApiMethod, args: clean });
  };

  const api = function (method: string) {
    call(method, [].slice.call(arguments, 1));
  } as unknown as NatterApi;
  for (const m of FORWARDED.concat(['on', 'off'] as never[])) {
    (api as unknown as { [k: string]: unknown })[m] = function () {
      call(m, [].slice.call(arguments));
    };
  }
  api.loaded = true;
  const queue = (previous && previous.q) || [];
  w.Natter = api;
  for (let i = 0; i < queue.length; i++) {
    const args = queue[i];
    if (args && args.length) call(String(args[0]), [].slice.call(args, 1));
  }

  // --- page views, time on page, exit intent ------------------------------------------------
  let lastUrl = w.location.href;
  let visibleMs = 0;
  let visibleSince: number | null = d.visibilityState === 'hidden' ? null : Date.now();
  let exitSent = false;
  const pageTime = () => visibleMs + (visibleSince === null ? 0 : Date.now() - visibleSince);

  function currentPage(referrer: string): PageView {
    return { url: w.location.href, title: d.title, referrer };
  }
  const navigated = () => {
    // Routers usually set the title right after pushState: read it once they are done.
    w.setTimeout(() => {
      const url = w.location.href;
      if (url === lastUrl) return;
      const page = currentPage(lastUrl);
      const duration = pageTime();
      lastUrl = url;
      visibleMs = 0;
      visibleSince = d.visibilityState === 'hidden' ? null : Date.now();
      exitSent = false;
      post({ type: 'page', page, duration_ms: duration });
    }, 0);
  };
  const history = w.history;
  const push = history.pushState;
  history.pushState = function (this: History) {
    // eslint-disable-next-line prefer-rest-params
    const result = push.apply(this, arguments as unknown as Parameters<History['pushState']>);
    navigated();
    return result;
  };
  w.addEventListener('popstate', navigated);
  d.addEventListener('visibilitychange', () => {
    const visible = d.visibilityState !== 'hidden';
    if (visible && visibleSince === null) visibleSince = Date.now();
    if (!visible && visibleSince !== null) {
      visibleMs += Date.now() - visibleSince;
      visibleSince = null;
    }
    post({ type: 'visibility', visible });
  });
  const finePointer = !w.matchMedia || w.matchMedia('(pointer: fine)').matches;
  d.addEventListener('mouseout', (e: MouseEvent) => {
    if (exitSent || !finePointer || e.relatedTarget || e.clientY > 0) return;
    exitSent = true;
    post({ type: 'exit_intent' });
  });

  const attach = () => d.body.appendChild(frame);
  if (d.body) attach();
  else d.addEventListener('DOMContentLoaded', attach);
  return { api, frame };
}

function timeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch {
    return '';
  }
}
