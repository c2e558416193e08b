/** Small engine state documents (cursors, alert state) on PostgreSQL, keyed by name. */
import type { Store } from '@openpipes/core';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

/** The store's state methods. */
export function stateMethods({ db, T, guard }: PgContext): Pick<Store, 'getState' | 'setState'> {
  return {
    getState: ({ key }) =>
      guard(async () => {
        const { rows } = await sql<{ value: string }>`
          SELECT value::text AS value FROM ${T('state')} WHERE key = ${key}
        `.execute(db);
        return rows[0] ? JSON.parse(rows[0].value) : null;
      }),

    setState: ({ key, value, now }) =>
      guard(async () => {
        if (value === null) {
          await sql`DELETE FROM ${T('state')} WHERE key = ${key}`.execute(db);
          return;
        }
        await sql`
          INSERT INTO ${T('state')} (key, value, updated_at) VALUES (${key}, ${JSON.stringify(value)}::jsonb, ${now}::timestamptz)
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
        `.execute(db);
      }),
  };
}
