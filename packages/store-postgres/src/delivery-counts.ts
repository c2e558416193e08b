/**
 * The per-minute delivery rollup on PostgreSQL (migration 4): the ingest's insert statement counts
 * new deliveries (`events.ts`, since migration 15), a statement-level trigger on `deliveries`
 * counts status changes; this reads it (summing the slots).
 */
import type { DeliveryStatus } from '@openpipes/core';
import type { DeliveryCountMethods } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext, TableName } from './connection.js';

export function deliveryCountMethods({ db, T, guard }: PgContext): DeliveryCountMethods {
  return {
    deliveryCounts: ({ since, until, pipeId, destinationId }) =>
      guard(async () => {
        // The table is not in the typed declaration (migration 4 adds it beside the typed ones).
        const rollup = T('delivery_rollup' as TableName);
        const { rows } = await sql<{
          minute: Date;
          pipe_id: string;
          destination_id: string;
          status: string;
          count: string;
        }>`
          SELECT minute, pipe_id, destination_id, status, sum(count) AS count FROM ${rollup}
          WHERE minute >= date_trunc('minute', ${since}::timestamptz) AND minute < ${until}::timestamptz
            ${pipeId ? sql`AND pipe_id = ${pipeId}` : sql``}
            ${destinationId ? sql`AND destination_id = ${destinationId}` : sql``}
          GROUP BY 1, 2, 3, 4
          ORDER BY 1, 2, 3, 4
        `.execute(db);
        return rows.map((r) => ({
          minute: new Date(r.minute).toISOString(),
          pipe_id: r.pipe_id,
          destination_id: r.destination_id,
          status: r.status as DeliveryStatus,
          count: Number(r.count),
        }));
      }),
  };
}
