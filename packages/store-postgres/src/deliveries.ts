/**
 * The delivery history on PostgreSQL: listing and reading delivery records, re-queueing them for a
 * replay, and the buffer statistics (live rows counted, final ones from the running totals).
 */
import { type DeliveryStatus, idAtTime } from '@openpipes/core';
import {
  compareIds,
  type DeliveryMethods,
  type DeliveryRowText,
  defaultRequeueStatuses,
  isoTimeOrNull,
  listedStatuses,
  recordOf,
  requeuesNothing,
  toDeliveryRow,
} from '@openpipes/core/store-kit';
import { type RawBuilder, sql } from 'kysely';
import type { PgContext } from './connection.js';
import { moveTotals } from './delivery-totals.js';
import { referredAttempts } from './referred-attempts.js';
import { deliveryColumns, deliveryColumnsBut } from './rows.js';

/**
 * The ids of every delivery whose `event_id` may be `eventId`, with no index of deliveries by event
 * id (migration 16): a delivery's `event_id` is its event's, copied at ingest and changed only by
 * erasure, which deletes the event. So its event is one the sender sent with that id (the partial
 * index events_sender_event_id: one entry per event, and events are never updated) or one sent
 * without an id, whose `event_id` is its own id (`event_ref = eventId`); or it is a tombstone, whose
 * `event_id` is a keyed digest `erased:<hex>` held in the partial index deliveries_erased, whose
 * condition the query repeats word for word so the planner may use it. The caller keeps
 * `event_id = eventId`: a candidate may carry another id (an event sent with an id that is another
 * event's own). An id found both ways (a sender's own id starting with `erased:`) is one row: IN.
 */
function candidatesOf({ T }: PgContext, eventId: string): RawBuilder<unknown> {
  return sql`d.id IN (
    SELECT x.id FROM ${T('deliveries')} x WHERE x.event_ref IN (
      SELECT e.id FROM ${T('events')} e WHERE e.event_id = ${eventId} AND e.sender_event_id
      UNION ALL SELECT ${eventId}::text
    )
    UNION ALL
    SELECT x.id FROM ${T('deliveries')} x WHERE x.event_id LIKE 'erased:%' AND x.event_id = ${eventId}
  )`;
}

/** One page of delivery records, newest first, with the attempts their details refer to. */
async function listPage(
  ctx: PgContext,
  query: Parameters<DeliveryMethods['listDeliveries']>[0],
): ReturnType<DeliveryMethods['listDeliveries']> {
  const { db, T } = ctx;
  const filters: RawBuilder<unknown>[] = [];
  if (query.pipeId) filters.push(sql`pipe_id = ${query.pipeId}`);
  if (query.destinationId) filters.push(sql`destination_id = ${query.destinationId}`);
  if (query.eventId) filters.push(sql`event_id = ${query.eventId}`, candidatesOf(ctx, query.eventId));
  if (query.filterReason) filters.push(sql`filter_reason = ${query.filterReason}`);
  // Delivery ids are ULIDs made at creation, so a time range is an id range (as on SQLite):
  // read from the same index as the rest of the query, with no time index to keep.
  if (query.since) filters.push(sql`id >= ${idAtTime('delivery', Date.parse(query.since))}`);
  if (query.until) filters.push(sql`id < ${idAtTime('delivery', Date.parse(query.until))}`);
  if (query.cursor) filters.push(sql`id < ${query.cursor}`);
  const statuses = listedStatuses(query);
  if (statuses?.length === 0) return [];
  // A sender's event id has few rows: one statement, whatever the statuses.
  const statusIn =
    statuses &&
    (statuses.length === 1 ? sql`status = ${statuses[0]}` : sql`status = ANY(${statuses}::text[])`);
  const page = (columns: RawBuilder<unknown>, extra: RawBuilder<unknown>[]) => {
    const all = [...filters, ...extra];
    const where = all.length > 0 ? sql.join(all, sql` AND `) : sql`TRUE`;
    return sql`
        SELECT ${columns} FROM ${T('deliveries')} d
        WHERE ${where} ORDER BY d.id DESC LIMIT ${query.limit}
      `;
  };
  // Several statuses (every one for a pipe's whole history): one newest-first scan of
  // deliveries_pipe_status (pipe_id, status, id) per status, merged. A single `status IN
  // (...)` would sort every matching row of the pipe to find the newest 50. The scans
  // read ids only; whole rows are read for the page kept, not for every status's candidates.
  const statement =
    statuses === null || statuses.length === 1 || query.eventId
      ? page(deliveryColumns('d'), statusIn ? [statusIn] : [])
      : sql`
            SELECT ${deliveryColumns('d')} FROM ${T('deliveries')} d
            WHERE d.id IN (
              SELECT id FROM (${sql.join(
                statuses.map((s) => sql`(${page(sql`d.id`, [sql`status = ${s}`])})`),
                sql` UNION ALL `,
              )}) AS candidates ORDER BY id DESC LIMIT ${query.limit}
            )
            ORDER BY d.id DESC
          `;
  const rows = (await statement.execute(db)).rows as DeliveryRowText[];
  const referred = await referredAttempts(ctx, rows);
  return rows.map((row) => toDeliveryRow(row, referred));
}

/** Re-queues the pipe's deliveries a replay names (oldest first, up to `limit`); their ids. */
async function requeue(
  { db, T, wake }: PgContext,
  query: Parameters<DeliveryMethods['requeueDeliveries']>[0],
): ReturnType<DeliveryMethods['requeueDeliveries']> {
  const { pipeId, ids, statuses, since, until, pinnedPipeVersion, now, limit } = query;
  if (requeuesNothing(query)) return [];
  const allowed = [...new Set(statuses ?? defaultRequeueStatuses)];
  const filters = sql`
      ${ids ? sql`AND id = ANY(${ids}::text[])` : sql``}
      ${since ? sql`AND id >= ${idAtTime('delivery', Date.parse(since))}` : sql``}
      ${until ? sql`AND id < ${idAtTime('delivery', Date.parse(until))}` : sql``}`;
  // The candidates: one oldest-first walk of deliveries_pipe_status (pipe_id, status, id) per
  // status, merged (as listDeliveries does newest first). A single `status = ANY(...)` ordered
  // by id walked the primary key over every pipe's history (267 ms at 300k rows when the
  // pipe's failures were recent). A replay needs its event: an erased person's records
  // (tombstones) stay as they are. Each walk locks what it takes (FOR UPDATE, waiting): a row
  // another replay re-queued meanwhile is re-checked once that one commits, found pending and
  // skipped, and the walk goes on to the next, so two replays at once re-queue each row once
  // and each still takes up to `limit`.
  const walks = allowed.map(
    (status, i) => sql`${sql.raw(`walk${i}`)} AS (
          SELECT id, status FROM ${T('deliveries')}
          WHERE pipe_id = ${pipeId} AND status = ${status}
            AND EXISTS (SELECT 1 FROM ${T('events')} e WHERE e.id = event_ref) ${filters}
          ORDER BY id LIMIT ${limit}
          FOR UPDATE)`,
  );
  const merged = sql.join(
    allowed.map((_, i) => sql`SELECT id, status FROM ${sql.raw(`walk${i}`)}`),
    sql` UNION ALL `,
  );
  const { rows } = await sql<{ id: string; destination_id: string }>`
      WITH ${sql.join(walks, sql`, `)}, found AS (
        SELECT id, status AS was FROM (${merged}) AS c ORDER BY id LIMIT ${limit}
      ), requeued AS (
        UPDATE ${T('deliveries')} d
        SET status = 'pending', due_at = ${now}::timestamptz, lease_owner = NULL,
          pinned_pipe_version = ${pinnedPipeVersion ?? null}::integer, replayed_at = ${now}::timestamptz,
          attempts_before_replay = d.attempt_count, filter_reason = NULL, updated_at = ${now}::timestamptz
        FROM found
        WHERE d.id = found.id
        RETURNING d.id, d.destination_id, d.pipe_id, found.was
      ), totals AS (
        ${moveTotals(T, 'requeued', 'was', -1)}
      )
      SELECT id, destination_id FROM requeued
    `.execute(db);
  wake(new Set(rows.map((r) => r.destination_id)));
  return rows.map((r) => r.id).sort(compareIds);
}

/** The store's delivery history methods. */
export function deliveryMethods(ctx: PgContext): DeliveryMethods {
  const { db, q, T, guard } = ctx;
  return {
    listDeliveries: (query) => guard(() => listPage(ctx, query)),

    getDelivery: ({ id }) =>
      guard(async () => {
        const row = await q()
          .selectFrom('deliveries')
          .select([...deliveryColumnsBut('detail'), 'detail'])
          .where('id', '=', id)
          .executeTakeFirst();
        if (!row) return null;
        const attempts = await q()
          .selectFrom('delivery_attempts')
          .select(['number', 'data'])
          .where('delivery_id', '=', id)
          .orderBy('number')
          .execute();
        return recordOf(row, attempts);
      }),

    requeueDeliveries: (query) => guard(() => requeue(ctx, query)),

    deliveryStats: () =>
      guard(async () => {
        // Live statuses (pending, sending, retrying) are exactly the rows with due_at set: counted
        // through the partial index, so the cost follows the backlog, not the history. Final
        // statuses come from the running totals, each with its oldest row found through the
        // (pipe_id, status, id) index: milliseconds at any history size.
        const { rows } = await sql<{
          destination_id: string;
          pipe_id: string;
          status: DeliveryStatus;
          count: string;
          oldest_created_at: Date | string | null;
        }>`
          SELECT destination_id, pipe_id, status, count, oldest_created_at FROM (
            SELECT destination_id, pipe_id, status, count(*) AS count, min(created_at) AS oldest_created_at
            FROM ${T('deliveries')}
            WHERE due_at IS NOT NULL
            GROUP BY destination_id, pipe_id, status
            UNION ALL
            SELECT g.destination_id, g.pipe_id, g.status, g.count,
              (SELECT d.created_at FROM ${T('deliveries')} d
               WHERE d.pipe_id = g.pipe_id AND d.status = g.status AND d.destination_id = g.destination_id
               ORDER BY d.id LIMIT 1)
            FROM (
              SELECT destination_id, pipe_id, status, sum(count) AS count FROM ${T('delivery_totals')}
              GROUP BY destination_id, pipe_id, status
              HAVING sum(count) > 0
            ) g
          ) stats
          ORDER BY destination_id, pipe_id, status
        `.execute(db);
        return rows.map((r) => ({
          destination_id: r.destination_id,
          pipe_id: r.pipe_id,
          status: r.status,
          count: Number(r.count),
          oldest_created_at: isoTimeOrNull(r.oldest_created_at),
        }));
      }),
  };
}
