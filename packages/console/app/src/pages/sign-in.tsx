/** Sign-in: an admin token or an API key, checked with `GET /api/session`, kept in sessionStorage. */
import { useState } from 'preact/hooks';
import { ApiError, api, type Session, storeToken } from '../api';

export function SignIn(props: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const session = await api<Session>('api/session', { token: token.trim() });
      storeToken(token.trim());
      props.onSignedIn(session);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'This key is not known to this server.'
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>OpenPipes console</h1>
      <form onSubmit={submit}>
        <label for="token">API key or admin token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(event) => setToken((event.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
      <p class="muted">The key stays in this tab only (sessionStorage) and is sent as a bearer header.</p>
    </main>
  );
}
