// Pre-chat and offline forms: validation and mapping onto the widget API bodies.
import type { FormField, OfflineMessage, ProfileInput } from './sdk';
import type { StringKey } from './i18n';

export type FormValues = Record<string, string>;
export type FormErrors = Record<string, StringKey>;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9 ().\-/]{5,24}$/;

export function validateField(field: FormField, raw: string | undefined): StringKey | null {
  const value = (raw ?? '').trim();
  if (!value) return field.required ? 'err_required' : null;
  if (field.kind === 'email' && !EMAIL.test(value)) return 'err_email';
  if (field.kind === 'phone' && (!PHONE.test(value) || value.replace(/\D/g, '').length < 5)) return 'err_phone';
  return null;
}

export function validateForm(fields: FormField[], values: FormValues): FormErrors {
  const errors: FormErrors = {};
  for (const f of fields) {
    const e = validateField(f, values[f.key]);
    if (e) errors[f.key] = e;
  }
  return errors;
}

/** The first name/email/phone fields go to their own properties; everything else to `fields`. */
export function toProfile(fields: FormField[], values: FormValues): ProfileInput {
  const out: ProfileInput = {};
  const extra: Record<string, string> = {};
  for (const f of fields) {
    const v = (values[f.key] ?? '').trim();
    if (!v) continue;
    const kind = f.kind;
    if ((kind === 'name' || kind === 'email' || kind === 'phone') && out[kind] === undefined) out[kind] = v;
    else extra[f.key] = v;
  }
  if (Object.keys(extra).length) out.fields = extra;
  return out;
}

/** Key of the message box the offline form always has. */
export const OFFLINE_MESSAGE = '__message';
/** Key of the email field added when the configured fields have none. */
export const OFFLINE_EMAIL = '__email';

/** The configured offline fields, plus a required email field when none is configured. */
export function offlineFields(configured: FormField[], emailLabel: string): FormField[] {
  const fields = configured.map((f) => (f.kind === 'email' ? { ...f, required: true } : f));
  if (!fields.some((f) => f.kind === 'email')) fields.unshift({ key: OFFLINE_EMAIL, kind: 'email', label: emailLabel, required: true });
  return fields;
}

export function toOffline(fields: FormField[], values: FormValues): OfflineMessage {
  const p = toProfile(fields, values);
  const req: OfflineMessage = { email: p.email ?? '', message: (values[OFFLINE_MESSAGE] ?? '').trim() };
  if (p.name) req.name = p.name;
  const extra = { ...(p.fields ?? {}) };
  if (p.phone) extra.phone = p.phone;
  if (Object.keys(extra).length) req.fields = extra;
  return req;
}
