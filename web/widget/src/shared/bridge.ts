// Messages between the loader (host page) and the widget app (its iframe). They travel only
// through postMessage with an explicit target origin (the host page's own origin: the iframe is
// an about:srcdoc document of the same origin), and each side checks `event.source` and
// `event.origin` before trusting one.

/** Marks our messages among everything else a page may post. */
export const BRIDGE_TAG = 'natter-widget/1';

export interface PageView {
  url: string;
  title: string;
  referrer: string;
}

/** Host-page API methods forwarded to the app as they are. */
export type ApiMethod = 'identify' | 'track' | 'open' | 'close' | 'toggle' | 'setLocale' | 'consent';

export type HostEvent = 'message' | 'open' | 'close' | 'unread';

/** Loader → app. */
export type ToApp =
  | {
      type: 'init';
      base: string;
      key: string;
      page: PageView;
      screen: { width: number; height: number };
      language: string;
      timeZone: string;
    }
  | { type: 'call'; method: ApiMethod; args: unknown[] }
  /** An SPA navigation (or the first page); `duration_ms` is the time spent visible on the previous page. */
  | { type: 'page'; page: PageView; duration_ms: number }
  | { type: 'visibility'; visible: boolean }
  | { type: 'exit_intent' };

/** App → loader. */
export type FromApp =
  | { type: 'hello' }
  | {
      type: 'layout';
      open: boolean;
      position: 'bottom-right' | 'bottom-left';
      /** Size the closed widget needs (launcher, greeting bubble), CSS px. */
      width: number;
      height: number;
    }
  | { type: 'event'; name: HostEvent; data: unknown };

export type Envelope<T> = T & { tag: typeof BRIDGE_TAG };

export function wrap<T extends object>(msg: T): Envelope<T> {
  return { ...msg, tag: BRIDGE_TAG };
}

export function isEnvelope(data: unknown): data is Envelope<{ type: string }> {
  return !!data && typeof data === 'object' && (data as { tag?: unknown }).tag === BRIDGE_TAG && typeof (data as { type?: unknown }).type === 'string';
}

/** Panel size in CSS px on wide screens; below FULLSCREEN_BELOW px the open panel fills the viewport. */
export const PANEL = { width: 380, height: 600, margin: 16 } as const;
export const FULLSCREEN_BELOW = 480;
