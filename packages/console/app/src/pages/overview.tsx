/**
 * Overview: every pipe as source → transform → destination, its state, its delivery counts, its
 * destination's backlog and circuit breaker, and its last error.
 */
import { api, type DeliveryError, type Destination, type Page, type Pipe, type Source } from '../api';
import { type ChartPoint, DeliveryChart, minuteSeries } from '../chart';
import { CreateForm } from '../create-form';
import { Link, navigate } from '../router';
import { canWrite, Enabled, ErrorNote, ListTable, Time, useLoad } from '../ui';

interface CountRow {
  time: string;
  pipe_id: string;
  status: string;
  count: number;
}

/** A destination's circuit breaker as `GET /api/backlog` gives it (this process's). */
interface Breaker {
  state: 'closed' | 'open' | 'half-open';
  consecutive_failures: number;
  paused_until: string | null;
}

/** A pipe's last error as `GET /api/last-errors` gives it: its newest failed, dead or retrying record. */
interface LastError {
  pipe_id: string;
  delivery_id: string;
  status: string;
  error: DeliveryError | null;
  created_at: string;
  updated_at: string;
}

interface Overview {
  /** Delivered and failed per minute over the last hour, every pipe together. */
  chart: ChartPoint[];
  /** Per pipe: statuses entered in the last hour and the last 24 hours. */
  hour: Map<string, Record<string, number>>;
  day: Map<string, Record<string, number>>;
  pipes: Pipe[];
  sources: Map<string, Source>;
  destinations: Map<string, Destination>;
  /** Deliveries not final yet, per destination (`GET /api/backlog`: an index count, not the history). */
  backlog: Map<string, number>;
  /** Paused destinations only (breaker open or half-open), by destination id. */
  paused: Map<string, Breaker>;
  /** Per pipe: its newest record with an error. */
  lastError: Map<string, LastError>;
}

async function loadOverview(): Promise<Overview> {
  // Every number here comes from the per-minute rollup or the index of live deliveries: the page
  // costs the same with a million records as with ten.
  const [pipes, sources, destinations, backlog, minutes, hours, lastErrors] = await Promise.all([
    api<Page<Pipe>>('api/pipes', { query: { limit: '1000' } }),
    api<Page<Source>>('api/sources', { query: { limit: '1000' } }),
    api<Page<Destination>>('api/event-destinations', { query: { limit: '1000' } }),
    api<{ data: Array<{ destination_id: string; count: number }>; breakers: Record<string, Breaker> }>(
      'api/backlog',
    ),
    api<{ until: string; data: CountRow[] }>('api/delivery-counts', { query: { bucket: 'minute' } }),
    api<{ data: CountRow[] }>('api/delivery-counts', { query: { bucket: 'hour' } }),
    // Every pipe's last error in one request (one indexed read per pipe and status on the server).
    api<{ data: LastError[] }>('api/last-errors'),
  ]);
  const byPipe = (rows: CountRow[]) => {
    const map = new Map<string, Record<string, number>>();
    for (const row of rows) {
      const counts = map.get(row.pipe_id) ?? {};
      counts[row.status] = (counts[row.status] ?? 0) + row.count;
      map.set(row.pipe_id, counts);
    }
    return map;
  };
  return {
    chart: minuteSeries(minutes.data, Date.parse(minutes.until)),
    hour: byPipe(minutes.data),
    day: byPipe(hours.data),
    pipes: pipes.data,
    sources: new Map(sources.data.map((s) => [s.id, s])),
    destinations: new Map(destinations.data.map((d) => [d.id, d])),
    backlog: new Map(backlog.data.map((row) => [row.destination_id, row.count])),
    paused: new Map(Object.entries(backlog.breakers).filter(([, breaker]) => breaker.state !== 'closed')),
    lastError: new Map(lastErrors.data.filter((row) => row.error !== null).map((row) => [row.pipe_id, row])),
  };
}

/**
 * Pipes that need attention first: those whose destination is paused, then by failed, dead or
 * retried in the last 24 hours, then by name.
 */
function attention(counts: Record<string, number> | undefined): number {
  return (counts?.dead ?? 0) + (counts?.failed ?? 0) + (counts?.retrying ?? 0);
}

/** Destinations whose circuit breaker is open or half-open, with until when and why. */
function PausedDestinations({ data }: { data: Overview }) {
  return (
    <section aria-labelledby="paused-destinations">
      <h2 id="paused-destinations">Paused destinations (circuit breaker)</h2>
      <ul>
        {[...data.paused].map(([id, breaker]) => (
          <li key={id}>
            <Link to={`/destinations/${id}`}>{data.destinations.get(id)?.name ?? id}</Link>:{' '}
            {breaker.state === 'open' ? 'paused' : 'half-open (probing)'}
            {breaker.paused_until && (
              <>
                {' '}
                until <Time iso={breaker.paused_until} />
              </>
            )}
            , {breaker.consecutive_failures} consecutive failures
          </li>
        ))}
      </ul>
    </section>
  );
}

/** One pipe's row: its path, state, counts, its destination's backlog and its last error. */
function PipeRow({ pipe, data }: { pipe: Pipe; data: Overview }) {
  const hour = data.hour.get(pipe.id) ?? {};
  const day = data.day.get(pipe.id) ?? {};
  const breaker = data.paused.get(pipe.destination_id);
  const last = data.lastError.get(pipe.id);
  return (
    <tr>
      <td>
        <Link to={`/pipes/${pipe.id}`}>{pipe.name}</Link>
      </td>
      <td>
        {data.sources.get(pipe.source_id)?.name ?? pipe.source_id} →{' '}
        {pipe.transform === null ? '' : 'transform → '}
        {data.destinations.get(pipe.destination_id)?.name ?? pipe.destination_id}
        {breaker && (
          <>
            {' '}
            <span class="badge status-failed">paused</span>
          </>
        )}
      </td>
      <td>
        <Enabled enabled={pipe.enabled} />
      </td>
      <td class="num">
        {hour.delivered ?? 0} / {day.delivered ?? 0}
      </td>
      <td class="num">
        {(hour.failed ?? 0) + (hour.dead ?? 0)} / {(day.failed ?? 0) + (day.dead ?? 0)}
      </td>
      <td class="num">{data.backlog.get(pipe.destination_id) ?? 0}</td>
      <td>
        {last?.error ? (
          <>
            <Link to={`/deliveries/${last.delivery_id}`}>
              {last.error.code}: {last.error.message}
            </Link>{' '}
            <Time iso={last.updated_at} />
          </>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
    </tr>
  );
}

/** Creating a pipe from the sources and destinations there are. */
function NewPipeForm({ data }: { data: Overview }) {
  return (
    <CreateForm
      // Re-rendered when sources or destinations change, so the selects list them all.
      key={`${[...data.sources.keys()].join()}|${[...data.destinations.keys()].join()}`}
      title="New pipe"
      id="new-pipe"
      fields={[
        { name: 'name', label: 'Name' },
        {
          name: 'source_id',
          label: 'Source',
          kind: 'select',
          options: [...data.sources.values()].map((s) => ({ value: s.id, label: s.name })),
        },
        {
          name: 'destination_id',
          label: 'Destination',
          kind: 'select',
          options: [...data.destinations.values()].map((d) => ({ value: d.id, label: d.name })),
        },
        {
          name: 'transform',
          label: 'Transform code',
          kind: 'code',
          required: false,
          hint: 'function transform({ events, profiles, secrets }); empty sends events unchanged',
        },
      ]}
      submit="Create pipe"
      onCreate={async ({ name, source_id, destination_id, transform }) => {
        const body: Record<string, unknown> = { name, source_id, destination_id };
        if (transform?.trim()) body.transform = transform;
        const created = await api<{ id: string }>('api/pipes', { method: 'POST', body });
        navigate(`/pipes/${created.id}`);
        return `Pipe ${name} created.`;
      }}
    />
  );
}

export function OverviewPage() {
  const { data, error } = useLoad(loadOverview, 'overview', 2500);
  const pipes = data
    ? [...data.pipes].sort(
        (a, b) =>
          Number(data.paused.has(b.destination_id)) - Number(data.paused.has(a.destination_id)) ||
          attention(data.day.get(b.id)) - attention(data.day.get(a.id)) ||
          a.name.localeCompare(b.name),
      )
    : [];
  return (
    <main>
      <h1>Overview</h1>
      <ErrorNote error={error} />
      {data && data.paused.size > 0 && <PausedDestinations data={data} />}
      {data && <DeliveryChart points={data.chart} label="The last hour, every pipe" />}
      <ListTable
        caption="Pipes, those that need attention first"
        columns={[
          'Pipe',
          'Source → destination',
          'State',
          'Delivered 1 h / 24 h',
          'Failed 1 h / 24 h',
          'Destination backlog',
          'Last error',
        ]}
        items={data ? pipes : undefined}
        empty="No pipes yet."
        row={(pipe) => <PipeRow key={pipe.id} pipe={pipe} data={data!} />}
      />
      {data && canWrite() && <NewPipeForm data={data} />}
    </main>
  );
}
