/**
 * Reconciliation on SQLite: the events of one type received in a period (over the
 * `events_type_received` index, migration 9), and their deliveries joined through
 * `deliveries_event_ref`, grouped by pipe, destination, status and filter reason.
 */
import type { DeliveryStatus } from '@openpipes/core';
import type { ReconciliationMethods } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

export function reconciliationMethods({ db }: Pick<SqliteContext, 'db'>): ReconciliationMethods {
  return {
    async reconciliation({ eventType, since, until }) {
      const database = db();
      const collected = database
        .prepare(
          `SELECT source_id, count(*) AS count FROM events INDEXED BY events_type_received
           WHERE event_type = ? AND received_at >= ? AND received_at < ?
           GROUP BY source_id ORDER BY source_id`,
        )
        .all(eventType, since, until) as Array<{ source_id: string; count: number }>;
      const deliveries = database
        .prepare(
          `SELECT d.pipe_id, d.destination_id, d.status, d.filter_reason, count(*) AS count
           FROM events e INDEXED BY events_type_received
           JOIN deliveries d ON d.event_ref = e.id
           WHERE e.event_type = ? AND e.received_at >= ? AND e.received_at < ?
           GROUP BY 1, 2, 3, 4 ORDER BY 2, 1, 3, 4`,
        )
        .all(eventType, since, until) as Array<{
        pipe_id: string;
        destination_id: string;
        status: string;
        filter_reason: string | null;
        count: number;
      }>;
      return {
        collected: collected.map((r) => ({ source_id: r.source_id, count: Number(r.count) })),
        deliveries: deliveries.map((r) => ({
          ...r,
          status: r.status as DeliveryStatus,
          count: Number(r.count),
        })),
      };
    },
  };
}
