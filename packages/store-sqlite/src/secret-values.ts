/**
 * Secret values on SQLite: the current encrypted value of each secret, and the retired ones (a
 * value replaced by a rotation, or the last value of a deleted secret) that are kept, encrypted,
 * only to redact until retention destroys them.
 */
import type { SecretValueMethods } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

/** The store's secret value methods. */
export function secretValueMethods({ qb, all, run, tx, insertAudit }: SqliteContext): SecretValueMethods {
  return {
    async putSecretValue({ secretId, ciphertext, now }) {
      run(
        qb
          .insertInto('secret_values')
          .values({ secret_id: secretId, ciphertext, updated_at: now })
          .onConflict((oc) => oc.column('secret_id').doUpdateSet({ ciphertext, updated_at: now })),
      );
    },

    async getSecretValues({ secretIds }) {
      const out = new Map<string, string>();
      if (secretIds.length === 0) return out;
      for (const row of all(
        qb
          .selectFrom('secret_values')
          .select(['secret_id', 'ciphertext'])
          .where('secret_id', 'in', secretIds),
      )) {
        out.set(row.secret_id, row.ciphertext);
      }
      return out;
    },

    async retireSecretValue({ secretId, key, now }) {
      const copied = run(
        qb
          .insertInto('retired_secret_values')
          .columns(['secret_id', 'key', 'ciphertext', 'retired_at'])
          .expression((eb) =>
            eb
              .selectFrom('secret_values')
              .select((s) => ['secret_id', s.val(key).as('key'), 'ciphertext', s.val(now).as('retired_at')])
              .where('secret_id', '=', secretId),
          ),
      );
      return copied > 0;
    },

    async listRetiredSecretValues({ retiredBefore }) {
      let query = qb.selectFrom('retired_secret_values').selectAll();
      if (retiredBefore !== undefined) query = query.where('retired_at', '<', retiredBefore);
      return all(query.orderBy('retired_at').orderBy('id')).map((row) => ({
        id: String(row.id),
        secret_id: row.secret_id,
        key: row.key,
        ciphertext: row.ciphertext,
        retired_at: row.retired_at,
      }));
    },

    async destroyRetiredSecretValue({ id, audit }) {
      const rowId = Number(id);
      if (!Number.isSafeInteger(rowId)) return false;
      return tx(() => {
        const deleted = run(qb.deleteFrom('retired_secret_values').where('id', '=', rowId));
        if (deleted === 0) return false;
        insertAudit(audit);
        return true;
      });
    },
  };
}
