// Entry of the widget app (widget/app.<hash>.js), loaded by the loader into its iframe. It talks
// to the loader only by postMessage, to and from the parent window, with the explicit origin
// both documents share, and ignores every message whose source or origin is anything else.
import { render } from 'preact';
import { isEnvelope, wrap, type FromApp, type ToApp } from '../shared/bridge';
import { WidgetController } from './controller';
import { beep } from './sound';
import { browserStorage, WidgetStorage } from './storage';
import { css } from './styles';
import { App } from './ui';

const w = window;
const host = w.parent;
const origin = w.origin;

const post = (m: FromApp) => host.postMessage(wrap(m), origin);
let controller: WidgetController | null = null;

w.addEventListener('message', (e: MessageEvent) => {
  if (e.source !== host || e.origin !== origin || !isEnvelope(e.data)) return;
  const m = e.data as unknown as ToApp;
  if (m.type === 'init') {
    if (controller) return;
    const c = new WidgetController({
      storage: new WidgetStorage(browserStorage(w), m.key),
      post,
      beep: () => beep(w),
      visible: () => document.visibilityState !== 'hidden',
      log: (msg, detail) => w.console && w.console.warn('natter:', msg, detail ?? ''),
    });
    controller = c;
    const style = document.createElement('style');
    style.textContent = css;
    document.head.appendChild(style);
    const root = document.createElement('div');
    root.id = 'natter';
    document.body.appendChild(root);
    render(<App c={c} />, root);
    c.handle(m);
  } else if (controller) {
    controller.handle(m);
  }
});

w.addEventListener('online', () => controller?.reconnectNow());

post({ type: 'hello' });
