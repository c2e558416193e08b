/**
 * The live backlog per destination, for metrics: a count over the `deliveries_due` partial index
 * (only rows with `due_at` set, exactly the ones not final yet), so a scrape costs as much as the
 * backlog is long, however long the history.
 */
import type { Store } from '@openpipes/core';
import type { SqliteContext } from './connection.js';

/** The store's `backlog` method. */
export function backlogMethod({ qb, all }: Pick<SqliteContext, 'qb' | 'all'>): Pick<Store, 'backlog'> {
  return {
    async backlog() {
      return all(
        qb
          .selectFrom('deliveries')
          .select((eb) => ['destination_id', eb.fn.countAll<number>().as('count')])
          .where('due_at', 'is not', null)
          .groupBy('destination_id')
          .orderBy('destination_id'),
      ).map((r) => ({ destination_id: r.destination_id, count: Number(r.count) }));
    },
  };
}
