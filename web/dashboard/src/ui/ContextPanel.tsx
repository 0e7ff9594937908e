// Who the agent is talking to: contact and verification, location and local time, device,
// traffic source and UTM, current page and trail, custom data, tracked events, and the
// contact's previous conversations (GET /v1/contacts/{id}/context).
import { useState } from 'preact/hooks';
import type { Desk } from '../desk';
import { shortAge } from '../lib/days';
import { rowTitle } from '../lib/inbox';
import type { JsonValue } from '../sdk';

const IDENTITY: Record<string, string> = {
  verified: 'Verified',
  identified: 'Identified (not verified)',
  partial: 'Partly known',
  anonymous: 'Anonymous',
};

function entries(v: JsonValue | null | undefined): [string, string][] {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, JsonValue>).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]);
}

function leftAgo(at: number, now: number): string {
  const age = shortAge(at, now);
  return age === 'now' ? 'Left just now' : `Left ${age} ago`;
}

function Field({ label, value, testid }: { label: string; value: string | number | null | undefined; testid?: string }) {
  if (value === null || value === undefined || value === '') return null;
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testid}>{value}</dd>
    </>
  );
}

export function ContextPanel({ desk }: { desk: Desk }) {
  const s = desk.state;
  const open = s.open;
  const [editing, setEditing] = useState(false);
  const [form, setForm] = useState({ name: '', email: '', phone: '', company: '' });
  if (!open) return null;
  const ctx = open.context;
  if (!ctx) {
    return (
      <aside class="context" aria-label="Contact details" data-testid="context-panel">
        <p class="muted">{open.contactId === null ? 'No contact in this conversation.' : 'Loading contact…'}</p>
      </aside>
    );
  }
  const c = ctx.contact;
  const session = ctx.sessions[0];
  const loc = session?.location;
  const place = loc ? [loc.city, loc.region, loc.country].filter(Boolean).join(', ') : '';
  const dev = session?.device;
  const traffic = session?.traffic;
  const now = Date.now();
  const custom = entries(ctx.profile.custom_data);
  const fields = entries(ctx.profile.fields);
  return (
    <aside class="context" aria-label="Contact details" data-testid="context-panel">
      <section>
        <h3>Contact</h3>
        {editing ? (
          <form
            class="stack"
            data-testid="contact-edit"
            onSubmit={(e) => {
              e.preventDefault();
              void desk.saveContact(form).then((ok) => ok && setEditing(false));
            }}
          >
            {c.identity === 'verified' ? <p class="muted">Name and email of a verified contact come from your platform.</p> : null}
            <label>
              Name
              <input data-testid="contact-edit-name" disabled={c.identity === 'verified'} value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
            </label>
            <label>
              Email
              <input type="email" disabled={c.identity === 'verified'} value={form.email} onInput={(e) => setForm({ ...form, email: e.currentTarget.value })} />
            </label>
            <label>
              Phone
              <input type="tel" data-testid="contact-edit-phone" value={form.phone} onInput={(e) => setForm({ ...form, phone: e.currentTarget.value })} />
            </label>
            <label>
              Company
              <input data-testid="contact-edit-company" value={form.company} onInput={(e) => setForm({ ...form, company: e.currentTarget.value })} />
            </label>
            <div class="row">
              <button class="primary small" type="submit" data-testid="contact-edit-save">
                Save
              </button>
              <button class="small" type="button" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <>
            <p class="contact-name" data-testid="contact-name">
              {c.name ?? c.email ?? `Visitor #${c.id}`}
            </p>
            <p>
              <span class={`chip id-${c.identity ?? 'anonymous'}`} data-testid="contact-identity" data-identity={c.identity ?? ''}>
                {IDENTITY[c.identity ?? 'anonymous'] ?? c.identity}
              </span>
            </p>
            <dl>
              <Field label="Email" value={c.email} testid="contact-email" />
              <Field label="Phone" value={ctx.profile.phone} testid="contact-phone" />
              <Field label="Company" value={ctx.profile.company} testid="contact-company" />
              <Field label="User id" value={c.external_id} />
            </dl>
            <button
              type="button"
              class="small link"
              data-testid="contact-edit-button"
              onClick={() => {
                setForm({ name: c.name ?? '', email: c.email ?? '', phone: ctx.profile.phone ?? '', company: ctx.profile.company ?? '' });
                setEditing(true);
              }}
            >
              Edit
            </button>
          </>
        )}
      </section>
      {session ? (
        <>
          <section>
            <h3>Location</h3>
            <dl>
              <Field label="Place" value={place || 'Unknown'} testid="contact-location" />
              <Field label="Local time" value={ctx.local_time} testid="contact-local-time" />
              <Field label="Time zone" value={session.time_zone ?? loc?.time_zone} />
              <Field label="Language" value={session.language} />
            </dl>
          </section>
          <section>
            <h3>Device</h3>
            <dl>
              <Field label="Browser" value={dev ? [dev.browser, dev.browser_version].filter(Boolean).join(' ') : null} testid="contact-device" />
              <Field label="System" value={dev ? [dev.os, dev.os_version].filter(Boolean).join(' ') : null} />
              <Field label="Type" value={dev?.device_type} />
              <Field label="Screen" value={session.screen_width ? `${session.screen_width}×${session.screen_height}` : null} />
            </dl>
          </section>
          <section>
            <h3>Traffic</h3>
            <dl>
              <Field label="Source" value={traffic?.source.replace(/_/g, ' ')} testid="contact-traffic" />
              <Field label="Referrer" value={traffic?.referrer} />
              <Field label="Landing page" value={traffic?.landing_page} />
              <Field label="utm_source" value={traffic?.utm_source} />
              <Field label="utm_medium" value={traffic?.utm_medium} />
              <Field label="utm_campaign" value={traffic?.utm_campaign} />
              <Field label="utm_term" value={traffic?.utm_term} />
              <Field label="utm_content" value={traffic?.utm_content} />
            </dl>
          </section>
          <section>
            <h3>Now on</h3>
            {session.ended_at ? <p class="muted">{leftAgo(session.ended_at, now)}</p> : null}
            {session.current_url ? (
              <p data-testid="contact-current-page">
                <a href={session.current_url} target="_blank" rel="noopener noreferrer">
                  {session.current_title || session.current_url}
                </a>
              </p>
            ) : (
              <p class="muted">Unknown page</p>
            )}
            {ctx.page_trail.length > 0 ? (
              <ol class="trail" data-testid="page-trail" aria-label="Page trail">
                {ctx.page_trail.map((p, i) => (
                  <li key={i} title={p.url}>
                    {p.title || p.url}
                    {p.duration_ms ? <span class="muted"> · {Math.round(p.duration_ms / 1000)} s</span> : null}
                  </li>
                ))}
              </ol>
            ) : null}
            <p class="muted">{session.page_views} page views this visit</p>
          </section>
        </>
      ) : null}
      {custom.length + fields.length > 0 ? (
        <section>
          <h3>Custom data</h3>
          <dl data-testid="custom-data">
            {[...custom, ...fields].map(([k, v]) => (
              <Field key={k} label={k} value={v} />
            ))}
          </dl>
        </section>
      ) : null}
      {ctx.events.length > 0 ? (
        <section>
          <h3>Events</h3>
          <ul class="plain-list">
            {ctx.events.map((e, i) => (
              <li key={i}>
                {e.name}
                {e.value !== null ? ` · ${e.value}${e.currency ? ` ${e.currency}` : ''}` : ''} <span class="muted">{shortAge(e.at, now)} ago</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section>
        <h3>Previous conversations</h3>
        {open.previous === null ? (
          <p class="muted">Loading…</p>
        ) : open.previous.length === 0 ? (
          <p class="muted" data-testid="previous-conversations" data-count="0">
            None
          </p>
        ) : (
          <ul class="plain-list" data-testid="previous-conversations" data-count={open.previous.length}>
            {open.previous.map((p) => (
              <li key={p.conversation.id}>
                <button type="button" class="link" onClick={() => desk.go({ name: 'inbox', conversationId: p.conversation.id })}>
                  {p.conversation.subject ?? rowTitle(p)} · {p.conversation.status} · {new Date(p.conversation.created_at).toLocaleDateString()}
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </aside>
  );
}
