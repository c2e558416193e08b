/**
 * The per-minute rollup (`delivery_rollup`, migration 4) and the running totals of final statuses
 * (`delivery_totals`, migration 12), kept by the statements that create deliveries or change their
 * status: counted in memory while a statement's rows are written, then one upsert per key. Until
 * migration 14 triggers did it, one upsert per row in the row's own statement, which made every
 * such statement keep a statement journal (~15 µs of CPU per delivered event over its insert, claim
 * and completion). What is counted is what the triggers counted: a row created, or whose status
 * changed, adds one to its pipe's minute (`updated_at`'s first 16 characters, always the call's
 * `now`) in its new status; entering a final status adds one to the totals, leaving one takes one
 * back.
 */
import type { SqliteContext } from './connection.js';

const finalStatuses: ReadonlySet<string> = new Set(['delivered', 'filtered', 'failed', 'dead']);

const addRollupSql = `INSERT INTO delivery_rollup (pipe_id, minute, destination_id, status, count) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (pipe_id, minute, destination_id, status) DO UPDATE SET count = count + excluded.count`;
const addTotalSql = `INSERT INTO delivery_totals (destination_id, pipe_id, status, count) VALUES (?, ?, ?, ?)
  ON CONFLICT (destination_id, pipe_id, status) DO UPDATE SET count = count + excluded.count`;
// As the trigger did: a total that has no row is not created by taking one away.
const takeTotalSql = `UPDATE delivery_totals SET count = count - ?
  WHERE destination_id = ? AND pipe_id = ? AND status = ?`;

/** Status changes of one call's statements, written with {@link Tally.write}. */
export interface Tally {
  /** `n` deliveries of `pipeId` (to `destinationId`) were created in `status` or changed to it. */
  entered(pipeId: string, destinationId: string, status: string, n?: number): void;
  /** A delivery of `pipeId` (to `destinationId`) changed from `status` to another. */
  left(pipeId: string, destinationId: string, status: string): void;
  /** Writes what was counted (and forgets it). Call inside the transaction of the rows counted. */
  write(): void;
}

type Count = { pipeId: string; destinationId: string; status: string; n: number };

/**
 * A tally for changes made at `now` (the rows' `updated_at`).
 *
 * @example
 * ```ts
 * const counts = tally(ctx, now);
 * for (const row of changed) counts.entered(row.pipe_id, row.destination_id, 'sending');
 * counts.write(); // in the same transaction
 * ```
 */
export function tally({ prepare }: Pick<SqliteContext, 'prepare'>, now: string): Tally {
  const entered = new Map<string, Count>();
  const left = new Map<string, Count>();
  const add = (
    into: Map<string, Count>,
    pipeId: string,
    destinationId: string,
    status: string,
    n: number,
  ) => {
    const key = `${pipeId}\u0000${destinationId}\u0000${status}`;
    const count = into.get(key);
    if (count) count.n += n;
    else into.set(key, { pipeId, destinationId, status, n });
  };
  return {
    entered(pipeId, destinationId, status, n = 1) {
      if (n > 0) add(entered, pipeId, destinationId, status, n);
    },
    left(pipeId, destinationId, status) {
      if (finalStatuses.has(status)) add(left, pipeId, destinationId, status, 1);
    },
    write() {
      if (entered.size === 0 && left.size === 0) return;
      const minute = now.slice(0, 16);
      const addRollup = prepare(addRollupSql);
      const addTotal = prepare(addTotalSql);
      for (const { pipeId, destinationId, status, n } of entered.values()) {
        addRollup.run(pipeId, minute, destinationId, status, n);
        if (finalStatuses.has(status)) addTotal.run(destinationId, pipeId, status, n);
      }
      if (left.size > 0) {
        const takeTotal = prepare(takeTotalSql);
        for (const { pipeId, destinationId, status, n } of left.values()) {
          takeTotal.run(n, destinationId, pipeId, status);
        }
      }
      entered.clear();
      left.clear();
    },
  };
}
