/**
 * API keys: the list (never a token: only its first characters), create (the token is shown once,
 * in this page's memory only, and gone when the page is left), revoke.
 */
import { useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { canWrite, ErrorNote, ListTable, TextField, Time, useLoad } from '../ui';

interface ApiKey {
  id: string;
  name: string;
  scope: 'read' | 'write' | 'privacy';
  token_hint: string;
  revoked_at: string | null;
  created_at: string;
}

export function ApiKeysPage() {
  const list = useLoad(() => api<Page<ApiKey>>('api/api-keys', { query: { limit: '1000' } }), 'api-keys');
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'read' | 'write' | 'privacy'>('read');
  const [created, setCreated] = useState<{ name: string; token: string } | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const write = canWrite();
  const act = async (work: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await work();
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <main>
      <h1>API keys</h1>
      <ErrorNote error={list.error ?? error} />
      {created && (
        <section class="note" aria-label="New key">
          <p>The token of {created.name}, shown this once (it is not stored; copy it now):</p>
          <pre>{created.token}</pre>
        </section>
      )}
      <ListTable
        caption="API keys"
        columns={['Name', 'Scope', 'Token starts', 'Created', 'State']}
        items={list.data?.data}
        empty="No API keys yet."
        row={(k) => (
          <tr key={k.id}>
            <td>{k.name}</td>
            <td>{k.scope}</td>
            <td>
              <code>{k.token_hint}</code>
            </td>
            <td>
              <Time iso={k.created_at} />
            </td>
            <td>
              {k.revoked_at ? (
                <>
                  revoked <Time iso={k.revoked_at} />
                </>
              ) : write ? (
                <button
                  type="button"
                  onClick={() =>
                    act(() => api(`api/api-keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' }))
                  }
                >
                  Revoke {k.name}
                </button>
              ) : (
                'active'
              )}
            </td>
          </tr>
        )}
      />
      {write && (
        <form
          aria-label="New API key"
          onSubmit={(event) => {
            event.preventDefault();
            act(async () => {
              const key = await api<ApiKey & { token: string }>('api/api-keys', {
                method: 'POST',
                body: { name, scope },
              });
              setCreated({ name: key.name, token: key.token });
              setName('');
            });
          }}
        >
          <h2>New API key</h2>
          <TextField id="key-name" label="Name" required value={name} onValue={setName} />
          <p>
            <label for="key-scope">Scope</label>{' '}
            <select
              id="key-scope"
              value={scope}
              onChange={(e) =>
                setScope((e.target as HTMLSelectElement).value as 'read' | 'write' | 'privacy')
              }
            >
              <option value="read">read</option>
              <option value="write">write</option>
              <option value="privacy">privacy</option>
            </select>
          </p>
          <button type="submit">Create API key</button>
        </form>
      )}
    </main>
  );
}
