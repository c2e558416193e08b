/**
 * The live backlog per destination, for metrics: an index-only count over the `deliveries_due`
 * partial index (only rows with `due_at` set, exactly the ones not final yet), so a scrape costs as
 * much as the backlog is long, however long the history. A plain read: no lock any claim waits on.
 */
import type { Store } from '@openpipes/core';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

/** The store's `backlog` method. */
export function backlogMethod({
  db,
  T,
  guard,
}: Pick<PgContext, 'db' | 'T' | 'guard'>): Pick<Store, 'backlog'> {
  return {
    backlog: () =>
      guard(async () => {
        const { rows } = await sql<{ destination_id: string; count: string }>`
          SELECT destination_id, count(*) AS count FROM ${T('deliveries')}
          WHERE due_at IS NOT NULL
          GROUP BY destination_id
          ORDER BY destination_id
        `.execute(db);
        return rows.map((r) => ({ destination_id: r.destination_id, count: Number(r.count) }));
      }),
  };
}
