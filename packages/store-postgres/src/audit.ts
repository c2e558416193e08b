/** The audit log on PostgreSQL. */
import type { AuditEntry } from '@openpipes/core';
import { type AuditMethods, type PostgresTables, toAuditEntry, toAuditRow } from '@openpipes/core/store-kit';
import type { Transaction } from 'kysely';
import type { PgContext } from './connection.js';

/** Writes one audit entry inside the caller's transaction (nothing when `entry` is undefined). */
export async function insertAudit(
  q: PgContext['q'],
  trx: Transaction<PostgresTables>,
  entry: AuditEntry | undefined,
): Promise<void> {
  if (!entry) return;
  await q(trx).insertInto('audit').values(toAuditRow(entry)).execute();
}

/** The store's audit methods. */
export function auditMethods({ q, guard, tx, insertAudit }: PgContext): AuditMethods {
  return {
    appendAudit: ({ entry }) =>
      guard(async () => {
        await tx((trx) => insertAudit(trx, entry));
      }),

    listAudit: (query) =>
      guard(async () => {
        let select = q()
          .selectFrom('audit')
          .select((eb) => [
            'id',
            'actor',
            'action',
            'entity_kind',
            'entity_id',
            eb.cast<string | null>('before', 'text').as('before'),
            eb.cast<string | null>('after', 'text').as('after'),
            'request_id',
            'created_at',
          ]);
        if (query.entityKind) select = select.where('entity_kind', '=', query.entityKind);
        if (query.entityId) select = select.where('entity_id', '=', query.entityId);
        if (query.actor) select = select.where('actor', '=', query.actor);
        if (query.since) select = select.where('created_at', '>=', query.since);
        if (query.until) select = select.where('created_at', '<', query.until);
        if (query.cursor) select = select.where('id', '<', query.cursor);
        const rows = await select.orderBy('id', 'desc').limit(query.limit).execute();
        return rows.map(toAuditEntry);
      }),
  };
}
