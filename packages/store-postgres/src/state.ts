/** Small engine state documents (cursors, alert state) on PostgreSQL, keyed by name. */
import type { StateMethods } from '@openpipes/core/store-kit';
import type { PgContext } from './connection.js';

/** The store's state methods. */
export function stateMethods({ q, guard }: PgContext): StateMethods {
  return {
    getState: ({ key }) =>
      guard(async () => {
        const row = await q()
          .selectFrom('state')
          .select((eb) => eb.cast<string>('value', 'text').as('value'))
          .where('key', '=', key)
          .executeTakeFirst();
        return row ? JSON.parse(row.value) : null;
      }),

    setState: ({ key, value, now }) =>
      guard(async () => {
        if (value === null) {
          await q().deleteFrom('state').where('key', '=', key).execute();
          return;
        }
        await q()
          .insertInto('state')
          .values({ key, value: JSON.stringify(value), updated_at: now })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet((eb) => ({
              value: eb.ref('excluded.value'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }),
  };
}
