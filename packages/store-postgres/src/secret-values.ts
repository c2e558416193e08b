/**
 * Secret values on PostgreSQL: the current encrypted value of each secret, and the retired ones (a
 * value replaced by a rotation, or the last value of a deleted secret) that are kept, encrypted,
 * only to redact until retention destroys them.
 */
import type { Store } from '@openpipes/core';
import { isoTime } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

type SecretValueMethods = Pick<
  Store,
  | 'putSecretValue'
  | 'getSecretValues'
  | 'retireSecretValue'
  | 'listRetiredSecretValues'
  | 'destroyRetiredSecretValue'
>;

/** The store's secret value methods. */
export function secretValueMethods({ db, T, guard, tx, insertAudit }: PgContext): SecretValueMethods {
  return {
    putSecretValue: ({ secretId, ciphertext, now }) =>
      guard(async () => {
        await sql`
          INSERT INTO ${T('secret_values')} (secret_id, ciphertext, updated_at) VALUES (${secretId}, ${ciphertext}, ${now})
          ON CONFLICT (secret_id) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
        `.execute(db);
      }),

    getSecretValues: ({ secretIds }) =>
      guard(async () => {
        const out = new Map<string, string>();
        if (secretIds.length === 0) return out;
        const { rows } = await sql<{ secret_id: string; ciphertext: string }>`
          SELECT secret_id, ciphertext FROM ${T('secret_values')} WHERE secret_id = ANY(${secretIds}::text[])
        `.execute(db);
        for (const row of rows) out.set(row.secret_id, row.ciphertext);
        return out;
      }),

    retireSecretValue: ({ secretId, key, now }) =>
      guard(async () => {
        const result = await sql`
          INSERT INTO ${T('retired_secret_values')} (secret_id, key, ciphertext, retired_at)
          SELECT secret_id, ${key}, ciphertext, ${now}::timestamptz FROM ${T('secret_values')}
          WHERE secret_id = ${secretId}
        `.execute(db);
        return Number(result.numAffectedRows ?? 0) > 0;
      }),

    listRetiredSecretValues: ({ retiredBefore }) =>
      guard(async () => {
        const { rows } = await sql<{
          id: string;
          secret_id: string;
          key: string;
          ciphertext: string;
          retired_at: Date | string;
        }>`
          SELECT id::text AS id, secret_id, key, ciphertext, retired_at FROM ${T('retired_secret_values')}
          ${retiredBefore === undefined ? sql`` : sql`WHERE retired_at < ${retiredBefore}::timestamptz`}
          ORDER BY retired_at, id
        `.execute(db);
        return rows.map((row) => ({ ...row, retired_at: isoTime(row.retired_at) }));
      }),

    destroyRetiredSecretValue: ({ id, audit }) =>
      guard(async () => {
        if (!/^\d{1,18}$/.test(id)) return false;
        return tx(async (trx) => {
          const deleted = await sql`
            DELETE FROM ${T('retired_secret_values')} WHERE id = ${id}::bigint
          `.execute(trx);
          if (Number(deleted.numAffectedRows ?? 0) === 0) return false;
          await insertAudit(trx, audit);
          return true;
        });
      }),
  };
}
