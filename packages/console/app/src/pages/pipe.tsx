/**
 * A pipe and its deliveries: newest first, polled so new records appear without a reload,
 * filtered by status and event id, paged with the API's cursors.
 */
import { useState } from 'preact/hooks';
import { api, type Delivery, deliveryStatuses, type Page, type Pipe } from '../api';
import { Link } from '../router';
import { canWrite, Enabled, ErrorNote, ListTable, StatusBadge, Time, useLoad } from '../ui';
import { MatchQualityTable } from './match-quality';

export function PipePage(props: { id: string }) {
  const pipe = useLoad(() => api<Pipe>(`api/pipes/${encodeURIComponent(props.id)}`), props.id);
  const [status, setStatus] = useState('');
  const [eventId, setEventId] = useState('');
  // The cursors of the pages before this one; polling runs on the first page only.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const key = `${props.id}|${status}|${eventId}|${cursor ?? ''}`;
  const deliveries = useLoad(
    () =>
      api<Page<Delivery>>(`api/pipes/${encodeURIComponent(props.id)}/deliveries`, {
        query: { status, event_id: eventId.trim(), cursor, limit: '50' },
      }),
    key,
    cursor ? undefined : 1500,
  );
  const toggle = async () => {
    if (!pipe.data) return;
    await api(`api/pipes/${encodeURIComponent(props.id)}/toggle`, {
      method: 'PUT',
      body: { enabled: !pipe.data.enabled },
    });
    pipe.reload();
  };
  return (
    <main>
      <h1>Pipe {pipe.data?.name ?? props.id}</h1>
      <ErrorNote error={pipe.error} />
      {pipe.data && (
        <p>
          <Enabled enabled={pipe.data.enabled} /> version {pipe.data.version}{' '}
          <Link to={`/pipes/${props.id}/code`}>Transform code</Link>{' '}
          {canWrite() && (
            <button type="button" onClick={toggle}>
              {pipe.data.enabled ? 'Disable' : 'Enable'}
            </button>
          )}
        </p>
      )}
      <MatchQualityTable pipeId={props.id} />
      <h2>Deliveries</h2>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Status{' '}
          <select
            value={status}
            onChange={(event) => {
              setStatus((event.target as HTMLSelectElement).value);
              setCursors([]);
            }}
          >
            <option value="">any</option>
            {deliveryStatuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Event id{' '}
          <input
            value={eventId}
            onChange={(event) => {
              setEventId((event.target as HTMLInputElement).value);
              setCursors([]);
            }}
          />
        </label>
      </form>
      <ErrorNote error={deliveries.error} />
      <ListTable
        caption={`Deliveries, newest first${cursor ? '' : ' (updates by itself)'}`}
        columns={['Created', 'Event', 'Type', 'Status', 'Attempts', 'Error']}
        items={deliveries.data?.data}
        empty="No deliveries."
        row={(d) => (
          <tr key={d.id} data-delivery={d.id}>
            <td>
              <Link to={`/deliveries/${d.id}`}>
                <Time iso={d.created_at} />
              </Link>
            </td>
            <td>{d.event_id}</td>
            <td>{d.event_type}</td>
            <td>
              <StatusBadge status={d.status} />
            </td>
            <td class="num">{d.attempt_count}</td>
            <td>{d.error?.message ?? (d.filter_reason ? `filtered: ${d.filter_reason}` : '')}</td>
          </tr>
        )}
      />
      <nav class="pager" aria-label="Pages">
        {cursors.length > 0 && (
          <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
            Newer
          </button>
        )}
        {deliveries.data?.next_cursor && (
          <button type="button" onClick={() => setCursors([...cursors, deliveries.data!.next_cursor!])}>
            Older
          </button>
        )}
      </nav>
      <p>
        <Link to="/">Back to the overview</Link>
      </p>
    </main>
  );
}
