/**
 * Reconciliation on PostgreSQL: the events of one type received in a period (over the
 * `events_type_received` index, migration 9), and their deliveries joined through
 * `deliveries_event_ref`, grouped by pipe, destination, status and filter reason.
 */
import type { DeliveryStatus } from '@openpipes/core';
import type { ReconciliationMethods } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

export function reconciliationMethods({ db, T, guard }: PgContext): ReconciliationMethods {
  return {
    reconciliation: ({ eventType, since, until }) =>
      guard(async () => {
        const events = T('events');
        const deliveries = T('deliveries');
        const collected = await sql<{ source_id: string; count: string }>`
          SELECT source_id, count(*) AS count FROM ${events}
          WHERE event_type = ${eventType} AND received_at >= ${since}::timestamptz AND received_at < ${until}::timestamptz
          GROUP BY source_id ORDER BY source_id
        `.execute(db);
        const rows = await sql<{
          pipe_id: string;
          destination_id: string;
          status: string;
          filter_reason: string | null;
          count: string;
        }>`
          SELECT d.pipe_id, d.destination_id, d.status, d.filter_reason, count(*) AS count
          FROM ${events} e JOIN ${deliveries} d ON d.event_ref = e.id
          WHERE e.event_type = ${eventType} AND e.received_at >= ${since}::timestamptz AND e.received_at < ${until}::timestamptz
          GROUP BY 1, 2, 3, 4 ORDER BY 2, 1, 3, 4
        `.execute(db);
        return {
          collected: collected.rows.map((r) => ({ source_id: r.source_id, count: Number(r.count) })),
          deliveries: rows.rows.map((r) => ({
            pipe_id: r.pipe_id,
            destination_id: r.destination_id,
            status: r.status as DeliveryStatus,
            filter_reason: r.filter_reason,
            count: Number(r.count),
          })),
        };
      }),
  };
}
