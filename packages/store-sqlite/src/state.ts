/** Small engine state documents (cursors, alert state) on SQLite, keyed by name. */
import type { StateMethods } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

/** The store's state methods. */
export function stateMethods({ qb, first, run }: SqliteContext): StateMethods {
  return {
    async getState({ key }) {
      const row = first(qb.selectFrom('state').select('value').where('key', '=', key));
      return row ? JSON.parse(row.value) : null;
    },

    async setState({ key, value, now }) {
      if (value === null) {
        run(qb.deleteFrom('state').where('key', '=', key));
        return;
      }
      const text = JSON.stringify(value);
      run(
        qb
          .insertInto('state')
          .values({ key, value: text, updated_at: now })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: text, updated_at: now })),
      );
    },
  };
}
