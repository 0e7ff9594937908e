// What the widget keeps in the host page's localStorage (the iframe shares its origin), per
// website key. The visitor token is written only once consent is given or a chat has started
// (chatting needs it: strictly necessary); the consent decision itself is always recorded.
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** localStorage, or a no-op store where it is unavailable (privacy modes, sandboxing). */
export function browserStorage(w: Window): KeyValueStore {
  try {
    const s = w.localStorage;
    const probe = '__natter_probe__';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return memoryStorage();
  }
}

export function memoryStorage(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => (data.has(k) ? (data.get(k) as string) : null),
    setItem: (k, v) => void data.set(k, String(v)),
    removeItem: (k) => void data.delete(k),
  };
}

export class WidgetStorage {
  constructor(
    private readonly store: KeyValueStore,
    private readonly websiteKey: string,
  ) {}

  private k(name: string): string {
    return `natter:${this.websiteKey}:${name}`;
  }

  private get(name: string): string | null {
    try {
      return this.store.getItem(this.k(name));
    } catch {
      return null;
    }
  }

  private set(name: string, value: string | null): void {
    try {
      if (value === null) this.store.removeItem(this.k(name));
      else this.store.setItem(this.k(name), value);
    } catch {
      /* quota or disabled storage: keep going without it */
    }
  }

  token(): string | null {
    return this.get('token');
  }
  setToken(token: string | null): void {
    this.set('token', token);
  }

  /** true / false when the visitor decided, null when not asked yet. */
  consent(): boolean | null {
    const v = this.get('consent');
    return v === '1' ? true : v === '0' ? false : null;
  }
  setConsent(granted: boolean): void {
    this.set('consent', granted ? '1' : '0');
  }

  muted(): boolean {
    return this.get('muted') === '1';
  }
  setMuted(muted: boolean | null): void {
    this.set('muted', muted === null ? null : muted ? '1' : '0');
  }
}
