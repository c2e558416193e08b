/**
 * A pipe's transform: edit it (CodeMirror, loaded only here), run it in the sandbox on pasted
 * events or the pipe's last events, review the diff against the current version, save, and see or
 * revert to older versions.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Pipe } from '../api';
import { diffLines } from '../diff';
import type { CodeEditor } from '../editor';
import { Link } from '../router';
import { canWrite, ErrorNote, Json, Section, Time, useLoad } from '../ui';

interface TestResult {
  results: Array<{
    event_id: string | null;
    output: unknown[] | null;
    error: { code: string; message: string; line?: number; column?: number } | null;
  }>;
  logs: Array<{ level: string; message: string }>;
  duration_ms: number;
}

interface Version {
  version: number;
  created_at: string;
  actor: string | null;
  data: { transform?: string | null };
}

const exampleEvents = JSON.stringify(
  [
    {
      event_type: 'purchase',
      event_time: new Date(0).toISOString(),
      event_id: 'ord_1',
      event_payload: { order_id: 'ord_1' },
    },
  ],
  null,
  2,
);

/** The editor, loaded lazily once the pipe is known; re-mounted when the saved code changes. */
function useTransformEditor(
  host: { current: HTMLDivElement | null },
  pipe: Pipe | undefined,
  current: string,
  setCode: (code: string | null) => void,
) {
  useEffect(() => {
    if (!pipe || !host.current) return;
    let editor: CodeEditor | undefined;
    let cancelled = false;
    setCode(current);
    import('../editor').then(({ mountEditor }) => {
      if (cancelled || !host.current) return;
      editor = mountEditor(host.current, current, 'Transform code', setCode);
    });
    return () => {
      cancelled = true;
      editor?.destroy();
    };
  }, [pipe?.version]);
}

/** Run on the pasted events or the last 5; a read-only key sees why it cannot. */
function RunButtons(props: { onPasted: () => void; onRecent: () => void }) {
  if (!canWrite()) return <p class="muted">Running code needs a key with the write scope.</p>;
  return (
    <p class="actions">
      <button type="button" onClick={props.onPasted}>
        Run on these events
      </button>{' '}
      <button type="button" onClick={props.onRecent}>
        Run on the last 5 events
      </button>
    </p>
  );
}

/** What a test run did with each event, and the console lines it wrote. */
function TestOutcome({ result }: { result: TestResult }) {
  return (
    <div class="results" role="status">
      <p>
        Ran in {Math.round(result.duration_ms)} ms; nothing was delivered. Secret values show as [secret:KEY].
      </p>
      {result.results.map((r, i) => (
        <div key={i}>
          <h3>Event {r.event_id ?? i + 1}</h3>
          {r.error ? (
            <p class="error">
              {r.error.code}: {r.error.message}
              {r.error.line !== undefined && ` (line ${r.error.line}, column ${r.error.column ?? '?'})`}
            </p>
          ) : r.output && r.output.length === 0 ? (
            <p class="muted">Filtered out (the transform returned nothing for it).</p>
          ) : (
            <Json value={r.output} label={`Output of event ${r.event_id ?? i + 1}`} />
          )}
        </div>
      ))}
      <h3>Console</h3>
      {result.logs.length === 0 ? (
        <p class="muted">No console lines.</p>
      ) : (
        <ul class="logs">
          {result.logs.map((line, i) => (
            <li key={i}>
              {line.level}: {line.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The edited code against the current version, line by line. */
function Diff({ before, after }: { before: string; after: string }) {
  return (
    <section aria-label="Changes against the current version">
      <pre class="diff">
        {diffLines(before, after).map((line, i) => (
          <div key={i} class={line.kind}>
            {line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}
            {line.text}
          </div>
        ))}
      </pre>
    </section>
  );
}

/** The pipe's versions, newest first, each with a revert button (write scope). */
function VersionList(props: {
  versions: Version[];
  current: number | undefined;
  onRevert: (version: number) => void;
}) {
  const { versions, current, onRevert } = props;
  return (
    <ol class="versions">
      {versions
        .slice()
        .reverse()
        .map((v) => (
          <li key={v.version}>
            version {v.version}, <Time iso={v.created_at} /> by {v.actor ?? 'the engine'}
            {v.version === current ? ' (current)' : ''}
            {canWrite() && v.version !== current && (
              <>
                {' '}
                <button type="button" onClick={() => onRevert(v.version)}>
                  Revert to version {v.version}
                </button>
              </>
            )}
          </li>
        ))}
    </ol>
  );
}

export function CodePage(props: { id: string }) {
  const path = `api/pipes/${encodeURIComponent(props.id)}`;
  const pipe = useLoad(() => api<Pipe>(path), props.id);
  const versions = useLoad(() => api<{ data: Version[] }>(`${path}/versions`), props.id);
  const [code, setCode] = useState<string | null>(null);
  const [events, setEvents] = useState(exampleEvents);
  const [result, setResult] = useState<TestResult | null>(null);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [reviewing, setReviewing] = useState(false);
  const [notice, setNotice] = useState('');
  const host = useRef<HTMLDivElement>(null);
  const current = pipe.data?.transform ?? '';

  useTransformEditor(host, pipe.data, current, setCode);

  const run = async (body: Record<string, unknown>) => {
    setError(undefined);
    setResult(null);
    try {
      setResult(
        await api<TestResult>(`${path}/transform-test`, {
          method: 'POST',
          body: { transform: code ?? current, ...body },
        }),
      );
    } catch (err) {
      setError(err as Error);
    }
  };
  const runPasted = () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(events);
    } catch {
      setError(new Error('The events are not valid JSON.'));
      return;
    }
    void run({ events: Array.isArray(parsed) ? parsed : [parsed] });
  };
  const save = async () => {
    setError(undefined);
    try {
      const saved = await api<Pipe>(path, { method: 'PATCH', body: { transform: code } });
      setReviewing(false);
      setNotice(`Saved as version ${saved.version}.`);
      pipe.reload();
      versions.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const revert = async (version: number) => {
    setError(undefined);
    try {
      const reverted = await api<Pipe>(`${path}/revert`, { method: 'POST', body: { version } });
      setNotice(`Reverted to version ${version}: now version ${reverted.version}.`);
      pipe.reload();
      versions.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const changed = code !== null && code !== current;

  return (
    <main>
      <h1>Transform of {pipe.data?.name ?? props.id}</h1>
      <p>
        <Link to={`/pipes/${props.id}`}>Back to the pipe's deliveries</Link>
      </p>
      <ErrorNote error={pipe.error} />
      <div class="editor" ref={host}>
        <p class="muted">Loading the editor…</p>
      </div>
      <Section title="Run">
        <label for="events">Events (JSON array)</label>
        <textarea
          id="events"
          rows={8}
          value={events}
          onInput={(e) => setEvents((e.target as HTMLTextAreaElement).value)}
        />
        <RunButtons onPasted={runPasted} onRecent={() => run({ recent: 5 })} />
        <ErrorNote error={error} />
        {result && <TestOutcome result={result} />}
      </Section>
      {canWrite() && (
        <Section title="Save">
          {notice && <p role="status">{notice}</p>}
          <button type="button" disabled={!changed} onClick={() => setReviewing(true)}>
            Review changes
          </button>
          {reviewing && changed && (
            <>
              <Diff before={current} after={code!} />
              <button type="button" onClick={save}>
                Save as a new version
              </button>
            </>
          )}
        </Section>
      )}
      <Section title="Versions">
        <ErrorNote error={versions.error} />
        <VersionList versions={versions.data?.data ?? []} current={pipe.data?.version} onRevert={revert} />
      </Section>
    </main>
  );
}
