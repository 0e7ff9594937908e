// @vitest-environment happy-dom
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../src/app/ui';
import { config, harness, init, message, participant, settle, standardServer, type Harness } from './helpers';

let root: HTMLElement;

beforeEach(() => {
  root = document.createElement('div');
  document.body.appendChild(root);
});

afterEach(() => {
  render(null, root);
  root.remove();
});

async function mount(h: Harness): Promise<void> {
  await act(async () => {
    render(<App c={h.c} />, root);
    await h.c.start(init);
  });
}

const $ = (id: string) => root.querySelector<HTMLElement>(`[data-testid="${id}"]`);
const $$ = (id: string) => [...root.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)];

async function click(el: HTMLElement | null): Promise<void> {
  if (!el) throw new Error('no element to click');
  await act(async () => {
    el.click();
    await settle();
  });
}

async function type(el: HTMLElement | null, value: string): Promise<void> {
  const input = el as HTMLInputElement | HTMLTextAreaElement | null;
  if (!input) throw new Error('no input');
  await act(() => {
    input.value = value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

async function step(fn: () => void | Promise<void>): Promise<void> {
  await act(async () => {
    await fn();
    await settle();
  });
}

describe('widget UI', () => {
  it('renders the launcher with its text, themed by the primary colour', async () => {
    const h = await harness();
    await mount(h);
    const launcher = $('launcher');
    expect(launcher?.textContent).toContain('Chat with us');
    expect(launcher?.getAttribute('aria-label')).toBe('Open chat');
    expect(launcher?.getAttribute('aria-expanded')).toBe('false');
    expect(document.documentElement.style.getPropertyValue('--nt-primary')).toBe('#4F46E5');
    expect(document.documentElement.style.getPropertyValue('--nt-on-primary')).toBe('#fff');
    expect($('panel')).toBeNull();
  });

  it('opens the panel with header, welcome text and a focused composer; Escape closes it', async () => {
    const h = await harness();
    await mount(h);
    await click($('launcher'));
    const panel = $('panel');
    expect(panel?.getAttribute('role')).toBe('dialog');
    expect(panel?.dataset.view).toBe('chat');
    expect(panel?.textContent).toContain('Acme Support');
    expect($('agent-status')?.dataset.online).toBe('true');
    expect($('welcome')?.textContent).toBe('Hi there 👋');
    expect(document.activeElement).toBe($('composer'));
    await step(() => {
      panel?.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    });
    expect($('panel')).toBeNull();
    expect(document.activeElement).toBe($('launcher'));
  });

  it('sends from the composer with Enter and shows pending → sent → read', async () => {
    const h = await harness();
    await mount(h);
    await step(() => h.connect());
    await click($('launcher'));
    const send = $('send-button') as HTMLButtonElement;
    expect(send.disabled).toBe(true);
    await type($('composer'), 'Where is my order?');
    expect(send.disabled).toBe(false);
    await step(() => {
      $('composer')?.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    });
    expect(($('composer') as HTMLTextAreaElement).value).toBe('');
    let items = $$('message');
    expect(items).toHaveLength(1);
    expect(items[0]?.dataset).toMatchObject({ sender: 'visitor', status: 'pending' });
    const frame = h.sock().ofType('send')[0];
    await step(() =>
      h.sock().receive({ type: 'ack', ref: frame?.ref as string, conversation_id: 12, message_id: 900, seq: 1, duplicate: false }),
    );
    items = $$('message');
    expect(items[0]?.dataset.status).toBe('sent');
    await step(() =>
      h.sock().receive({ type: 'event', id: 119, at: 1, data: { type: 'participant_joined', participant: participant(12, 2, 'agent') } }),
    );
    await step(() => h.sock().receive({ type: 'event', id: 120, at: 1, data: { type: 'read', conversation_id: 12, account_id: 2, seq: 1 } }));
    expect($$('message')[0]?.dataset.status).toBe('read');
    expect($('receipt')?.textContent).toContain('Read');
  });

  it('shows agent messages with the agent name, the typing indicator, and the unread badge while closed', async () => {
    const h = await harness(standardServer(config(), { conversationId: 12, history: [message(12, 1, 7, 'hi')], lastSeq: 1 }));
    await mount(h);
    await step(() => h.connect());
    await step(() => h.sock().receive({ type: 'typing', conversation_id: 12, account_id: 2 }));
    await step(() => h.sock().receive({ type: 'event', id: 101, at: 1, data: { type: 'message_created', message: message(12, 2, 2, 'Hello!') } }));
    const badge = $('unread-badge');
    expect(badge?.textContent).toBe('1');
    expect($('launcher')?.getAttribute('aria-label')).toBe('Open chat (1 unread messages)');
    await click($('launcher'));
    expect($('unread-badge')).toBeNull();
    const items = $$('message');
    expect(items.map((i) => i.dataset.sender)).toEqual(['visitor', 'agent']);
    expect($('agent-name')?.textContent).toBe('Sam');
    expect(($('agent-photo') as HTMLImageElement).getAttribute('src')).toBe('https://x.test/sam.png');
    expect($('message-list')?.parentElement?.getAttribute('aria-live')).toBe('polite');
    await step(() => h.sock().receive({ type: 'typing', conversation_id: 12, account_id: 2 }));
    expect($('typing-indicator')?.textContent).toBe('Sam is typing…');
    await step(() => h.clock.advance(5000));
    expect($('typing-indicator')).toBeNull();
  });

  it('validates the pre-chat form and focuses the first invalid field', async () => {
    const cfg = config({
      prechat: {
        enabled: true,
        fields: [
          { key: 'name', kind: 'name', label: 'Your name', required: true },
          { key: 'email', kind: 'email', label: 'Email', required: false },
        ],
      },
    });
    const server = standardServer(cfg);
    server.on('PUT /v1/widget/wk_test/profile', { status: 200, body: { contact: { id: 7, name: 'Ada' } } });
    const h = await harness(server);
    await mount(h);
    await click($('launcher'));
    expect($('panel')?.dataset.view).toBe('prechat');
    expect(document.activeElement).toBe($('prechat-field-name'));
    await type($('prechat-field-email'), 'not-an-email');
    await click($('prechat-submit'));
    expect($('prechat-error-name')?.textContent).toBe('Please fill this in.');
    expect($('prechat-error-email')?.textContent).toBe('Please enter a valid email address.');
    expect($('prechat-field-name')?.getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe($('prechat-field-name'));
    await type($('prechat-field-name'), 'Ada');
    await type($('prechat-field-email'), 'ada@example.com');
    await click($('prechat-submit'));
    expect($('panel')?.dataset.view).toBe('chat');
  });

  it('offers the offline form when nobody is online', async () => {
    const server = standardServer(config({ status: { open: false, agents_online: 0, next_open_at: null } }));
    server.on('POST /v1/widget/wk_test/offline', { status: 200, body: { conversation_id: 5 } });
    const h = await harness(server);
    await mount(h);
    await click($('launcher'));
    expect($('agent-status')?.dataset.online).toBe('false');
    expect($('offline-form')).not.toBeNull();
    await type($('offline-field-__email'), 'bo@example.com');
    await type($('offline-field-message'), 'Please call me');
    await click($('offline-submit'));
    expect($('offline-sent')).not.toBeNull();
  });

  it('inserts an emoji from the picker and toggles mute', async () => {
    const h = await harness();
    await mount(h);
    await click($('launcher'));
    await type($('composer'), 'Thanks ');
    await click($('emoji-button'));
    const picker = $('emoji-picker');
    expect(picker?.querySelectorAll('button').length).toBe(20);
    await click(picker?.querySelector<HTMLElement>('button[aria-label="thumbs up"]') ?? null);
    expect(($('composer') as HTMLTextAreaElement).value).toBe('Thanks 👍');
    expect($('emoji-picker')).toBeNull();
    const mute = $('mute-toggle');
    expect(mute?.getAttribute('aria-pressed')).toBe('false');
    await click(mute);
    expect($('mute-toggle')?.getAttribute('aria-pressed')).toBe('true');
  });

  it('shows the auto-greeting bubble next to the launcher', async () => {
    const h = await harness(standardServer(config({ auto_greet: { text: 'Need a hand?', delay_ms: 1000 } })));
    await mount(h);
    await step(() => h.clock.advance(1000));
    expect($('greeting')?.textContent).toContain('Need a hand?');
    await click($('greeting-dismiss'));
    expect($('greeting')).toBeNull();
  });
});
