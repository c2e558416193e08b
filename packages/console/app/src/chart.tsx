/**
 * A small hand-drawn SVG chart: delivered and failed deliveries per bucket. No library: two
 * polylines, an axis line and a text summary (the chart is decorative for screen readers; the
 * summary and the table carry the numbers).
 */

export interface ChartPoint {
  time: string;
  delivered: number;
  failed: number;
}

export function DeliveryChart(props: { points: ChartPoint[]; label: string }) {
  const width = 600;
  const height = 120;
  const pad = 4;
  const max = Math.max(1, ...props.points.map((p) => Math.max(p.delivered, p.failed)));
  const step = props.points.length > 1 ? (width - 2 * pad) / (props.points.length - 1) : 0;
  const line = (value: (p: ChartPoint) => number) =>
    props.points
      .map(
        (p, i) =>
          `${(pad + i * step).toFixed(1)},${(height - pad - (value(p) / max) * (height - 2 * pad)).toFixed(1)}`,
      )
      .join(' ');
  const delivered = props.points.reduce((sum, p) => sum + p.delivered, 0);
  const failed = props.points.reduce((sum, p) => sum + p.failed, 0);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        height={height}
        aria-hidden="true"
        focusable="false"
      >
        <line x1={pad} x2={width - pad} y1={height - pad} y2={height - pad} class="axis" />
        <polyline points={line((p) => p.delivered)} class="delivered" />
        <polyline points={line((p) => p.failed)} class="failed" />
      </svg>
      <figcaption>
        {props.label}: <span class="status-delivered">{delivered} delivered</span>,{' '}
        <span class="status-failed">{failed} failed or dead</span> (peak {max} per minute)
      </figcaption>
    </figure>
  );
}

/** Minute buckets of the last hour, oldest first, from `GET /api/delivery-counts` rows. */
export function minuteSeries(
  rows: Array<{ time: string; status: string; count: number }>,
  until: number,
  minutes = 60,
): ChartPoint[] {
  const end = Math.floor(until / 60_000) * 60_000;
  const points = Array.from({ length: minutes }, (_, i) => ({
    time: new Date(end - (minutes - 1 - i) * 60_000).toISOString(),
    delivered: 0,
    failed: 0,
  }));
  const index = new Map(points.map((p, i) => [p.time, i]));
  for (const row of rows) {
    const point = points[index.get(row.time) ?? -1];
    if (!point) continue;
    if (row.status === 'delivered') point.delivered += row.count;
    if (row.status === 'failed' || row.status === 'dead') point.failed += row.count;
  }
  return points;
}
