/** Retention on SQLite: deleting the oldest events with their deliveries and attempts, and old rejections. */
import { idAtTime } from '@openpipes/core';
import type { PruneMethods } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

/** Takes the deliveries of a JSON array of ids out of `delivery_totals` (see migration 12). */
const untotalSql = `UPDATE delivery_totals SET count = count - gone.n
  FROM (SELECT destination_id, pipe_id, status, count(*) AS n FROM deliveries
        WHERE id IN (SELECT value FROM json_each(?)) AND status IN ('delivered', 'filtered', 'failed', 'dead')
        GROUP BY 1, 2, 3) AS gone
  WHERE delivery_totals.destination_id = gone.destination_id AND delivery_totals.pipe_id = gone.pipe_id
    AND delivery_totals.status = gone.status`;

/** The store's `prune`. */
export function pruneMethods({ qb, all, run, tx, prepare }: SqliteContext): PruneMethods {
  return {
    async prune({ before, limit }) {
      if (limit <= 0) return { events: 0, deliveries: 0, rejections: 0 };
      return tx(() => {
        // Event ids are ULIDs made on receipt: "received before" is "id below the first id at that time".
        const eventIds = all(
          qb
            .selectFrom('events')
            .select('id')
            .where('id', '<', idAtTime('event', Date.parse(before)))
            .orderBy('id')
            .limit(limit),
        ).map((r) => r.id);
        let deliveries = 0;
        if (eventIds.length > 0) {
          const deliveryIds = all(
            qb.selectFrom('deliveries').select('id').where('event_ref', 'in', eventIds),
          ).map((r) => r.id);
          if (deliveryIds.length > 0) {
            // The running totals of final statuses lose what is deleted (migration 12), a statement
            // per group rather than a trigger per row.
            prepare(untotalSql).run(JSON.stringify(deliveryIds));
            run(qb.deleteFrom('delivery_attempts').where('delivery_id', 'in', deliveryIds));
            deliveries = run(qb.deleteFrom('deliveries').where('id', 'in', deliveryIds));
          }
          run(qb.deleteFrom('event_identifiers').where('event_ref', 'in', eventIds));
          run(qb.deleteFrom('events').where('id', 'in', eventIds));
        }
        // The rejection log's ids are ULIDs made when refused: the same id-range test.
        const rejections = run(
          qb.deleteFrom('event_rejections').where(
            'id',
            'in',
            qb
              .selectFrom('event_rejections')
              .select('id')
              .where('id', '<', idAtTime('rejection', Date.parse(before)))
              .orderBy('id')
              .limit(limit),
          ),
        );
        // The match-quality rollup's minutes before `before` (a few rows per pipe and minute).
        prepare('DELETE FROM match_rollup WHERE minute < ?').run(before.slice(0, 16));
        return { events: eventIds.length, deliveries, rejections };
      });
    },

    async pruneDeliveryCounts({ before, limit }) {
      if (limit <= 0) return 0;
      // Minutes are stored as 'YYYY-MM-DDTHH:MM' text: the oldest `limit` cells before the cut, by
      // the minute index (the table has no rowid: its primary key names a cell).
      return prepare(
        `DELETE FROM delivery_rollup WHERE (pipe_id, minute, destination_id, status) IN (
          SELECT pipe_id, minute, destination_id, status FROM delivery_rollup
          WHERE minute < ? ORDER BY minute LIMIT ?)`,
      ).run(before.slice(0, 16), limit).changes;
    },
  };
}
