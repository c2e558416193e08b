/**
 * Secret values on PostgreSQL: the current encrypted value of each secret, and the retired ones (a
 * value replaced by a rotation, or the last value of a deleted secret) that are kept, encrypted,
 * only to redact until retention destroys them.
 */
import { isoTime, type SecretValueMethods } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

/** The store's secret value methods. */
export function secretValueMethods({ q, guard, tx, insertAudit }: PgContext): SecretValueMethods {
  return {
    putSecretValue: ({ secretId, ciphertext, now }) =>
      guard(async () => {
        await q()
          .insertInto('secret_values')
          .values({ secret_id: secretId, ciphertext, updated_at: now })
          .onConflict((oc) =>
            oc.column('secret_id').doUpdateSet((eb) => ({
              ciphertext: eb.ref('excluded.ciphertext'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }),

    getSecretValues: ({ secretIds }) =>
      guard(async () => {
        const out = new Map<string, string>();
        if (secretIds.length === 0) return out;
        const rows = await q()
          .selectFrom('secret_values')
          .select(['secret_id', 'ciphertext'])
          .where('secret_id', '=', sql<string>`ANY(${secretIds}::text[])`)
          .execute();
        for (const row of rows) out.set(row.secret_id, row.ciphertext);
        return out;
      }),

    retireSecretValue: ({ secretId, key, now }) =>
      guard(async () => {
        const result = await q()
          .insertInto('retired_secret_values')
          .columns(['secret_id', 'key', 'ciphertext', 'retired_at'])
          .expression((eb) =>
            eb
              .selectFrom('secret_values')
              .select((s) => [
                'secret_id',
                s.val(key).as('key'),
                'ciphertext',
                s.cast<string>(s.val(now), 'timestamptz').as('retired_at'),
              ])
              .where('secret_id', '=', secretId),
          )
          .executeTakeFirst();
        return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
      }),

    listRetiredSecretValues: ({ retiredBefore }) =>
      guard(async () => {
        let query = q()
          .selectFrom('retired_secret_values')
          .select((eb) => [
            eb.cast<string>('id', 'text').as('id'),
            'secret_id',
            'key',
            'ciphertext',
            'retired_at',
          ]);
        if (retiredBefore !== undefined) query = query.where('retired_at', '<', retiredBefore);
        const rows = await query.orderBy('retired_at').orderBy('id').execute();
        return rows.map((row) => ({ ...row, retired_at: isoTime(row.retired_at) }));
      }),

    destroyRetiredSecretValue: ({ id, audit }) =>
      guard(async () => {
        // An id the store never made (bigint text) matches nothing, and must not reach the cast.
        if (!/^\d{1,18}$/.test(id)) return false;
        return tx(async (trx) => {
          const deleted = await q(trx)
            .deleteFrom('retired_secret_values')
            .where('id', '=', id)
            .executeTakeFirst();
          if (Number(deleted.numDeletedRows) === 0) return false;
          await insertAudit(trx, audit);
          return true;
        });
      }),
  };
}
