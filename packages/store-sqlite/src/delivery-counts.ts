/**
 * The per-minute delivery rollup on SQLite (migration 4): triggers on `deliveries` keep it, this
 * reads it. Minutes are stored as 'YYYY-MM-DDTHH:MM', the prefix of the ISO times the store writes.
 */
import type { DeliveryStatus } from '@openpipes/core';
import type { DeliveryCountMethods } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

const minuteOf = (ms: number) => new Date(ms).toISOString().slice(0, 16);

export function deliveryCountMethods({ db }: Pick<SqliteContext, 'db'>): DeliveryCountMethods {
  return {
    async deliveryCounts({ since, until, pipeId, destinationId }) {
      const where = ['minute >= ?', 'minute < ?'];
      // Every minute that starts in [since, until): from since's minute to until rounded up.
      const params: string[] = [minuteOf(Date.parse(since)), minuteOf(Date.parse(until) + 59_999)];
      if (pipeId) {
        where.push('pipe_id = ?');
        params.push(pipeId);
      }
      if (destinationId) {
        where.push('destination_id = ?');
        params.push(destinationId);
      }
      const rows = db()
        .prepare(
          `SELECT minute, pipe_id, destination_id, status, count FROM delivery_rollup
           WHERE ${where.join(' AND ')} ORDER BY minute, pipe_id, destination_id, status`,
        )
        .all(...params) as Array<{
        minute: string;
        pipe_id: string;
        destination_id: string;
        status: string;
        count: number;
      }>;
      return rows.map((r) => ({
        ...r,
        minute: `${r.minute}:00.000Z`,
        status: r.status as DeliveryStatus,
      }));
    },
  };
}
