/**
 * The audit trail, newest first, filtered by entity (kind or id) and actor. The filters live in
 * the URL's query, so a filtered view can be reloaded and shared; cursor paging.
 */
import { useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { navigate } from '../router';
import { ErrorNote, Json, ListTable, Time, useLoad } from '../ui';

interface AuditEntry {
  id: string;
  actor: string | null;
  action: string;
  entity_kind: string;
  entity_id: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  request_id: string | null;
  created_at: string;
}

const kinds = [
  'source',
  'event_type',
  'secret',
  'destination',
  'pipe',
  'alert_channel',
  'api_key',
  'write_key',
];

export function AuditPage() {
  const params = new URLSearchParams(location.search);
  const filters = {
    entity_kind: params.get('entity_kind') ?? '',
    entity_id: params.get('entity_id') ?? '',
    actor: params.get('actor') ?? '',
  };
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [draft, setDraft] = useState(filters);
  const key = `${location.search}|${cursor ?? ''}`;
  const page = useLoad(
    () => api<Page<AuditEntry>>('api/audit', { query: { ...filters, cursor, limit: '50' } }),
    key,
  );
  return (
    <main>
      <h1>Audit trail</h1>
      <form
        class="filters"
        aria-label="Filter the audit trail"
        onSubmit={(event) => {
          event.preventDefault();
          const query = new URLSearchParams(Object.entries(draft).filter(([, v]) => v !== ''));
          setCursor(undefined);
          navigate(`/audit${query.size > 0 ? `?${query}` : ''}`);
        }}
      >
        <label for="audit-kind">Entity kind</label>{' '}
        <select
          id="audit-kind"
          value={draft.entity_kind}
          onChange={(e) => setDraft({ ...draft, entity_kind: (e.target as HTMLSelectElement).value })}
        >
          <option value="">any</option>
          {kinds.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>{' '}
        <label for="audit-entity">Entity id</label>{' '}
        <input
          id="audit-entity"
          value={draft.entity_id}
          onInput={(e) => setDraft({ ...draft, entity_id: (e.target as HTMLInputElement).value })}
        />{' '}
        <label for="audit-actor">Actor</label>{' '}
        <input
          id="audit-actor"
          value={draft.actor}
          onInput={(e) => setDraft({ ...draft, actor: (e.target as HTMLInputElement).value })}
        />{' '}
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={page.error} />
      <ListTable
        caption="Audit entries, newest first"
        columns={['When', 'Actor', 'Action', 'Entity', 'After']}
        items={page.data?.data}
        empty="No entries."
        row={(e) => (
          <tr key={e.id}>
            <td>
              <Time iso={e.created_at} />
            </td>
            <td>{e.actor ?? '—'}</td>
            <td>{e.action}</td>
            <td>
              {e.entity_kind} {e.entity_id}
            </td>
            <td>
              <details>
                <summary>Change</summary>
                <Json value={{ before: e.before, after: e.after }} label={`Change ${e.id}`} />
              </details>
            </td>
          </tr>
        )}
      />
      {page.data?.next_cursor && (
        <p class="pager">
          <button type="button" onClick={() => setCursor(page.data!.next_cursor!)}>
            Older entries
          </button>
        </p>
      )}
    </main>
  );
}
