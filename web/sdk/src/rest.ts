import { errorFromResponse, NatterError } from './errors';
import type {
  ConversationDetail,
  ConversationList,
  CreateConversationRequest,
  CursorPosition,
  CursorRequest,
  HistoryParams,
  ListQuery,
  Message,
  PostMessageRequest,
  PostedMessage,
} from './types';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** `given`, or the environment's `fetch` (bound, as browsers require), or undefined. */
export function resolveFetch(given?: FetchLike): FetchLike | undefined {
  return given ?? (typeof fetch === 'function' ? fetch.bind(globalThis) : undefined);
}

export interface RestOptions {
  /** The natter origin (and path prefix, if any), e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** The bearer token, or a function returning the current one (tokens can be replaced). */
  token?: string | null | (() => string | null | undefined);
  /** Injected for tests; default: the global `fetch`. */
  fetch?: FetchLike;
  /**
   * Whether the browser sends cookies. Default `omit`: clients authenticate with bearer tokens
   * only. The agent workspace, served on natter's own origin, signs in with the session cookie
   * and passes `same-origin`.
   */
  credentials?: RequestCredentials;
  /**
   * Extra headers for every request, or a function returning the current ones (e.g. the
   * session's `X-CSRF-Token`, which cookie-authenticated writes must carry).
   */
  headers?: Record<string, string> | (() => Record<string, string> | null | undefined);
}

export interface RequestOptions {
  /** Send no `Authorization` header even when a token is set. */
  anonymous?: boolean;
  /** Override the token for this request. */
  token?: string;
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
}

/**
 * A small JSON client for natter's HTTP API: bearer auth, JSON bodies, and every failure as a
 * NatterError with the server's stable code (network failures: `network_error`, status 0).
 */
export class RestClient {
  readonly baseUrl: string;
  private readonly tokenSource: RestOptions['token'];
  private readonly fetchImpl: FetchLike;
  private readonly credentials: RequestCredentials;
  private readonly extraHeaders: RestOptions['headers'];

  constructor(opts: RestOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.tokenSource = opts.token;
    this.credentials = opts.credentials ?? 'omit';
    this.extraHeaders = opts.headers;
    const f = resolveFetch(opts.fetch);
    if (!f) throw new Error('RestClient: no fetch implementation');
    this.fetchImpl = f;
  }

  /** The token requests are sent with now. */
  token(): string | null {
    const t = typeof this.tokenSource === 'function' ? this.tokenSource() : this.tokenSource;
    return t || null;
  }

  url(path: string, query?: RequestOptions['query']): string {
    let url = this.baseUrl + path;
    if (query) {
      const parts: string[] = [];
      for (const [k, v] of Object.entries(query)) {
        if (v === undefined || v === null) continue;
        parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
      }
      if (parts.length) url += (url.includes('?') ? '&' : '?') + parts.join('&');
    }
    return url;
  }

  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const extra = typeof this.extraHeaders === 'function' ? this.extraHeaders() : this.extraHeaders;
    const headers: Record<string, string> = { ...(extra ?? {}), Accept: 'application/json' };
    const token = opts.anonymous ? null : opts.token ?? this.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    const init: RequestInit = { method, headers, credentials: this.credentials, signal: opts.signal };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(this.url(path, opts.query), init);
    } catch (e) {
      throw new NatterError('network_error', e instanceof Error ? e.message : 'network error');
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        if (res.ok) throw new NatterError('internal', 'response is not JSON', res.status);
      }
    }
    if (!res.ok) throw errorFromResponse(res.status, parsed);
    return parsed as T;
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, undefined, opts);
  }
  post<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, body ?? {}, opts);
  }
  put<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, body ?? {}, opts);
  }
  patch<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PATCH', path, body ?? {}, opts);
  }
  delete<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, undefined, opts);
  }

  // --- core API --------------------------------------------------------------------------

  listConversations(query: ListQuery = {}): Promise<ConversationList> {
    return this.get('/v1/conversations', { query });
  }
  conversation(id: number): Promise<ConversationDetail> {
    return this.get(`/v1/conversations/${id}`);
  }
  createConversation(req: CreateConversationRequest): Promise<ConversationDetail> {
    return this.post('/v1/conversations', req);
  }
  /** A page of history, oldest first. */
  history(id: number, query: HistoryParams = {}): Promise<Message[]> {
    return this.get(`/v1/conversations/${id}/messages`, { query: { ...query } });
  }
  postMessage(id: number, body: string, clientMsgId?: string): Promise<PostedMessage> {
    const req: PostMessageRequest = { body, client_msg_id: clientMsgId ?? null };
    return this.post(`/v1/conversations/${id}/messages`, req);
  }
  markRead(id: number, seq: number): Promise<CursorPosition> {
    const req: CursorRequest = { seq };
    return this.post(`/v1/conversations/${id}/read`, req);
  }
}
