/**
 * A pipe's match quality: of its delivered events over the last hour, day or week, the share that
 * carried each identifier before stitching (raw) and in the request that left (stitched).
 */
import { useState } from 'preact/hooks';
import { api, type MatchQuality } from '../api';
import { ErrorNote, useLoad } from '../ui';

const windows = ['1h', '24h', '7d'] as const;
const percent = (share: number | null) => (share === null ? '–' : `${Math.round(share * 1000) / 10}%`);

export function MatchQualityTable(props: { pipeId: string }) {
  const [window, setWindow] = useState<(typeof windows)[number]>('24h');
  const report = useLoad(
    () =>
      api<MatchQuality>(`api/pipes/${encodeURIComponent(props.pipeId)}/match-quality`, { query: { window } }),
    `${props.pipeId}|${window}`,
    15_000,
  );
  return (
    <section aria-label="Match quality">
      <h2>Match quality</h2>
      <label>
        Window{' '}
        <select
          value={window}
          onChange={(event) =>
            setWindow((event.target as HTMLSelectElement).value as (typeof windows)[number])
          }
        >
          {windows.map((w) => (
            <option key={w} value={w}>
              last {w}
            </option>
          ))}
        </select>
      </label>
      <ErrorNote error={report.error} />
      {report.data && !report.data.measured && (
        <p>Not measured: this pipe's destination does not declare which identifiers its send() sends.</p>
      )}
      {report.data?.measured && (
        <table>
          <caption>
            Of {report.data.delivered} delivered events: the share that carried each identifier
          </caption>
          <thead>
            <tr>
              <th scope="col">Identifier</th>
              <th scope="col">Before stitching</th>
              <th scope="col">Sent (after stitching)</th>
            </tr>
          </thead>
          <tbody>
            {report.data.identifiers.map((r) => (
              <tr key={r.identifier} data-identifier={r.identifier}>
                <td>{r.identifier}</td>
                <td class="num">{percent(r.raw_share)}</td>
                <td class="num">{percent(r.stitched_share)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
