import { describe, expect, it } from 'vitest';
import { errorFromResponse, NatterError } from '../src/errors';
import { RestClient, type FetchLike } from '../src/rest';

function fakeFetch(status: number, body: unknown, seen: { url: string; init?: RequestInit }[] = []): FetchLike {
  return async (url, init) => {
    seen.push({ url, init });
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(status === 204 ? null : text, { status });
  };
}

describe('RestClient', () => {
  it('sends the bearer token and JSON, and parses JSON answers', async () => {
    const seen: { url: string; init?: RequestInit }[] = [];
    const rest = new RestClient({ baseUrl: 'https://n.test/', token: () => 'nct_x', fetch: fakeFetch(201, { ok: 1 }, seen) });
    await expect(rest.post('/v1/conversations', { kind: 'support' })).resolves.toEqual({ ok: 1 });
    expect(seen[0]?.url).toBe('https://n.test/v1/conversations');
    const headers = seen[0]?.init?.headers as Record<string, string>;
    expect(headers.Authorization).toBe('Bearer nct_x');
    expect(headers['Content-Type']).toBe('application/json');
    expect(seen[0]?.init?.body).toBe('{"kind":"support"}');
    expect(seen[0]?.init?.credentials).toBe('omit');
  });

  it('sends cookies and extra headers only when asked to (the workspace session)', async () => {
    const seen: { url: string; init?: RequestInit }[] = [];
    let csrf = 'c1';
    const rest = new RestClient({
      baseUrl: 'https://n.test',
      credentials: 'same-origin',
      headers: () => ({ 'X-CSRF-Token': csrf }),
      fetch: fakeFetch(200, {}, seen),
    });
    await rest.put('/v1/me/preferences', { volume: 3 });
    csrf = 'c2';
    await rest.get('/v1/inbox');
    expect(seen[0]?.init?.credentials).toBe('same-origin');
    expect((seen[0]?.init?.headers as Record<string, string>)['X-CSRF-Token']).toBe('c1');
    expect((seen[1]?.init?.headers as Record<string, string>)['X-CSRF-Token']).toBe('c2');
    expect((seen[1]?.init?.headers as Record<string, string>).Authorization).toBeUndefined();

    const fixed = new RestClient({ baseUrl: 'https://n.test', headers: { 'X-Extra': '1' }, fetch: fakeFetch(200, {}, seen) });
    await fixed.get('/x');
    expect((seen[2]?.init?.headers as Record<string, string>)['X-Extra']).toBe('1');
    expect(seen[2]?.init?.credentials).toBe('omit');
  });

  it('builds history queries and omits absent parameters', async () => {
    const seen: { url: string; init?: RequestInit }[] = [];
    const rest = new RestClient({ baseUrl: 'https://n.test', fetch: fakeFetch(200, [], seen) });
    await rest.history(12, { before: 31, limit: 20 });
    await rest.history(12);
    expect(seen.map((s) => s.url)).toEqual([
      'https://n.test/v1/conversations/12/messages?before=31&limit=20',
      'https://n.test/v1/conversations/12/messages',
    ]);
    expect((seen[0]?.init?.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('answers undefined for 204', async () => {
    const rest = new RestClient({ baseUrl: 'https://n.test', fetch: fakeFetch(204, undefined) });
    await expect(rest.post('/x', {})).resolves.toBeUndefined();
  });

  it('maps {code,message} errors to NatterError with the stable code', async () => {
    const rest = new RestClient({
      baseUrl: 'https://n.test',
      fetch: fakeFetch(404, { code: 'not_found', message: 'conversation not found' }),
    });
    const err = await rest.conversation(9).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatterError);
    expect(err).toMatchObject({ code: 'not_found', status: 404, message: 'conversation not found' });
  });

  it('falls back to a code from the status for foreign error bodies', async () => {
    const rest = new RestClient({ baseUrl: 'https://n.test', fetch: fakeFetch(503, '<html>bad gateway</html>') });
    await expect(rest.get('/x')).rejects.toMatchObject({ code: 'unavailable', status: 503, retryable: true });
  });

  it('reports network failures as network_error with status 0', async () => {
    const rest = new RestClient({
      baseUrl: 'https://n.test',
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    await expect(rest.get('/x')).rejects.toMatchObject({ code: 'network_error', status: 0 });
  });
});

describe('errorFromResponse', () => {
  it('keeps retry_after for rate_limited', () => {
    const e = errorFromResponse(429, { code: 'rate_limited', message: 'slow down', retry_after: 3 });
    expect(e.retryAfter).toBe(3);
    expect(e.retryable).toBe(true);
  });
  it('treats an unknown code as the status code', () => {
    expect(errorFromResponse(403, { code: 'made_up', message: 'x' }).code).toBe('forbidden');
    expect(errorFromResponse(403, { code: 'origin_not_allowed', message: 'x' }).code).toBe('origin_not_allowed');
  });
});
