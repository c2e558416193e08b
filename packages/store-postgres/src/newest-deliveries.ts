/**
 * The newest delivery of each pipe in some statuses (the console's "last error" per pipe), in one
 * statement: for each pipe and status, a newest-first read of the
 * `deliveries_pipe_status (pipe_id, status, id)` index, limit 1 (a LATERAL join), then the newest
 * per pipe. A poll costs as much with a million records as with ten.
 */
import type { Store } from '@openpipes/core';
import { type DeliveryRowText, toDeliveryRow } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';
import { referredAttempts } from './referred-attempts.js';
import { deliveryColumns } from './rows.js';

/** The store's `newestDeliveries` method. */
export function newestDeliveriesMethod(
  ctx: Pick<PgContext, 'db' | 'T' | 'guard'>,
): Pick<Store, 'newestDeliveries'> {
  const { db, T, guard } = ctx;
  return {
    newestDeliveries: ({ pipeIds, statuses }) =>
      guard(async () => {
        if (pipeIds.length === 0 || statuses.length === 0) return [];
        const { rows } = await sql<DeliveryRowText>`
          SELECT * FROM (
            SELECT DISTINCT ON (d.pipe_id) ${deliveryColumns('d')}
            FROM (SELECT DISTINCT unnest(${pipeIds}::text[]) AS pipe_id) p
            CROSS JOIN (SELECT DISTINCT unnest(${statuses}::text[]) AS status) s
            CROSS JOIN LATERAL (
              SELECT * FROM ${T('deliveries')} x
              WHERE x.pipe_id = p.pipe_id AND x.status = s.status
              ORDER BY x.id DESC LIMIT 1
            ) d
            ORDER BY d.pipe_id, d.id DESC
          ) newest
          ORDER BY newest.id DESC
        `.execute(db);
        const referred = await referredAttempts(ctx, rows);
        return rows.map((row) => toDeliveryRow(row, referred));
      }),
  };
}
