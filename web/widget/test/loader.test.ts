// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { baseOf, install, type Installed } from '../src/loader/install';
import { BRIDGE_TAG, type FromApp } from '../src/shared/bridge';
import { renderInstallSnippet } from '../src/snippet';

type W = Window & { Natter?: unknown };
const win = window as W;

function addScript(src: string, key: string | null = 'wk_test'): HTMLScriptElement {
  const s = document.createElement('script');
  s.src = src;
  if (key) s.setAttribute('data-key', key);
  return s;
}

/** Simulates a message from the app in the iframe. */
function fromApp(inst: Installed, msg: FromApp, over: { origin?: string; source?: unknown } = {}): void {
  const ev = new MessageEvent('message', {
    data: { ...msg, tag: BRIDGE_TAG },
    origin: over.origin ?? location.origin,
    source: (over.source ?? inst.frame.contentWindow) as MessageEventSource,
  });
  window.dispatchEvent(ev);
}

let inst: Installed | null = null;

beforeEach(() => {
  delete win.Natter;
  document.body.innerHTML = '';
  history.replaceState(null, '', '/products');
  document.title = 'Products';
});

afterEach(() => {
  inst?.frame.remove();
  inst = null;
});

function setup(): { inst: Installed; sent: { msg: Record<string, unknown>; origin: string }[] } {
  const i = install(win, addScript('https://natter.test/widget.js'), 'widget/app.ABC123.js');
  if (!i) throw new Error('not installed');
  inst = i;
  const sent: { msg: Record<string, unknown>; origin: string }[] = [];
  const cw = i.frame.contentWindow as Window;
  vi.spyOn(cw, 'postMessage').mockImplementation(((msg: unknown, origin: unknown) => {
    sent.push({ msg: msg as Record<string, unknown>, origin: origin as string });
  }) as typeof cw.postMessage);
  return { inst: i, sent };
}

describe('loader', () => {
  it('derives the base URL from its own script src', () => {
    expect(baseOf('https://natter.test/widget.js')).toBe('https://natter.test');
    expect(baseOf('https://chat.acme.com/natter/widget.js?v=2#x')).toBe('https://chat.acme.com/natter');
  });

  it('creates the iframe as srcdoc loading the hashed app from the natter host', () => {
    const { inst } = setup();
    expect(inst.frame.parentNode).toBe(document.body);
    expect(inst.frame.srcdoc).toContain('<script src="https://natter.test/widget/app.ABC123.js"></script>');
    expect(inst.frame.getAttribute('src')).toBeNull();
    expect(inst.frame.style.visibility).toBe('hidden');
    expect(inst.frame.style.pointerEvents).toBe('none');
  });

  it('does nothing without a website key, and only once per page', () => {
    expect(install(win, addScript('https://natter.test/widget.js', null), 'a.js')).toBeNull();
    setup();
    expect(install(win, addScript('https://natter.test/widget.js'), 'a.js')).toBeNull();
  });

  it('replays the snippet queue in order and keeps accepting the queue form', () => {
    win.Natter = Object.assign(function () {}, {
      q: [
        ['identify', { id: 'u1', email: 'a@b.c', fn: () => 1 }],
        ['open'],
      ],
    });
    const { inst, sent } = setup();
    const api = win.Natter as ((...a: unknown[]) => void) & { track: (e: string, p?: object) => void; loaded: boolean };
    expect(api.loaded).toBe(true);
    api('setLocale', 'de');
    api.track('signup', { plan: 'pro' });
    expect(sent).toEqual([]); // nothing before the app says hello
    fromApp(inst, { type: 'hello' });
    const types = sent.map((s) => [s.msg.type, s.msg.method]);
    expect(types).toEqual([
      ['init', undefined],
      ['call', 'identify'],
      ['call', 'open'],
      ['call', 'setLocale'],
      ['call', 'track'],
    ]);
    expect(sent.every((s) => s.origin === location.origin && s.origin !== '*')).toBe(true);
    expect(sent[0]?.msg).toMatchObject({
      base: 'https://natter.test',
      key: 'wk_test',
      page: { url: 'https://shop.test/products', title: 'Products' },
    });
    // Functions never cross to the app.
    expect(sent[1]?.msg.args).toEqual([{ id: 'u1', email: 'a@b.c' }]);
  });

  it('ignores messages from other windows or origins', () => {
    const { inst, sent } = setup();
    fromApp(inst, { type: 'hello' }, { source: window });
    fromApp(inst, { type: 'hello' }, { origin: 'https://evil.test' });
    expect(sent).toEqual([]);
  });

  it('sizes and positions the iframe from the app layout', () => {
    const { inst } = setup();
    const s = inst.frame.style;
    fromApp(inst, { type: 'layout', open: false, position: 'bottom-left', width: 200, height: 90 });
    expect([s.visibility, s.width, s.height, s.left, s.right, s.bottom]).toEqual(['visible', '200px', '90px', '0px', 'auto', '0px']);
    fromApp(inst, { type: 'layout', open: true, position: 'bottom-right', width: 200, height: 90 });
    expect([s.width, s.height, s.right, s.bottom]).toEqual(['380px', '600px', '16px', '16px']);
  });

  it('goes full screen when open on a narrow viewport', () => {
    const { inst } = setup();
    const prevW = window.innerWidth;
    Object.defineProperty(window, 'innerWidth', { value: 360, configurable: true });
    try {
      fromApp(inst, { type: 'layout', open: true, position: 'bottom-right', width: 96, height: 96 });
      const s = inst.frame.style;
      expect([s.width, s.height, s.top, s.left]).toEqual(['100%', '100%', '0px', '0px']);
    } finally {
      Object.defineProperty(window, 'innerWidth', { value: prevW, configurable: true });
    }
  });

  it('calls on() listeners for app events', () => {
    const { inst } = setup();
    const api = win.Natter as { on: (e: string, f: (d: unknown) => void) => void; off: (e: string, f: (d: unknown) => void) => void };
    const got: unknown[] = [];
    const fn = (d: unknown) => got.push(d);
    api.on('unread', fn);
    fromApp(inst, { type: 'event', name: 'unread', data: 3 });
    api.off('unread', fn);
    fromApp(inst, { type: 'event', name: 'unread', data: 4 });
    expect(got).toEqual([3]);
  });

  it('reports SPA navigations (pushState, popstate) with the previous page as referrer', async () => {
    const { inst, sent } = setup();
    fromApp(inst, { type: 'hello' });
    history.pushState({}, '', '/pricing');
    document.title = 'Pricing';
    await new Promise((r) => setTimeout(r, 5));
    history.pushState({}, '', '/pricing'); // same URL: not a new page
    await new Promise((r) => setTimeout(r, 5));
    const pages = sent.filter((s) => s.msg.type === 'page').map((s) => s.msg);
    expect(pages).toHaveLength(1);
    expect(pages[0]).toMatchObject({
      page: { url: 'https://shop.test/pricing', title: 'Pricing', referrer: 'https://shop.test/products' },
    });
    expect(typeof pages[0]?.duration_ms).toBe('number');
  });

  it('reports exit intent once when the mouse leaves through the top', () => {
    const { inst, sent } = setup();
    fromApp(inst, { type: 'hello' });
    const leave = (y: number) => document.dispatchEvent(new MouseEvent('mouseout', { clientY: y, relatedTarget: null, bubbles: true }));
    leave(200);
    leave(0);
    leave(-5);
    expect(sent.filter((s) => s.msg.type === 'exit_intent')).toHaveLength(1);
  });
});

describe('install snippet', () => {
  it('renders the async snippet with the host and key', () => {
    const html = renderInstallSnippet({ host: 'https://chat.acme.com/', websiteKey: 'wk_abc' });
    expect(html).toBe(
      `<script>(function(w,d,k){w.Natter=w.Natter||function(){(w.Natter.q=w.Natter.q||[]).push(arguments)};var s=d.createElement('script');s.async=true;s.src="https://chat.acme.com/widget.js";s.setAttribute('data-key',k);d.head.appendChild(s)})(window,document,"wk_abc");</script>`,
    );
  });

  it('cannot be broken out of by odd values', () => {
    const html = renderInstallSnippet({ host: 'https://x.test', websiteKey: 'wk_</script><b>"' });
    expect(html.match(/<\/script>/g)).toHaveLength(1);
  });

  it('queues calls before the loader arrives', () => {
    const html = renderInstallSnippet({ host: 'https://natter.test', websiteKey: 'wk_q' });
    const code = html.replace(/^<script>/, '').replace(/<\/script>$/, '');
    new Function(code)();
    const n = win.Natter as ((...a: unknown[]) => void) & { q: IArguments[] };
    n('identify', { id: 1 });
    expect(n.q).toHaveLength(1);
    const added = document.head.querySelector('script[data-key="wk_q"]') as HTMLScriptElement;
    expect(added.async).toBe(true);
    expect(added.src).toBe('https://natter.test/widget.js');
    added.remove();
  });
});
