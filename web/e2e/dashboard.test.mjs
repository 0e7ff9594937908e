// The agent workspace (/app) end to end in Debian's Chromium against the real natter binary:
// sign-in with a TOTP second factor; a widget visitor's new chat notifies the agent (desktop
// notification, blinking title, favicon badge) who replies; internal notes never reach the
// widget; a transfer to a second agent who accepts it; canned responses by `/shortcut`; bulk
// resolve; and a server restart during which nothing is lost.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  api,
  browser,
  createStaff,
  eventually,
  hostSite,
  pageWithSnippet,
  passwordSession,
  screenshot,
  startNatter,
  startNatterRestartable,
  totpCode,
  widget,
  WAIT_MS,
} from './harness.mjs';

const PASSWORD = 'correct horse battery staple 42';

let natter;
let call;
let chromium;
let dataDir;
let userAgent;
const agents = {};

before(async () => {
  natter = await startNatterRestartable();
  dataDir = natter.dir;
  call = api(natter.base, natter.token);
  chromium = await browser();
  // Headless Chromium names itself HeadlessChrome, which natter counts as a bot visitor.
  userAgent = (await chromium.instance.version()).replace(
    /^(\d+).*$/,
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/$1.0.0.0 Safari/537.36',
  );
  agents.alice = await createStaff(dataDir, { email: 'alice@example.com', password: PASSWORD, name: 'Alice Archer' });
  agents.bob = await createStaff(dataDir, { email: 'bob@example.com', password: PASSWORD, name: 'Bob Baker' });
  const canned = await call('POST', '/v1/canned-responses', {
    shortcut: 'thanks',
    title: 'Thanks for waiting',
    body: 'Thank you for waiting! I am looking into it now.',
    shared: true,
  });
  assert.equal(canned.status, 201, JSON.stringify(canned.body));
});

after(async () => {
  await chromium?.close();
  await natter?.stop();
});

/** A host site with the widget of a new website allowing it. */
async function siteWithWidget(name) {
  let snippet = '';
  const site = await hostSite((path) => pageWithSnippet(snippet, name)(path));
  const created = await call('POST', '/v1/websites', { name, settings: { allowed_domains: [site.host] } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  snippet = created.body.install_snippet;
  const secret = await call('POST', `/v1/websites/${created.body.id}/hmac-secret`);
  assert.equal(secret.status, 200);
  return { ...site, id: created.body.id, secret: secret.body.secret };
}

/** Records desktop notifications instead of showing them (permission granted). */
function stubNotifications() {
  window.__notifications = [];
  class RecordingNotification {
    constructor(title, options = {}) {
      window.__notifications.push({ title, body: options.body ?? '', icon: options.icon ?? '' });
      this.onclick = null;
    }
    close() {}
    static get permission() {
      return 'granted';
    }
    static requestPermission() {
      return Promise.resolve('granted');
    }
  }
  window.Notification = RecordingNotification;
}

/** Makes the page believe its tab is hidden (or visible again). */
async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** An agent signed in to the workspace in a browser of their own (cached per email). */
const pages = new Map();
async function signIn(email, base = natter.base) {
  const key = `${base} ${email}`;
  if (pages.has(key)) {
    // The agent works in this tab now (a background tab would not mark messages read).
    await pages.get(key).page.bringToFront();
    return pages.get(key);
  }
  const context = await chromium.instance.newContext({ viewport: { width: 1366, height: 800 } });
  await context.addInitScript(stubNotifications);
  const page = await context.newPage();
  await page.goto(base + '/app');
  await page.getByTestId('signin-email').fill(email);
  await page.getByTestId('signin-password').fill(PASSWORD);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('app-shell').waitFor({ timeout: WAIT_MS });
  await connected(page);
  const agent = { context, page };
  pages.set(key, agent);
  return agent;
}

async function connected(page) {
  await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor({ timeout: WAIT_MS });
}

/** A visitor on a host page with the widget open on the chat view. */
async function visitor(site, name, email) {
  const context = await chromium.instance.newContext({ viewport: { width: 1100, height: 800 }, userAgent });
  const page = await context.newPage();
  await page.goto(site.origin + '/');
  const frame = widget(page);
  await frame.getByTestId('launcher').waitFor({ timeout: WAIT_MS });
  // A verified visitor (the shop's backend computes user_hash = HMAC-SHA256(secret, id)).
  const id = email.split('@')[0];
  const userHash = createHmac('sha256', site.secret).update(id).digest('hex');
  await page.evaluate((user) => window.Natter.identify(user), { id, name, email, userHash });
  await frame.getByTestId('launcher').click();
  await frame.locator('[data-testid="panel"][data-view="chat"]').waitFor({ timeout: WAIT_MS });
  return {
    context,
    page,
    frame,
    async say(text) {
      await frame.getByTestId('composer').fill(text);
      await frame.getByTestId('composer').press('Enter');
      await frame
        .locator('[data-testid="message"][data-sender="visitor"]:not([data-status="pending"])')
        .filter({ hasText: text })
        .waitFor({ timeout: WAIT_MS });
    },
    async sees(text) {
      await frame.locator('[data-testid="message"][data-sender="agent"]').filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    },
    texts: () => frame.getByTestId('message').allTextContents(),
  };
}

/** Opens the conversation whose row shows `text` (e.g. the visitor's name); returns its id. */
async function openRow(page, text) {
  const row = page.getByTestId('inbox-row').filter({ hasText: text }).first();
  await row.waitFor({ timeout: WAIT_MS });
  const id = Number(await row.getAttribute('data-id'));
  await row.locator('.row-main').click();
  await page.locator(`[data-testid="conversation"][data-id="${id}"]`).waitFor({ timeout: WAIT_MS });
  return id;
}

async function reply(page, text, { note = false } = {}) {
  await page.getByTestId(note ? 'composer-mode-note' : 'composer-mode-reply').click();
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('composer').press('Enter');
  await page
    .locator('[data-testid="timeline"] [data-testid="message"][data-mine="true"]:not([data-status="pending"])')
    .filter({ hasText: text.replace(/[*_`]/g, '') })
    .waitFor({ timeout: WAIT_MS });
}

test('an agent signs in with a password and a TOTP code', async () => {
  // Turn TOTP on for Alice through the API, as she would from her security settings.
  const session = await passwordSession(natter.base, 'alice@example.com', PASSWORD);
  const setup = await session.call('POST', '/v1/auth/totp/setup');
  assert.equal(setup.status, 200, JSON.stringify(setup.body));
  const enabled = await session.call('POST', '/v1/auth/totp/enable', { code: totpCode(setup.body.secret) });
  assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
  agents.alice.totp = setup.body.secret;

  const context = await chromium.instance.newContext({ viewport: { width: 1366, height: 800 } });
  await context.addInitScript(stubNotifications);
  const page = await context.newPage();
  await page.goto(natter.base + '/app/inbox');
  // Not signed in: the workspace shows its sign-in form at /app/login.
  await page.getByTestId('signin-form').waitFor({ timeout: WAIT_MS });
  assert.match(page.url(), /\/app\/login$/);
  await page.getByTestId('signin-email').fill('alice@example.com');
  await page.getByTestId('signin-password').fill('not the password');
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('signin-error').waitFor({ timeout: WAIT_MS });

  await page.getByTestId('signin-password').fill(PASSWORD);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('mfa-form').waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'workspace-mfa');
  await page.getByTestId('mfa-code').fill('000000');
  await page.getByTestId('mfa-submit').click();
  await page.getByTestId('signin-error').waitFor({ timeout: WAIT_MS });
  // The code of the next 30-second step: the one used to enable TOTP cannot be replayed.
  await page.getByTestId('mfa-code').fill(totpCode(agents.alice.totp, Date.now() + 30_000));
  await page.getByTestId('mfa-submit').click();
  await page.getByTestId('app-shell').waitFor({ timeout: WAIT_MS });
  assert.match(page.url(), /\/app\/inbox$/);
  await connected(page);
  await screenshot(page, 'workspace-signed-in');
  pages.set(`${natter.base} alice@example.com`, { context, page });

  // A reload keeps the session (the cookie), and a signed-out session returns to sign-in.
  await page.reload();
  await page.getByTestId('app-shell').waitFor({ timeout: WAIT_MS });
  await connected(page);
});

test('a visitor starts a chat: the agent is notified (title, badge, desktop) and replies', async () => {
  const site = await siteWithWidget('Garden shop');
  const { page } = await signIn('bob@example.com');
  const badgeBefore = Number(await page.locator('link[rel="icon"]').getAttribute('data-badge'));
  await setHidden(page, true);

  const ann = await visitor(site, 'Ann Visitor', 'ann@example.com');
  await ann.say('Hello, where is my order 1234?');

  // The hidden tab blinks "(n) New messages – natter" and the favicon shows the count.
  await eventually(async () => /^\(\d+\) New messages – natter$/.test(await page.title()), 'the blinking title');
  await eventually(
    async () => Number(await page.locator('link[rel="icon"]').getAttribute('data-badge')) > badgeBefore,
    'the favicon badge',
  );
  const notes = await eventually(async () => {
    const n = await page.evaluate(() => window.__notifications);
    return n.length ? n : null;
  }, 'a desktop notification');
  assert.match(notes[0].title, /New conversation/);
  assert.match(notes[0].title + notes[0].body, /Ann Visitor|order 1234|visitor/i);
  assert.match(notes[0].icon, /^data:image\/png/);
  await screenshot(page, 'workspace-notified');

  await setHidden(page, false);
  await eventually(async () => !(await page.title()).includes('New messages'), 'the plain title again');
  await openRow(page, 'Ann Visitor');
  await page.locator('[data-testid="message"]').filter({ hasText: 'where is my order 1234' }).waitFor({ timeout: WAIT_MS });
  await page.getByTestId('contact-name').filter({ hasText: 'Ann Visitor' }).waitFor({ timeout: WAIT_MS });
  await reply(page, 'Hi Ann! It ships **tomorrow**.');
  await ann.sees('It ships');
  // The customer's receipt comes back: read once the widget shows it.
  await page
    .locator('[data-testid="message"][data-mine="true"][data-status="read"]')
    .filter({ hasText: 'It ships' })
    .waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'workspace-replied');
  await ann.context.close();
  await site.stop();
});

test('an internal note is shown to the team and never reaches the widget', async () => {
  const site = await siteWithWidget('Book shop');
  const { page } = await signIn('bob@example.com');
  const nora = await visitor(site, 'Nora Reader', 'nora@example.com');
  await nora.say('Do you have the new novel?');
  await openRow(page, 'Nora Reader');
  await reply(page, 'Secret: she is a VIP, offer the discount', { note: true });
  const note = page.locator('[data-testid="message"][data-kind="note"]').filter({ hasText: 'Secret: she is a VIP' });
  await note.waitFor({ timeout: WAIT_MS });
  await reply(page, 'Yes, we have it in stock!');
  await nora.sees('we have it in stock');
  await screenshot(page, 'workspace-note');
  await screenshot(nora.page, 'widget-without-note');
  assert.ok(!(await nora.texts()).some((t) => t.includes('Secret')), 'the note reached the widget');
  // Nor after a reload (the history as the contact may see it).
  await nora.page.reload();
  await nora.frame.getByTestId('launcher').click({ timeout: WAIT_MS });
  await nora.sees('we have it in stock');
  assert.ok(!(await nora.texts()).some((t) => t.includes('Secret')), 'the note is in the widget history');
  await nora.context.close();
  await site.stop();
});

test('a conversation transferred with a note reaches the second agent, who accepts it', async () => {
  const site = await siteWithWidget('Bike shop');
  const bob = (await signIn('bob@example.com')).page;
  const alice = pages.get(`${natter.base} alice@example.com`)?.page;
  assert.ok(alice, 'Alice signed in in the first test');
  const tom = await visitor(site, 'Tom Rider', 'tom@example.com');
  await tom.say('My brakes squeak');
  const id = await openRow(bob, 'Tom Rider');
  await reply(bob, 'Let me find the right person.');

  await bob.getByTestId('action-transfer').click();
  await bob.getByTestId('transfer-dialog').waitFor();
  await bob.getByTestId('transfer-agent').selectOption(String(agents.alice.id));
  await bob.getByTestId('transfer-note').fill('Brake expert needed, VIP');
  await bob.getByTestId('transfer-submit').click();
  await bob.getByTestId('transfer-dialog').waitFor({ state: 'detached', timeout: WAIT_MS });

  const offer = alice.locator(`[data-testid="transfer-offer"][data-conversation="${id}"]`);
  await offer.waitFor({ timeout: WAIT_MS });
  assert.match(await offer.textContent(), /Brake expert needed, VIP/);
  await screenshot(alice, 'workspace-transfer-offer');
  await offer.getByTestId('offer-accept').click();
  await alice.locator(`[data-testid="conversation"][data-id="${id}"]`).waitFor({ timeout: WAIT_MS });
  // Alice sees the history, including the transfer note (internal).
  await alice.locator('[data-testid="message"]').filter({ hasText: 'My brakes squeak' }).waitFor({ timeout: WAIT_MS });
  await alice.locator('[data-testid="message"][data-kind="note"]').filter({ hasText: 'Brake expert needed' }).waitFor({ timeout: WAIT_MS });
  await alice.getByTestId('conv-assignees').filter({ hasText: 'You' }).waitFor({ timeout: WAIT_MS });
  await reply(alice, 'Hi Tom, Alice here. Let us fix those brakes.');
  await tom.sees('Alice here');
  await screenshot(alice, 'workspace-transferred');
  // Bob left the conversation.
  await bob.getByTestId('conv-assignees').filter({ hasText: 'Alice' }).waitFor({ timeout: WAIT_MS });
  assert.ok(!(await tom.texts()).some((t) => t.includes('Brake expert needed')), 'the transfer note reached the widget');
  await tom.context.close();
  await site.stop();
});

test('typing / and a shortcut inserts a canned response', async () => {
  const site = await siteWithWidget('Tea shop');
  const { page } = await signIn('bob@example.com');
  const carl = await visitor(site, 'Carl Tea', 'carl@example.com');
  await carl.say('Is the green tea organic?');
  await openRow(page, 'Carl Tea');
  const composer = page.getByTestId('composer');
  await composer.click();
  await composer.pressSequentially('/tha');
  const option = page.locator('[data-testid="canned-option"][data-shortcut="thanks"]');
  await option.waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'workspace-canned-menu');
  await composer.press('Enter');
  assert.equal(await composer.inputValue(), 'Thank you for waiting! I am looking into it now.');
  await composer.press('Enter');
  await carl.sees('Thank you for waiting! I am looking into it now.');
  await carl.context.close();
  await site.stop();
});

test('bulk select and resolve', async () => {
  const ids = [];
  for (const n of [1, 2, 3]) {
    const contact = await call('POST', '/v1/contacts', { external_id: `bulk-${n}`, name: `Bulk Customer ${n}` });
    assert.equal(contact.status, 200, JSON.stringify(contact.body));
    const conv = await call('POST', '/v1/conversations', {
      kind: 'support',
      subject: `Bulkorder ${n}`,
      participants: [{ account_id: contact.body.id, role: 'customer' }],
    });
    assert.equal(conv.status, 201, JSON.stringify(conv.body));
    ids.push(conv.body.conversation.id);
  }
  const { page } = await signIn('bob@example.com');
  await page.getByTestId('status-open').click();
  await page.getByTestId('search').fill('Bulk');
  const rows = page.getByTestId('inbox-row').filter({ hasText: 'Bulk Customer' });
  await eventually(async () => (await rows.count()) === 3, 'the three conversations in the search results');
  for (let i = 0; i < 3; i++) await rows.nth(i).getByTestId('row-select').check();
  await page.getByTestId('bulk-count').filter({ hasText: '3 selected' }).waitFor();
  await screenshot(page, 'workspace-bulk-selected');
  await page.getByTestId('bulk-resolve').click();
  await page.getByTestId('toast').filter({ hasText: '3 conversations resolved' }).waitFor({ timeout: WAIT_MS });
  await eventually(async () => (await rows.count()) === 0, 'the resolved rows leaving the open view');
  for (const id of ids) {
    const c = await call('GET', `/v1/conversations/${id}`);
    assert.equal(c.body.conversation.status, 'resolved');
  }
  // They are in the resolved view.
  await page.getByTestId('status-resolved').click();
  await eventually(async () => (await rows.count()) === 3, 'the rows in the resolved view');
  await page.getByTestId('search').fill('');
  await page.getByTestId('status-open').click();
});

test('after a server restart the workspace reconnects and nothing is lost', async () => {
  const contact = await call('POST', '/v1/contacts', { external_id: 'restart-1', name: 'Rita Restart' });
  const token = (await call('POST', `/v1/contacts/${contact.body.id}/tokens`)).body.token;
  const conv = await call('POST', '/v1/conversations', {
    kind: 'support',
    subject: 'Restart test',
    participants: [{ account_id: contact.body.id, role: 'customer' }],
  });
  const id = conv.body.conversation.id;
  const customer = api(natter.base, token);
  assert.equal((await customer('POST', `/v1/conversations/${id}/messages`, { body: 'First question' })).status, 201);

  const { page } = await signIn('bob@example.com');
  // A reload on the conversation's URL (client-side route served by natter).
  await page.goto(`${natter.base}/app/inbox/${id}`);
  await page.locator(`[data-testid="conversation"][data-id="${id}"]`).waitFor({ timeout: WAIT_MS });
  await connected(page);
  await reply(page, 'Answer before the restart');

  await natter.restart({
    whileDown: async () => {
      await page.locator('[data-testid="connection-banner"]').waitFor({ timeout: WAIT_MS });
      assert.notEqual(await page.getByTestId('connection-state').getAttribute('data-state'), 'connected');
      await screenshot(page, 'workspace-reconnecting');
      // Written while the server is down: it waits, then goes out once (client_msg_id).
      await page.getByTestId('composer').fill('Sent while the server was down');
      await page.getByTestId('composer').press('Enter');
      await page.locator('[data-testid="message"][data-status="pending"]').filter({ hasText: 'Sent while the server was down' }).waitFor();
    },
  });
  // The customer writes as soon as the server is back, before the workspace has reconnected.
  assert.equal((await customer('POST', `/v1/conversations/${id}/messages`, { body: 'Are you still there?' })).status, 201);

  await connected(page);
  await page.locator('[data-testid="message"]').filter({ hasText: 'Are you still there?' }).waitFor({ timeout: WAIT_MS });
  await page
    .locator('[data-testid="message"][data-mine="true"]:not([data-status="pending"])')
    .filter({ hasText: 'Sent while the server was down' })
    .waitFor({ timeout: WAIT_MS });
  assert.equal(await page.getByTestId('connection-banner').count(), 0);
  await screenshot(page, 'workspace-after-restart');
  // The workspace on screen marked everything read (its cursor moved after the reconnect).
  assert.equal(await page.evaluate(() => document.visibilityState), 'visible');
  await eventually(async () => {
    const detail = await call('GET', `/v1/conversations/${id}`);
    return detail.body.participants.find((p) => p.account_id === agents.bob.id)?.read_seq >= 4;
  }, "Bob's read cursor");

  // Each message stored exactly once (the offline one went out after the reconnect).
  const history = (await call('GET', `/v1/conversations/${id}/messages`)).body.map((m) => m.body);
  assert.deepEqual(
    [...history].sort(),
    ['Answer before the restart', 'Are you still there?', 'First question', 'Sent while the server was down'],
  );
});

test('keyboard: j / k move through the list, r resolves, / searches, and typing is never a shortcut', async () => {
  const contact = await call('POST', '/v1/contacts', { external_id: 'keys-1', name: 'Kim Keys' });
  const ids = [];
  for (const n of [1, 2]) {
    const c = await call('POST', '/v1/conversations', {
      kind: 'support',
      subject: `Keyboard ${n}`,
      participants: [{ account_id: contact.body.id, role: 'customer' }],
    });
    ids.push(c.body.conversation.id);
  }
  const { page } = await signIn('bob@example.com');
  await page.getByTestId('view-all').click();
  await page.getByTestId('status-open').click();
  await page.getByTestId('search').fill('Keyboard');
  const rows = page.getByTestId('inbox-row').filter({ hasText: 'Keyboard' });
  // The list holds exactly these two (not just shows them) before j / k walk it.
  await eventually(async () => (await page.getByTestId('inbox-list').getAttribute('data-count')) === '2' && (await rows.count()) === 2, 'the two conversations');
  const order = await rows.evaluateAll((els) => els.map((e) => Number(e.dataset.id)));
  const blur = () => page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
  await blur();
  await page.keyboard.press('j');
  await page.locator(`[data-testid="conversation"][data-id="${order[0]}"]`).waitFor({ timeout: WAIT_MS });
  await page.keyboard.press('j');
  await page.locator(`[data-testid="conversation"][data-id="${order[1]}"]`).waitFor({ timeout: WAIT_MS });
  await page.keyboard.press('k');
  // Loaded (the pane shows the id at once, the status once the conversation has arrived).
  await page.locator(`[data-testid="conversation"][data-id="${order[0]}"][data-status="open"]`).waitFor({ timeout: WAIT_MS });
  // In the composer, r is a letter.
  await page.keyboard.press('c');
  await page.keyboard.type('r');
  assert.equal(await page.getByTestId('composer').inputValue(), 'r');
  assert.equal(await page.getByTestId('conversation').getAttribute('data-status'), 'open');
  await page.keyboard.press('Escape');
  await page.getByTestId('composer').fill('');
  await blur();
  await page.keyboard.press('r');
  await page.locator(`[data-testid="conversation"][data-id="${order[0]}"][data-status="resolved"]`).waitFor({ timeout: WAIT_MS });
  assert.equal((await call('GET', `/v1/conversations/${order[0]}`)).body.conversation.status, 'resolved');
  await page.keyboard.press('/');
  // The app focuses the box once the inbox has rendered (a task later), not inside the keydown.
  await eventually(
    async () => (await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))) === 'search',
    'the search box focused by /',
  );
  await page.keyboard.press('Escape');
  await page.getByTestId('search').fill('');
  await call('POST', '/v1/conversations/bulk', { conversation_ids: ids, action: 'resolve' });
});

test('a revoked session sends the workspace back to sign-in', async () => {
  await createStaff(dataDir, { email: 'carol@example.com', password: PASSWORD, name: 'Carol Cole' });
  const context = await chromium.instance.newContext({ viewport: { width: 1366, height: 800 } });
  const page = await context.newPage();
  await page.goto(natter.base + '/app');
  await page.getByTestId('signin-email').fill('carol@example.com');
  await page.getByTestId('signin-password').fill(PASSWORD);
  await page.getByTestId('signin-submit').click();
  await connected(page);
  // Carol signs the browser out from another session (a lost laptop).
  const other = await passwordSession(natter.base, 'carol@example.com', PASSWORD);
  const sessions = await other.call('GET', '/v1/auth/sessions');
  const browserSession = sessions.body.find((x) => !x.current);
  assert.ok(browserSession, JSON.stringify(sessions.body));
  assert.equal((await other.call('DELETE', `/v1/auth/sessions/${browserSession.id}`)).status, 204);
  await page.getByTestId('session-expired').waitFor({ timeout: WAIT_MS });
  await page.getByTestId('signin-form').waitFor();
  assert.match(page.url(), /\/app\/login$/);
  await screenshot(page, 'workspace-session-ended');
  await context.close();
});

test('10,000-row ready: the inbox list is windowed and pages load as it scrolls', async () => {
  const contact = await call('POST', '/v1/contacts', { external_id: 'many-1', name: 'Manny Many' });
  const total = 180;
  const created = [];
  for (let start = 0; start < total; start += 30) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(30, total - start) }, (_, i) =>
        call('POST', '/v1/conversations', {
          kind: 'support',
          subject: `Manyorder ${start + i}`,
          participants: [{ account_id: contact.body.id, role: 'customer' }],
        }),
      ),
    );
    created.push(...batch.map((r) => r.body.conversation.id));
  }
  const rowIds = async () => page.getByTestId('inbox-row').evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
  const { page } = await signIn('bob@example.com');
  await page.getByTestId('view-all').click();
  await page.getByTestId('status-open').click();
  await page.getByTestId('search').fill('Manyorder');
  const list = page.getByTestId('inbox-list');
  await eventually(async () => Number(await list.getAttribute('data-count')) >= 50, 'the first page');
  assert.ok(Number(await list.getAttribute('data-count')) < total, 'everything was loaded at once');
  // Only the rows in view are in the DOM, however many are loaded.
  assert.ok((await page.getByTestId('inbox-row').count()) < 30);
  const top = await rowIds();
  for (let i = 0; i < 20 && Number(await list.getAttribute('data-count')) < total; i++) {
    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.waitForTimeout(150);
  }
  assert.equal(Number(await list.getAttribute('data-count')), total);
  // At the bottom: other rows in the DOM than at the top, still only a window of them.
  const bottom = await rowIds();
  assert.ok(bottom.length < 30, `${bottom.length} rows in the DOM`);
  assert.ok(bottom.every((id) => created.includes(id) && !top.includes(id)), JSON.stringify({ top, bottom }));
  await screenshot(page, 'workspace-long-list');
  await page.getByTestId('search').fill('');
  // Out of the way of the next tests.
  for (let i = 0; i < created.length; i += 100) {
    const r = await call('POST', '/v1/conversations/bulk', { conversation_ids: created.slice(i, i + 100), action: 'resolve' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
});

test('the owner sees live visitors and manages websites, canned responses and agents', async () => {
  assert.ok(natter.owner, 'natter serve printed the first owner\'s password');
  const site = await siteWithWidget('Plant shop');
  // A visitor browsing the shop (the widget loaded, no chat).
  const paula = { context: await chromium.instance.newContext({ userAgent }) };
  paula.page = await paula.context.newPage();
  await paula.page.goto(site.origin + '/');
  await widget(paula.page).getByTestId('launcher').waitFor({ timeout: WAIT_MS });
  const context = await chromium.instance.newContext({ viewport: { width: 1366, height: 800 } });
  const page = await context.newPage();
  await page.goto(natter.base + '/app/visitors');
  await page.getByTestId('signin-email').fill(natter.owner.email);
  await page.getByTestId('signin-password').fill(natter.owner.password);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('app-shell').waitFor({ timeout: WAIT_MS });
  // Back on the screen that was asked for.
  await page.getByTestId('visitors').waitFor({ timeout: WAIT_MS });
  const rows = page.locator(`[data-testid="visitors-website"][data-website="${site.id}"] [data-testid="visitor-row"]`);
  await rows.first().waitFor({ timeout: WAIT_MS });
  await screenshot(page, 'workspace-visitors');
  // The visitor moves to another page: the row follows (a `visitor` frame).
  await paula.page.click('#next');
  await rows.getByTestId('visitor-page').filter({ hasText: '/next' }).first().waitFor({ timeout: WAIT_MS });

  await page.getByTestId('nav-settings').click();
  await page.getByTestId('settings-websites').click();
  await page.getByTestId('website-select').selectOption({ label: 'Plant shop' });
  await page.getByTestId('appearance-welcome').fill('Hello plant lovers!');
  await page.getByTestId('widget-preview').filter({ hasText: 'Hello plant lovers!' }).waitFor();
  assert.match(await page.getByTestId('install-snippet').inputValue(), /widget\.js/);
  await page.getByTestId('website-save').click();
  await page.getByTestId('toast').filter({ hasText: 'Website saved' }).waitFor({ timeout: WAIT_MS });
  const saved = await call('GET', `/v1/websites/${site.id}`);
  assert.equal(saved.body.settings.appearance.welcome_text, 'Hello plant lovers!');
  await screenshot(page, 'workspace-settings-website');

  await page.getByTestId('settings-canned').click();
  await page.getByTestId('canned-shortcut').fill('hours');
  await page.getByTestId('canned-title').fill('Opening hours');
  await page.getByTestId('canned-body').fill('We are open 9 to 5, Monday to Friday.');
  await page.getByTestId('canned-shared').check();
  await page.getByTestId('canned-save').click();
  await page.getByTestId('canned-row').filter({ hasText: '/hours' }).waitFor({ timeout: WAIT_MS });

  await page.getByTestId('settings-agents').click();
  await page.getByTestId('agent-row').first().waitFor({ timeout: WAIT_MS });
  await page.getByTestId('settings-notifications').click();
  await page.getByTestId('pref-sound-new_message').uncheck();
  await eventually(async () => (await passwordPrefs()).sounds.new_message === false, 'the saved preference');

  // The owner's own name and photo, which visitors see next to their replies.
  await page.getByTestId('settings-profile').click();
  await page.getByTestId('profile-name').fill('Olive Owner');
  await page.getByTestId('profile-photo').fill('https://cdn.example.com/olive.png');
  await page.getByTestId('profile-save').click();
  await page.getByTestId('toast').filter({ hasText: 'Profile saved' }).waitFor({ timeout: WAIT_MS });
  const profile = await (await passwordSession(natter.base, natter.owner.email, natter.owner.password)).call('GET', '/v1/me');
  assert.equal(profile.body.name, 'Olive Owner');
  assert.equal(profile.body.avatar_url, 'https://cdn.example.com/olive.png');
  await context.close();
  await paula.context.close();
  await site.stop();

  async function passwordPrefs() {
    const s = await passwordSession(natter.base, natter.owner.email, natter.owner.password);
    return (await s.call('GET', '/v1/me/preferences')).body;
  }
});

test('the inbox with a conversation open (README screenshot)', async () => {
  const { page } = await signIn('bob@example.com');
  await page.goto(`${natter.base}/app/inbox`);
  await page.getByTestId('view-all').click();
  await page.getByTestId('status-open').click();
  await page.getByTestId('search').fill('');
  await openRow(page, 'Ann Visitor');
  await page.getByTestId('contact-name').waitFor({ timeout: WAIT_MS });
  // Correct the contact's details from the context panel.
  await page.getByTestId('contact-edit-button').click();
  await page.getByTestId('contact-edit-phone').fill('+44 20 7946 0000');
  await page.getByTestId('contact-edit-company').fill('Green Fingers Ltd');
  await page.getByTestId('contact-edit-save').click();
  await page.getByTestId('contact-company').filter({ hasText: 'Green Fingers Ltd' }).waitFor({ timeout: WAIT_MS });
  await page.getByTestId('toast').getByRole('button', { name: 'Dismiss' }).click();
  await page.getByTestId('label-input').fill('shipping');
  await page.getByTestId('label-input').press('Enter');
  await page.getByTestId('label-chip').filter({ hasText: 'shipping' }).waitFor({ timeout: WAIT_MS });
  await page.getByTestId('label-shipping').waitFor({ timeout: WAIT_MS });
  await page.getByTestId('composer').fill('We will send you the **tracking link** as soon as it is out:\n- courier: _ParcelCo_\n- ETA: tomorrow');
  await page.getByTestId('composer-preview-toggle').click();
  await page.getByTestId('composer-preview').waitFor();
  await eventually(async () => (await page.getByTestId('toast').count()) === 0, 'no toast in the picture');
  await screenshot(page, 'workspace');
});
