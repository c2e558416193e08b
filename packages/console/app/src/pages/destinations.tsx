/**
 * Destinations: the list, and one destination: its settings (a form generated from its template's
 * settings schema) or its own `send()` code in the editor, the secrets bound to it, its enabled
 * state, and a dry run (every request recorded and answered with a synthetic 200, nothing sent) or
 * a test send in the platform's test mode, showing each request `send()` made.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Page, type Pipe } from '../api';
import { CreateForm } from '../create-form';
import type { CodeEditor } from '../editor';
import { Link, navigate } from '../router';
import { SettingsForm, type SettingsSchema } from '../settings-form';
import { canWrite, Enabled, ErrorNote, Json, ListTable, Section, useLoad, useVersionedState } from '../ui';

interface DestinationFull {
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  version: number;
  send: string;
  secret_ids: string[];
  max_batch_size: number;
  template?: { name: string; settings: Record<string, unknown> };
}

interface Template {
  name: string;
  description: string;
  settings_schema: SettingsSchema | null;
  test_mode: { setting: string; needs_value: boolean; description: string } | null;
}

interface SecretMeta {
  id: string;
  key: string;
}

interface Exchange {
  request: { url: string; method: string; headers: Record<string, string>; payload?: unknown };
  response: { status: number; body?: unknown } | null;
  error: { code: string; message: string } | null;
}

interface SendTestResult {
  synthetic: boolean;
  note: string;
  requests: Exchange[];
  value?: unknown;
  error: { code: string; message: string } | null;
  outcome: string[];
  test_mode: boolean;
  logs: Array<{ level: string; message: string }>;
}

export function DestinationsPage() {
  const list = useLoad(
    () => api<Page<DestinationFull>>('api/event-destinations', { query: { limit: '1000' } }),
    'destinations',
  );
  return (
    <main>
      <h1>Destinations</h1>
      <ErrorNote error={list.error} />
      <ListTable
        caption="Destinations"
        columns={['Name', 'State', 'Kind', 'Secrets', 'Version']}
        items={list.data?.data}
        empty="No destinations yet."
        row={(d) => (
          <tr key={d.id}>
            <td>
              <Link to={`/destinations/${d.id}`}>{d.name}</Link>
            </td>
            <td>
              <Enabled enabled={d.enabled} />
            </td>
            <td>{d.template ? `template ${d.template.name}` : 'own send() code'}</td>
            <td class="num">{d.secret_ids.length}</td>
            <td class="num">{d.version}</td>
          </tr>
        )}
      />
      {canWrite() && (
        <CreateForm
          title="New destination"
          id="new-destination"
          fields={[
            { name: 'name', label: 'Name' },
            {
              name: 'send',
              label: 'send() code',
              kind: 'code',
              hint: 'async function send({ events, secrets }); bind its secrets on the next page',
            },
          ]}
          submit="Create destination"
          onCreate={async ({ name, send }) => {
            const created = await api<{ id: string }>('api/event-destinations', {
              method: 'POST',
              body: { name, send },
            });
            navigate(`/destinations/${created.id}`);
            return `Destination ${name} created.`;
          }}
        />
      )}
    </main>
  );
}

interface Loaded {
  destination: DestinationFull;
  templates: Template[];
  secrets: SecretMeta[];
  pipes: Pipe[];
}

async function loadDestination(id: string): Promise<Loaded> {
  const [destination, templates, secrets, pipes] = await Promise.all([
    api<DestinationFull>(`api/event-destinations/${encodeURIComponent(id)}`),
    api<{ data: Template[] }>('api/event-destination-templates'),
    api<Page<SecretMeta>>('api/secrets', { query: { limit: '1000' } }),
    api<Page<Pipe>>('api/pipes', { query: { limit: '1000' } }),
  ]);
  return {
    destination,
    templates: templates.data,
    secrets: secrets.data,
    pipes: pipes.data.filter((p) => p.destination_id === id),
  };
}

export function DestinationPage(props: { id: string }) {
  const loaded = useLoad(() => loadDestination(props.id), props.id);
  const [error, setError] = useState<Error | undefined>(undefined);
  const d = loaded.data?.destination;
  const write = canWrite();
  const call = async (path: string, method: string, body?: unknown) => {
    setError(undefined);
    try {
      await api(`api/event-destinations/${encodeURIComponent(props.id)}${path}`, { method, body });
      loaded.reload();
    } catch (err) {
      setError(err as Error);
      throw err;
    }
  };
  const template = d?.template ? loaded.data?.templates.find((t) => t.name === d.template!.name) : undefined;
  return (
    <main>
      <h1>Destination {d?.name ?? props.id}</h1>
      <ErrorNote error={loaded.error ?? error} />
      {d && loaded.data && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <Enabled enabled={d.enabled} />{' '}
              {write && (
                <button
                  type="button"
                  onClick={() => call('/toggle', 'PUT', { enabled: !d.enabled }).catch(() => {})}
                >
                  {d.enabled ? 'Disable' : 'Enable'}
                </button>
              )}
            </dd>
            <dt>Version</dt>
            <dd>{d.version}</dd>
            <dt>Kind</dt>
            <dd>{d.template ? `template ${d.template.name}` : 'own send() code'}</dd>
            <dt>Pipes</dt>
            <dd>
              {loaded.data.pipes.length === 0
                ? 'none'
                : loaded.data.pipes.map((p) => (
                    <span key={p.id}>
                      <Link to={`/pipes/${p.id}`}>{p.name}</Link>{' '}
                    </span>
                  ))}
            </dd>
          </dl>
          <Section title="Settings">
            {d.template && template?.settings_schema ? (
              <SettingsForm
                key={d.id}
                schema={template.settings_schema}
                settings={d.template.settings}
                readOnly={!write}
                onSave={(settings) => call('/settings', 'PUT', { settings })}
                version={d.version}
              />
            ) : d.template ? (
              <Json value={d.template.settings} label="Template settings" />
            ) : (
              <SendEditor
                key={d.id}
                code={d.send}
                readOnly={!write}
                onSave={(send) => call('', 'PATCH', { send })}
                version={d.version}
              />
            )}
          </Section>
          <Section title="Bound secrets">
            <SecretBinding
              key={d.id}
              bound={d.secret_ids}
              secrets={loaded.data.secrets}
              readOnly={!write}
              onSave={(secretIds) => call('/secrets', 'PUT', { secretIds })}
              version={d.version}
            />
          </Section>
          {write && <TrySend destination={d} template={template} pipes={loaded.data.pipes} />}
        </>
      )}
    </main>
  );
}

function SendEditor(props: {
  code: string;
  readOnly: boolean;
  onSave: (code: string) => Promise<void>;
  /** The version `code` belongs to: a new one reloads the editor with it. */
  version: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const [code, setCode] = useVersionedState(() => props.code, props.version);
  const [message, setMessage] = useState('');
  useEffect(() => {
    let editor: CodeEditor | undefined;
    let gone = false;
    import('../editor').then(({ mountEditor }) => {
      if (gone || !host.current) return;
      editor = mountEditor(host.current, props.code, 'send() code', setCode);
    });
    return () => {
      gone = true;
      editor?.destroy();
    };
    // A new version starts the editor over with its code, as `code` starts over (unsaved edits go).
  }, [props.code, props.version]);
  return (
    <>
      <div class="editor" ref={host}>
        <p class="muted">Loading the editor…</p>
      </div>
      {!props.readOnly && (
        <p class="actions">
          <button
            type="button"
            disabled={code === props.code}
            onClick={() =>
              props.onSave(code).then(
                () => setMessage('send() saved as a new version.'),
                (err: Error) => setMessage(`Not saved: ${err.message}`),
              )
            }
          >
            Save send()
          </button>{' '}
          <span role="status">{message}</span>
        </p>
      )}
    </>
  );
}

function SecretBinding(props: {
  bound: string[];
  secrets: SecretMeta[];
  readOnly: boolean;
  onSave: (ids: string[]) => Promise<void>;
  /** The version `bound` belongs to: a new one resets the checkboxes to it. */
  version: number;
}) {
  const [chosen, setChosen] = useVersionedState(() => new Set(props.bound), props.version);
  const [message, setMessage] = useState('');
  if (props.secrets.length === 0) return <p>No secrets yet: create one on the Secrets page.</p>;
  return (
    <fieldset>
      <legend>Secrets this destination's send() may read (values are never shown)</legend>
      {props.secrets.map((s) => (
        <label key={s.id} class="check">
          <input
            type="checkbox"
            disabled={props.readOnly}
            checked={chosen.has(s.id)}
            onChange={(e) => {
              const next = new Set(chosen);
              if ((e.target as HTMLInputElement).checked) next.add(s.id);
              else next.delete(s.id);
              setChosen(next);
            }}
          />{' '}
          {s.key}
        </label>
      ))}
      {!props.readOnly && (
        <p class="actions">
          <button
            type="button"
            onClick={() =>
              props.onSave([...chosen]).then(
                () => setMessage('Bindings saved.'),
                (err: Error) => setMessage(`Not saved: ${err.message}`),
              )
            }
          >
            Save bindings
          </button>{' '}
          <span role="status">{message}</span>
        </p>
      )}
    </fieldset>
  );
}

const sampleEvents = () =>
  JSON.stringify(
    [{ event_type: 'purchase', event_time: new Date().toISOString(), event_id: 'test_1', event_payload: {} }],
    null,
    2,
  );

function TrySend(props: { destination: DestinationFull; template: Template | undefined; pipes: Pipe[] }) {
  const [through, setThrough] = useState(props.pipes[0]?.id ?? '');
  const [input, setInput] = useState(sampleEvents);
  const [code, setCode] = useState('');
  const [result, setResult] = useState<SendTestResult | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const testMode = props.template?.test_mode ?? null;
  const run = async (mode: 'dry' | 'test') => {
    setError(undefined);
    setResult(undefined);
    try {
      const parsed = JSON.parse(input) as unknown;
      const list = Array.isArray(parsed) ? parsed : [parsed];
      const body: Record<string, unknown> = { mode };
      if (through) {
        body.events = list;
        body.pipe_id = through;
      } else body.outputs = list;
      if (mode === 'test' && code) body.test_event_code = code;
      setResult(
        await api<SendTestResult>(
          `api/event-destinations/${encodeURIComponent(props.destination.id)}/send-test`,
          {
            method: 'POST',
            body,
          },
        ),
      );
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <Section title="Try send()">
      <p>
        <label for="send-through">Input</label>{' '}
        <select
          id="send-through"
          value={through}
          onChange={(e) => setThrough((e.target as HTMLSelectElement).value)}
        >
          {props.pipes.map((p) => (
            <option key={p.id} value={p.id}>
              events through pipe {p.name}
            </option>
          ))}
          <option value="">outputs, as send() gets them</option>
        </select>
      </p>
      <p>
        <label for="send-input">{through ? 'Events (JSON)' : 'Outputs (JSON)'}</label>
        <textarea
          id="send-input"
          rows={8}
          value={input}
          onInput={(e) => setInput((e.target as HTMLTextAreaElement).value)}
        />
      </p>
      {testMode?.needs_value && (
        <p>
          <label for="test-event-code">Test event code</label>{' '}
          <input
            id="test-event-code"
            value={code}
            onInput={(e) => setCode((e.target as HTMLInputElement).value)}
          />
        </p>
      )}
      <p class="actions">
        <button type="button" onClick={() => run('dry')}>
          Dry run
        </button>{' '}
        <button
          type="button"
          disabled={!testMode}
          title={
            testMode ? testMode.description : 'No test mode: this destination is not a template with one'
          }
          onClick={() => run('test')}
        >
          Test send
        </button>{' '}
        {!testMode && <span class="muted">No test mode for this destination.</span>}
      </p>
      <ErrorNote error={error} />
      {result && (
        <section aria-label="Send result">
          <p role="status" class={result.synthetic ? 'note' : ''}>
            {result.note}
          </p>
          {result.requests.length === 0 && <p>send() made no request.</p>}
          {result.requests.map((exchange, i) => (
            <section key={i} class="exchange">
              <h3>
                Request {i + 1}: {exchange.request.method} {exchange.request.url}
              </h3>
              <Json value={exchange.request} label={`Request ${i + 1}`} />
              <h4>{result.synthetic ? 'Answer (synthetic, not from the platform)' : 'Answer'}</h4>
              <Json value={exchange.response ?? exchange.error} label={`Answer ${i + 1}`} />
            </section>
          ))}
          <p>
            Outcome: {result.outcome.join(', ')}
            {result.test_mode ? ' (test mode)' : ''}
          </p>
          {result.error && (
            <p class="error">
              {result.error.code}: {result.error.message}
            </p>
          )}
          {result.logs.length > 0 && <Json value={result.logs} label="Console lines" />}
        </section>
      )}
    </Section>
  );
}
