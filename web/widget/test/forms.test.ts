import { describe, expect, it } from 'vitest';
import { OFFLINE_EMAIL, OFFLINE_MESSAGE, offlineFields, toOffline, toProfile, validateField, validateForm } from '../src/app/forms';
import { registerLocale, resolveLocale, translate } from '../src/app/i18n';
import { contrastOn, safeColor } from '../src/app/styles';
import type { FormField } from '../src/app/sdk';

const f = (key: string, kind: FormField['kind'], required = false): FormField => ({ key, kind, label: key, required });

describe('form validation', () => {
  it('checks required, email and phone', () => {
    expect(validateField(f('n', 'name', true), '  ')).toBe('err_required');
    expect(validateField(f('n', 'name'), '')).toBeNull();
    expect(validateField(f('e', 'email'), 'a@b')).toBe('err_email');
    expect(validateField(f('e', 'email'), 'a@b.co')).toBeNull();
    expect(validateField(f('p', 'phone'), '12a4567')).toBe('err_phone');
    expect(validateField(f('p', 'phone'), '+1 (555) 010-9999')).toBeNull();
    expect(validateField(f('p', 'phone'), '(1) -')).toBe('err_phone');
    expect(validateForm([f('a', 'text', true), f('b', 'email')], { b: 'x' })).toEqual({ a: 'err_required', b: 'err_email' });
  });

  it('maps fields onto the profile body', () => {
    const fields = [f('full', 'name'), f('mail', 'email'), f('tel', 'phone'), f('alt', 'email'), f('order', 'text')];
    expect(toProfile(fields, { full: ' Ada ', mail: 'a@b.co', tel: '', alt: 'x@y.z', order: '42' })).toEqual({
      name: 'Ada',
      email: 'a@b.co',
      fields: { alt: 'x@y.z', order: '42' },
    });
    expect(toProfile(fields, {})).toEqual({});
  });

  it('builds the offline form: a required email always, and the body', () => {
    expect(offlineFields([f('n', 'name')], 'Email').map((x) => [x.key, x.required])).toEqual([
      [OFFLINE_EMAIL, true],
      ['n', false],
    ]);
    expect(offlineFields([f('m', 'email')], 'Email')).toEqual([{ ...f('m', 'email'), required: true }]);
    const fields = offlineFields([f('n', 'name'), f('p', 'phone'), f('c', 'text')], 'Email');
    expect(toOffline(fields, { [OFFLINE_EMAIL]: 'a@b.co', n: 'Bo', p: '+44 1', c: 'x', [OFFLINE_MESSAGE]: ' hi ' })).toEqual({
      email: 'a@b.co',
      name: 'Bo',
      message: 'hi',
      fields: { c: 'x', phone: '+44 1' },
    });
  });
});

describe('locales', () => {
  it('falls back to English, by language then by default', () => {
    expect(resolveLocale('en-GB')).toBe('en');
    expect(resolveLocale('xx')).toBe('en');
    registerLocale('de', { send: 'Senden' });
    expect(resolveLocale('de_AT')).toBe('de');
    expect(translate('de-AT', 'send')).toBe('Senden');
    expect(translate('de', 'retry')).toBe('Retry');
    expect(translate('en', 'typing', { name: 'Sam' })).toBe('Sam is typing…');
  });
});

describe('theme', () => {
  it('picks readable text on the primary colour and accepts only hex colours', () => {
    expect(contrastOn('#4F46E5')).toBe('#fff');
    expect(contrastOn('#fde047')).toBe('#111');
    expect(contrastOn('#fff')).toBe('#111');
    expect(safeColor('red;background:url(x)')).toBe('#2b59c3');
    expect(safeColor('0f0')).toBe('#0f0');
    expect(safeColor(null)).toBe('#2b59c3');
  });
});
