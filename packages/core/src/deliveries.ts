/**
 * Reading delivery records, and replaying them.
 */

import { z } from 'zod';
import { auditEntry } from './audit.js';
import { countDeliveries, type DeliveryCounts, type DeliveryCountsQuery } from './delivery-counts.js';
import { PipesError } from './errors.js';
import { cursorSchema, isId } from './ids.js';
import { type LastErrors, lastErrors } from './last-errors.js';
import {
  type MatchQuality,
  type MatchQualityQuery,
  matchQualityQuerySchema,
  matchQualityReport,
  matchWindowMs,
} from './match-quality.js';
import type { ActorContext } from './registries/registry.js';
import { findReplayRows, previewReplay } from './replay-preview.js';
import {
  type Delivery,
  type DeliveryError,
  type DeliveryStatus,
  deliveryStatusSchema,
  type Page,
  type Pipe,
} from './schemas.js';
import type { DeliveryRow } from './store.js';
import { traceIdOf } from './tracing/index.js';
import type { TransformTestDeps } from './transform-test.js';
import { parseOrThrow } from './validation.js';

const isoTime = z.iso.datetime({ offset: true });

/**
 * What `deliveries.list` takes, checked the same way from code as over HTTP (a cursor that is not
 * a delivery id, or text a store cannot take, is refused instead of reaching a query).
 *
 * @example
 * ```ts
 * listDeliveriesOptionsSchema.parse({ status: ['failed', 'dead'], limit: 20 });
 * ```
 */
export const listDeliveriesOptionsSchema = z.strictObject({
  status: z.union([deliveryStatusSchema, z.array(deliveryStatusSchema)]).optional(),
  event_id: z.string().min(1).max(256).optional(),
  filter_reason: z.string().min(1).max(64).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  cursor: cursorSchema('delivery').optional(),
  /** Clamped to 1..1000. */
  limit: z.number().int().optional(),
});

/**
 * What `deliveries.replay` (and `POST /api/pipes/:id/replay`) takes.
 *
 * @example
 * ```ts
 * replayOptionsSchema.parse({ statuses: ['dead'], dry_run: true });
 * ```
 */
export const replayOptionsSchema = z.strictObject({
  ids: z.array(z.string()).max(10_000).optional().describe('Only these deliveries.'),
  statuses: z.array(deliveryStatusSchema).optional().describe('Statuses to replay; default failed and dead.'),
  since: isoTime.optional(),
  until: isoTime.optional(),
  pipe_version: z.number().int().positive().optional().describe('Run this pipe version instead.'),
  dry_run: z.boolean().optional().describe('Run the transform and show the output; send nothing.'),
  limit: z.number().int().min(1).max(10_000).optional(),
});

export interface ListDeliveriesOptions {
  status?: DeliveryStatus | DeliveryStatus[];
  /** The sender's event id. */
  event_id?: string;
  /** Only filtered deliveries with this reason (`consent`, a transform's own, `transform`). */
  filter_reason?: string;
  /** ISO time: created at or after. */
  since?: string;
  /** ISO time: created before. */
  until?: string;
  /** `next_cursor` of the previous page. */
  cursor?: string;
  /** 1..1000, default 50. */
  limit?: number;
}

export interface ReplayOptions {
  /** Only these deliveries. */
  ids?: string[];
  /** Which statuses to replay; default `['failed', 'dead']`. */
  statuses?: DeliveryStatus[];
  since?: string;
  until?: string;
  /** Run this pipe version instead of the current one. */
  pipe_version?: number;
  /** Run the transform and show what would be sent, without sending or changing anything. */
  dry_run?: boolean;
  /** Most deliveries to replay in one call; default 1000. */
  limit?: number;
}

export interface ReplayResult {
  dry_run: boolean;
  /** Deliveries re-queued (or, in a dry run, that would be). */
  count: number;
  ids: string[];
  /** Dry run only: what the transform produced per delivery. */
  preview?: Array<{
    id: string;
    event_id: string;
    output: unknown[] | null;
    error: DeliveryError | null;
    /** Why delivery would filter it (`consent`, the transform's reason, `transform`); null when it would send. */
    filter_reason: string | null;
  }>;
}

/**
 * @example
 * ```ts
 * const page = await pipes.deliveries.list(pipe.id, { status: 'failed', limit: 50 });
 * const record = await pipes.deliveries.get(page.data[0].id);
 * await pipes.deliveries.replay(pipe.id, { statuses: ['dead'] });
 * ```
 */
export interface DeliveriesApi {
  /** A pipe's deliveries, newest first. */
  list(pipeId: string, options?: ListDeliveriesOptions): Promise<Page<Delivery>>;
  /** One delivery record with all its attempts. Throws `NOT_FOUND`. */
  get(id: string): Promise<Delivery>;
  /**
   * Re-queues failed or dead deliveries (or previews them with `dry_run`). A real replay is
   * recorded in the audit trail (action `replay` on the pipe) with `context`'s actor.
   */
  replay(pipeId: string, options?: ReplayOptions, context?: ActorContext): Promise<ReplayResult>;
  /**
   * The live backlog per destination (deliveries not final yet), counted over the index of live
   * deliveries: it costs as much as the backlog is long, never the history's length. Destinations
   * without one are left out.
   */
  backlog(): Promise<Array<{ destination_id: string; count: number }>>;
  /** Deliveries per destination, pipe and status: the buffer's depth. */
  stats(): Promise<
    Array<{
      destination_id: string;
      pipe_id: string;
      status: DeliveryStatus;
      count: number;
      oldest_created_at: string | null;
    }>
  >;
  /**
   * How many deliveries entered each status per minute (or hour), per pipe and destination, from
   * the store's rollup (never a count over the history). Throws `VALIDATION_FAILED` for a window
   * that is reversed or too long (2 days of minutes, 31 days of hours).
   */
  counts(query?: DeliveryCountsQuery): Promise<DeliveryCounts>;
  /**
   * Each pipe's last error: its newest failed, dead or retrying delivery, with the error and its
   * time (one indexed read per pipe and status, never the history). Pipes without one are left out.
   */
  lastErrors(): Promise<LastErrors>;
  /**
   * Match quality of a pipe over the last hour, day or week (`window`, default `24h`): the share
   * of its delivered events that carried each identifier its destination declares, before and
   * after stitching, from the store's rollup. `measured: false` when the destination declares
   * none. Throws `NOT_FOUND` for an unknown pipe.
   */
  matchQuality(pipeId: string, query?: MatchQualityQuery): Promise<MatchQuality>;
}

export interface DeliveriesDeps extends TransformTestDeps {
  now: () => number;
  onRequeued: (destinationIds: string[]) => void;
}

/** A stored delivery row as the public record (the destination's name from the current config). */
function presentDelivery(
  config: Awaited<ReturnType<DeliveriesDeps['config']['current']>>,
  row: DeliveryRow,
  attempts?: Delivery['attempts'],
): Delivery {
  const delivery: Delivery = {
    id: row.id,
    pipe_id: row.pipe_id,
    pipe_version: row.pipe_version,
    destination_id: row.destination_id,
    destination_version: row.destination_version,
    destination: config.destinations.get(row.destination_id)?.name ?? row.destination_id,
    source_id: row.source_id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status,
    filter_reason: row.status === 'filtered' ? row.filter_reason : null,
    output: row.detail.output,
    request: (row.detail.request as Delivery['request']) ?? null,
    response: (row.detail.response as Delivery['response']) ?? null,
    error: (row.detail.error as Delivery['error']) ?? null,
    test_mode: row.test_mode,
    attempt_count: row.attempt_count,
    next_attempt_at: row.next_attempt_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    delivered_at: row.delivered_at,
    trace_id: traceIdOf(row.trace_parent),
    erased_at: row.detail.erased_at ?? null,
  };
  if (attempts) delivery.attempts = attempts;
  return delivery;
}

/** Re-queues the deliveries the options select and writes the audit entry right after. */
async function requeue(
  deps: DeliveriesDeps,
  pipe: Pipe,
  options: ReplayOptions & { statuses: DeliveryStatus[]; limit: number; version: number | null },
  context: ActorContext | undefined,
): Promise<ReplayResult> {
  const { statuses, limit, version } = options;
  const ids = await deps.store.requeueDeliveries({
    pipeId: pipe.id,
    ids: options.ids,
    statuses,
    since: options.since,
    until: options.until,
    pinnedPipeVersion: version,
    now: new Date(deps.now()).toISOString(),
    limit,
  });
  if (ids.length > 0) deps.onRequeued([pipe.destination_id]);
  // Not in the requeue's transaction (the store has no such method); written right after it.
  await deps.store.appendAudit({
    entry: auditEntry({
      action: 'replay',
      entityKind: 'pipe',
      entityId: pipe.id,
      before: null,
      after: {
        count: ids.length,
        // Enough to find them again; a large replay is described by its filters.
        ids: ids.slice(0, 100),
        ids_truncated: ids.length > 100,
        statuses,
        since: options.since ?? null,
        until: options.until ?? null,
        pipe_version: version,
        requested_ids: options.ids ? options.ids.length : null,
      },
      context,
      now: deps.now(),
    }),
  });
  return { dry_run: false, count: ids.length, ids };
}

export function createDeliveriesApi(deps: DeliveriesDeps): DeliveriesApi {
  const present = async (row: DeliveryRow, attempts?: Delivery['attempts']) =>
    presentDelivery(await deps.config.current(), row, attempts);

  const pageOf = async (pipeId: string, options: ListDeliveriesOptions & { limit: number }) => {
    const rows = await deps.store.listDeliveries({
      pipeId,
      status: options.status,
      eventId: options.event_id,
      filterReason: options.filter_reason,
      since: options.since,
      until: options.until,
      cursor: options.cursor,
      limit: options.limit + 1,
    });
    return rows;
  };

  return {
    async list(pipeId, given = {}) {
      const options = parseOrThrow(listDeliveriesOptionsSchema, given, 'delivery list options');
      await deps.pipes.get(pipeId);
      const limit = Math.min(Math.max(options.limit ?? 50, 1), 1000);
      const rows = await pageOf(pipeId, { ...options, limit });
      const page = rows.slice(0, limit);
      return {
        data: await Promise.all(page.map((row) => present(row))),
        next_cursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
      };
    },

    async get(id) {
      // Not an id of a delivery: cannot exist (and text a store cannot take never reaches it).
      const found = isId('delivery', id) ? await deps.store.getDelivery({ id }) : null;
      if (!found) throw new PipesError({ code: 'NOT_FOUND', message: `delivery ${id} does not exist` });
      return present(found.row, found.attempts);
    },

    async replay(pipeId, given = {}, context) {
      const options = parseOrThrow(replayOptionsSchema, given, 'replay options');
      const pipe = await deps.pipes.get(pipeId);
      const statuses = options.statuses ?? ['failed', 'dead'];
      const limit = Math.min(Math.max(options.limit ?? 1000, 1), 10_000);
      const version = options.pipe_version ?? null;
      const runPipe = version === null ? pipe : await deps.pipes.getVersion(pipeId, version);

      if (!options.dry_run) return requeue(deps, pipe, { ...options, statuses, limit, version }, context);

      // Dry run: find the same deliveries, run the transform, send nothing, change nothing.
      const rows = await findReplayRows(deps.store, pipeId, { ...options, statuses, limit });
      const preview = await previewReplay(deps, runPipe, pipe.destination_id, rows);
      return { dry_run: true, count: rows.length, ids: rows.map((r) => r.id), preview };
    },

    backlog() {
      return deps.store.backlog();
    },

    stats() {
      return deps.store.deliveryStats();
    },

    counts(query = {}) {
      return countDeliveries(deps.store, query, deps.now());
    },

    lastErrors() {
      return lastErrors(deps.store, deps.config);
    },

    async matchQuality(pipeId, query = {}) {
      const q = parseOrThrow(matchQualityQuerySchema, query, 'match quality query');
      const pipe = await deps.pipes.get(pipeId);
      const destination = (await deps.config.current()).destinations.get(pipe.destination_id);
      const until = deps.now();
      const since = until - matchWindowMs[q.window];
      const window = { since: new Date(since).toISOString(), until: new Date(until).toISOString() };
      const rows = await deps.store.matchCounts({ pipeId: pipe.id, ...window });
      return matchQualityReport({
        pipeId: pipe.id,
        window: q.window,
        ...window,
        declared: destination?.identifiers,
        rows,
      });
    },
  };
}
