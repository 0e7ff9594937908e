// Settings: notifications (everyone), canned responses (personal; workspace-wide for admins),
// account security (TOTP, sessions, API tokens, password), and for owners and admins the
// websites (appearance with a live widget preview, domains, hours, pre-chat fields, install
// snippet) and the agents (invite, role, deactivate, website access).
import { useEffect, useState } from 'preact/hooks';
import { WEEKDAYS, type Weekday } from '../api';
import type { Desk } from '../desk';
import { SETTINGS_SECTIONS, type SettingsSection } from '../lib/route';
import { isConversationMuted, MUTE_CHOICES, withConversationMuted } from '../lib/prefs';
import type { ApiTokenInfo, BusinessHours, CannedResponse, FormField, MeEdit, SessionInfo, StaffRole, WebsiteSettings, WebsiteView } from '../sdk';
import { useDesk } from './hooks';
import { TotpSetup } from './Totp';

const LABEL: Record<SettingsSection, string> = {
  notifications: 'Notifications',
  profile: 'Your profile',
  canned: 'Canned responses',
  security: 'Account security',
  websites: 'Websites',
  agents: 'Agents',
};
const ADMIN_ONLY: SettingsSection[] = ['websites', 'agents'];

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function SettingsPage({ desk, section }: { desk: Desk; section: SettingsSection }) {
  useDesk(desk);
  const sections = SETTINGS_SECTIONS.filter((x) => desk.isAdmin || !ADMIN_ONLY.includes(x));
  const current = sections.includes(section) ? section : 'notifications';
  return (
    <div class="settings" data-testid="settings">
      <nav class="settings-nav" aria-label="Settings">
        {sections.map((x) => (
          <button key={x} type="button" class="side-item" data-testid={`settings-${x}`} aria-current={x === current ? 'page' : undefined} onClick={() => desk.go({ name: 'settings', section: x })}>
            {LABEL[x]}
          </button>
        ))}
      </nav>
      <section class="page" aria-label={LABEL[current]}>
        <h1>{LABEL[current]}</h1>
        {current === 'notifications' ? <Notifications desk={desk} /> : null}
        {current === 'canned' ? <Canned desk={desk} /> : null}
        {current === 'profile' ? <Profile desk={desk} /> : null}
        {current === 'security' ? <Security desk={desk} /> : null}
        {current === 'websites' ? <Websites desk={desk} /> : null}
        {current === 'agents' ? <Agents desk={desk} /> : null}
      </section>
    </div>
  );
}

// --- notifications -------------------------------------------------------------------------

function Notifications({ desk }: { desk: Desk }) {
  const s = desk.state;
  const p = s.prefs;
  const now = Date.now();
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return (
    <div class="stack" data-testid="notification-settings">
      <section class="card">
        <h2>Desktop notifications</h2>
        <label class="check">
          <input type="checkbox" data-testid="pref-desktop" checked={p.desktop} onChange={(e) => desk.updatePrefs({ ...p, desktop: e.currentTarget.checked })} />
          Show desktop notifications while this tab is in the background
        </label>
        <p class="muted">
          Browser permission: <strong data-testid="permission-state">{s.permission}</strong>
          {s.permission === 'default' ? (
            <button type="button" class="small" onClick={() => void desk.requestNotifications()}>
              Allow notifications
            </button>
          ) : null}
          {s.permission === 'denied' ? ' — allow them in the browser’s site settings.' : null}
        </p>
      </section>
      <section class="card">
        <h2>Sounds</h2>
        {(
          [
            ['new_conversation', 'New conversation'],
            ['new_message', 'New message'],
            ['assigned', 'Assigned to me / transfer offered'],
          ] as const
        ).map(([k, label]) => (
          <label class="check" key={k}>
            <input type="checkbox" data-testid={`pref-sound-${k}`} checked={p.sounds[k]} onChange={(e) => desk.updatePrefs({ ...p, sounds: { ...p.sounds, [k]: e.currentTarget.checked } })} />
            {label}
          </label>
        ))}
        <label>
          Volume {p.volume}
          <input type="range" min={0} max={100} data-testid="pref-volume" value={p.volume} onInput={(e) => desk.updatePrefs({ ...p, volume: Number(e.currentTarget.value) })} />
        </label>
      </section>
      <section class="card">
        <h2>Do not disturb</h2>
        <label class="check">
          <input
            type="checkbox"
            data-testid="pref-quiet"
            checked={p.quiet_hours !== null}
            onChange={(e) => desk.updatePrefs({ ...p, quiet_hours: e.currentTarget.checked ? { start: '19:00', end: '08:00', time_zone: tz } : null })}
          />
          Quiet hours (no sound, no desktop notifications)
        </label>
        {p.quiet_hours ? (
          <div class="row">
            <label>
              From
              <input type="time" value={p.quiet_hours.start} onChange={(e) => p.quiet_hours && desk.updatePrefs({ ...p, quiet_hours: { ...p.quiet_hours, start: e.currentTarget.value } })} />
            </label>
            <label>
              Until
              <input type="time" value={p.quiet_hours.end} onChange={(e) => p.quiet_hours && desk.updatePrefs({ ...p, quiet_hours: { ...p.quiet_hours, end: e.currentTarget.value } })} />
            </label>
            <label>
              Time zone
              <input value={p.quiet_hours.time_zone} onChange={(e) => p.quiet_hours && desk.updatePrefs({ ...p, quiet_hours: { ...p.quiet_hours, time_zone: e.currentTarget.value } })} />
            </label>
          </div>
        ) : null}
        <div class="row">
          {MUTE_CHOICES.map((c) => (
            <button type="button" class="small" key={c.minutes} data-testid={`mute-${c.minutes}`} onClick={() => desk.muteFor(c.minutes)}>
              Mute {c.label}
            </button>
          ))}
          {p.muted_until && p.muted_until > now ? (
            <button type="button" class="small" data-testid="mute-off" onClick={() => desk.muteFor(null)}>
              Unmute (muted until {new Date(p.muted_until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })})
            </button>
          ) : null}
        </div>
      </section>
      <section class="card">
        <h2>Muted conversations</h2>
        {p.muted_conversations.length === 0 ? <p class="muted">None. Mute one from its header.</p> : null}
        <ul class="plain-list">
          {p.muted_conversations.map((id) => (
            <li key={id}>
              <button type="button" class="link" onClick={() => desk.go({ name: 'inbox', conversationId: id })}>
                Conversation #{id}
              </button>{' '}
              <button type="button" class="small" onClick={() => desk.updatePrefs(withConversationMuted(p, id, !isConversationMuted(p, id)))}>
                Unmute
              </button>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

// --- canned responses ----------------------------------------------------------------------

function Canned({ desk }: { desk: Desk }) {
  const s = desk.state;
  const [editing, setEditing] = useState<CannedResponse | null>(null);
  const [shortcut, setShortcut] = useState('');
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [shared, setShared] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const reset = () => {
    setEditing(null);
    setShortcut('');
    setTitle('');
    setBody('');
    setShared(false);
    setError(null);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      if (editing) await desk.api.updateCanned(editing.id, { shortcut, title, body });
      else await desk.api.createCanned({ shortcut, title, body, shared });
      reset();
      await desk.reloadCanned();
    } catch (err) {
      setError(msg(err));
    }
  };
  const mayEdit = (c: CannedResponse) => !c.shared || desk.isAdmin;
  return (
    <div class="stack" data-testid="canned-settings">
      <form class="card stack" onSubmit={(e) => void save(e)} data-testid="canned-form">
        <h2>{editing ? `Edit /${editing.shortcut}` : 'New canned response'}</h2>
        <div class="row">
          <label>
            Shortcut
            <input data-testid="canned-shortcut" required pattern="[a-z0-9_\-]{1,32}" title="a-z, 0-9, - and _" value={shortcut} onInput={(e) => setShortcut(e.currentTarget.value.toLowerCase())} />
          </label>
          <label class="grow">
            Title
            <input data-testid="canned-title" required maxLength={100} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
          </label>
        </div>
        <label>
          Text (markdown)
          <textarea data-testid="canned-body" required rows={4} maxLength={5000} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
        </label>
        {desk.isAdmin && !editing ? (
          <label class="check">
            <input type="checkbox" data-testid="canned-shared" checked={shared} onChange={(e) => setShared(e.currentTarget.checked)} />
            Workspace-wide (everyone can use it)
          </label>
        ) : null}
        {error ? <p class="error" role="alert">{error}</p> : null}
        <div class="row">
          <button class="primary" type="submit" data-testid="canned-save">
            {editing ? 'Save' : 'Add'}
          </button>
          {editing ? (
            <button type="button" onClick={reset}>
              Cancel
            </button>
          ) : null}
        </div>
      </form>
      <table class="table card">
        <thead>
          <tr>
            <th scope="col">Shortcut</th>
            <th scope="col">Title</th>
            <th scope="col">Scope</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {s.canned.map((c) => (
            <tr key={c.id} data-testid="canned-row">
              <td>
                <code>/{c.shortcut}</code>
              </td>
              <td title={c.body}>{c.title}</td>
              <td>{c.shared ? 'Workspace' : 'Personal'}</td>
              <td class="actions">
                {mayEdit(c) ? (
                  <>
                    <button
                      type="button"
                      class="small"
                      onClick={() => {
                        setEditing(c);
                        setShortcut(c.shortcut);
                        setTitle(c.title);
                        setBody(c.body);
                      }}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      class="small danger"
                      onClick={() => {
                        if (confirm(`Delete /${c.shortcut}?`)) void desk.api.deleteCanned(c.id).then(() => desk.reloadCanned(), (e) => desk.toast(msg(e), 'error'));
                      }}
                    >
                      Delete
                    </button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// --- account security ----------------------------------------------------------------------

// --- profile -------------------------------------------------------------------------------

/** Name and photo: colleagues see them in the workspace, visitors next to your replies. */
function Profile({ desk }: { desk: Desk }) {
  const me = desk.state.me;
  const [name, setName] = useState(me?.name ?? '');
  const [photo, setPhoto] = useState(me?.avatar_url ?? '');
  useEffect(() => {
    setName(me?.name ?? '');
    setPhoto(me?.avatar_url ?? '');
  }, [me?.id]);
  if (!me) return null;
  const changed = name.trim() !== (me.name ?? '') || photo.trim() !== (me.avatar_url ?? '');
  return (
    <form
      class="card stack"
      data-testid="profile-settings"
      onSubmit={(e) => {
        e.preventDefault();
        const edit: MeEdit = { avatar_url: photo.trim() };
        if (name.trim()) edit.name = name.trim();
        void desk.saveProfile(edit);
      }}
    >
      <label>
        Name
        <input data-testid="profile-name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Photo URL
        <input data-testid="profile-photo" type="url" placeholder="https://…" value={photo} onInput={(e) => setPhoto(e.currentTarget.value)} />
      </label>
      {photo.trim() ? <img class="avatar-preview" src={photo.trim()} alt="Your photo" width={48} height={48} /> : null}
      <p class="muted">Visitors see your name, and your photo where the website shows agent photos.</p>
      <div class="row">
        <button type="submit" data-testid="profile-save" disabled={!changed}>
          Save
        </button>
      </div>
    </form>
  );
}

function Security({ desk }: { desk: Desk }) {
  const me = desk.state.me;
  const [sessions, setSessions] = useState<SessionInfo[]>([]);
  const [tokens, setTokens] = useState<ApiTokenInfo[]>([]);
  const [issued, setIssued] = useState<string | null>(null);
  const [tokenName, setTokenName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read', 'write']);
  const [disableCode, setDisableCode] = useState('');
  const [pw, setPw] = useState({ current: '', next: '' });
  const [enrolling, setEnrolling] = useState(false);
  const load = async () => {
    if (!me) return;
    try {
      setSessions(await desk.api.sessions());
    } catch (e) {
      desk.toast(msg(e), 'error');
    }
    try {
      setTokens(await desk.api.tokens(me.id));
    } catch {
      setTokens([]);
    }
  };
  useEffect(() => void load(), [me?.id]);
  if (!me) return null;
  return (
    <div class="stack" data-testid="security-settings">
      <section class="card">
        <h2>Two-factor authentication (TOTP)</h2>
        {enrolling ? (
          <TotpSetup desk={desk} onDone={() => setEnrolling(false)} />
        ) : (
          <button type="button" class="small" data-testid="totp-setup" onClick={() => setEnrolling(true)}>
            Set up an authenticator app
          </button>
        )}
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void desk.api.totpDisable(disableCode).then(
              () => desk.toast('Two-factor authentication is off'),
              (err) => desk.toast(msg(err), 'error'),
            );
            setDisableCode('');
          }}
        >
          <label>
            Turn off with a current code
            <input inputMode="numeric" value={disableCode} onInput={(e) => setDisableCode(e.currentTarget.value)} />
          </label>
          <button type="submit" class="small danger" disabled={!disableCode}>
            Turn off
          </button>
        </form>
      </section>
      <section class="card">
        <h2>Sessions</h2>
        <table class="table" data-testid="sessions">
          <tbody>
            {sessions.map((x) => (
              <tr key={x.id}>
                <td>{x.user_agent ?? 'Unknown browser'}</td>
                <td>{x.ip ?? ''}</td>
                <td>last seen {new Date(x.last_seen_at).toLocaleString()}</td>
                <td>
                  {x.current ? (
                    <strong>This browser</strong>
                  ) : (
                    <button type="button" class="small danger" onClick={() => void desk.api.revokeSession(x.id).then(load, (e) => desk.toast(msg(e), 'error'))}>
                      Sign out
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="card">
        <h2>API tokens</h2>
        {issued ? (
          <p class="notice">
            New token (shown once): <code data-testid="issued-token">{issued}</code>
          </p>
        ) : null}
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void desk.api.createToken(me.id, { name: tokenName, scopes }).then(
              (t) => {
                setIssued(t.token);
                setTokenName('');
                void load();
              },
              (err) => desk.toast(msg(err), 'error'),
            );
          }}
        >
          <label>
            Name
            <input required value={tokenName} onInput={(e) => setTokenName(e.currentTarget.value)} />
          </label>
          {['read', 'write', 'contacts', 'admin'].map((sc) => (
            <label class="check" key={sc}>
              <input type="checkbox" checked={scopes.includes(sc)} onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, sc] : scopes.filter((x) => x !== sc))} />
              {sc}
            </label>
          ))}
          <button type="submit" class="small primary">
            Create token
          </button>
        </form>
        <table class="table">
          <tbody>
            {tokens
              .filter((t) => t.revoked_at === null)
              .map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>{t.scopes.join(', ')}</td>
                  <td>{t.last_used_at ? `used ${new Date(t.last_used_at).toLocaleDateString()}` : 'never used'}</td>
                  <td>
                    <button type="button" class="small danger" onClick={() => void desk.api.revokeToken(t.id).then(load, (e) => desk.toast(msg(e), 'error'))}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>
      <form
        class="card stack"
        onSubmit={(e) => {
          e.preventDefault();
          void desk.api.changePassword({ current_password: pw.current, new_password: pw.next }).then(
            () => {
              setPw({ current: '', next: '' });
              desk.toast('Password changed; your other sessions were signed out');
            },
            (err) => desk.toast(msg(err), 'error'),
          );
        }}
      >
        <h2>Password</h2>
        <div class="row">
          <label>
            Current password
            <input type="password" autocomplete="current-password" required value={pw.current} onInput={(e) => setPw({ ...pw, current: e.currentTarget.value })} />
          </label>
          <label>
            New password
            <input type="password" autocomplete="new-password" required value={pw.next} onInput={(e) => setPw({ ...pw, next: e.currentTarget.value })} />
          </label>
          <button type="submit" class="small primary">
            Change password
          </button>
        </div>
      </form>
    </div>
  );
}

// --- websites ------------------------------------------------------------------------------

function Websites({ desk }: { desk: Desk }) {
  const s = desk.state;
  const [selected, setSelected] = useState<number | null>(s.websites[0]?.id ?? null);
  const [newName, setNewName] = useState('');
  const site = s.websites.find((w) => w.id === selected) ?? s.websites[0] ?? null;
  return (
    <div class="stack" data-testid="website-settings">
      <div class="row">
        <label>
          Website
          <select data-testid="website-select" value={String(site?.id ?? '')} onChange={(e) => setSelected(Number(e.currentTarget.value))}>
            {s.websites.map((w) => (
              <option key={w.id} value={String(w.id)}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void desk.api.createWebsite({ name: newName }).then(
              async (w) => {
                setNewName('');
                await desk.reloadWebsites();
                setSelected(w.id);
              },
              (err) => desk.toast(msg(err), 'error'),
            );
          }}
        >
          <label>
            New website
            <input required placeholder="Name" value={newName} onInput={(e) => setNewName(e.currentTarget.value)} />
          </label>
          <button type="submit" class="small">
            Add
          </button>
        </form>
      </div>
      {site ? <WebsiteEditor key={site.id} desk={desk} site={site} /> : <p class="muted">No website yet.</p>}
    </div>
  );
}

const blankField = (): FormField => ({ key: '', kind: 'text', label: '', required: false });

function WebsiteEditor({ desk, site }: { desk: Desk; site: WebsiteView }) {
  const [name, setName] = useState(site.name);
  const [settings, setSettings] = useState<WebsiteSettings>(site.settings);
  const [domains, setDomains] = useState(site.settings.allowed_domains.join('\n'));
  const [copied, setCopied] = useState(false);
  const a = settings.appearance;
  const hours = settings.business_hours;
  const setA = (patch: Partial<typeof a>) => setSettings({ ...settings, appearance: { ...a, ...patch } });
  const setHours = (h: BusinessHours | null) => setSettings({ ...settings, business_hours: h });
  const setFields = (fields: FormField[]) => setSettings({ ...settings, prechat: { ...settings.prechat, fields } });
  const save = async () => {
    const next = { ...settings, allowed_domains: domains.split(/[\s,]+/).map((d) => d.trim()).filter(Boolean) };
    try {
      await desk.api.updateWebsite(site.id, { name, settings: next });
      await desk.reloadWebsites();
      desk.toast('Website saved');
    } catch (e) {
      desk.toast(`Could not save: ${msg(e)}`, 'error');
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(site.install_snippet);
    } catch {
      const ta = document.querySelector<HTMLTextAreaElement>('[data-testid="install-snippet"]');
      ta?.select();
      document.execCommand('copy');
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };
  return (
    <div class="website-editor">
      <div class="stack">
        <section class="card stack">
          <h2>General</h2>
          <label>
            Name
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Allowed domains (one per line; <code>*.example.com</code> for subdomains)
            <textarea data-testid="website-domains" rows={3} value={domains} onInput={(e) => setDomains(e.currentTarget.value)} />
          </label>
        </section>
        <section class="card stack">
          <h2>Appearance</h2>
          <div class="row">
            <label>
              Colour
              <input type="color" data-testid="appearance-color" value={a.primary_color} onInput={(e) => setA({ primary_color: e.currentTarget.value })} />
            </label>
            <label>
              Position
              <select value={a.position} onChange={(e) => setA({ position: e.currentTarget.value })}>
                <option value="bottom-right">Bottom right</option>
                <option value="bottom-left">Bottom left</option>
              </select>
            </label>
            <label class="check">
              <input type="checkbox" checked={a.show_agent_photos} onChange={(e) => setA({ show_agent_photos: e.currentTarget.checked })} />
              Agent photos
            </label>
          </div>
          <label>
            Welcome text
            <input data-testid="appearance-welcome" value={a.welcome_text} onInput={(e) => setA({ welcome_text: e.currentTarget.value })} />
          </label>
          <label>
            Launcher text
            <input value={a.launcher_text} onInput={(e) => setA({ launcher_text: e.currentTarget.value })} />
          </label>
          <label>
            Logo URL
            <input type="url" value={a.logo_url ?? ''} onInput={(e) => setA({ logo_url: e.currentTarget.value || null })} />
          </label>
        </section>
        <section class="card stack">
          <h2>Business hours</h2>
          <label class="check">
            <input
              type="checkbox"
              checked={hours !== null}
              onChange={(e) =>
                setHours(
                  e.currentTarget.checked
                    ? {
                        time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
                        weekly: Object.fromEntries(WEEKDAYS.slice(0, 5).map((d) => [d, [{ open: '09:00', close: '17:00' }]])),
                        holidays: [],
                      }
                    : null,
                )
              }
            />
            Only open at set hours (otherwise always open)
          </label>
          {hours ? (
            <>
              <label>
                Time zone
                <input value={hours.time_zone} onInput={(e) => setHours({ ...hours, time_zone: e.currentTarget.value })} />
              </label>
              <table class="table">
                <tbody>
                  {WEEKDAYS.map((d: Weekday) => {
                    const iv = hours.weekly[d]?.[0];
                    return (
                      <tr key={d}>
                        <th scope="row">{d}</th>
                        <td>
                          <label class="check">
                            <input
                              type="checkbox"
                              checked={!!iv}
                              onChange={(e) => setHours({ ...hours, weekly: { ...hours.weekly, [d]: e.currentTarget.checked ? [{ open: '09:00', close: '17:00' }] : [] } })}
                            />
                            open
                          </label>
                        </td>
                        <td>{iv ? <input type="time" aria-label={`${d} opens`} value={iv.open} onChange={(e) => setHours({ ...hours, weekly: { ...hours.weekly, [d]: [{ ...iv, open: e.currentTarget.value }] } })} /> : null}</td>
                        <td>{iv ? <input type="time" aria-label={`${d} closes`} value={iv.close} onChange={(e) => setHours({ ...hours, weekly: { ...hours.weekly, [d]: [{ ...iv, close: e.currentTarget.value }] } })} /> : null}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
              <label>
                Holidays (YYYY-MM-DD, one per line)
                <textarea rows={2} value={hours.holidays.join('\n')} onInput={(e) => setHours({ ...hours, holidays: e.currentTarget.value.split(/\s+/).filter(Boolean) })} />
              </label>
            </>
          ) : null}
        </section>
        <section class="card stack">
          <h2>Pre-chat form</h2>
          <label class="check">
            <input type="checkbox" checked={settings.prechat.enabled} onChange={(e) => setSettings({ ...settings, prechat: { ...settings.prechat, enabled: e.currentTarget.checked } })} />
            Ask these questions before the first message
          </label>
          {settings.prechat.fields.map((f, i) => (
            <div class="row" key={i}>
              <input aria-label="Key" placeholder="key" value={f.key} onInput={(e) => setFields(settings.prechat.fields.map((x, j) => (j === i ? { ...x, key: e.currentTarget.value } : x)))} />
              <select aria-label="Kind" value={f.kind} onChange={(e) => setFields(settings.prechat.fields.map((x, j) => (j === i ? { ...x, kind: e.currentTarget.value } : x)))}>
                {['name', 'email', 'phone', 'text'].map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
              <input aria-label="Label" placeholder="Label" value={f.label} onInput={(e) => setFields(settings.prechat.fields.map((x, j) => (j === i ? { ...x, label: e.currentTarget.value } : x)))} />
              <label class="check">
                <input type="checkbox" checked={f.required} onChange={(e) => setFields(settings.prechat.fields.map((x, j) => (j === i ? { ...x, required: e.currentTarget.checked } : x)))} />
                required
              </label>
              <button type="button" class="small danger" aria-label="Remove field" onClick={() => setFields(settings.prechat.fields.filter((_, j) => j !== i))}>
                ×
              </button>
            </div>
          ))}
          <button type="button" class="small" onClick={() => setFields([...settings.prechat.fields, blankField()])}>
            Add a field
          </button>
        </section>
        <section class="card stack">
          <h2>Install</h2>
          <p>Paste this before &lt;/body&gt; on every page of the website.</p>
          <textarea readOnly rows={4} data-testid="install-snippet" value={site.install_snippet} onFocus={(e) => e.currentTarget.select()} />
          <button type="button" class="small" data-testid="copy-snippet" onClick={() => void copy()}>
            {copied ? 'Copied ✓' : 'Copy'}
          </button>
        </section>
        <button type="button" class="primary" data-testid="website-save" onClick={() => void save()}>
          Save website
        </button>
      </div>
      <WidgetPreview settings={settings} name={name} />
    </div>
  );
}

/** A live preview of the widget with the appearance being edited (not the real widget app). */
function WidgetPreview({ settings, name }: { settings: WebsiteSettings; name: string }) {
  const a = settings.appearance;
  const left = a.position === 'bottom-left';
  return (
    <div class="preview-stage" aria-label="Widget preview" data-testid="widget-preview">
      <p class="muted">Preview</p>
      <div class={`pv-panel${left ? ' left' : ''}`}>
        <div class="pv-head" style={{ background: a.primary_color }}>
          {a.logo_url ? <img src={a.logo_url} alt="" class="pv-logo" /> : null}
          <strong>{name}</strong>
        </div>
        <div class="pv-body">
          <div class="pv-bubble">{a.welcome_text || 'Hi! How can we help?'}</div>
          {settings.prechat.enabled && settings.prechat.fields.length ? (
            <div class="pv-form">
              {settings.prechat.fields.map((f, i) => (
                <div key={i} class="pv-input">
                  {f.label || f.key}
                  {f.required ? ' *' : ''}
                </div>
              ))}
            </div>
          ) : null}
        </div>
        <div class="pv-composer">Write a message…</div>
      </div>
      <div class={`pv-launcher${left ? ' left' : ''}`} style={{ background: a.primary_color }} data-testid="preview-launcher">
        {a.launcher_text}
      </div>
    </div>
  );
}

// --- agents --------------------------------------------------------------------------------

function Agents({ desk }: { desk: Desk }) {
  const s = desk.state;
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<StaffRole>('agent');
  useEffect(() => void desk.reloadAgents(), [desk]);
  const invite = (e: Event) => {
    e.preventDefault();
    void desk.api.invite({ email, name: name || null, role }).then(
      (acc) => {
        desk.toast(`Invitation sent to ${acc.email ?? email}`);
        setEmail('');
        setName('');
        void desk.reloadAgents();
      },
      (err) => desk.toast(msg(err), 'error'),
    );
  };
  const setAccess = (site: WebsiteView, all: boolean, ids: number[]) =>
    void desk.api.updateWebsite(site.id, { agents: { all, account_ids: ids } }).then(
      () => desk.reloadWebsites(),
      (e) => desk.toast(msg(e), 'error'),
    );
  return (
    <div class="stack" data-testid="agent-settings">
      <form class="card row" onSubmit={invite}>
        <label>
          Email
          <input type="email" required data-testid="invite-email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Name
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as StaffRole)}>
            <option value="agent">Agent</option>
            <option value="admin">Admin</option>
            <option value="owner">Owner</option>
          </select>
        </label>
        <button type="submit" class="primary small" data-testid="invite-submit">
          Invite
        </button>
      </form>
      <table class="table card">
        <thead>
          <tr>
            <th scope="col">Agent</th>
            <th scope="col">Status</th>
            <th scope="col">Chats</th>
            <th scope="col">Role</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {s.agents.map((a) => (
            <tr key={a.account_id} data-testid="agent-row">
              <td>{desk.nameOf(a.account_id, 'Agent')}</td>
              <td>{a.status}</td>
              <td>
                {a.load}/{a.capacity}
              </td>
              <td>
                <select
                  aria-label="Change role"
                  value=""
                  onChange={(e) => {
                    const r = e.currentTarget.value as StaffRole;
                    e.currentTarget.value = '';
                    if (r) void desk.api.setRole(a.account_id, { role: r }).then(() => desk.toast('Role changed'), (err) => desk.toast(msg(err), 'error'));
                  }}
                >
                  <option value="">Change role…</option>
                  <option value="agent">Agent</option>
                  <option value="admin">Admin</option>
                  <option value="owner">Owner</option>
                </select>
              </td>
              <td>
                {a.account_id !== s.me?.id ? (
                  <button
                    type="button"
                    class="small danger"
                    onClick={() => {
                      if (confirm('Deactivate this account? They are signed out everywhere.'))
                        void desk.api.deactivate(a.account_id).then(() => desk.reloadAgents(), (e) => desk.toast(msg(e), 'error'));
                    }}
                  >
                    Deactivate
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <section class="card">
        <h2>Website access</h2>
        {s.websites.map((w) => (
          <div key={w.id} class="access">
            <strong>{w.name}</strong>
            <label class="check">
              <input type="checkbox" checked={w.agents.all} onChange={(e) => setAccess(w, e.currentTarget.checked, w.agents.account_ids ?? [])} />
              Every agent
            </label>
            {!w.agents.all
              ? s.agents.map((a) => (
                  <label class="check" key={a.account_id}>
                    <input
                      type="checkbox"
                      checked={(w.agents.account_ids ?? []).includes(a.account_id)}
                      onChange={(e) =>
                        setAccess(w, false, e.currentTarget.checked ? [...(w.agents.account_ids ?? []), a.account_id] : (w.agents.account_ids ?? []).filter((x) => x !== a.account_id))
                      }
                    />
                    {desk.nameOf(a.account_id, 'Agent')}
                  </label>
                ))
              : null}
          </div>
        ))}
      </section>
    </div>
  );
}
