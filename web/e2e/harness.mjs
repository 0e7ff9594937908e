// The browser tests' harness: the real `natter` binary on a fresh SQLite directory, host pages
// served from other origins by a tiny HTTP server, and Debian's Chromium driven by
// playwright-core. Nothing is mocked: the widget talks to natter over HTTP and WebSocket as
// it does on a customer's site.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** The binary `cargo test` / `cargo build` left behind (override with NATTER_BIN). */
export const NATTER_BIN = process.env.NATTER_BIN ?? join(ROOT, 'target', 'debug', 'natter');
/** Screenshots are kept here as test artefacts. */
export const ARTIFACTS = join(ROOT, 'target', 'e2e-artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

/** How long a test waits for anything to appear. */
export const WAIT_MS = 15_000;

/** Starts natter on a free port; resolves with { base, token, stop }. */
export async function startNatter(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'natter-e2e-'));
  const child = spawn(NATTER_BIN, ['serve', '--listen', '127.0.0.1:0'], {
    env: {
      PATH: process.env.PATH ?? '',
      NATTER_DATA_DIR: dir,
      NATTER_WEB_ASSETS_DIR: join(ROOT, 'web', 'dist'),
      NATTER_LOG: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  let token = null;
  const base = await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error('natter did not start in time')), 30_000);
    child.once('exit', (code) => fail(new Error(`natter exited with ${code} during start`)));
    lines.on('line', (line) => {
      const t = line.split('first admin API token')[1];
      if (t) token = t.trim().split(' ').pop();
      if (line.startsWith('natter listening on ')) {
        clearTimeout(timer);
        done(line.slice('natter listening on '.length).trim());
      }
    });
  });
  if (!token) throw new Error('natter did not print a first admin token');
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { base, token, stop };
}

/** A REST client with the admin token. */
export function api(base, token) {
  return async (method, path, body) => {
    const response = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}

/**
 * Serves `html` (a function of the request path) on a fresh port of 127.0.0.1: a host site
 * on an origin of its own. Resolves with { origin, stop }.
 */
export async function hostSite(html) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html(req.url ?? '/'));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    stop: () => new Promise((r) => server.close(r)),
  };
}

/**
 * An HTTP proxy in front of natter that passes plain HTTP through (streamed, so SSE works) but
 * cuts every WebSocket upgrade, as some company proxies do. Resolves with
 * { origin, upgrades(), stop }: `upgrades()` counts the WebSockets it refused.
 */
export async function proxyWithoutWebSockets(target) {
  const to = new URL(target);
  let refused = 0;
  const sockets = new Set();
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (_req, socket) => {
    refused++;
    socket.destroy();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    upgrades: () => refused,
    stop: () =>
      new Promise((r) => {
        for (const socket of sockets) socket.destroy();
        server.close(r);
      }),
  };
}

/** A host page with the install snippet and some content. */
export function pageWithSnippet(snippet, title = 'Shop') {
  return (path) =>
    `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title} ${path}</title></head>` +
    `<body><h1>${title}</h1><p>Page ${path}</p><a id="next" href="/next">Next</a>${snippet}</body></html>`;
}

/** Launches Debian's Chromium (a downloaded browser build cannot be fetched here). */
export async function browser() {
  // playwright-core gives each launch a fresh temporary profile of its own.
  const instance = await chromium.launch({
    executablePath: process.env.NATTER_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    instance,
    close: () => instance.close(),
  };
}

/** The widget's iframe on a page, as a frame locator. */
export function widget(page) {
  return page.frameLocator('iframe[data-natter-widget]');
}

/** Saves a screenshot of the page as a test artefact. */
export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Polls `probe` until it returns a truthy value (or fails after WAIT_MS). */
export async function eventually(probe, what) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * An agent connected over the real-time protocol from a browser page on natter's own origin
 * (so the widget sees an agent online). Frames the agent receives collect in
 * `window.frames_` of that page; returns { page, frames(), close }.
 */
export async function agentOnline(context, base, token) {
  const page = await context.newPage();
  await page.goto(base + '/healthz');
  await page.evaluate(
    ({ url, token }) =>
      new Promise((ready, fail) => {
        window.frames_ = [];
        const ws = new WebSocket(url);
        ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token }));
        ws.onmessage = (m) => {
          const frame = JSON.parse(m.data);
          window.frames_.push(frame);
          if (frame.type === 'ready') ready();
        };
        ws.onclose = (e) => fail(new Error(`agent socket closed: ${e.code}`));
      }),
    { url: base.replace(/^http/, 'ws') + '/v1/ws', token },
  );
  return {
    page,
    frames: () => page.evaluate(() => window.frames_),
    close: () => page.close(),
  };
}

// --- additions for the agent workspace tests (web/e2e/dashboard.test.mjs) --------------------

/** Spawns `natter serve` on `dir` and `listen`; resolves once it listens. */
function spawnNatter(dir, listen, extraEnv) {
  const child = spawn(NATTER_BIN, ['serve', '--listen', listen], {
    env: {
      PATH: process.env.PATH ?? '',
      NATTER_DATA_DIR: dir,
      NATTER_WEB_ASSETS_DIR: join(ROOT, 'web', 'dist'),
      NATTER_LOG: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  let token = null;
  let owner = null;
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error('natter did not start in time')), 30_000);
    const early = (code) => fail(new Error(`natter exited with ${code} during start`));
    child.once('exit', early);
    lines.on('line', (line) => {
      const t = line.split('first admin API token')[1];
      if (t) token = t.trim().split(' ').pop();
      // "sign in at http://…/app as EMAIL with password PASSWORD (also in …)"
      const o = /sign in at \S+ as (\S+) with password (.+?) \(also in/.exec(line);
      if (o) owner = { email: o[1], password: o[2] };
      if (line.startsWith('natter listening on ')) {
        clearTimeout(timer);
        child.off('exit', early);
        done({ child, base: line.slice('natter listening on '.length).trim(), token, owner });
      }
    });
  });
}

async function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/**
 * Like startNatter, but the process can be restarted in place (same data directory, same
 * address), as an operator would: resolves with
 * { base, dir, token, owner, restart(), stop() }.
 */
export async function startNatterRestartable(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'natter-e2e-'));
  let run = await spawnNatter(dir, '127.0.0.1:0', extraEnv);
  if (!run.token) throw new Error('natter did not print a first admin token');
  const { token, owner, base } = run;
  const listen = new URL(base).host;
  return {
    base,
    dir,
    token,
    owner,
    /** SIGTERM, then start again on the same data and port. */
    async restart({ downMs = 0, whileDown } = {}) {
      await stopChild(run.child);
      if (whileDown) await whileDown();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      run = await spawnNatter(dir, listen, extraEnv);
    },
    async stop() {
      await stopChild(run.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Creates a staff account with a password through the CLI (`natter admin create-user`, the
 * password on stdin) on a server's data directory; resolves with the account.
 */
export function createStaff(dir, { email, password, role = 'agent', name }) {
  const args = ['admin', 'create-user', '--email', email, '--role', role];
  if (name) args.push('--name', name);
  const child = spawn(NATTER_BIN, args, {
    env: { PATH: process.env.PATH ?? '', NATTER_DATA_DIR: dir, NATTER_LOG: 'warn' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin.end(password + '\n');
  return new Promise((done, fail) =>
    child.once('exit', (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(`create-user failed (${code}): ${err}`)))),
  );
}

/** RFC 4648 base32 (no padding needed) to bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) continue;
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A TOTP code (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) for a base32 secret. */
export function totpCode(secretBase32, atMs = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / 30)));
  const mac = createHmac('sha1', base32(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

/**
 * Signs in with a password as the workspace does (session cookie + CSRF token); resolves with
 * { state, csrf, call(method, path, body) } where `call` sends the cookie (and the CSRF token).
 */
export async function passwordSession(base, email, password) {
  const response = await fetch(base + '/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0];
  const body = await response.json();
  const call = async (method, path, payload) => {
    const r = await fetch(base + path, {
      method,
      headers: { cookie, 'x-csrf-token': body.csrf_token, 'content-type': 'application/json' },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  return { state: body.state, csrf: body.csrf_token, account: body.account, call };
}
