/**
 * The newest delivery of each pipe in some statuses (the console's "last error" per pipe): one
 * newest-first read of the `deliveries_pipe_status (pipe_id, status, id)` index per pipe and
 * status, limit 1, so a poll costs as much with a million records as with ten.
 */
import type { DeliveryStatus, Store } from '@openpipes/core';
import { toDeliveryRow } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';
import { referredAttempts } from './referred-attempts.js';

/** The store's `newestDeliveries` method. */
export function newestDeliveriesMethod(
  ctx: Pick<SqliteContext, 'qb' | 'first' | 'prepare'>,
): Pick<Store, 'newestDeliveries'> {
  const { qb, first } = ctx;
  return {
    async newestDeliveries({ pipeIds, statuses }) {
      const found = [];
      for (const pipeId of new Set(pipeIds)) {
        let newest: NonNullable<ReturnType<typeof newestOf>> | undefined;
        for (const status of new Set(statuses)) {
          const row = newestOf(pipeId, status);
          if (row && (!newest || row.id > newest.id)) newest = row;
        }
        if (newest) found.push(newest);
      }
      const referred = referredAttempts(ctx, found);
      return found.sort((a, b) => (a.id < b.id ? 1 : -1)).map((row) => toDeliveryRow(row, referred));
    },
  };

  function newestOf(pipeId: string, status: DeliveryStatus) {
    return first(
      qb
        .selectFrom('deliveries')
        .selectAll()
        .where('pipe_id', '=', pipeId)
        .where('status', '=', status)
        .orderBy('id', 'desc')
        .limit(1),
    );
  }
}
