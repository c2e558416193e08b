/** Overview: every pipe as source → transform → destination, its state and its delivery counts. */
import { api, type Destination, type Page, type Pipe, type Source, type StatsRow } from '../api';
import { Link } from '../router';
import { Enabled, ErrorNote, useLoad } from '../ui';

interface Overview {
  pipes: Pipe[];
  sources: Map<string, Source>;
  destinations: Map<string, Destination>;
  counts: Map<string, Record<string, number>>;
}

async function loadOverview(): Promise<Overview> {
  const [pipes, sources, destinations, stats] = await Promise.all([
    api<Page<Pipe>>('api/pipes', { query: { limit: '1000' } }),
    api<Page<Source>>('api/sources', { query: { limit: '1000' } }),
    api<Page<Destination>>('api/event-destinations', { query: { limit: '1000' } }),
    api<{ deliveries: StatsRow[] }>('api/stats'),
  ]);
  const counts = new Map<string, Record<string, number>>();
  for (const row of stats.deliveries) {
    const byStatus = counts.get(row.pipe_id) ?? {};
    byStatus[row.status] = (byStatus[row.status] ?? 0) + row.count;
    counts.set(row.pipe_id, byStatus);
  }
  return {
    pipes: pipes.data,
    sources: new Map(sources.data.map((s) => [s.id, s])),
    destinations: new Map(destinations.data.map((d) => [d.id, d])),
    counts,
  };
}

/** Pipes that need attention first: failures, then dead letters, then the rest by name. */
function attention(counts: Record<string, number> | undefined): number {
  return (counts?.dead ?? 0) + (counts?.failed ?? 0) + (counts?.retrying ?? 0);
}

export function OverviewPage() {
  const { data, error } = useLoad(loadOverview, 'overview', 5000);
  const pipes = data
    ? [...data.pipes].sort(
        (a, b) =>
          attention(data.counts.get(b.id)) - attention(data.counts.get(a.id)) || a.name.localeCompare(b.name),
      )
    : [];
  return (
    <main>
      <h1>Overview</h1>
      <ErrorNote error={error} />
      {data && pipes.length === 0 && <p>No pipes yet.</p>}
      {pipes.length > 0 && (
        <table>
          <caption>Pipes, those that need attention first</caption>
          <thead>
            <tr>
              <th scope="col">Pipe</th>
              <th scope="col">Source → destination</th>
              <th scope="col">State</th>
              <th scope="col">Delivered</th>
              <th scope="col">Pending</th>
              <th scope="col">Failed</th>
              <th scope="col">Dead</th>
            </tr>
          </thead>
          <tbody>
            {pipes.map((pipe) => {
              const counts = data!.counts.get(pipe.id) ?? {};
              const pending = (counts.pending ?? 0) + (counts.sending ?? 0) + (counts.retrying ?? 0);
              return (
                <tr key={pipe.id}>
                  <td>
                    <Link to={`/pipes/${pipe.id}`}>{pipe.name}</Link>
                  </td>
                  <td>
                    {data!.sources.get(pipe.source_id)?.name ?? pipe.source_id} →{' '}
                    {pipe.transform === null ? '' : 'transform → '}
                    {data!.destinations.get(pipe.destination_id)?.name ?? pipe.destination_id}
                  </td>
                  <td>
                    <Enabled enabled={pipe.enabled} />
                  </td>
                  <td class="num">{counts.delivered ?? 0}</td>
                  <td class="num">{pending}</td>
                  <td class="num">{counts.failed ?? 0}</td>
                  <td class="num">{counts.dead ?? 0}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}
