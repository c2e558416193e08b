/**
 * Running totals of final delivery statuses per destination and pipe (`delivery_totals`), so buffer
 * statistics never count the history.
 */
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

/**
 * A CTE body that moves the running totals of final statuses by the rows of `rows` (a CTE with
 * destination_id, pipe_id and the status column), up (+1) or down (-1). Groups are written in
 * one order, so two statements never wait for each other in a cycle; the slot (backend pid % 16)
 * spreads concurrent writers over different rows.
 */
export const moveTotals = (T: PgContext['T'], rows: string, statusColumn: string, sign: 1 | -1) => sql`
    INSERT INTO ${T('delivery_totals')} AS t (destination_id, pipe_id, status, slot, count)
    SELECT destination_id, pipe_id, ${sql.ref(statusColumn)}, pg_backend_pid() % 16,
      ${sql.raw(sign === 1 ? '' : '-')}count(*)
    FROM ${sql.table(rows)}
    WHERE ${sql.ref(statusColumn)} IN ('delivered', 'filtered', 'failed', 'dead')
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (destination_id, pipe_id, status, slot) DO UPDATE SET count = t.count + excluded.count
  `;
