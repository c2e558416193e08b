/**
 * Reconciliation: for an event type and a period, how many events were collected, and for each
 * destination how many were delivered, filtered (with the reason), failed, still pending, or never
 * got a delivery. The choice lives in the URL's query, so the page can be reloaded and shared.
 */
import { useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { navigate } from '../router';
import { ErrorNote, ListTable, useLoad } from '../ui';

interface Counts {
  deliveries: number;
  delivered: number;
  filtered: number;
  filtered_by_reason: Record<string, number>;
  failed: number;
  pending: number;
}

interface Reconciliation {
  event_type: string;
  from: string;
  to: string;
  collected: number;
  destinations: Array<
    Counts & {
      destination_id: string;
      name: string | null;
      expected: number;
      missing: number;
      pipes: Array<Counts & { pipe_id: string; name: string | null }>;
    }
  >;
}

/** `datetime-local` works in local time without seconds; the API takes ISO 8601. */
const toLocalInput = (ms: number) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
};
const fromLocalInput = (value: string) => (value ? new Date(value).toISOString() : '');

const reasons = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([reason, n]) => `${reason}: ${n}`)
    .join(', ');

export function ReconciliationPage() {
  const params = new URLSearchParams(location.search);
  const chosen = {
    event_type: params.get('event_type') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  const types = useLoad(
    () => api<Page<{ name: string }>>('api/event-types', { query: { limit: '1000' } }),
    'event-types',
  );
  const now = Date.now();
  const [draft, setDraft] = useState({
    event_type: chosen.event_type,
    from: chosen.from ? toLocalInput(Date.parse(chosen.from)) : toLocalInput(now - 86_400_000),
    to: chosen.to ? toLocalInput(Date.parse(chosen.to)) : '',
  });
  const result = useLoad(
    () =>
      chosen.event_type
        ? api<Reconciliation>('api/reconciliation', { query: chosen })
        : Promise.resolve(undefined),
    location.search,
  );
  const r = result.data;
  return (
    <main>
      <h1>Reconciliation</h1>
      <form
        class="filters"
        aria-label="What to reconcile"
        onSubmit={(event) => {
          event.preventDefault();
          const query = new URLSearchParams({ event_type: draft.event_type });
          if (draft.from) query.set('from', fromLocalInput(draft.from));
          if (draft.to) query.set('to', fromLocalInput(draft.to));
          navigate(`/reconciliation?${query}`);
        }}
      >
        <label for="rec-type">Event type</label>{' '}
        <select
          id="rec-type"
          required
          value={draft.event_type}
          onChange={(e) => setDraft({ ...draft, event_type: (e.target as HTMLSelectElement).value })}
        >
          <option value="">choose…</option>
          {types.data?.data.map((t) => (
            <option key={t.name} value={t.name}>
              {t.name}
            </option>
          ))}
        </select>{' '}
        <label for="rec-from">From</label>{' '}
        <input
          id="rec-from"
          type="datetime-local"
          value={draft.from}
          onInput={(e) => setDraft({ ...draft, from: (e.target as HTMLInputElement).value })}
        />{' '}
        <label for="rec-to">To (empty: now)</label>{' '}
        <input
          id="rec-to"
          type="datetime-local"
          value={draft.to}
          onInput={(e) => setDraft({ ...draft, to: (e.target as HTMLInputElement).value })}
        />{' '}
        <button type="submit">Reconcile</button>
      </form>
      <ErrorNote error={types.error ?? result.error} />
      {r && (
        <>
          <p>
            <strong>{r.collected}</strong> {r.event_type} events collected from{' '}
            {new Date(r.from).toLocaleString()} to {new Date(r.to).toLocaleString()}.
          </p>
          <ListTable
            caption="Per destination"
            columns={['Destination', 'Expected', 'Delivered', 'Filtered', 'Failed', 'Pending', 'Missing']}
            items={r.destinations}
            empty="No destination has a pipe."
            row={(d) => (
              <tr key={d.destination_id}>
                <th scope="row">{d.name ?? d.destination_id}</th>
                <td class="num">{d.expected}</td>
                <td class="num">{d.delivered}</td>
                <td class="num">
                  {d.filtered}
                  {d.filtered > 0 ? ` (${reasons(d.filtered_by_reason)})` : ''}
                </td>
                <td class="num">{d.failed}</td>
                <td class="num">{d.pending}</td>
                <td class="num">{d.missing}</td>
              </tr>
            )}
          />
        </>
      )}
    </main>
  );
}
