/**
 * The delivery history on SQLite: listing and reading delivery records, re-queueing them for a
 * replay, and the buffer statistics.
 */
import { type DeliveryStatus, idAtTime } from '@openpipes/core';
import {
  type DeliveryMethods,
  defaultRequeueStatuses,
  recordOf,
  requeuesNothing,
  statusFilter,
  toDeliveryRow,
} from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { SqliteContext } from './connection.js';
import { referredAttempts } from './referred-attempts.js';

/** The store's delivery history methods. */
export function deliveryMethods(ctx: SqliteContext): DeliveryMethods {
  const { qb, all, first, run, tx } = ctx;
  return {
    async listDeliveries(query) {
      let q = qb.selectFrom('deliveries').selectAll();
      if (query.pipeId) q = q.where('pipe_id', '=', query.pipeId);
      if (query.destinationId) q = q.where('destination_id', '=', query.destinationId);
      const statuses = statusFilter(query);
      if (statuses?.length === 0) return [];
      if (statuses) q = q.where('status', 'in', statuses);
      if (query.eventId) q = q.where('event_id', '=', query.eventId);
      if (query.filterReason) q = q.where('filter_reason', '=', query.filterReason);
      // Delivery ids are ULIDs made at creation, so a time range is an id range (no time index).
      if (query.since) q = q.where('id', '>=', idAtTime('delivery', Date.parse(query.since)));
      if (query.until) q = q.where('id', '<', idAtTime('delivery', Date.parse(query.until)));
      if (query.cursor) q = q.where('id', '<', query.cursor);
      const rows = all(q.orderBy('id', 'desc').limit(query.limit));
      const referred = referredAttempts(ctx, rows);
      return rows.map((row) => toDeliveryRow(row, referred));
    },

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
        let q = qb
          .selectFrom('deliveries')
          .select('id')
          .where('pipe_id', '=', pipeId)
          .where('status', 'in', statuses ?? [...defaultRequeueStatuses])
          // A replay needs its event: an erased person's records (tombstones) stay as they are.
          .where('event_ref', 'in', qb.selectFrom('events').select('id'));
        if (ids) q = q.where('id', 'in', ids);
        if (since) q = q.where('id', '>=', idAtTime('delivery', Date.parse(since)));
        if (until) q = q.where('id', '<', idAtTime('delivery', Date.parse(until)));
        const found = all(q.orderBy('id').limit(limit)).map((r) => r.id);
        if (found.length === 0) return [];
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
        return found;
      });
    },

    async deliveryStats() {
      return all(
        qb
          .selectFrom('deliveries')
          .select((eb) => [
            'destination_id',
            'pipe_id',
            'status',
            eb.fn.countAll<number>().as('count'),
            eb.fn.min('created_at').as('oldest_created_at'),
          ])
          .groupBy(['destination_id', 'pipe_id', 'status'])
          .orderBy('destination_id')
          .orderBy('pipe_id')
          .orderBy('status'),
      ).map((r) => ({
        destination_id: r.destination_id,
        pipe_id: r.pipe_id,
        status: r.status as DeliveryStatus,
        count: Number(r.count),
        oldest_created_at: (r.oldest_created_at as string | null) ?? null,
      }));
    },
  };
}
