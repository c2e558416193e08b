/**
 * One delivery record: the event and its output, the request that left (secret values already
 * replaced by `[secret:KEY]` by the API), the response, the error, every attempt; replay.
 */
import { useState } from 'preact/hooks';
import { api, type Delivery } from '../api';
import { Link } from '../router';
import { canWrite, ErrorNote, Json, Section, StatusBadge, Time, useLoad } from '../ui';

interface ReplayResult {
  dry_run: boolean;
  count: number;
  ids: string[];
}

export function DeliveryPage(props: { id: string }) {
  const record = useLoad(
    () => api<Delivery>(`api/event-deliveries/${encodeURIComponent(props.id)}`),
    props.id,
    2000,
  );
  const [replayed, setReplayed] = useState<string>('');
  const [replayError, setReplayError] = useState<Error | undefined>(undefined);
  const d = record.data;
  const replay = async (dryRun: boolean) => {
    if (!d) return;
    setReplayError(undefined);
    try {
      const result = await api<ReplayResult>(`api/pipes/${encodeURIComponent(d.pipe_id)}/replay`, {
        method: 'POST',
        body: { ids: [d.id], statuses: [d.status], dry_run: dryRun },
      });
      setReplayed(
        result.dry_run
          ? `Dry run: ${result.count} would be replayed.`
          : `Replayed: ${result.count} re-queued.`,
      );
      record.reload();
    } catch (err) {
      setReplayError(err as Error);
    }
  };
  return (
    <main>
      <h1>Delivery {props.id}</h1>
      <ErrorNote error={record.error} />
      {d && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={d.status} />
              {d.filter_reason ? ` reason: ${d.filter_reason}` : ''}
            </dd>
            <dt>Pipe</dt>
            <dd>
              <Link to={`/pipes/${d.pipe_id}`}>{d.pipe_id}</Link> version {d.pipe_version ?? '—'}
            </dd>
            <dt>Destination</dt>
            <dd>
              {d.destination} version {d.destination_version ?? '—'}
            </dd>
            <dt>Event</dt>
            <dd>
              {d.event_id} ({d.event_type})
            </dd>
            <dt>Created</dt>
            <dd>
              <Time iso={d.created_at} />
            </dd>
            <dt>Delivered</dt>
            <dd>
              <Time iso={d.delivered_at} />
            </dd>
          </dl>
          {canWrite() && (
            <p class="actions">
              <button type="button" onClick={() => replay(true)}>
                Replay dry run
              </button>{' '}
              <button type="button" onClick={() => replay(false)}>
                Replay
              </button>
            </p>
          )}
          {replayed && <p role="status">{replayed}</p>}
          <ErrorNote error={replayError} />
          <Section title="Error">
            {d.error ? (
              <p class="error">
                {d.error.stage} {d.error.code}: {d.error.message}
                {d.error.line !== undefined && ` (line ${d.error.line}, column ${d.error.column ?? '?'})`}
                {d.error.retryable ? ' — retryable' : ''}
              </p>
            ) : (
              <p class="muted">none</p>
            )}
          </Section>
          <Section title="Transform output">
            <Json value={d.output} label="Transform output" />
          </Section>
          <Section title="Request (redacted)">
            <Json value={d.request} label="Request" />
          </Section>
          <Section title="Response">
            <Json value={d.response} label="Response" />
          </Section>
          <Section title="Attempts">
            <ol class="attempts">
              {(d.attempts ?? []).map((a) => (
                <li key={a.number}>
                  <StatusBadge status={a.status} /> <Time iso={a.started_at} />, {Math.round(a.duration_ms)}{' '}
                  ms, pipe v{a.pipe_version ?? '—'}, destination v{a.destination_version ?? '—'}
                  {a.response ? `, HTTP ${a.response.status}` : ''}
                  {a.error ? `, ${a.error.code}: ${a.error.message}` : ''}
                </li>
              ))}
            </ol>
          </Section>
        </>
      )}
    </main>
  );
}
