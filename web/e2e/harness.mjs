// The browser tests' harness: the real `natter` binary on a fresh SQLite directory, host pages
// served from other origins by a tiny HTTP server, and Debian's Chromium driven by
// playwright-core. Nothing is mocked: the widget talks to natter over HTTP and WebSocket as
// it does on a customer's site.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
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
