/**
 * The delivery history on SQLite: listing and reading delivery records, re-queueing them for a
 * replay, and the buffer statistics.
 */
import { type DeliveryRow, type DeliveryStatus, idAtTime, type ListDeliveriesQuery } from '@openpipes/core';
import {
  compareIds,
  type DeliveryMethods,
  defaultRequeueStatuses,
  listedStatuses,
  recordOf,
  requeuesNothing,
  type SqliteTables,
  statusFilter,
  toDeliveryRow,
} from '@openpipes/core/store-kit';
import { type Selectable, sql } from 'kysely';
import type { SqliteContext } from './connection.js';
import { referredAttempts } from './referred-attempts.js';
import { tally } from './tallies.js';

type StatsRow = {
  destination_id: string;
  pipe_id: string;
  status: string;
  count: number;
  oldest_created_at: string | null;
};

const finalStatuses = "('delivered', 'filtered', 'failed', 'dead')";

/**
 * The buffer statistics without grouping the history (as on PostgreSQL). Live statuses (pending,
 * sending, retrying) are exactly the rows with `due_at` set: grouped through the partial index
 * `deliveries_due`, so they cost the backlog. Final statuses come from the running totals the
 * triggers of migration 12 keep, each group's oldest row found as the first of its
 * `deliveries_pipe_status` (pipe_id, status, id) range: ids are ULIDs made from `created_at`'s
 * clock (the Store contract), so the smallest id has the smallest `created_at`. The walk reads one
 * row unless the pipe's destination changed, then the other destination's rows of that status
 * come first.
 */
const deliveryStatsSql = `
  SELECT destination_id, pipe_id, status, count, oldest_created_at FROM (
    SELECT destination_id, pipe_id, status, count(*) AS count, min(created_at) AS oldest_created_at
    FROM deliveries INDEXED BY deliveries_due
    WHERE due_at IS NOT NULL
    GROUP BY destination_id, pipe_id, status
    UNION ALL
    SELECT t.destination_id, t.pipe_id, t.status, t.count,
      (SELECT d.created_at FROM deliveries d INDEXED BY deliveries_pipe_status
       WHERE d.pipe_id = t.pipe_id AND d.status = t.status AND d.destination_id = t.destination_id
       ORDER BY d.id LIMIT 1)
    FROM delivery_totals t
    WHERE t.count > 0 AND t.status IN ${finalStatuses}
  )
  ORDER BY destination_id, pipe_id, status`;

/**
 * The ids of every delivery whose `event_id` may be `eventId`, found without an index of deliveries
 * by event id (migration 17): a delivery's `event_id` is its event's, copied at ingest and changed
 * only by erasure, which deletes the event. So its event is one the sender sent with that id (probed
 * in events_dedup (source_id, event_id) source by source: the sources are walked in that index,
 * one seek each, so a deleted source's events are found too), or one sent without an id, whose
 * `event_id` is its own id (`event_ref = eventId`); or it is a tombstone, whose `event_id` is a
 * keyed digest `erased:<hex>` held in the partial index deliveries_erased. The range is written as
 * that index's WHERE so SQLite may use it. The caller keeps `event_id = eventId` as a filter: a
 * candidate may carry another id (an event sent with an id that is another event's own). UNION, not
 * UNION ALL: a sender's own id that starts with `erased:` is found both ways, and listed once.
 */
const candidatesOf = (eventId: string) => sql`(
  WITH RECURSIVE sources (id) AS (
    SELECT (SELECT min(source_id) FROM events WHERE sender_event_id = 1)
    UNION ALL
    SELECT (SELECT min(e.source_id) FROM events e WHERE e.sender_event_id = 1 AND e.source_id > s.id)
    FROM sources s WHERE s.id IS NOT NULL
  )
  SELECT x.id FROM deliveries x WHERE x.event_ref IN (
    SELECT e.id FROM sources s JOIN events e
      ON e.source_id = s.id AND e.event_id = ${eventId} AND e.sender_event_id = 1
    UNION ALL SELECT ${eventId}
  )
  UNION
  SELECT x.id FROM deliveries x
  WHERE x.event_id >= 'erased:' AND x.event_id < 'erased;' AND x.event_id = ${eventId}
)`;

/**
 * One page of delivery records, newest first, with the attempts their details refer to. With a
 * pipe and no sender's event id: one newest-first walk of deliveries_pipe_status (pipe_id, status,
 * id) per status (every status when none is asked), merged by a compound SELECT. SQLite runs each
 * walk as a co-routine and merges them in id order (MERGE (UNION ALL), no sort), so the page reads
 * the rows it returns plus at most one per status; there is no (pipe_id, id) index to walk
 * (migration 16). Otherwise one statement, as before: a sender's event id finds its few rows by
 * id among {@link candidatesOf} and sorts them.
 */
function listPage(ctx: SqliteContext, query: ListDeliveriesQuery): DeliveryRow[] {
  const { qb, all } = ctx;
  const merged = Boolean(query.pipeId) && !query.eventId;
  const statuses = merged ? listedStatuses(query) : statusFilter(query);
  if (statuses?.length === 0) return [];
  const page = (status?: DeliveryStatus) => {
    // CROSS JOIN: SQLite keeps the candidates outer and reads each row by id; an `id IN (...)`
    // filter let it walk a pipe's whole range of deliveries_pipe_status instead.
    const from = query.eventId
      ? sql<Selectable<SqliteTables['deliveries']>>`(
          SELECT d.* FROM ${candidatesOf(query.eventId)} AS c CROSS JOIN deliveries AS d ON d.id = c.id
        )`.as('deliveries')
      : 'deliveries';
    let q = qb.selectFrom(from).selectAll();
    if (query.pipeId) q = q.where('pipe_id', '=', query.pipeId);
    if (query.destinationId) q = q.where('destination_id', '=', query.destinationId);
    if (status) q = q.where('status', '=', status);
    else if (statuses) q = q.where('status', 'in', statuses);
    if (query.eventId) q = q.where('event_id', '=', query.eventId);
    if (query.filterReason) q = q.where('filter_reason', '=', query.filterReason);
    // Delivery ids are ULIDs made at creation, so a time range is an id range (no time index).
    if (query.since) q = q.where('id', '>=', idAtTime('delivery', Date.parse(query.since)));
    if (query.until) q = q.where('id', '<', idAtTime('delivery', Date.parse(query.until)));
    if (query.cursor) q = q.where('id', '<', query.cursor);
    return q;
  };
  const walks = merged && statuses ? statuses : [undefined];
  const q = walks.slice(1).reduce((compound, s) => compound.unionAll(page(s)), page(walks[0]));
  // A merge's LIMIT as a literal (a whole number): bound, it cost ~0.1 ms more per page of 50
  // (SQLite 3.53, 300k deliveries); pages come in a few sizes, so the statements cached stay few.
  const literal = walks.length > 1 && Number.isSafeInteger(query.limit) && query.limit >= 0;
  const rows = all(q.orderBy('id', 'desc').limit(literal ? sql.lit(query.limit) : query.limit));
  const referred = referredAttempts(ctx, rows);
  return rows.map((row) => toDeliveryRow(row, referred));
}

/** The store's delivery history methods. */
export function deliveryMethods(ctx: SqliteContext): DeliveryMethods {
  const { db, qb, all, first, run, tx, prepare } = ctx;
  return {
    listDeliveries: async (query) => listPage(ctx, query),

    async getDelivery({ id }) {
      const row = first(qb.selectFrom('deliveries').selectAll().where('id', '=', id));
      if (!row) return null;
      const stored = all(
        qb
          .selectFrom('delivery_attempts')
          .select(['number', 'data'])
          .where('delivery_id', '=', id)
          .orderBy('number'),
      );
      return recordOf(row, stored);
    },

    async requeueDeliveries(query) {
      const { pipeId, ids, statuses, since, until, pinnedPipeVersion, now, limit } = query;
      if (requeuesNothing(query)) return [];
      return tx(() => {
        // One oldest-first walk of deliveries_pipe_status (pipe_id, status, id) per status, merged:
        // each reads as many rows as it keeps. A single `status IN (...)` ordered by id walked the
        // pipe's whole history in deliveries_pipe (~1 s at 455k rows when its failures were recent;
        // migration 16 dropped that index).
        const oldest = (status: string) => {
          const where = ['d.pipe_id = ?', 'd.status = ?'];
          const params: string[] = [pipeId, status];
          if (ids) {
            where.push(`d.id IN (${ids.map(() => '?').join(', ')})`);
            params.push(...ids);
          }
          if (since) {
            where.push('d.id >= ?');
            params.push(idAtTime('delivery', Date.parse(since)));
          }
          if (until) {
            where.push('d.id < ?');
            params.push(idAtTime('delivery', Date.parse(until)));
          }
          // INDEXED BY: until migration 16, with a time window the planner walked deliveries_pipe's
          // range instead; it stays so that no other index is walked.
          // A replay needs its event: an erased person's records (tombstones) stay as they are.
          const rows = db()
            .prepare(
              `SELECT d.id, d.destination_id FROM deliveries d INDEXED BY deliveries_pipe_status
               WHERE ${where.join(' AND ')} AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_ref)
               ORDER BY d.id LIMIT ?`,
            )
            .all(...params, limit) as Array<{ id: string; destination_id: string }>;
          return rows.map((r) => ({ ...r, status }));
        };
        const allowed = [...new Set(statuses ?? defaultRequeueStatuses)];
        const picked = allowed
          .flatMap(oldest)
          .sort((a, b) => compareIds(a.id, b.id))
          .slice(0, limit);
        if (picked.length === 0) return [];
        const found = picked.map((r) => r.id);
        // Each row leaves its status for pending (migration 14: counted here, not by a trigger).
        const counts = tally(ctx, now);
        for (const r of picked) {
          if (r.status === 'pending') continue;
          counts.entered(pipeId, r.destination_id, 'pending');
          counts.left(pipeId, r.destination_id, r.status);
        }
        run(
          qb
            .updateTable('deliveries')
            .set({
              status: 'pending',
              due_at: now,
              lease_owner: null,
              pinned_pipe_version: pinnedPipeVersion ?? null,
              replayed_at: now,
              attempts_before_replay: sql<number>`attempt_count`,
              filter_reason: null,
              updated_at: now,
            })
            .where('id', 'in', found),
        );
        counts.write();
        return found;
      });
    },

    async deliveryStats() {
      return (prepare(deliveryStatsSql).all() as StatsRow[]).map((r) => ({
        destination_id: r.destination_id,
        pipe_id: r.pipe_id,
        status: r.status as DeliveryStatus,
        count: Number(r.count),
        oldest_created_at: r.oldest_created_at ?? null,
      }));
    },
  };
}
