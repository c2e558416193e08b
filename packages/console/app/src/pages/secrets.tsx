/**
 * Secrets: the list (keys and when their value last changed), create, rotate. Values are
 * write-only: typed into a password field, sent once, never read back (the API has no way to).
 * The field is emptied as soon as the request is sent.
 */
import { useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { canWrite, ErrorNote, ListTable, TextField, Time, useLoad } from '../ui';

interface Secret {
  id: string;
  key: string;
  description?: string;
  value_version: number;
  value_updated_at: string;
}

export function SecretsPage() {
  const list = useLoad(() => api<Page<Secret>>('api/secrets', { query: { limit: '1000' } }), 'secrets');
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [message, setMessage] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const write = canWrite();
  return (
    <main>
      <h1>Secrets</h1>
      <p>
        Values are write-only: they are never shown, here or anywhere in the API. Records show them as
        [secret:KEY].
      </p>
      <ErrorNote error={list.error ?? error} />
      <ListTable
        caption="Secrets"
        columns={['Key', 'Description', 'Value version', 'Value changed', write && 'Rotate']}
        items={list.data?.data}
        empty="No secrets yet."
        row={(s) => (
          <tr key={s.id}>
            <td>{s.key}</td>
            <td>{s.description ?? ''}</td>
            <td class="num">{s.value_version}</td>
            <td>
              <Time iso={s.value_updated_at} />
            </td>
            {write && (
              <td>
                <Rotate secret={s} onDone={list.reload} />
              </td>
            )}
          </tr>
        )}
      />
      {write && (
        <form
          aria-label="New secret"
          onSubmit={async (event) => {
            event.preventDefault();
            setError(undefined);
            const sent = value;
            setValue('');
            try {
              await api('api/secrets', { method: 'POST', body: { key, value: sent } });
              setMessage(`Secret ${key} created.`);
              setKey('');
              list.reload();
            } catch (err) {
              setError(err as Error);
            }
          }}
        >
          <h2>New secret</h2>
          <TextField id="secret-key" label="Key" required value={key} onValue={setKey} />
          <TextField id="secret-value" label="Value" secret required value={value} onValue={setValue} />
          <button type="submit">Create secret</button> <span role="status">{message}</span>
        </form>
      )}
    </main>
  );
}

function Rotate(props: { secret: Secret; onDone: () => void }) {
  const [value, setValue] = useState('');
  const [message, setMessage] = useState('');
  const id = `rotate-${props.secret.id}`;
  return (
    <form
      class="inline"
      onSubmit={async (event) => {
        event.preventDefault();
        const sent = value;
        setValue('');
        try {
          await api(`api/secrets/${encodeURIComponent(props.secret.id)}/value`, {
            method: 'PUT',
            body: { value: sent },
          });
          setMessage('Rotated.');
          props.onDone();
        } catch (err) {
          setMessage(`Not rotated: ${(err as Error).message}`);
        }
      }}
    >
      <label for={id}>New value for {props.secret.key}</label>{' '}
      <input
        id={id}
        type="password"
        autocomplete="off"
        required
        value={value}
        onInput={(e) => setValue((e.target as HTMLInputElement).value)}
      />{' '}
      <button type="submit">Rotate</button> <span role="status">{message}</span>
    </form>
  );
}
