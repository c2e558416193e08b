/**
 * Reconciliation: for one event type and a period, how many events were collected, and for each
 * destination (through its pipes) how many of them were delivered, filtered (by reason), failed or
 * are still pending. The proof that every order reached every platform. Read from the store's
 * indexed reconciliation query (`Store.reconciliation`): the cost follows the events of that type
 * in the period, never the history.
 */
import { z } from 'zod';
import type { ConfigCache } from './config.js';
import { PipesError } from './errors.js';
import type { Store } from './store.js';
import { parseOrThrow } from './validation.js';

const isoTime = z.iso.datetime({ offset: true });

/** The longest period one reconciliation covers. */
export const reconciliationMaxWindowMs = 93 * 86_400_000;

/**
 * What to reconcile: an event type, and a period of receive times (`from` inclusive, `to`
 * exclusive; default the last 24 hours).
 *
 * @example
 * ```ts
 * reconciliationQuerySchema.parse({ event_type: 'purchase', from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' });
 * ```
 */
export const reconciliationQuerySchema = z.strictObject({
  event_type: z.string().min(1).max(100).describe('The event type (`purchase`).'),
  from: isoTime
    .optional()
    .describe('Start of the period (ISO 8601, received at or after); default `to` minus 24 hours.'),
  to: isoTime.optional().describe('End of the period (ISO 8601, received before); default now.'),
});
export type ReconciliationQuery = z.input<typeof reconciliationQuerySchema>;

const countsShape = {
  deliveries: z.number().int().describe('Deliveries made for these events (one per event and pipe).'),
  delivered: z.number().int(),
  filtered: z.number().int(),
  filtered_by_reason: z
    .record(z.string(), z.number().int())
    .describe(
      '`consent`, the reason a transform gave, `transform` (it returned nothing), `unknown` (older records).',
    ),
  failed: z.number().int().describe('`failed` and `dead`.'),
  pending: z.number().int().describe('`pending`, `sending` and `retrying`: not final yet.'),
};

export const reconciliationSchema = z.object({
  event_type: z.string(),
  from: z.string(),
  to: z.string(),
  collected: z
    .number()
    .int()
    .describe('Events of this type received in the period (duplicates are not events).'),
  collected_by_source: z.array(z.object({ source_id: z.string(), count: z.number().int() })),
  destinations: z.array(
    z.object({
      destination_id: z.string(),
      name: z.string().nullable().describe('Null when the destination was deleted since.'),
      expected: z
        .number()
        .int()
        .describe(
          "Events collected from the sources of this destination's pipes: one delivery each is expected.",
        ),
      missing: z
        .number()
        .int()
        .describe(
          '`expected` minus `deliveries` (at least 0): events no delivery was made for (a pipe off then).',
        ),
      ...countsShape,
      pipes: z.array(
        z.object({
          pipe_id: z.string(),
          name: z.string().nullable(),
          source_id: z.string().nullable(),
          ...countsShape,
        }),
      ),
    }),
  ),
});
export type Reconciliation = z.infer<typeof reconciliationSchema>;

export interface ReconciliationApi {
  /** Reconciles an event type over a period. Throws `VALIDATION_FAILED` for a bad or too long period. */
  get(query: ReconciliationQuery): Promise<Reconciliation>;
}

type Counts = { [K in keyof typeof countsShape]: z.infer<(typeof countsShape)[K]> };
const emptyCounts = (): Counts => ({
  deliveries: 0,
  delivered: 0,
  filtered: 0,
  filtered_by_reason: {},
  failed: 0,
  pending: 0,
});

function add(into: Counts, status: string, reason: string | null, count: number): void {
  into.deliveries += count;
  if (status === 'delivered') into.delivered += count;
  else if (status === 'filtered') {
    into.filtered += count;
    const key = reason ?? 'unknown';
    into.filtered_by_reason[key] = (into.filtered_by_reason[key] ?? 0) + count;
  } else if (status === 'failed' || status === 'dead') into.failed += count;
  else into.pending += count;
}

export function createReconciliationApi(deps: {
  store: Store;
  config: ConfigCache;
  now: () => number;
}): ReconciliationApi {
  return {
    async get(raw) {
      const q = parseOrThrow(reconciliationQuerySchema, raw, 'reconciliation query');
      const to = q.to ? Date.parse(q.to) : deps.now();
      const from = q.from ? Date.parse(q.from) : to - 86_400_000;
      if (!(from < to) || to - from > reconciliationMaxWindowMs) {
        throw new PipesError({
          code: 'VALIDATION_FAILED',
          message: `invalid reconciliation query: from must be before to, at most ${reconciliationMaxWindowMs / 86_400_000} days apart`,
          details: { issues: [{ path: 'from', message: 'from must be before to, within 93 days' }] },
        });
      }
      const since = new Date(from).toISOString();
      const until = new Date(to).toISOString();
      const rows = await deps.store.reconciliation({ eventType: q.event_type, since, until });
      const config = await deps.config.current();
      const bySource = new Map(rows.collected.map((r) => [r.source_id, r.count]));

      type Row = Reconciliation['destinations'][number];
      const destinations = new Map<string, Row>();
      const destinationRow = (id: string): Row => {
        let row = destinations.get(id);
        if (!row) {
          row = {
            destination_id: id,
            name: config.destinations.get(id)?.name ?? null,
            expected: 0,
            missing: 0,
            ...emptyCounts(),
            pipes: [],
          };
          destinations.set(id, row);
        }
        return row;
      };
      const pipeRow = (destination: Row, pipeId: string) => {
        let row = destination.pipes.find((p) => p.pipe_id === pipeId);
        if (!row) {
          const pipe = config.pipes.get(pipeId);
          row = {
            pipe_id: pipeId,
            name: pipe?.name ?? null,
            source_id: pipe?.source_id ?? null,
            ...emptyCounts(),
          };
          destination.pipes.push(row);
        }
        return row;
      };
      // Every current enabled pipe counts, even one with no deliveries in the period.
      for (const pipe of config.pipes.values()) {
        if (pipe.enabled) pipeRow(destinationRow(pipe.destination_id), pipe.id);
      }
      for (const r of rows.deliveries) {
        const destination = destinationRow(r.destination_id);
        add(destination, r.status, r.filter_reason, r.count);
        add(pipeRow(destination, r.pipe_id), r.status, r.filter_reason, r.count);
      }
      for (const destination of destinations.values()) {
        destination.expected = destination.pipes.reduce(
          (sum, p) => sum + (p.source_id ? (bySource.get(p.source_id) ?? 0) : 0),
          0,
        );
        destination.missing = Math.max(0, destination.expected - destination.deliveries);
        destination.pipes.sort((a, b) => a.pipe_id.localeCompare(b.pipe_id));
      }
      return {
        event_type: q.event_type,
        from: since,
        to: until,
        collected: rows.collected.reduce((sum, r) => sum + r.count, 0),
        collected_by_source: rows.collected,
        destinations: [...destinations.values()].sort((a, b) =>
          (a.name ?? a.destination_id).localeCompare(b.name ?? b.destination_id),
        ),
      };
    },
  };
}
