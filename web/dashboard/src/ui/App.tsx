import { useEffect, useRef, useState } from 'preact/hooks';
import type { Desk } from '../desk';
import { useDesk } from './hooks';
import { Shell } from './Shell';
import { TotpSetup } from './Totp';

export function App({ desk }: { desk: Desk }) {
  const s = useDesk(desk);
  if (s.auth === 'loading') {
    return (
      <div class="splash" role="status" data-testid="splash">
        Loading natter…
      </div>
    );
  }
  if (s.auth !== 'signed_in') return <SignIn desk={desk} />;
  return <Shell desk={desk} />;
}

function SignIn({ desk }: { desk: Desk }) {
  const s = desk.state;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const codeRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (s.auth === 'mfa') codeRef.current?.focus();
  }, [s.auth]);
  const sso = desk.ssoUrl();
  return (
    <main class="signin">
      <div class="signin-card">
        <h1 class="brand-big">natter</h1>
        {s.expired && s.auth === 'signed_out' ? (
          <p class="notice" role="alert" data-testid="session-expired">
            Your session has ended. Please sign in again.
          </p>
        ) : null}
        {s.auth === 'signed_out' ? (
          <form
            data-testid="signin-form"
            aria-label="Sign in"
            onSubmit={(e) => {
              e.preventDefault();
              void desk.login(email, password);
            }}
          >
            <h2>Sign in to your workspace</h2>
            <label>
              Email
              <input
                data-testid="signin-email"
                type="email"
                autocomplete="username"
                required
                value={email}
                onInput={(e) => setEmail(e.currentTarget.value)}
                autoFocus
              />
            </label>
            <label>
              Password
              <input
                data-testid="signin-password"
                type="password"
                autocomplete="current-password"
                required
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </label>
            {s.authError ? (
              <p class="error" role="alert" data-testid="signin-error">
                {s.authError}
              </p>
            ) : null}
            <button class="primary" type="submit" disabled={s.busy} data-testid="signin-submit">
              {s.busy ? 'Signing in…' : 'Sign in'}
            </button>
            {sso ? (
              <a class="button secondary sso" href={sso} data-testid="sso-button">
                Sign in with SSO
              </a>
            ) : null}
          </form>
        ) : s.auth === 'mfa' ? (
          <form
            data-testid="mfa-form"
            aria-label="Second factor"
            onSubmit={(e) => {
              e.preventDefault();
              void desk.submitCode(code);
            }}
          >
            <h2>Two-factor authentication</h2>
            <p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
            <label>
              Code
              <input
                ref={codeRef}
                data-testid="mfa-code"
                inputMode="numeric"
                autocomplete="one-time-code"
                required
                value={code}
                onInput={(e) => setCode(e.currentTarget.value)}
              />
            </label>
            {s.authError ? (
              <p class="error" role="alert" data-testid="signin-error">
                {s.authError}
              </p>
            ) : null}
            <button class="primary" type="submit" disabled={s.busy} data-testid="mfa-submit">
              Verify
            </button>
            <button type="button" class="link" onClick={() => void desk.logout()}>
              Use another account
            </button>
          </form>
        ) : (
          <div data-testid="enrol-required">
            <h2>Set up two-factor authentication</h2>
            <p>This workspace requires a second factor before you can continue.</p>
            <TotpSetup desk={desk} onDone={() => void desk.boot()} />
            <button type="button" class="link" onClick={() => void desk.logout()}>
              Back to sign in
            </button>
          </div>
        )}
      </div>
    </main>
  );
}
