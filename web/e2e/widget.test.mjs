// The website widget end to end in real Chromium: a host page on one origin embeds the
// snippet served by natter on another; the visitor identifies and chats with an agent who
// answers through the API; a page on a domain the website does not allow is refused; the
// offline form appears outside business hours; a reload keeps the conversation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  agentOnline,
  api,
  browser,
  eventually,
  hostSite,
  pageWithSnippet,
  proxyWithoutWebSockets,
  screenshot,
  startNatter,
  widget,
  WAIT_MS,
} from './harness.mjs';

let natter;
let call;
let chromium;

before(async () => {
  natter = await startNatter();
  call = api(natter.base, natter.token);
  chromium = await browser();
});

after(async () => {
  await chromium?.close();
  await natter?.stop();
});

/** Creates a website allowing `hosts`; returns { id, key, snippet }. */
async function website(name, hosts, extra = {}) {
  const created = await call('POST', '/v1/websites', {
    name,
    settings: { allowed_domains: hosts, ...extra },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { id: created.body.id, key: created.body.key, snippet: created.body.install_snippet };
}

/** A host site whose pages carry the snippet of the website created for it. */
async function siteWithWidget(name, extra = {}) {
  let snippet = '';
  const site = await hostSite((path) => pageWithSnippet(snippet, name)(path));
  const created = await website(name, [site.host], extra);
  snippet = created.snippet;
  return { ...site, ...created };
}

test('a visitor identifies, chats with an agent who answers through the API, and a reload keeps the conversation', async () => {
  const site = await siteWithWidget('Shop');
  const secret = await call('POST', `/v1/websites/${site.id}/hmac-secret`);
  assert.equal(secret.status, 200);
  const userHash = createHmac('sha256', secret.body.secret).update('user-42').digest('hex');

  // Headless Chromium names itself HeadlessChrome, which the user-agent rules rightly count
  // as a bot; a visitor's desktop Chrome says this.
  const userAgent = (await chromium.instance.version()).replace(
    /^(\d+).*$/,
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/$1.0.0.0 Safari/537.36',
  );
  const context = await chromium.instance.newContext({ viewport: { width: 1280, height: 800 }, userAgent });
  // An agent is online (connected over the protocol), so the widget offers a chat.
  const agent = await agentOnline(context, natter.base, natter.token);
  const page = await context.newPage();
  await page.goto(site.origin + '/');
  const frame = widget(page);
  await frame.getByTestId('launcher').waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'widget-closed');

  await page.evaluate(
    (hash) => window.Natter.identify({ id: 'user-42', name: 'Ann Visitor', email: 'ann@example.com', userHash: hash }),
    userHash,
  );
  await frame.getByTestId('launcher').click();
  await frame.locator('[data-testid="panel"][data-view="chat"]').waitFor({ timeout: WAIT_MS });
  await frame.locator('[data-testid="agent-status"][data-online="true"]').waitFor({ timeout: WAIT_MS });
  await frame.getByTestId('composer').fill('Hello, where is my order 1234?');
  await frame.getByTestId('composer').press('Enter');
  await frame
    .locator('[data-testid="message"][data-sender="visitor"]:not([data-status="pending"])')
    .filter({ hasText: 'where is my order 1234' })
    .waitFor({ timeout: WAIT_MS });

  // No agent has set themselves online for routing yet, so the chat waits in the queue and
  // the widget says where it stands.
  await frame.getByTestId('queue-position').filter({ hasText: 'number 1 in line' }).waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'widget-queue-position');

  // The agent's socket heard of the new chat, and the inbox lists it as unassigned.
  const opened = await eventually(
    async () => (await agent.frames()).find((f) => f.type === 'inbox_changed'),
    'the inbox_changed frame',
  );
  const inbox = await call('GET', `/v1/inbox?view=unassigned&website_id=${site.id}`);
  const conversation = inbox.body.items[0].conversation;
  assert.equal(conversation.id, opened.conversation.id);
  const history = await call('GET', `/v1/conversations/${conversation.id}/messages`);
  assert.deepEqual(
    history.body.map((m) => m.body),
    ['Hello, where is my order 1234?'],
  );
  const detail = await call('GET', `/v1/conversations/${conversation.id}`);
  const visitorId = detail.body.participants.find((p) => p.role === 'customer').account_id;
  const visitorContext = await call('GET', `/v1/contacts/${visitorId}/context`);
  assert.equal(visitorContext.body.contact.identity, 'verified');
  assert.equal(visitorContext.body.contact.name, 'Ann Visitor');
  // Parsed from the browser's user agent.
  assert.equal(visitorContext.body.sessions[0].device.browser, 'Chrome');
  assert.equal(visitorContext.body.sessions[0].device.os, 'Linux');
  assert.equal(visitorContext.body.sessions[0].device.device_type, 'desktop');

  const reply = await call('POST', `/v1/conversations/${conversation.id}/messages`, {
    body: 'It ships tomorrow.',
  });
  assert.equal(reply.status, 201);
  await frame
    .locator('[data-testid="message"][data-sender="agent"]')
    .filter({ hasText: 'It ships tomorrow.' })
    .waitFor({ timeout: WAIT_MS });
  // Answered: the chat left the queue, and the widget no longer shows a position.
  assert.equal(await frame.getByTestId('queue-position').count(), 0);
  const queue = await call('GET', '/v1/queue');
  assert.deepEqual(queue.body, []);
  await screenshot(page, 'widget-conversation');

  // A reload continues the same conversation with its history.
  await page.reload();
  await frame.getByTestId('launcher').waitFor({ timeout: WAIT_MS });
  await frame.getByTestId('launcher').click();
  await frame
    .locator('[data-testid="message"][data-sender="agent"]')
    .filter({ hasText: 'It ships tomorrow.' })
    .waitFor({ timeout: WAIT_MS });
  const bodies = await frame.getByTestId('message').allTextContents();
  assert.ok(bodies.some((b) => b.includes('where is my order 1234')), bodies.join(' | '));
  await screenshot(page, 'widget-after-reload');

  // The agent's next reply arrives live after the reload (the socket resumed).
  await call('POST', `/v1/conversations/${conversation.id}/messages`, { body: 'Anything else?' });
  await frame
    .locator('[data-testid="message"][data-sender="agent"]')
    .filter({ hasText: 'Anything else?' })
    .waitFor({ timeout: WAIT_MS });
  await agent.close();
  await context.close();
  await site.stop();
});

test('a visitor who gives only a name and email just before the first message keeps the conversation', async () => {
  const site = await siteWithWidget('Bookshop');
  const context = await chromium.instance.newContext({ viewport: { width: 1280, height: 800 } });
  const agent = await agentOnline(context, natter.base, natter.token);
  const page = await context.newPage();
  await page.goto(site.origin + '/');
  const frame = widget(page);
  await frame.getByTestId('launcher').click({ timeout: WAIT_MS });
  await frame.locator('[data-testid="panel"][data-view="chat"]').waitFor({ timeout: WAIT_MS });

  // The host page knows the name and email but has no proof (no user_hash): the call races
  // the visitor's first message, which must still be sent in the visitor's own chat.
  await page.evaluate(() => window.Natter.identify({ name: 'Bea Visitor', email: 'bea@example.com' }));
  await frame.getByTestId('composer').fill('Do you have the new atlas?');
  await frame.getByTestId('composer').press('Enter');
  const mine = frame
    .locator('[data-testid="message"][data-sender="visitor"]:not([data-status="pending"])')
    .filter({ hasText: 'the new atlas' });
  await mine.waitFor({ timeout: WAIT_MS });
  assert.notEqual(await mine.getAttribute('data-status'), 'failed');

  const conversation = await eventually(async () => {
    const inbox = await call('GET', `/v1/inbox?view=unassigned&website_id=${site.id}`);
    return inbox.body.items[0]?.conversation;
  }, 'the chat in the inbox');
  const history = await call('GET', `/v1/conversations/${conversation.id}/messages`);
  assert.deepEqual(
    history.body.map((m) => m.body),
    ['Do you have the new atlas?'],
  );
  const detail = await call('GET', `/v1/conversations/${conversation.id}`);
  const visitorId = detail.body.participants.find((p) => p.role === 'customer').account_id;
  const contact = await eventually(async () => {
    const context = await call('GET', `/v1/contacts/${visitorId}/context`);
    return context.body.contact.name === 'Bea Visitor' ? context.body.contact : null;
  }, 'the name on the chat\'s contact');
  assert.equal(contact.email, 'bea@example.com');
  assert.equal(contact.identity, 'identified');

  // The agent who answers has a name and a photo; the visitor sees both by the reply.
  // natter keeps only the URL; the image host here does not exist, the src is what counts.
  const photo = 'https://cdn.example.com/staff/sam.png';
  const me = await call('PATCH', '/v1/me', { name: 'Sam Bookseller', avatar_url: photo });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  await call('POST', `/v1/conversations/${conversation.id}/messages`, { body: 'Yes, one copy left.' });
  await frame
    .locator('[data-testid="message"][data-sender="agent"]')
    .filter({ hasText: 'one copy left' })
    .waitFor({ timeout: WAIT_MS });
  await frame.getByTestId('agent-name').filter({ hasText: 'Sam Bookseller' }).first().waitFor({ timeout: WAIT_MS });
  assert.equal(await frame.getByTestId('agent-photo').first().getAttribute('src'), photo);
  await page.reload();
  await frame.getByTestId('launcher').click({ timeout: WAIT_MS });
  await frame
    .locator('[data-testid="message"][data-sender="visitor"]')
    .filter({ hasText: 'the new atlas' })
    .waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'widget-identify-details');
  await agent.close();
  await context.close();
  await site.stop();
});

test('where a proxy cuts WebSockets the widget chats over SSE and keeps the conversation across a reload', async () => {
  const proxy = await proxyWithoutWebSockets(natter.base);
  // The host page loads the widget through the proxy, so everything the widget does goes
  // through it: plain HTTP passes, WebSocket upgrades are cut.
  let snippet = '';
  const site = await hostSite((path) => pageWithSnippet(snippet, 'Proxied shop')(path));
  const created = await website('Proxied shop', [site.host]);
  snippet = created.snippet.replaceAll(natter.base, proxy.origin);
  assert.notEqual(snippet, created.snippet);
  const context = await chromium.instance.newContext({ viewport: { width: 1280, height: 800 } });
  const agent = await agentOnline(context, natter.base, natter.token);
  const page = await context.newPage();
  await page.goto(site.origin + '/');
  const frame = widget(page);
  await frame.getByTestId('launcher').click({ timeout: WAIT_MS });
  await frame.locator('[data-testid="panel"][data-transport="fallback"]').waitFor({ timeout: WAIT_MS });
  assert.ok(proxy.upgrades() >= 2, `WebSocket attempts refused: ${proxy.upgrades()}`);

  await frame.getByTestId('composer').fill('Hello from behind the proxy');
  await frame.getByTestId('composer').press('Enter');
  await frame
    .locator('[data-testid="message"][data-sender="visitor"]:not([data-status="pending"]):not([data-status="failed"])')
    .filter({ hasText: 'behind the proxy' })
    .waitFor({ timeout: WAIT_MS });
  const conversation = await eventually(async () => {
    const inbox = await call('GET', `/v1/inbox?view=unassigned&website_id=${created.id}`);
    return inbox.body.items[0]?.conversation;
  }, 'the chat in the inbox');
  // The reply reaches the widget over the event stream.
  await call('POST', `/v1/conversations/${conversation.id}/messages`, { body: 'Reached you over SSE.' });
  await frame
    .locator('[data-testid="message"][data-sender="agent"]')
    .filter({ hasText: 'Reached you over SSE.' })
    .waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'widget-sse-fallback');

  // A reload starts over with the WebSocket, falls back again and resumes the same chat.
  await page.reload();
  await frame.getByTestId('launcher').click({ timeout: WAIT_MS });
  await frame.locator('[data-testid="panel"][data-transport="fallback"]').waitFor({ timeout: WAIT_MS });
  await frame
    .locator('[data-testid="message"][data-sender="agent"]')
    .filter({ hasText: 'Reached you over SSE.' })
    .waitFor({ timeout: WAIT_MS });
  await call('POST', `/v1/conversations/${conversation.id}/messages`, { body: 'Still here after the reload.' });
  await frame
    .locator('[data-testid="message"][data-sender="agent"]')
    .filter({ hasText: 'Still here after the reload.' })
    .waitFor({ timeout: WAIT_MS });
  const history = await call('GET', `/v1/conversations/${conversation.id}/messages`);
  assert.deepEqual(
    history.body.map((m) => m.body),
    ['Hello from behind the proxy', 'Reached you over SSE.', 'Still here after the reload.'],
  );
  await agent.close();
  await context.close();
  await site.stop();
  await proxy.stop();
});

test('a page on a domain the website does not allow gets no widget', async () => {
  const site = await siteWithWidget('Allowed');
  // Another origin serving the same snippet: not among the website's domains.
  const stranger = await hostSite(pageWithSnippet(site.snippet, 'Stranger'));
  const context = await chromium.instance.newContext();
  const page = await context.newPage();
  // The browser asks (the app's configuration request carries the stranger's Origin) and
  // gets nothing it may read: natter answers 403 without CORS headers.
  const asked = page.waitForRequest((r) => r.url().endsWith(`/v1/widget/${site.key}`), { timeout: WAIT_MS });
  await page.goto(stranger.origin + '/');
  const request = await asked;
  const direct = await fetch(request.url(), { headers: { origin: stranger.origin } });
  assert.equal(direct.status, 403);
  assert.equal((await direct.json()).code, 'origin_not_allowed');
  assert.equal(direct.headers.get('access-control-allow-origin'), null);
  // The app settles on "unavailable": the iframe never becomes visible, no launcher.
  await eventually(
    async () =>
      (await page.locator('iframe[data-natter-widget]').evaluate((f) => getComputedStyle(f).visibility)) ===
      'hidden',
    'the hidden widget',
  );
  assert.equal(await widget(page).getByTestId('launcher').count(), 0);
  await screenshot(page, 'widget-refused-origin');
  await context.close();
  await stranger.stop();
  await site.stop();
});

test('outside business hours the offline form appears and its message reaches the agents', async () => {
  // No opening hours on any day: always closed.
  const site = await siteWithWidget('Closed shop', {
    business_hours: { time_zone: 'Europe/London', weekly: {}, holidays: [] },
  });
  const context = await chromium.instance.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(site.origin + '/');
  const frame = widget(page);
  await frame.getByTestId('launcher').click({ timeout: WAIT_MS });
  await frame.locator('[data-testid="panel"][data-view="offline"]').waitFor({ timeout: WAIT_MS });
  await frame.getByTestId('offline-field-email').fill('bob@example.com');
  await frame.getByTestId('offline-field-message').fill('Please call me back about my order.');
  await screenshot(page, 'widget-offline-form');
  await frame.getByTestId('offline-submit').click();
  await frame.getByTestId('offline-sent').waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'widget-offline-sent');

  const pending = await eventually(async () => {
    const inbox = await call('GET', `/v1/inbox?status=pending&website_id=${site.id}`);
    return inbox.body.items[0]?.conversation;
  }, 'the offline message in the inbox');
  const history = await call('GET', `/v1/conversations/${pending.id}/messages`);
  assert.deepEqual(
    history.body.map((m) => m.body),
    ['Please call me back about my order.'],
  );
  await context.close();
  await site.stop();
});

test('on a phone-sized screen the open widget fills the screen', async () => {
  const site = await siteWithWidget('Mobile shop');
  const context = await chromium.instance.newContext({ viewport: { width: 320, height: 640 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(site.origin + '/');
  const frame = widget(page);
  await frame.getByTestId('launcher').click({ timeout: WAIT_MS });
  await frame.getByTestId('panel').waitFor({ timeout: WAIT_MS });
  const box = await eventually(async () => {
    const b = await page.locator('iframe[data-natter-widget]').boundingBox();
    return b && b.width === 320 ? b : null;
  }, 'the full-width widget');
  assert.equal(box.height, 640);
  await screenshot(page, 'widget-mobile-open');
  await context.close();
  await site.stop();
});
