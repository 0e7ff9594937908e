// TOTP enrolment: a new secret (to type or scan as an otpauth:// link), confirmed with a
// current code; the recovery codes are shown once.
import { useState } from 'preact/hooks';
import type { Desk } from '../desk';
import type { TotpSetupView } from '../sdk';

export function TotpSetup({ desk, onDone }: { desk: Desk; onDone: () => void }) {
  const [setup, setSetup] = useState<TotpSetupView | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const start = async () => {
    setError(null);
    try {
      setSetup(await desk.api.totpSetup());
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const enable = async (ev: Event) => {
    ev.preventDefault();
    setError(null);
    try {
      setCodes((await desk.api.totpEnable(code.replace(/\s+/g, ''))).recovery_codes);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  if (codes) {
    return (
      <div class="totp" data-testid="totp-recovery">
        <p>Two-factor authentication is on. Keep these recovery codes somewhere safe; each works once.</p>
        <pre class="codes">{codes.join('\n')}</pre>
        <button class="primary" type="button" onClick={onDone}>
          Done
        </button>
      </div>
    );
  }
  if (!setup) {
    return (
      <div class="totp">
        <button type="button" class="primary" data-testid="totp-start" onClick={() => void start()}>
          Set up an authenticator app
        </button>
        {error ? <p class="error" role="alert">{error}</p> : null}
      </div>
    );
  }
  return (
    <form class="totp" onSubmit={(e) => void enable(e)} data-testid="totp-form">
      <p>
        Add this key to your authenticator app (or open the <a href={setup.otpauth_uri}>otpauth link</a> on your phone):
      </p>
      <code class="secret" data-testid="totp-secret">
        {setup.secret}
      </code>
      <label>
        Code from the app
        <input data-testid="totp-code" inputMode="numeric" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
      </label>
      {error ? <p class="error" role="alert">{error}</p> : null}
      <button class="primary" type="submit" data-testid="totp-enable">
        Turn on
      </button>
    </form>
  );
}
