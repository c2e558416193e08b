/**
 * Counts of deliveries by status over time, per pipe and destination, from the store's per-minute
 * rollup (`Store.deliveryCounts`): what the console's charts and `GET /api/delivery-counts` show.
 */
import { z } from 'zod';
import { PipesError } from './errors.js';
import { deliveryStatusSchema } from './schemas.js';
import type { Store } from './store.js';
import { parseOrThrow } from './validation.js';

const isoTime = z.iso.datetime({ offset: true });

/** The longest window per bucket size: minutes for two days at most, hours for 31 days. */
export const deliveryCountsMaxWindowMs = { minute: 2 * 86_400_000, hour: 31 * 86_400_000 } as const;

/**
 * What to count: a window (`since` default: one hour before `until` for minutes, a day for hours;
 * `until` default: now), bucket size, and optionally one pipe or destination.
 *
 * @example
 * ```ts
 * deliveryCountsQuerySchema.parse({ pipe_id: 'pip_…', bucket: 'hour' });
 * ```
 */
export const deliveryCountsQuerySchema = z.strictObject({
  pipe_id: z.string().min(1).max(100).optional().describe('Only this pipe.'),
  destination_id: z.string().min(1).max(100).optional().describe('Only this destination.'),
  since: isoTime
    .optional()
    .describe('Start of the window (ISO 8601); default one bucket-size window before `until`.'),
  until: isoTime.optional().describe('End of the window (ISO 8601), exclusive; default now.'),
  bucket: z
    .enum(['minute', 'hour'])
    .default('minute')
    .describe(
      'Bucket size: `minute` (window up to 2 days, default 1 hour) or `hour` (up to 31 days, default 1 day).',
    ),
});
export type DeliveryCountsQuery = z.input<typeof deliveryCountsQuerySchema>;

export const deliveryCountsSchema = z.object({
  bucket: z.enum(['minute', 'hour']),
  since: z.string(),
  until: z.string(),
  data: z.array(
    z.object({
      time: z.string().describe("The bucket's start (ISO 8601)."),
      pipe_id: z.string(),
      destination_id: z.string(),
      status: deliveryStatusSchema,
      count: z.number().int().describe('Deliveries that entered `status` in this bucket.'),
    }),
  ),
});
export type DeliveryCounts = z.infer<typeof deliveryCountsSchema>;

/** Reads the rollup for a query, bucketed; refuses a window that is empty, reversed or too long. */
export async function countDeliveries(
  store: Store,
  query: DeliveryCountsQuery,
  now: number,
): Promise<DeliveryCounts> {
  const q = parseOrThrow(deliveryCountsQuerySchema, query, 'delivery counts query');
  const until = q.until ? Date.parse(q.until) : now;
  const since = q.since ? Date.parse(q.since) : until - (q.bucket === 'minute' ? 3_600_000 : 86_400_000);
  const max = deliveryCountsMaxWindowMs[q.bucket];
  if (!(since < until) || until - since > max) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `invalid delivery counts query: since must be before until, at most ${max / 86_400_000} days apart with ${q.bucket} buckets`,
      details: { issues: [{ path: 'since', message: 'since must be before until, within the window' }] },
    });
  }
  const rows = await store.deliveryCounts({
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    ...(q.pipe_id ? { pipeId: q.pipe_id } : {}),
    ...(q.destination_id ? { destinationId: q.destination_id } : {}),
  });
  const data = new Map<string, DeliveryCounts['data'][number]>();
  for (const row of rows) {
    const time = q.bucket === 'minute' ? row.minute : `${row.minute.slice(0, 13)}:00:00.000Z`;
    const key = `${time}|${row.pipe_id}|${row.destination_id}|${row.status}`;
    const cell = data.get(key);
    if (cell) cell.count += row.count;
    else
      data.set(key, {
        time,
        pipe_id: row.pipe_id,
        destination_id: row.destination_id,
        status: row.status,
        count: row.count,
      });
  }
  return {
    bucket: q.bucket,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    data: [...data.values()],
  };
}
