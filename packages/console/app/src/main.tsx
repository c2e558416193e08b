/** The console's shell: sign-in, navigation, and the page for the current URL. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Session, storedToken, storeToken } from './api';
import { AlertsPage } from './pages/alerts';
import { ApiKeysPage } from './pages/api-keys';
import { AuditPage } from './pages/audit';
import { CodePage } from './pages/code';
import { DeliveryPage } from './pages/delivery';
import { DestinationPage, DestinationsPage } from './pages/destinations';
import { EventTypesPage } from './pages/event-types';
import { OverviewPage } from './pages/overview';
import { PipePage } from './pages/pipe';
import { ReconciliationPage } from './pages/reconciliation';
import { SecretsPage } from './pages/secrets';
import { SignIn } from './pages/sign-in';
import { SourcePage, SourcesPage } from './pages/sources';
import { Link, usePath } from './router';
import { setSession } from './ui';

function Page(props: { path: string }) {
  // The query (filters of the audit and reconciliation pages) is read by the page itself.
  const parts = props.path.split('?')[0]!.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return <OverviewPage />;
  if (parts[0] === 'pipes' && parts.length === 2) return <PipePage id={parts[1]!} />;
  if (parts[0] === 'pipes' && parts.length === 3 && parts[2] === 'code') return <CodePage id={parts[1]!} />;
  if (parts[0] === 'deliveries' && parts.length === 2) return <DeliveryPage id={parts[1]!} />;
  if (parts[0] === 'sources' && parts.length === 1) return <SourcesPage />;
  if (parts[0] === 'sources' && parts.length === 2) return <SourcePage id={parts[1]!} />;
  if (parts[0] === 'destinations' && parts.length === 1) return <DestinationsPage />;
  if (parts[0] === 'destinations' && parts.length === 2) return <DestinationPage id={parts[1]!} />;
  if (parts.length === 1 && parts[0] === 'event-types') return <EventTypesPage />;
  if (parts.length === 1 && parts[0] === 'secrets') return <SecretsPage />;
  if (parts.length === 1 && parts[0] === 'alerts') return <AlertsPage />;
  if (parts.length === 1 && parts[0] === 'audit') return <AuditPage />;
  if (parts.length === 1 && parts[0] === 'api-keys') return <ApiKeysPage />;
  if (parts.length === 1 && parts[0] === 'reconciliation') return <ReconciliationPage />;
  return (
    <main>
      <h1>Not found</h1>
      <p>
        There is no console page here. <Link to="/">Go to the overview</Link>.
      </p>
    </main>
  );
}

function App() {
  const path = usePath();
  const [session, setCurrent] = useState<Session | null | undefined>(storedToken() ? undefined : null);
  useEffect(() => {
    if (session !== undefined) return;
    api<Session>('api/session').then(
      (value) => {
        setSession(value);
        setCurrent(value);
      },
      () => {
        storeToken(null);
        setCurrent(null);
      },
    );
  }, [session]);
  if (session === undefined) return <p class="muted">Loading…</p>;
  if (session === null) {
    return (
      <SignIn
        onSignedIn={(value) => {
          setSession(value);
          setCurrent(value);
        }}
      />
    );
  }
  return (
    <>
      <header>
        <nav aria-label="Console">
          <Link to="/" class="brand">
            OpenPipes
          </Link>
          <Link to="/sources">Sources</Link>
          <Link to="/event-types">Event types</Link>
          <Link to="/destinations">Destinations</Link>
          <Link to="/reconciliation">Reconciliation</Link>
          <Link to="/secrets">Secrets</Link>
          <Link to="/alerts">Alerts</Link>
          <Link to="/audit">Audit</Link>
          <Link to="/api-keys">API keys</Link>
          <span class="who">
            {session.actor} (
            {session.scope === 'privacy'
              ? 'read, write and privacy'
              : session.scope === 'write'
                ? 'read and write'
                : 'read-only'}
            )
          </span>
          <button
            type="button"
            onClick={() => {
              storeToken(null);
              setCurrent(null);
            }}
          >
            Sign out
          </button>
        </nav>
      </header>
      <Page path={path} />
    </>
  );
}

render(<App />, document.getElementById('app')!);
